"""A local apprise target for the notification tests: nothing ever leaves 127.0.0.1.

apprise's ``json://HOST:PORT/PATH`` plugin POSTs ``{"version", "title",
"message", "type", …}`` to ``http://HOST:PORT/PATH``. :class:`LocalTarget` is a
small threaded HTTP server on 127.0.0.1 that answers those posts, records them,
and can be told to fail (``fail_next``), to answer slowly (``delay``) or, with
:class:`ClosedPort`, not to be there at all (connection refused).

    with LocalTarget() as target:
        ...send to target.url...
        assert target.wait_for(1, timeout=5)
        assert target.messages[0]["title"] == "…"
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["SECRET_PATH", "ClosedPort", "FlakyTarget", "LocalTarget", "refuse"]

SECRET_PATH = "bot{token}/sendMessage"
"""The path of :meth:`LocalTarget.url_with_secret`: a Telegram-style request path."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.server.owner._answer(self, raw)

    do_PUT = do_POST

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LocalTarget


class LocalTarget:
    """A threaded HTTP receiver on 127.0.0.1 usable as an apprise ``json://`` target.

    Thread-safe. ``delay`` (seconds) is waited before each answer; ``fail_next(n,
    status)`` makes the next ``n`` requests fail with ``status`` (they are still
    recorded, in ``failed``, not in ``messages``).
    """

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._messages: list[dict[str, Any]] = []
        self._failed: list[dict[str, Any]] = []
        self._paths: list[str] = []
        self._failures: list[int] = []
        self.delay: float = 0.0
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # close() returns fast
            name=f"receiver-{self.port}",
            daemon=True,
        )

    # ---- lifecycle

    def start(self) -> LocalTarget:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wake handlers sleeping in a delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalTarget:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- addresses

    @property
    def url(self) -> str:
        """The apprise URL of this receiver: ``json://127.0.0.1:PORT/hook``."""
        return f"json://127.0.0.1:{self.port}/hook"

    def url_with_secret(self, token: str, query: str = "") -> str:
        """A URL that carries ``token`` the way a Telegram URL does (in the request path),
        still a ``json://`` target pointing at this receiver. ``query`` (e.g.
        ``"rto=0.5"``) is appended as the URL's query string."""
        url = f"json://127.0.0.1:{self.port}/{SECRET_PATH.format(token=token)}"
        return f"{url}?{query}" if query else url

    # ---- behaviour

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """Answer the next ``n`` requests with HTTP ``status``."""
        with self._cond:
            self._failures.extend([status] * n)

    def _answer(self, handler: _Handler, raw: bytes) -> None:
        if self.delay and self._closing.wait(self.delay):
            return  # shutting down: drop the request
        try:
            payload: dict[str, Any] = json.loads(raw or b"{}")
        except ValueError:
            payload = {"raw": raw.decode("utf-8", "replace")}
        with self._cond:
            status = self._failures.pop(0) if self._failures else 200
            self._paths.append(handler.path)
            (self._messages if status < 300 else self._failed).append(payload)
            self._cond.notify_all()
        body = b'{"ok": true}' if status < 300 else b'{"ok": false}'
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the client gave up (time-out test)
            pass

    # ---- what was received

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Decoded JSON bodies of the requests answered with success, in arrival order."""
        with self._cond:
            return list(self._messages)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Decoded JSON bodies of the requests answered with an error status."""
        with self._cond:
            return list(self._failed)

    @property
    def paths(self) -> list[str]:
        """The request paths of every request, answered with success or not."""
        with self._cond:
            return list(self._paths)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` messages were received successfully; False on time-out."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._messages) >= count, timeout)


class ClosedPort:
    """A port on 127.0.0.1 where nothing listens: connecting is refused at once.

    The socket is bound (so no other program can take the port during the test) but
    never listens, which makes the kernel refuse connections.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def url_with_secret(self, token: str) -> str:
        return f"json://127.0.0.1:{self.port}/{SECRET_PATH.format(token=token)}"

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> ClosedPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def refuse() -> ClosedPort:
    """A :class:`ClosedPort` (use it as a context manager): a URL that is refused."""
    return ClosedPort()


class FlakyTarget(LocalTarget):
    """A :class:`LocalTarget` that can be switched to failing for a period of time.

    ``fail_from_now(status)`` makes every request answer ``status`` until
    ``recover()``: a notification service that is down for a while, not for a
    fixed number of requests. ``log`` keeps, per request, when it arrived (wall
    time) and the status it was answered with, so a soak can tell a duplicate
    caused by a crash right after a delivery from a real one.
    """

    def __init__(self) -> None:
        super().__init__()
        self._switch = threading.Lock()
        self._failing: int | None = None
        self._log: list[tuple[float, int, dict[str, Any]]] = []

    def __enter__(self) -> FlakyTarget:
        self.start()
        return self

    def fail_from_now(self, status: int = 500) -> None:
        with self._switch:
            self._failing = status

    def recover(self) -> None:
        with self._switch:
            self._failing = None

    def _answer(self, handler: _Handler, raw: bytes) -> None:
        arrived = time.time()
        with self._switch:
            status = self._failing
            if status is not None:
                self.fail_next(1, status)
        super()._answer(handler, raw)
        try:
            payload: dict[str, Any] = json.loads(raw or b"{}")
        except ValueError:
            payload = {}
        with self._switch:
            self._log.append((arrived, status or 200, payload))

    @property
    def log(self) -> list[tuple[float, int, dict[str, Any]]]:
        """``(arrival wall time, status answered, JSON body)`` of every request, in order."""
        with self._switch:
            return list(self._log)
