"""A web server on 127.0.0.1 that answers as badly as a site can: the hostile set.

Each answer is chosen by the first segment of the path, so one server serves
the whole set and every case has a booking-looking URL
(``http://127.0.0.1:PORT/<case>/booking/create/1``). It writes raw bytes on
the socket (no HTTP library in the way), so the answers can be as broken as
we like: a body that never ends, a gzip bomb, a connection reset mid-answer.

Used by ``tests/test_hostile_http.py`` (what each case ends as) and
``bench/bench_hostile.py`` (peak memory and time of ``rdv-monitor check``
against each). Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable

__all__ = ["BOMB_INFLATED", "CASES", "HostileSite", "bomb"]

BOMB_INFLATED = 1 << 30
"""Bytes a bomb inflates to (1 GiB of zeros, from about 1 MB on the wire)."""
BIG_BODY = 60 * 1024 * 1024
CHUNK = 64 * 1024
DRIP_EVERY = 0.2
"""Seconds between two bytes of the drip: a server alive but never done."""

Writer = asyncio.StreamWriter
Case = Callable[[Writer, str, int], Awaitable[None]]


@functools.cache
def bomb(encoding: str) -> bytes:
    """A well-formed ``gzip`` or ``deflate`` (zlib) body that inflates to 1 GiB of zeros.

    Built from one compressed MiB repeated: after a full flush the compressor
    starts afresh, so the same input gives the same bytes, and concatenated
    segments form one valid stream. The trailer (checksum, length) is the true
    one, so a decoder that reads to the end finds nothing wrong but the size.
    """
    wbits = 31 if encoding == "gzip" else 15
    zeros = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    segment = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    rounds = BOMB_INFLATED // len(zeros)
    end = packer.flush(zlib.Z_FINISH)
    checksum = 0 if encoding == "gzip" else 1
    check = zlib.crc32 if encoding == "gzip" else zlib.adler32
    for _ in range(rounds):
        checksum = check(zeros, checksum)
    if encoding == "gzip":
        trailer = struct.pack("<II", checksum, BOMB_INFLATED & 0xFFFFFFFF)
    else:
        trailer = struct.pack(">I", checksum)
    return first + segment * (rounds - 1) + end[: -len(trailer)] + trailer


def _head(status: str, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def _send(writer: Writer, data: bytes) -> None:
    for start in range(0, len(data), CHUNK):
        writer.write(data[start : start + CHUNK])
        await writer.drain()


async def big_body(writer: Writer, path: str, port: int) -> None:
    """60 MB of HTML, length not announced: only reading shows it is too big."""
    await _send(writer, _head("200 OK", "Content-Type: text/html"))
    piece = b"<p>" + b"x" * (CHUNK - 7) + b"</p>"
    for _ in range(BIG_BODY // len(piece)):
        await _send(writer, piece)


async def endless(writer: Writer, path: str, port: int) -> None:
    """A chunked body that never ends, as fast as the client reads."""
    await _send(writer, _head("200 OK", "Content-Type: text/html", "Transfer-Encoding: chunked"))
    piece = b"<p>" + os.urandom(CHUNK // 2).hex().encode()[: CHUNK - 7] + b"</p>"
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    while True:
        await _send(writer, frame)


def _bomb_case(encoding: str) -> Case:
    async def serve(writer: Writer, path: str, port: int) -> None:
        body = bomb(encoding)
        head = _head(
            "200 OK",
            "Content-Type: text/html",
            f"Content-Encoding: {encoding}",
            f"Content-Length: {len(body)}",
        )
        await _send(writer, head + body)

    serve.__doc__ = f"About 1 MB of {encoding} that inflates to 1 GiB of zeros."
    return serve


async def redirect_loop(writer: Writer, path: str, port: int) -> None:
    """Every answer sends the client back where it came from."""
    await _send(writer, _head("302 Found", f"Location: {path}", "Content-Length: 0"))


async def off_site(writer: Writer, path: str, port: int) -> None:
    """A redirect to another host: the session must not follow it there."""
    location = f"http://127.0.0.2:{port}{path}"
    await _send(writer, _head("302 Found", f"Location: {location}", "Content-Length: 0"))


async def bad_gzip(writer: Writer, path: str, port: int) -> None:
    """``Content-Encoding: gzip`` over bytes that are not gzip."""
    body = b"\x1f\x8b\x08\x00" + os.urandom(4096)
    head = _head(
        "200 OK",
        "Content-Type: text/html",
        "Content-Encoding: gzip",
        f"Content-Length: {len(body)}",
    )
    await _send(writer, head + body)


async def garbage(writer: Writer, path: str, port: int) -> None:
    """Random bytes served as HTML in a charset that does not exist."""
    body = os.urandom(32 * 1024)
    head = _head(
        "200 OK", "Content-Type: text/html; charset=x-nonsense", f"Content-Length: {len(body)}"
    )
    await _send(writer, head + body)


async def drip(writer: Writer, path: str, port: int) -> None:
    """Headers, then one byte now and then, forever: only a time-out ends it."""
    await _send(writer, _head("200 OK", "Content-Type: text/html", "Content-Length: 100000"))
    while True:
        await _send(writer, b"<")
        await asyncio.sleep(DRIP_EVERY)


async def reset(writer: Writer, path: str, port: int) -> None:
    """Half an answer, then a TCP reset."""
    await _send(writer, _head("200 OK", "Content-Type: text/html", "Content-Length: 50000"))
    await _send(writer, b"<html><body>half a page")
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


CASES: dict[str, Case] = {
    "big-body": big_body,
    "endless": endless,
    "gzip-bomb": _bomb_case("gzip"),
    "deflate-bomb": _bomb_case("deflate"),
    "redirect-loop": redirect_loop,
    "off-site": off_site,
    "bad-gzip": bad_gzip,
    "garbage": garbage,
    "drip": drip,
    "reset": reset,
}


class HostileSite:
    """The hostile set, served on 127.0.0.1 from a background thread while in a ``with``."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[tuple[str, dict[str, str]]] = []
        """Path and headers (names in lower case) of every request received."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def url(self, case: str) -> str:
        """The booking URL whose answers are ``case``."""
        if case not in CASES:
            raise KeyError(f"no hostile case {case!r}; the cases are {', '.join(CASES)}")
        return f"http://127.0.0.1:{self.port}/{case}/booking/create/1"

    def __enter__(self) -> HostileSite:
        for encoding in ("gzip", "deflate"):
            bomb(encoding)  # built now: built on request, its cost would look like a slow site
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        )
        self._server = started.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        server = self._server
        if server is not None:

            async def stop() -> None:
                server.close()
                others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in others:
                    task.cancel()
                await asyncio.gather(*others, return_exceptions=True)

            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _handle(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            path = request_line.split(" ")[1] if " " in request_line else "/"
            fields = (line.partition(":") for line in lines if ":" in line)
            self.requests.append((path, {k.strip().lower(): v.strip() for k, _, v in fields}))
            case = CASES.get(path.split("/")[1])
            if case is None:
                await _send(writer, _head("404 Not Found", "Content-Length: 0"))
            else:
                await case(writer, path, self.port)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client left: that is the point of most cases
        except asyncio.CancelledError:
            pass  # the server is stopping (a drip never ends by itself)
        finally:
            if not writer.transport.is_closing():
                writer.close()
