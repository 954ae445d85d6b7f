"""The only place that speaks HTTP to a site. Polite by construction.

:class:`HostGate` serialises requests per host (never two at once to one
site) and keeps a minimum spacing between them. :class:`Fetcher` walks a
browser-like exchange: cookie jar, ``Location`` headers followed on the same
site only, a time-out on the exchange itself, and a streamed body cap so a
huge or endless response is cut instead of loaded into memory; a compressed
body is inflated a bounded step at a time, so a gzip bomb stops at the cap.

Every URL is checked before it is requested (:func:`checked_url`): a page is
written by someone else, so a form ``action`` or a ``Location`` may be
anything (``javascript:``, port 99999, an unclosed ``[``). Once confined to a
booking (:meth:`Fetcher.confine_to`), a fetcher refuses any other
:class:`Origin`: the session cookie and the form token belong to that site,
and an answer from elsewhere says nothing about its calendars.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

import httpx

from monitor import USER_AGENT
from monitor.errors import FetchError, ResponseTooLarge
from monitor.inflate import ACCEPT_ENCODING, Inflater, UnsupportedEncoding

__all__ = [
    "Fetcher",
    "HostGate",
    "Origin",
    "Response",
    "checked_url",
    "is_loopback_host",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)

MAX_REDIRECTS = 10
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SHOWN_URL = 100
"""Characters of a refused URL quoted in a message (it comes from a page, so it may be huge)."""


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: our own simulator, never a prefecture."""
    host = host.strip().strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_url(url: str) -> httpx.URL:
    """``url`` parsed, if it is one rdv-monitor may request; else :class:`FetchError` ``bad_url``.

    Only http and https, with a host and a port in 1–65535. Anything else would
    make httpx (or :func:`urllib.parse.urljoin`) raise something other than a
    :class:`FetchError`, or send a request nobody meant, so it is refused here,
    before the request exists.
    """
    shown = _shown(url)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FetchError(
            f"{shown} is not a valid web address ({_reason(exc)}).", kind="bad_url", url=url
        ) from None
    if parsed.scheme not in _DEFAULT_PORTS:
        scheme = f"{parsed.scheme}:" if parsed.scheme else "no scheme"
        raise FetchError(
            f"{shown} is not a web page address ({scheme}); only http and https are requested.",
            kind="bad_url",
            url=url,
        )
    if not parsed.host:
        raise FetchError(f"{shown} names no host.", kind="bad_url", url=url)
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise FetchError(
            f"{shown} has an impossible port ({parsed.port}).", kind="bad_url", url=url
        )
    return parsed


@dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, host and port: what makes two URLs the same site (RFC 6454)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: httpx.URL) -> Origin:
        """The origin of a URL that passed :func:`checked_url` (default ports made explicit)."""
        return cls(url.scheme, url.host.lower(), url.port or _DEFAULT_PORTS[url.scheme])

    def admits(self, other: Origin) -> bool:
        """True if a request to ``other`` stays on this site.

        The same origin, or the same host upgraded from http to https (sites
        redirect to https; the upgrade loses nothing). Never a downgrade to
        http, another port or another host: that is another site, or an
        attacker's page, and our session must not travel there.
        """
        if other == self:
            return True
        if other.host != self.host or (self.scheme, other.scheme) != ("http", "https"):
            return False
        return other.port == self.port or (self.port, other.port) == (80, 443)

    def secure(self, url: httpx.URL) -> httpx.URL:
        """``url`` as a browser on this https site requests it: same-host http upgraded.

        Prefecture sites behind a TLS proxy may still write ``http://`` in a
        ``Location`` or a form action; their HSTS makes browsers go to https
        anyway. We do the same instead of refusing (the site would look
        broken) or downgrading (our session cookie would travel in clear).
        """
        if (
            self.scheme == "https"
            and url.scheme == "http"
            and url.host.lower() == self.host
            and (url.port or 80) in (80, self.port)
        ):
            return url.copy_with(scheme="https", port=None if self.port == 443 else self.port)
        return url

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == _DEFAULT_PORTS.get(self.scheme) else f":{self.port}"
        return f"{self.scheme}://{host}{port}"


@dataclass(frozen=True, slots=True)
class Response:
    """A complete HTTP response, after same-site redirects were followed."""

    url: str
    """The URL that produced this response (after redirects)."""
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float
    """Seconds spent exchanging with the site, redirects included; not the time spent
    waiting for our turn at the :class:`HostGate` (that is our politeness, not the site's
    speed)."""
    hops: int = 1
    """HTTP requests this exchange took (1 + redirects followed)."""


@dataclass(slots=True)
class _Budget:
    """The time-out of one exchange, spent only while a request is in flight.

    Waiting for the :class:`HostGate` does not count: with two watches on one
    slow prefecture, the second would otherwise time out without having sent
    anything, and a polite queue would look like a site that is down.
    """

    limit: float
    spent: float = 0.0

    @property
    def left(self) -> float:
        return self.limit - self.spent


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
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        self.min_spacing = min_spacing
        self.on_wait = on_wait
        """Told ``(host, seconds)`` before each politeness pause (``check`` shows it)."""
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
                    if self.on_wait is not None:
                        self.on_wait(host, wait)
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
    :class:`HostGate` between all fetchers of a process. The adapter confines
    it to its booking's site (:meth:`confine_to`).
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
        proxy: str | None = None,
    ) -> None:
        self.gate = gate
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.requests_made = 0
        self.busy_seconds = 0.0
        """Seconds spent exchanging with the site so far (queueing at the gate excluded)."""
        self._site: Origin | None = None
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            verify=verify,
            transport=transport,
            # The prefecture only: notifications go through apprise, never this client.
            proxy=proxy,
            event_hooks={"response": [_tame_location]},
            headers={
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )

    @property
    def cookies(self) -> httpx.Cookies:
        return self._client.cookies

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` ran: the connections are gone."""
        return self._client.is_closed

    def confine_to(self, url: str) -> None:
        """From now on, request nothing outside the site of ``url`` (redirects included).

        A second guard behind the adapter's own check of each form ``action``:
        whatever a page says, the session cookie and the form token never
        leave the booking's site. Raises :class:`FetchError` ``bad_url`` if
        ``url`` is not requestable.
        """
        self._site = Origin.of(checked_url(url))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def get(self, url: str) -> Response:
        return await self.request("GET", url)

    async def post(
        self, url: str, data: Mapping[str, str] | list[tuple[str, str]], *, follow: bool = True
    ) -> Response:
        return await self.request("POST", url, data=data, follow=follow)

    async def request(
        self,
        method: str,
        url: str,
        data: Mapping[str, str] | list[tuple[str, str]] | None = None,
        *,
        follow: bool = True,
    ) -> Response:
        """Perform one exchange; follows same-site redirects as a browser would.

        ``follow=False`` returns a redirect as it came (its ``Location`` unchecked),
        for a caller that already knows what the page it leads to would say.

        The time-out bounds the time spent exchanging with the site (every
        hop together), not the wait for our turn at the gate. Raises
        :class:`FetchError` (``bad_url``, ``off_site``, ``redirect``,
        ``timeout``, ``connect``, ``protocol``) or :class:`ResponseTooLarge`;
        never an httpx exception.
        """
        target = checked_url(url)
        if self._site is not None:
            target = self._site.secure(target)
            url = str(target)
        origin = Origin.of(target)
        site = self._site or origin
        if not site.admits(origin):
            raise FetchError(
                f"Refused to send a request to another site ({origin}): "
                f"this session belongs to {site}.",
                kind="off_site",
                url=url,
            )
        budget = _Budget(self.timeout)
        hops = 0
        while True:
            hops += 1
            status, headers, body = await self._one(method, url, target, data, budget)
            location = headers.get("location")
            if status not in _REDIRECT_CODES or not location or not follow:
                return Response(url, status, headers, body, budget.spent, hops)
            if hops > MAX_REDIRECTS:
                raise FetchError(
                    f"{target.host} redirected more than {MAX_REDIRECTS} times in a row.",
                    kind="redirect",
                    url=url,
                )
            url, target = self._redirect_target(url, location, site)
            if status in (301, 302, 303) and method == "POST":
                method, data = "GET", None  # what every browser does after a form POST

    def _redirect_target(self, url: str, location: str, site: Origin) -> tuple[str, httpx.URL]:
        """Where ``Location`` sends us from ``url``, if it is a URL on ``site``; else FetchError."""
        joined, target = _resolve_location(url, location)
        secured = site.secure(target)
        if secured != target:
            joined, target = str(secured), secured
        if site.admits(Origin.of(target)):
            return joined, target
        raise FetchError(
            f"The booking page redirected to another site ({Origin.of(target)}); "
            "it may have moved: open it in a browser and update the watch's url.",
            kind="redirect",
            url=url,
        )

    async def _one(
        self,
        method: str,
        url: str,
        target: httpx.URL,
        data: Mapping[str, str] | list[tuple[str, str]] | None,
        budget: _Budget,
    ) -> tuple[int, httpx.Headers, bytes]:
        """One HTTP request, sent once our turn at the gate has come; the budget runs from then."""
        host = target.host
        async with self.gate.turn(host):
            if budget.left <= 0:
                raise self._timed_out(url, host)
            self.requests_made += 1
            started = time.monotonic()
            try:
                async with asyncio.timeout(budget.left):
                    content, headers = _form_body(data)
                    request = self._client.build_request(
                        method, target, content=content, headers=headers
                    )
                    response = await self._client.send(request, stream=True)
                    try:
                        body = await self._read_capped(response, url)
                    finally:
                        await response.aclose()
            except TimeoutError:
                raise self._timed_out(url, host) from None
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
            finally:
                spent = time.monotonic() - started
                budget.spent += spent
                self.busy_seconds += spent
        log.debug(
            "%s %s: %d, %d bytes in %.0f ms",
            method,
            url,
            response.status_code,
            len(body),
            spent * 1000,
        )
        return response.status_code, response.headers, body

    def _timed_out(self, url: str, host: str) -> FetchError:
        return FetchError(
            f"No complete answer from {host} within {self.timeout:g} s.", kind="timeout", url=url
        )

    async def _read_capped(self, response: httpx.Response, url: str) -> bytes:
        """The body, decoded, or :class:`ResponseTooLarge` as soon as it passes the cap.

        The raw stream is decoded here, a bounded step at a time
        (:class:`~monitor.inflate.Inflater`), not by httpx: httpx inflates each
        network chunk whole, so a gzip bomb would fill memory before the cap
        was looked at. Both the bytes on the wire and the decoded bytes count.
        """
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(url, f"announced {int(declared):,} bytes")
        if response.is_stream_consumed:
            # Only an in-process transport (httpx.MockTransport, in tests) answers with a
            # body httpx has already read and decoded; the network never does.
            if len(response.content) > self.max_bytes:
                raise self._too_large(url, "sent more")
            return response.content
        try:
            inflater = Inflater(response.headers.get("content-encoding", ""))
        except UnsupportedEncoding as exc:
            raise FetchError(
                f"{_host(url)} sent {exc}: the page cannot be read.", kind="protocol", url=url
            ) from None
        chunks: list[bytes] = []
        wire = size = 0
        try:
            async for raw in response.aiter_raw():
                wire += len(raw)
                if wire > self.max_bytes:
                    raise self._too_large(url, "sent more")
                for piece in inflater.feed(raw):
                    size += len(piece)
                    if size > self.max_bytes:
                        raise self._too_large(url, "sent more")
                    chunks.append(piece)
        except zlib.error as exc:
            raise FetchError(
                f"{_host(url)} sent an answer that is not the {inflater.encodings} it claims "
                f"({_reason(exc)}): the page cannot be read.",
                kind="protocol",
                url=url,
            ) from None
        return b"".join(chunks)

    def _too_large(self, url: str, what: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"{_host(url)} {what} than the {self.max_bytes:,}-byte cap on a page; "
            "the answer was cut, not read.",
            url=url,
            limit=self.max_bytes,
        )


async def _tame_location(response: httpx.Response) -> None:
    """Response hook: resolve a redirect's ``Location`` before httpx does.

    httpx prepares the next request of every redirect, even one it is told
    not to follow, and a hostile ``Location`` makes that raise from inside
    ``send()`` (``InvalidURL``, ``IDNAError``, a protocol error…). Checked
    here, an unusable one becomes a :class:`FetchError` ``redirect``, and a
    usable one is replaced by the absolute URL it means, which httpx then
    parses without surprise. Whether it is followed is decided later, by the
    same-site rule of :meth:`Fetcher.request`.
    """
    if response.has_redirect_location:
        joined, _ = _resolve_location(str(response.request.url), response.headers["location"])
        response.headers["location"] = joined


def _resolve_location(base: str, location: str) -> tuple[str, httpx.URL]:
    """The absolute URL ``location`` means from ``base``, checked; FetchError if unusable."""
    try:
        joined = urljoin(base, location.strip())
        return joined, checked_url(joined)
    except ValueError as exc:  # urljoin: "Invalid IPv6 URL" and the like
        reason = _reason(exc)
    except FetchError as exc:
        reason = str(exc)
    raise FetchError(
        f"The booking page redirected to an address that cannot be followed: {reason}",
        kind="redirect",
        url=base,
    )


def _form_body(
    data: Mapping[str, str] | list[tuple[str, str]] | None,
) -> tuple[bytes | None, dict[str, str] | None]:
    """Encode a form as a browser does: fields in page order, repeated names kept.

    Returns the request's body and its extra headers (both ``None`` without a form).
    """
    if data is None:
        return None, None
    pairs = list(data.items()) if isinstance(data, Mapping) else data
    return urlencode(pairs).encode("ascii"), {"Content-Type": "application/x-www-form-urlencoded"}


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except httpx.InvalidURL:
        return url


def _shown(url: str) -> str:
    """A URL from a page, quoted and cut to a length fit for a one-line message."""
    text = repr(url)
    return text if len(text) <= _SHOWN_URL else f"{text[: _SHOWN_URL - 1]}…"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else type(exc).__name__
