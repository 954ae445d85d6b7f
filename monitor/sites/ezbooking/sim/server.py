"""The HTTP server of the simulated prefecture, and :class:`SimPrefecture`, its handle.

A :class:`http.server.ThreadingHTTPServer` on a loopback address: one thread
per connection (daemon threads, so a stuck client never keeps the process
alive), HTTP/1.1 keep-alive like Apache, and the transport quirks of real
sites delivered for real: late answers, bodies shorter than their
Content-Length, endless bodies. :meth:`SimPrefecture.stop` returns at once
even with such answers in flight: it wakes sleeping handlers and shuts the
open connections down.

Thread safety: one lock guards the site's state (bookings, sessions) and the
counters; it is held while a request is turned into a reply, never while a
reply is written or delayed.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import logging
import selectors
import socket
import threading
import traceback
from collections.abc import Callable, Iterable
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from monitor.sites.ezbooking.sim.flow import Prefecture, Reply, Request, Stream
from monitor.sites.ezbooking.sim.model import (
    SITE_STATES,
    Booking,
    State,
    default_bookings,
    parse_slot,
)

__all__ = ["CONTROL_PREFIX", "SimPrefecture"]

log = logging.getLogger("monitor.sites.ezbooking.sim")

CONTROL_PREFIX: Final = "/__sim__/"
"""Paths of the JSON control endpoint (not counted in ``requests``)."""

_MAX_BODY: Final = 1 << 20
_IDLE_TIMEOUT: Final = 15.0
"""Seconds a connection may sit idle (keep-alive) or stall a write before it is dropped."""


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its open connections, to shut them down on stop."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    timeout = 0.1  # handle_request() never blocks long, even if a pending connection vanished

    def __init__(self, address: tuple[str, int], sim: SimPrefecture, family: int) -> None:
        self.address_family = family
        self.sim = sim
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)
        self._wake_recv, self._wake_send = socket.socketpair()

    def serve(self) -> None:
        """Accept connections until :meth:`wake` after ``stopping`` is set (no polling delay)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_recv, selectors.EVENT_READ)
            while not self.stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self.stopping.is_set():
                        self.handle_request()  # readable: accepts at once
        self._wake_recv.close()
        self._wake_send.close()

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_send.send(b"x")

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN (a DNS lookup); not wanted here.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut every open connection down: blocked reads and writes fail at once."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """Parses a request, asks the :class:`SimPrefecture` for a reply, delivers it."""

    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stall
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def _other(self) -> None:
        self._serve(self.command)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # ── one request ──────────────────────────────────────────────────────────

    def _serve(self, method: str) -> None:
        sim = self.server.sim
        split = urlsplit(self.path)
        target = split.path + (f"?{split.query}" if split.query else "")
        try:
            body = self._read_body()
        except ValueError as exc:
            self._deliver(
                Reply(400, str(exc).encode(), [("Content-Type", "text/plain")], close=True),
                head_only=False,
            )
            return
        path = unquote(split.path) or "/"
        try:
            if path.startswith(CONTROL_PREFIX):
                reply = self._control(method, path, body)
                self._deliver(reply, head_only=method == "HEAD")
                return
            request = Request(
                method="GET" if method == "HEAD" else method,
                path=path,
                form=_parse_form(self.headers.get("Content-Type"), body) if body else {},
                cookies=_parse_cookies(self.headers.get_all("Cookie") or []),
                host=self.headers.get("Host") or sim.host_port,
                client_ip=str(self.client_address[0]),
            )
            reply = sim._answer(request)
            self._deliver(
                reply,
                head_only=method == "HEAD",
                on_status=lambda status: sim._record(method, target, status),
            )
        except OSError:
            self.close_connection = True  # the client went away; nothing to tell it

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise ValueError("bad Content-Length") from None
        if length < 0 or length > _MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise ValueError("bad chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            if len(out) + size > _MAX_BODY:
                raise ValueError("request body too large")
            out += self.rfile.read(size)
            self.rfile.readline(1024)

    def _deliver(
        self,
        reply: Reply,
        *,
        head_only: bool,
        on_status: Callable[[int], None] | None = None,
    ) -> None:
        """Write ``reply``, honouring its delay, truncation and streaming."""
        stopping = self.server.stopping
        if reply.delay > 0 and stopping.wait(reply.delay):
            self.close_connection = True  # stopped while "slow": never answer
            if on_status is not None:
                on_status(0)
            return
        stream = reply.stream
        body = reply.body
        self.send_response_only(reply.status)
        self.send_header("Date", self.date_time_string())
        if reply.server:
            self.send_header("Server", reply.server)
        for name, value in reply.headers:
            self.send_header(name, value)
        if stream is not None:
            if stream.total is None:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(stream.total))
        elif reply.truncate:
            self.send_header("Content-Length", str(len(body) if body else 2048))
        else:
            self.send_header("Content-Length", str(len(body)))
        if reply.close or reply.truncate or stream is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if on_status is not None:
            on_status(reply.status)
        if head_only:
            return
        if stream is not None:
            self._write_stream(stream)
        elif reply.truncate:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
        elif body:
            self.wfile.write(body)

    def _write_stream(self, stream: Stream) -> None:
        """Write ``stream`` piece by piece until done, stopped, or the client hangs up."""
        stopping = self.server.stopping
        sent = 0
        piece = stream.head
        while not stopping.is_set():
            if stream.total is not None:
                piece = piece[: stream.total - sent]
                if not piece:
                    return
                self.wfile.write(piece)
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
            piece = stream.filler

    # ── control endpoint ─────────────────────────────────────────────────────

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        sim = self.server.sim
        if not _is_loopback(str(self.client_address[0])):
            return _json(403, {"error": "the control endpoint answers loopback clients only"})
        action = path[len(CONTROL_PREFIX) :].strip("/")
        try:
            if method in ("GET", "HEAD") and action == "stats":
                return _json(200, sim.stats())
            if method in ("GET", "HEAD") and action == "state":
                return _json(200, sim.describe())
            if method != "POST":
                return _json(404, {"error": f"no {method} {path}"})
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            if action == "state":
                _control_state(sim, data)
            elif action == "site":
                sim.set_site_state(
                    data.get("state"),
                    variant=data.get("variant"),
                    delay=data.get("delay"),
                    retry_after=data.get("retry_after"),
                    size=data.get("size"),
                )
            elif action == "expire-sessions":
                sim.expire_sessions()
            elif action == "reset":
                sim.reset_counters()
            else:
                return _json(404, {"error": f"no POST {path}"})
        except (ValueError, TypeError, KeyError) as exc:
            return _json(400, {"error": str(exc)})
        return Reply(204, b"", [], server="rdv-monitor-sim")


def _control_state(sim: SimPrefecture, data: dict[str, Any]) -> None:
    """``POST /__sim__/state``: one planning (or ``"calendar": "*"``: all of a booking)."""
    booking = int(data["booking"])
    slots = [parse_slot(str(s)) for s in data.get("slots") or ()]
    options: dict[str, Any] = {
        "variant": data.get("variant"),
        "slots": slots,
        "delay": data.get("delay"),
        "retry_after": data.get("retry_after"),
        "apostrophe": data.get("apostrophe") or "'",
        "typo": bool(data.get("typo", False)),
        "size": data.get("size"),
    }
    calendar = data.get("calendar")
    if calendar == "*":
        sim.set_booking_state(booking, str(data["state"]), **options)
    else:
        sim.set_state(booking, calendar, str(data["state"]), **options)


def _json(status: int, payload: object) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8")
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store")]
    return Reply(status, body, headers, server="rdv-monitor-sim")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _parse_cookies(headers: list[str]) -> dict[str, str]:
    """``Cookie`` headers to a dict, leniently (no quoting rules, first value wins)."""
    cookies: dict[str, str] = {}
    for header in headers:
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name and name not in cookies:
                cookies[name] = value.strip().strip('"')
    return cookies


def _parse_form(content_type: str | None, body: bytes) -> dict[str, list[str]]:
    """An ``application/x-www-form-urlencoded`` body (browsers' default) to a dict."""
    kind = (content_type or "application/x-www-form-urlencoded").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    text = body.decode("latin-1")
    try:
        return parse_qs(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return parse_qs(text, keep_blank_values=True, encoding="cp1252", errors="replace")


class SimPrefecture:
    """A simulated prefecture site on a loopback address, driven from Python.

    >>> with SimPrefecture() as sim:                       # doctest: +SKIP
    ...     sim.set_state(29396, "3.2", "available", slots=[...])
    ...     url = sim.booking_url(29396)

    ``bookings`` defaults to :func:`~monitor.sites.ezbooking.sim.model.default_bookings`; they
    are copied, so the objects passed in are never changed. ``port=0`` takes
    a free port. ``session_ttl`` is PHP's session lifetime (1440 s).
    ``throttle`` answers 502 to a client IP that made more than
    ``throttle_limit`` requests in ``throttle_window`` seconds (the real
    sites' reaction to polling about once a second). ``today`` fixes the day
    the ezjscore week offsets count from (default: today in Paris).
    """

    def __init__(
        self,
        bookings: Iterable[Booking] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        session_ttl: float = 1440.0,
        throttle: bool = False,
        throttle_limit: int = 10,
        throttle_window: float = 10.0,
        today: date | None = None,
    ) -> None:
        chosen = default_bookings() if bookings is None else copy.deepcopy(list(bookings))
        self._lock = threading.RLock()
        self._site = Prefecture(chosen, session_ttl=session_ttl, today=today)
        self._site.throttle = throttle
        self._site.throttle_limit = throttle_limit
        self._site.throttle_window = throttle_window
        self.host = host
        self._wanted_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._requests = 0
        self._log: list[tuple[str, str, int]] = []
        self._errors: list[str] = []

    # ── life cycle ───────────────────────────────────────────────────────────

    def start(self) -> SimPrefecture:
        """Bind and serve in a background thread. Raises :class:`OSError` if the port is taken."""
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError("the simulator is already running")
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            server = _Server((self.host, self._wanted_port), self, family)
            thread = threading.Thread(
                target=server.serve,
                name=f"sim-prefecture:{server.server_port}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            thread.start()
        log.info("simulated prefecture listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving now: pending slow answers are dropped, streams cut, connections shut."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            if server is None:
                return
            server.stopping.set()
            server.wake()
            if thread is not None:
                thread.join(timeout=5)
            server.server_close()
            server.close_connections()
            self._server = self._thread = None

    def __enter__(self) -> SimPrefecture:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running (call start() or use 'with')")
        return self._server.server_port

    @property
    def host_port(self) -> str:
        """``host:port`` as it appears in URLs (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host_port}"

    @property
    def control_url(self) -> str:
        return self.base_url + CONTROL_PREFIX

    def booking_url(self, booking_id: int) -> str:
        """The landing URL of a booking, as a person would paste it."""
        with self._lock:
            return self.base_url + self._booking(booking_id).landing_path

    def url(self, path: str) -> str:
        return self.base_url + path

    # ── bookings and states ──────────────────────────────────────────────────

    def _booking(self, booking_id: int) -> Booking:
        booking = self._site.bookings.get(booking_id)
        if booking is None:
            known = ", ".join(str(b) for b in self._site.bookings)
            raise ValueError(f"no booking {booking_id} (bookings: {known})")
        return booking

    @property
    def bookings(self) -> list[Booking]:
        """Copies of the bookings with their current states."""
        with self._lock:
            return copy.deepcopy(list(self._site.bookings.values()))

    def planning_id(self, booking_id: int, calendar: str | int | None) -> int:
        """The planning id behind a calendar token ("3.1"), as step 1 would show it."""
        with self._lock:
            return self._booking(booking_id).resolve(calendar).id

    def state(self, booking_id: int, calendar: str | int | None) -> State:
        with self._lock:
            return self._booking(booking_id).resolve(calendar).state

    def set_state(
        self,
        booking_id: int,
        calendar: str | int | None,
        state: str,
        *,
        variant: str | None = None,
        slots: Iterable[datetime] = (),
        delay: float | None = None,
        retry_after: int | None = None,
        apostrophe: str = "'",
        typo: bool = False,
        size: int | None = None,
    ) -> None:
        """Set what one planning answers from now on.

        ``calendar`` is a label token ("3.2"), a planning id (``int``) or
        ``None`` for a single-counter booking. See ``model.STATES`` for the
        states and their variants; :meth:`State.make` for the options.
        """
        new = State.make(
            state,
            variant=variant,
            slots=slots,
            delay=delay,
            retry_after=retry_after,
            apostrophe=apostrophe,
            typo=typo,
            size=size,
        )
        with self._lock:
            self._booking(booking_id).resolve(calendar).state = new

    def set_booking_state(
        self,
        booking_id: int,
        state: str,
        *,
        variant: str | None = None,
        slots: Iterable[datetime] = (),
        delay: float | None = None,
        retry_after: int | None = None,
        apostrophe: str = "'",
        typo: bool = False,
        size: int | None = None,
    ) -> None:
        """:meth:`set_state` for every planning of a booking."""
        new = State.make(
            state,
            variant=variant,
            slots=slots,
            delay=delay,
            retry_after=retry_after,
            apostrophe=apostrophe,
            typo=typo,
            size=size,
        )
        with self._lock:
            for planning in self._booking(booking_id).plannings:
                planning.state = new

    def set_site_state(
        self,
        state: str | None,
        *,
        variant: str | None = None,
        delay: float | None = None,
        retry_after: int | None = None,
        size: int | None = None,
    ) -> None:
        """Make EVERY request answer ``state`` (site down, blocking us…); ``None`` ends it.

        ``slow`` delays every answer, ``truncated`` cuts every body; the others
        replace every answer. States: ``model.SITE_STATES``.
        """
        new = None
        if state is not None:
            if state not in SITE_STATES:
                raise ValueError(
                    f"{state!r} cannot apply to the whole site; use one of "
                    f"{', '.join(sorted(SITE_STATES))}"
                )
            new = State.make(
                state, variant=variant, delay=delay, retry_after=retry_after, size=size
            )
        with self._lock:
            self._site.site_state = new

    @property
    def site_state(self) -> State | None:
        with self._lock:
            return self._site.site_state

    def expire_sessions(self) -> None:
        """Invalidate every ``eZSESSID`` (as after the server's session garbage collection)."""
        with self._lock:
            self._site.sessions.expire_all()

    @property
    def session_ttl(self) -> float:
        """Seconds of inactivity after which a session expires (PHP's default: 1440)."""
        with self._lock:
            return self._site.session_ttl

    @session_ttl.setter
    def session_ttl(self, seconds: float) -> None:
        with self._lock:
            self._site.session_ttl = float(seconds)

    @property
    def throttle(self) -> bool:
        with self._lock:
            return self._site.throttle

    @throttle.setter
    def throttle(self, on: bool) -> None:
        with self._lock:
            self._site.throttle = bool(on)
            self._site.reset_throttle()

    @property
    def today(self) -> date:
        """The day ezjscore week offsets count from."""
        with self._lock:
            return self._site.current_date()

    @today.setter
    def today(self, day: date | None) -> None:
        with self._lock:
            self._site.today = day

    # ── counters ─────────────────────────────────────────────────────────────

    @property
    def requests(self) -> int:
        """HTTP requests received (control endpoint excluded), counted on arrival."""
        with self._lock:
            return self._requests

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of each request, in the order answers started.

        ``status`` is 0 for a request dropped unanswered (``slow`` during stop).
        """
        with self._lock:
            return list(self._log)

    @property
    def booking_attempts(self) -> int:
        """Requests that would start a booking (``/5/<ts>``, a captcha answer): must stay 0."""
        with self._lock:
            return self._site.booking_attempts

    @property
    def errors(self) -> list[str]:
        """Tracebacks of simulator bugs (each also answered 500): tests assert it stays empty."""
        with self._lock:
            return list(self._errors)

    @property
    def sessions(self) -> int:
        """Live sessions (expired ones are dropped when next seen)."""
        with self._lock:
            return len(self._site.sessions)

    def reset_counters(self) -> None:
        """Zero ``requests``, ``request_log``, ``booking_attempts`` and the throttle window."""
        with self._lock:
            self._requests = 0
            self._log.clear()
            self._site.booking_attempts = 0
            self._site.reset_throttle()

    def stats(self) -> dict[str, object]:
        """What ``GET /__sim__/stats`` answers."""
        with self._lock:
            site = self._site.site_state
            return {
                "requests": self._requests,
                "booking_attempts": self._site.booking_attempts,
                "sessions": len(self._site.sessions),
                "errors": len(self._errors),
                "site_state": None if site is None else site.describe(),
            }

    def describe(self) -> dict[str, object]:
        """What ``GET /__sim__/state`` answers: every booking, planning and state."""
        with self._lock:
            return {
                "site_state": None
                if self._site.site_state is None
                else self._site.site_state.to_json(),
                "bookings": [
                    {
                        "id": b.id,
                        "title": b.title,
                        "url": self.base_url + b.landing_path if self.running else b.landing_path,
                        "plannings": [
                            {
                                "id": p.id,
                                "calendar": p.calendar,
                                "label": p.label,
                                **p.state.to_json(),
                            }
                            for p in b.plannings
                        ],
                    }
                    for b in self._site.bookings.values()
                ],
            }

    # ── called by the handler ────────────────────────────────────────────────

    def _answer(self, request: Request) -> Reply:
        with self._lock:
            self._requests += 1
            try:
                return self._site.handle(request)
            except Exception:
                trace = traceback.format_exc()
                self._errors.append(trace)
                log.error("simulator bug on %s %s:\n%s", request.method, request.path, trace)
                body = b"<html><body><h1>500</h1><p>rdv-monitor simulator bug</p></body></html>"
                return Reply(500, body, [("Content-Type", "text/html; charset=utf-8")], close=True)

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._log.append((method, path, status))
