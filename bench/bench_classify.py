"""Benchmark the page classifier on every fixture page (tests/pages).

For each fixture, times ``classify(status, headers, body)`` (decode, the parse
of the booking block alone, or of the whole page when the page has none or the
cut is not exact, and the whole decision) over many repetitions with
``time.perf_counter_ns`` and prints the median, the 10th and 90th percentiles in
µs, and the page size; then the median of the per-page medians, the median over
all runs and the slowest page. It also prints the verdict, so a slow page is
recognisable at a glance. The pages saved from real sites
(``../shared/real-pages``), when present, are timed on their own lines after
the figures.

Each page is timed three ways. *Again*: the same page classified again and
again, as the daemon does on every check of a full calendar; the chrome
around the booking block and the block itself are then read from the memos
of :mod:`monitor.sites.ezbooking.scoped` (the site sends the same bytes), and
what is left is the decoding, the cut, the exact comparisons and the
decision. *New block*: the block memo is emptied before every run, as when
a calendar's page changes on a known site (slots appear): the block is
parsed and read, the chrome is not. *First sight*: both memos are emptied,
as on the first check of a site. The time is wall-clock,
so on a shared machine other work inflates it: compare figures taken one after
the other on a quiet machine, or count instructions (``valgrind --tool=callgrind``)
when it is busy.

Run: ``.venv/bin/python bench/bench_classify.py [repetitions]``. It prints
figures; it asserts nothing (timings depend on the machine).
"""

from __future__ import annotations

import gc
import platform
import statistics
import sys
import time
from pathlib import Path

from monitor.sites.ezbooking.classify import classify
from monitor.sites.ezbooking.scoped import forget

PAGES = Path(__file__).resolve().parent.parent / "tests" / "pages"
REAL_PAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "real-pages"
"""Pages saved from real sites, beside the repository when present: timed apart (not fixtures)."""
REPETITIONS = 500
WARMUP = 20


def status_for(name: str) -> int:
    """The status code the page would come with (error documents carry their own)."""
    for code in ("403", "429", "502", "503", "504"):
        if f"_{code}" in name:
            return int(code)
    if name in ("apache_forbidden.html", "access_denied.html"):
        return 403
    return 200


WAYS = ("again", "new block", "first sight")


def time_page(body: bytes, code: int, repetitions: int, way: str) -> list[int]:
    headers = {"Content-Type": "text/html"}
    for _ in range(WARMUP):
        classify(code, headers, body)
    samples: list[int] = []
    for _ in range(repetitions):
        if way != "again":
            forget(chrome=way == "first sight")
        started = time.perf_counter_ns()
        classify(code, headers, body)
        samples.append(time.perf_counter_ns() - started)
    return samples


def main() -> None:
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else REPETITIONS
    print(
        f"classify() on {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {repetitions} runs per page and way (µs: median, p90)"
    )
    print(f"{'page':40} {'KiB':>6}" + "".join(f" {way:>17}" for way in WAYS) + "  verdict")
    columns: dict[str, tuple[list[float], list[int]]] = {way: ([], []) for way in WAYS}
    gc.collect()
    for path in sorted(PAGES.glob("*.html")):
        body = path.read_bytes()
        code = status_for(path.name)
        shown = ""
        for way in WAYS:
            samples = sorted(time_page(body, code, repetitions, way))
            median = statistics.median(samples) / 1000
            columns[way][0].append(median)
            columns[way][1].extend(samples)
            shown += f" {median:8.1f} {statistics.quantiles(samples, n=10)[-1] / 1000:8.1f}"
        verdict = classify(code, {}, body)
        print(f"{path.name:40} {len(body) / 1024:6.1f}{shown}  {code} → {verdict.status}")
    for way in WAYS:
        medians, everything = columns[way]
        print(
            f"{way:12} median of the per-page medians {statistics.median(medians):7.1f}, "
            f"median over all runs {statistics.median(everything) / 1000:7.1f}, "
            f"slowest page {max(medians):7.1f}"
        )
    real = sorted(REAL_PAGES.glob("*.htm*")) if REAL_PAGES.is_dir() else []
    for path in real:  # not in the figures above: they are not fixtures
        body = path.read_bytes()
        shown = "".join(
            f" {statistics.median(time_page(body, 200, repetitions, way)) / 1000:8.1f} {'':8}"
            for way in WAYS
        )
        verdict = classify(200, {}, body)
        print(f"real: {path.name[:34]:34} {len(body) / 1024:6.1f}{shown}  {verdict.status}")


if __name__ == "__main__":
    main()
