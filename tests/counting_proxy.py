"""Local proxies on 127.0.0.1 that count what passes through them (for the proxy tests).

:class:`HttpProxy` is an HTTP forward proxy for absolute-URI ``GET``/``POST``
(what an HTTP client sends to a proxy for an ``http://`` address), optionally
asking for a user and password; :class:`Socks5Proxy` a SOCKS5 server (no auth,
or user/password) relaying TCP. Both only ever connect to 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import socketserver
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

__all__ = ["HttpProxy", "Socks5Proxy"]


class _Counting:
    """What both proxies share: the count, the server thread, the URL with credentials."""

    scheme: str
    _server: socketserver.TCPServer
    _thread: threading.Thread

    def __init__(self, auth: tuple[str, str] | None) -> None:
        self.auth = auth
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self.refused = 0

    def seen(self, what: str) -> None:
        with self.lock:
            self.requests.append(what)

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        user = f"{self.auth[0]}:{self.auth[1]}@" if self.auth else ""
        return f"{self.scheme}://{user}127.0.0.1:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class HttpProxy(_Counting):
    """``with HttpProxy(auth=("bob", "pw")) as proxy: proxy.url`` → ``http://bob:pw@127.0.0.1:PORT``."""

    scheme = "http"

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        super().__init__(auth)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _relay(self) -> None:
                if owner.auth is not None:
                    token = base64.b64encode(":".join(owner.auth).encode()).decode()
                    if self.headers.get("Proxy-Authorization") != f"Basic {token}":
                        owner.refused += 1
                        self.send_response(407)
                        self.send_header("Proxy-Authenticate", 'Basic realm="test"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                target = urlsplit(self.path)
                if target.hostname != "127.0.0.1" or target.port is None:
                    self.send_error(403)
                    return
                owner.seen(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("proxy-authorization", "proxy-connection", "connection")
                }
                conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
                path = target.path + (f"?{target.query}" if target.query else "")
                conn.request(self.command, path or "/", body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = _relay
            do_POST = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)


class Socks5Proxy(_Counting):
    """A SOCKS5 server (RFC 1928; user/password per RFC 1929 if ``auth``) to 127.0.0.1 only."""

    scheme = "socks5"

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        super().__init__(auth)
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                s: socket.socket = self.request
                _, n = s.recv(2)
                methods = s.recv(n)
                want = 2 if owner.auth else 0
                if want not in methods:
                    s.sendall(b"\x05\xff")
                    return
                s.sendall(bytes([5, want]))
                if owner.auth:
                    _, ulen = s.recv(2)
                    user = s.recv(ulen).decode()
                    (plen,) = s.recv(1)
                    password = s.recv(plen).decode()
                    ok = (user, password) == owner.auth
                    s.sendall(b"\x01\x00" if ok else b"\x01\x01")
                    if not ok:
                        owner.refused += 1
                        return
                _, cmd, _, atyp = s.recv(4)
                if atyp == 1:
                    host = socket.inet_ntoa(s.recv(4))
                elif atyp == 3:
                    (length,) = s.recv(1)
                    host = s.recv(length).decode()
                else:
                    return
                (port,) = struct.unpack("!H", s.recv(2))
                if cmd != 1 or host not in ("127.0.0.1", "localhost"):
                    s.sendall(b"\x05\x02\x00\x01" + bytes(6))
                    return
                owner.seen(f"CONNECT {host}:{port}")
                upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(
                    b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0)
                )
                pump = threading.Thread(target=_pipe, args=(upstream, s), daemon=True)
                pump.start()
                _pipe(s, upstream)
                pump.join(timeout=10)
                upstream.close()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
