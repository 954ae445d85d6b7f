"""The HTTP side of the simulated prefecture: a threading server on a loopback address.

One thread per connection (daemon threads, so a stuck client never keeps the
process alive), HTTP/1.1 keep-alive like Apache, and the transport quirks of
real sites delivered for real: late answers, bodies shorter than their
Content-Length, endless bodies. Stopping returns at once even with such
answers in flight: it wakes sleeping handlers and shuts open connections down.

The handler knows nothing of bookings: it parses a request and asks its
:class:`Backend` (:class:`~monitor.sites.ezbooking.sim.server.SimPrefecture`)
for the reply; paths under :data:`~monitor.sites.ezbooking.sim.control.CONTROL_PREFIX`
go to the control endpoint, for loopback clients only.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from monitor.http import is_loopback_host
from monitor.sites.ezbooking.sim.control import CONTROL_PREFIX, json_reply
from monitor.sites.ezbooking.sim.flow import Reply, Request, Stream

__all__ = ["Backend", "Server"]

log = logging.getLogger("monitor.sites.ezbooking.sim")

_MAX_BODY: Final = 1 << 20
_IDLE_TIMEOUT: Final = 15.0
"""Seconds a connection may sit idle (keep-alive) or stall a write before it is dropped."""


class Backend(Protocol):
    """What the HTTP handler asks of the simulated site."""

    @property
    def host_port(self) -> str: ...

    def answer(self, request: Request) -> Reply:
        """The reply to one request of the simulated site (counted)."""
        ...

    def record(self, method: str, target: str, status: int) -> None:
        """Log that the answer to ``method target`` started with ``status`` (0: dropped)."""
        ...

    def control(self, method: str, action: str, body: bytes) -> Reply:
        """The reply of the control endpoint (not counted)."""
        ...


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its open connections, to shut them down on stop."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    timeout = 0.1  # handle_request() never blocks long, even if a pending connection vanished

    def __init__(self, address: tuple[str, int], sim: Backend, family: int) -> None:
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
    server: Server

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
            if path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/"):
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
            reply = sim.answer(request)
            self._deliver(
                reply,
                head_only=method == "HEAD",
                on_status=lambda status: sim.record(method, target, status),
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
        # A client address may carry an IPv6 zone ("::1%lo").
        if not is_loopback_host(str(self.client_address[0]).split("%")[0]):
            return json_reply(403, {"error": "the control endpoint answers loopback clients only"})
        return self.server.sim.control(method, path[len(CONTROL_PREFIX) :].strip("/"), body)


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
