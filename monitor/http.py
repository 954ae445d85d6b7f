"""The only place that speaks HTTP to a site. Polite by construction.

:class:`HostGate` serialises requests per host (never two at once to one
site) and keeps a minimum spacing between them. :class:`Fetcher` walks a
browser-like exchange: cookie jar, ``Location`` headers followed on the same
host only, a total time-out, and a streamed body cap so a huge or endless
response is cut instead of loaded into memory.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

import httpx

from monitor import USER_AGENT
from monitor.errors import FetchError, ResponseTooLarge

__all__ = ["Fetcher", "HostGate", "Response", "is_loopback_host", "retry_after_seconds"]

MAX_REDIRECTS = 10


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: our own simulator, never a prefecture."""
    host = host.strip().strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Response:
    """A complete HTTP response, after same-host redirects were followed."""

    url: str
    """The URL that produced this response (after redirects)."""
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float
    """Seconds for the whole exchange, redirects included."""
    hops: int = 1
    """HTTP requests this exchange took (1 + redirects followed)."""


@dataclass
class _HostState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last: float | None = None


class HostGate:
    """One request at a time per host, at least ``min_spacing`` seconds apart.

    Shared by every adapter of a process, so two watches on the same
    prefecture never hit it in parallel. Loopback hosts (the simulator) get
    the mutual exclusion but no spacing, so tests run fast.
    """

    def __init__(
        self,
        min_spacing: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        self.min_spacing = min_spacing
        self._clock = clock
        self._sleep = sleep
        self._hosts: dict[str, _HostState] = {}

    def spacing_for(self, host: str) -> float:
        return 0.0 if is_loopback_host(host) else self.min_spacing

    @asynccontextmanager
    async def turn(self, host: str) -> AsyncIterator[None]:
        """Hold ``host`` for one request; waits for the previous one and the spacing."""
        state = self._hosts.setdefault(host, _HostState())
        async with state.lock:
            spacing = self.spacing_for(host)
            if state.last is not None and spacing > 0:
                wait = state.last + spacing - self._clock()
                if wait > 0:
                    await self._sleep(wait)  # type: ignore[misc]
            try:
                yield
            finally:
                state.last = self._clock()


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delta-seconds or HTTP date), else None."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class Fetcher:
    """A cookie-keeping HTTP client for one site session (one booking).

    Create one per adapter: the cookie jar is the session. Share one
    :class:`HostGate` between all fetchers of a process.
    """

    def __init__(
        self,
        *,
        gate: HostGate,
        user_agent: str = USER_AGENT,
        timeout: float = 20.0,
        connect_timeout: float = 10.0,
        max_bytes: int = 2 * 1024 * 1024,
        verify: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.gate = gate
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.requests_made = 0
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            verify=verify,
            transport=transport,
            headers={
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5",
            },
        )

    @property
    def cookies(self) -> httpx.Cookies:
        return self._client.cookies

    def forget_session(self) -> None:
        """Drop every cookie: the next request starts a fresh site session."""
        self._client.cookies.clear()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def get(self, url: str) -> Response:
        return await self.request("GET", url)

    async def post(self, url: str, data: Mapping[str, str] | list[tuple[str, str]]) -> Response:
        return await self.request("POST", url, data=data)

    async def request(
        self,
        method: str,
        url: str,
        data: Mapping[str, str] | list[tuple[str, str]] | None = None,
    ) -> Response:
        """Perform one exchange; follows same-host redirects as a browser would.

        Raises :class:`FetchError` (``timeout``, ``connect``, ``protocol``,
        ``redirect``) or :class:`ResponseTooLarge`; never an httpx exception.
        """
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(method, url, data, started)
        except TimeoutError:
            raise FetchError(
                f"No complete answer from {_host(url)} within {self.timeout:g} s.",
                kind="timeout",
                url=url,
            ) from None

    async def _exchange(
        self,
        method: str,
        url: str,
        data: Mapping[str, str] | list[tuple[str, str]] | None,
        started: float,
    ) -> Response:
        origin = httpx.URL(url).host
        hops = 0
        while True:
            hops += 1
            status, headers, body = await self._one(method, url, data)
            location = headers.get("location")
            if status not in (301, 302, 303, 307, 308) or not location:
                return Response(url, status, headers, body, time.monotonic() - started, hops)
            if hops > MAX_REDIRECTS:
                raise FetchError(
                    f"{_host(url)} redirected more than {MAX_REDIRECTS} times in a row.",
                    kind="redirect",
                    url=url,
                )
            target = urljoin(url, location.strip())
            target_host = httpx.URL(target).host
            if target_host != origin:
                raise FetchError(
                    f"The booking page redirected to another site ({target_host}); "
                    "it may have moved: open it in a browser and update the watch's url.",
                    kind="redirect",
                    url=url,
                )
            if status in (301, 302, 303) and method == "POST":
                method, data = "GET", None  # what every browser does after a form POST
            url = target

    async def _one(
        self,
        method: str,
        url: str,
        data: Mapping[str, str] | list[tuple[str, str]] | None,
    ) -> tuple[int, httpx.Headers, bytes]:
        host = _host(url)
        async with self.gate.turn(host):
            self.requests_made += 1
            try:
                request = self._client.build_request(method, url, **_form_body(data))
                response = await self._client.send(request, stream=True)
                try:
                    body = await self._read_capped(response, url)
                finally:
                    await response.aclose()
            except httpx.TimeoutException:
                raise FetchError(
                    f"{host} did not answer in time.", kind="timeout", url=url
                ) from None
            except httpx.ConnectError as exc:
                raise FetchError(
                    f"Could not connect to {host}: {_reason(exc)}.", kind="connect", url=url
                ) from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                raise FetchError(
                    f"{host} broke off the answer ({_reason(exc)}): the page arrived incomplete.",
                    kind="protocol",
                    url=url,
                ) from None
            except httpx.HTTPError as exc:
                raise FetchError(
                    f"HTTP error talking to {host}: {_reason(exc)}.", kind="protocol", url=url
                ) from None
        return response.status_code, response.headers, body

    async def _read_capped(self, response: httpx.Response, url: str) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(url, f"announced {int(declared):,} bytes")
        chunks: list[bytes] = []
        size = 0
        # aiter_bytes yields decoded (decompressed) bytes, so the cap also stops gzip bombs.
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large(url, "sent more")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, url: str, what: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"{_host(url)} {what} than the {self.max_bytes:,}-byte cap on a page; "
            "the answer was cut, not read.",
            url=url,
            limit=self.max_bytes,
        )


def _form_body(data: Mapping[str, str] | list[tuple[str, str]] | None) -> dict[str, object]:
    """Encode a form as a browser does: fields in page order, repeated names kept."""
    if data is None:
        return {}
    pairs = list(data.items()) if isinstance(data, Mapping) else data
    return {
        "content": urlencode(pairs).encode("ascii"),
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except httpx.InvalidURL:
        return url


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else type(exc).__name__
