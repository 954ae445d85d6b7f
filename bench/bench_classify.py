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

The same page is classified again and again, as the daemon does on every check
of a booking: the chrome around the block is then read from the memo of
:mod:`monitor.sites.ezbooking.scoped`, as in the daemon. The time is wall-clock,
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


def time_page(body: bytes, code: int, repetitions: int) -> list[int]:
    headers = {"Content-Type": "text/html"}
    for _ in range(WARMUP):
        classify(code, headers, body)
    samples: list[int] = []
    for _ in range(repetitions):
        started = time.perf_counter_ns()
        classify(code, headers, body)
        samples.append(time.perf_counter_ns() - started)
    return samples


def main() -> None:
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else REPETITIONS
    print(
        f"classify() on {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {repetitions} runs per page (µs)"
    )
    print(f"{'page':40} {'KiB':>6} {'median':>8} {'p10':>8} {'p90':>8}  verdict")
    medians: list[float] = []
    everything: list[int] = []
    gc.collect()
    for path in sorted(PAGES.glob("*.html")):
        body = path.read_bytes()
        code = status_for(path.name)
        samples = sorted(time_page(body, code, repetitions))
        deciles = statistics.quantiles(samples, n=10)
        median = statistics.median(samples) / 1000
        medians.append(median)
        everything.extend(samples)
        verdict = classify(code, {}, body)
        print(
            f"{path.name:40} {len(body) / 1024:6.1f} {median:8.1f} {deciles[0] / 1000:8.1f} "
            f"{deciles[-1] / 1000:8.1f}  {code} → {verdict.status}"
        )
    print(f"{'median of the per-page medians':40} {'':6} {statistics.median(medians):8.1f}")
    print(f"{'median over all runs':40} {'':6} {statistics.median(everything) / 1000:8.1f}")
    print(f"{'slowest page median':40} {'':6} {max(medians):8.1f}")
    real = sorted(REAL_PAGES.glob("*.htm*")) if REAL_PAGES.is_dir() else []
    for path in real:  # not in the figures above: they are not fixtures
        body = path.read_bytes()
        median = statistics.median(time_page(body, 200, repetitions)) / 1000
        verdict = classify(200, {}, body)
        print(f"real: {path.name[:34]:34} {len(body) / 1024:6.1f} {median:8.1f}  {verdict.status}")


if __name__ == "__main__":
    main()
