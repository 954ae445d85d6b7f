"""Answers as bad as a web server can send, over real HTTP on 127.0.0.1.

The hostile set (``tests/hostile_server.py``): a 60 MB body, an endless
stream, a gzip bomb and a deflate bomb, a redirect loop, an off-site
redirect, corrupt gzip, random bytes, a drip and a reset. Whatever arrives,
``rdv-monitor check`` prints one row per watch, says what happened in words,
exits 0 and never shows a traceback. Memory and time are figures of
``bench/bench_hostile.py``, not assertions here; what is asserted is the
property that bounds them: decoding goes a bounded step at a time and stops
when the reader stops.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.errors import FetchError, ResponseTooLarge
from monitor.http import Fetcher, HostGate
from monitor.inflate import ACCEPT_ENCODING, STEP, Inflater, UnsupportedEncoding
from tests.hostile_server import CASES, HostileSite, bomb

PAGE = ("<html><body><p>Aucune plage horaire libre — é</p></body></html>" * 200).encode()

EXPECTED = {
    # case: (status, words of the detail)
    "big-body": ("down", "cap"),
    "endless": ("down", "cap"),
    "gzip-bomb": ("down", "cap"),
    "deflate-bomb": ("down", "cap"),
    "redirect-loop": ("unknown", "redirected more than"),
    "off-site": ("unknown", "another site"),
    "bad-gzip": ("down", "not the gzip it claims"),
    "garbage": ("unknown", "not recognised"),
    "drip": ("down", "within 1 s"),
    "reset": ("down", "broke off"),
}


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileSite]:
    with HostileSite() as site:
        yield site


def rdv_monitor() -> list[str]:
    script = Path(sys.executable).parent / "rdv-monitor"
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor"]


def test_every_case_of_the_hostile_set_has_an_expectation() -> None:
    assert set(EXPECTED) == set(CASES)


def test_check_against_the_hostile_set_says_what_happened_and_never_crashes(
    hostile: HostileSite, tmp_path: Path
) -> None:
    config = tmp_path / "hostile.toml"
    watches = "".join(f'\n[[watch]]\nname = "{c}"\nurl = "{hostile.url(c)}"\n' for c in CASES)
    config.write_text(f'[monitor]\ntimeout = "1s"\n\n[notify]\nurls = []\n{watches}')
    os.chmod(config, 0o600)
    result = subprocess.run(
        [*rdv_monitor(), "check", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "unexpected error" not in result.stderr
    rows = {row["watch"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert list(rows) == list(CASES)
    for case, (status, words) in EXPECTED.items():
        assert (rows[case]["status"], words in rows[case]["detail"]) == (status, True), rows[case]
        assert rows[case]["slots"] == []


def test_we_ask_only_for_the_encodings_we_decode_with_a_bound(hostile: HostileSite) -> None:
    async def fetch() -> None:
        async with Fetcher(gate=HostGate(0.0)) as fetcher:
            with pytest.raises(FetchError):
                await fetcher.get(hostile.url("redirect-loop"))

    asyncio.run(fetch())
    sent = {headers.get("accept-encoding") for path, headers in hostile.requests}
    assert sent == {ACCEPT_ENCODING} == {"gzip, deflate"}


@pytest.mark.parametrize("case", ["gzip-bomb", "deflate-bomb"])
def test_a_bomb_is_cut_at_the_cap(hostile: HostileSite, case: str) -> None:
    async def fetch() -> None:
        async with Fetcher(gate=HostGate(0.0), max_bytes=256 * 1024) as fetcher:
            await fetcher.get(hostile.url(case))

    with pytest.raises(ResponseTooLarge, match="262,144-byte cap"):
        asyncio.run(fetch())


# ── the decoder itself ──────────────────────────────────────────────────────


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_bomb_inflates_one_bounded_step_at_a_time(encoding: str) -> None:
    """The whole 1 GiB bomb fed at once: each step is at most STEP bytes, and a reader
    that stops after a few steps has made only those (nothing inflated ahead)."""
    pieces = Inflater(encoding).feed(bomb(encoding))
    first = list(itertools.islice(pieces, 40))
    assert [len(p) for p in first] == [STEP] * 40
    assert set(b"".join(first)) == {0}


def test_the_bombs_are_real() -> None:
    """The bench and the tests above would prove nothing against a fake bomb."""
    assert len(bomb("gzip")) < 2_000_000
    inflater = zlib.decompressobj(31)
    head = inflater.decompress(bomb("gzip")[:2000], 1 << 20)
    assert len(head) == 1 << 20, "two thousand bytes on the wire, a mebibyte in memory"
    assert inflater.unconsumed_tail, "and more still waiting"


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


ENCODED = [
    pytest.param("", PAGE, id="none"),
    pytest.param("identity", PAGE, id="identity"),
    pytest.param("gzip", gzip.compress(PAGE), id="gzip"),
    pytest.param("X-GZIP", gzip.compress(PAGE), id="x-gzip"),
    pytest.param("deflate", zlib.compress(PAGE), id="deflate-zlib"),
    pytest.param("deflate", _raw_deflate(PAGE), id="deflate-raw"),
    pytest.param("deflate, gzip", gzip.compress(zlib.compress(PAGE)), id="two-layers"),
    pytest.param("gzip", gzip.compress(PAGE) + b"trailing junk", id="junk-after-end"),
]


@pytest.mark.parametrize(("encoding", "body"), ENCODED)
@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 20])
def test_pages_decode_whatever_the_network_pieces(encoding: str, body: bytes, piece: int) -> None:
    inflater = Inflater(encoding, step=1000)
    out = [
        chunk
        for start in range(0, len(body), piece)
        for chunk in inflater.feed(body[start : start + piece])
    ]
    assert b"".join(out) == PAGE
    if encoding not in ("", "identity"):  # an undecoded piece passes as it came
        assert max(map(len, out)) <= 1000


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br"])
def test_an_encoding_we_did_not_ask_for_is_refused(encoding: str) -> None:
    with pytest.raises(UnsupportedEncoding, match="did not ask for"):
        Inflater(encoding)


def test_corrupt_bytes_raise_zlib_error() -> None:
    with pytest.raises(zlib.error):
        list(Inflater("gzip").feed(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4))


# ── ordinary compressed pages still read as before ──────────────────────────


@pytest.mark.parametrize(
    ("encoding", "body"),
    [("gzip", gzip.compress(PAGE)), ("deflate", zlib.compress(PAGE)), ("br", b"\x0b\x02")],
    ids=["gzip", "deflate", "brotli-unasked"],
)
def test_the_fetcher_reads_compressed_pages(encoding: str, body: bytes) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        # stream=, not content=: httpx would decode content= itself, before the fetcher.
        headers = {"Content-Encoding": encoding, "Content-Length": str(len(body))}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))

    async def fetch() -> bytes:
        async with Fetcher(gate=HostGate(0.0), transport=httpx.MockTransport(answer)) as fetcher:
            return (await fetcher.get("http://127.0.0.1/booking/create/1")).body

    if encoding == "br":
        with pytest.raises(FetchError, match="'br' encoding, which we did not ask for") as caught:
            asyncio.run(fetch())
        assert caught.value.kind == "protocol"
    else:
        assert asyncio.run(fetch()) == PAGE
