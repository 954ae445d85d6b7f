"""Content-Encoding decoding with a bound on every step, so a compression bomb costs nothing.

httpx inflates each network chunk whole before anyone can look at its size:
64 KiB of gzip can become 64 MB, and a 1 MB body 1 GiB, before a size cap is
checked. :class:`Inflater` decodes instead with ``zlib``'s ``max_length``:
each step yields at most ``step`` bytes and keeps the rest of its input for
the next step, so the caller's cap stops a bomb after one step too many, with
the memory of one step.

Only what :data:`ACCEPT_ENCODING` advertises is decoded (gzip and deflate,
both in the standard library). An answer in another encoding (``br``,
``zstd``…) was not asked for, and cannot be read: :class:`UnsupportedEncoding`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

__all__ = ["ACCEPT_ENCODING", "STEP", "Inflater", "UnsupportedEncoding"]

ACCEPT_ENCODING = "gzip, deflate"
"""What we ask sites for. Sent explicitly: httpx would add ``br`` or ``zstd`` as soon as
their packages happen to be installed, and then decode them without any bound."""
STEP = 64 * 1024
"""Bytes of output, at most, per decoding step."""

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


class UnsupportedEncoding(ValueError):
    """The answer names a Content-Encoding we did not advertise and cannot decode."""


class _Stage(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data


class _Zlib:
    """One gzip or deflate layer, at most ``step`` bytes out per step.

    ``deflate`` should be zlib-wrapped (RFC 9110), but some servers send raw
    deflate; as browsers (and httpx) do, the first two bytes decide which.
    """

    def __init__(self, encoding: str, step: int) -> None:
        self._step = step
        self._head = b""
        self._inflater = zlib.decompressobj(_GZIP) if encoding == "gzip" else None

    def feed(self, data: bytes) -> Iterator[bytes]:
        inflater = self._inflater
        if inflater is None:
            self._head += data
            if len(self._head) < 2:
                return
            inflater = self._inflater = zlib.decompressobj(
                _ZLIB if _is_zlib_header(self._head) else _RAW_DEFLATE
            )
            data, self._head = self._head, b""
        while not inflater.eof:  # bytes after the end of the stream are ignored, as browsers do
            out = inflater.decompress(data, self._step)
            data = inflater.unconsumed_tail
            if out:
                yield out
            # A full step may leave output inside zlib even with no input left: ask again.
            if not data and len(out) < self._step:
                return


def _is_zlib_header(head: bytes) -> bool:
    """True if ``head`` starts with a zlib header (RFC 1950: method 8, check bits)."""
    return head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


class Inflater:
    """Decodes a body sent with ``Content-Encoding: encodings``, fed in raw pieces.

    ``encodings`` is the header's value (``""`` for none); layers are undone
    last first, as RFC 9110 says. :meth:`feed` yields decoded pieces of at
    most ``step`` bytes each and decodes lazily: a caller that stops iterating
    (a size cap reached) stops the work. Raises :class:`UnsupportedEncoding`
    for an encoding other than gzip, deflate or identity, and ``zlib.error``
    for bytes that are not what the header says.
    """

    def __init__(self, encodings: str, step: int = STEP) -> None:
        self.encodings = encodings
        stages: list[_Stage] = []
        for name in (part.strip().lower() for part in encodings.split(",")):
            if name in ("", "identity"):
                continue
            if name in ("gzip", "x-gzip"):
                stages.append(_Zlib("gzip", step))
            elif name == "deflate":
                stages.append(_Zlib("deflate", step))
            else:
                raise UnsupportedEncoding(
                    f"an answer in the {name!r} encoding, which we did not ask for "
                    f"(we accept {ACCEPT_ENCODING})"
                )
        self._stages: list[_Stage] = list(reversed(stages)) or [_Identity()]

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes that ``data`` (the next raw piece of the body) completes."""
        return self._through(0, data)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._stages) - 1:
            yield from self._stages[index].feed(data)
            return
        for piece in self._stages[index].feed(data):
            yield from self._through(index + 1, piece)
