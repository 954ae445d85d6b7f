"""Benchmark a one-shot check against the simulated prefecture (127.0.0.1 only).

Prints:
* HTTP requests per calendar check: the first check of a session, and the
  steady state with a warm session (what the daemon pays on every poll);
* wall time per calendar check on loopback (dominated by our own code);
* peak RSS of ``rdv-monitor check`` over 10 calendars, in a fresh process.

Run: ``.venv/bin/python bench/bench_check.py``. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from monitor.check import Checker
from monitor.config import load_config
from monitor.sites.ezbooking.sim import SimPrefecture

BOOKING = 29396
CALENDARS = ["1.1", "1.2", "1.3", "2", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2"]
ROUNDS = 20


def write_config(directory: Path, url: str) -> Path:
    path = directory / "bench.toml"
    cals = ", ".join(f'"{c}"' for c in CALENDARS)
    path.write_text(
        f'[monitor]\n\n[notify]\nurls = []\n\n[[watch]]\nname = "bench"\nurl = "{url}"\n'
        f"calendars = [{cals}]\n",
        encoding="utf-8",
    )
    os.chmod(path, 0o600)
    return path


async def requests_per_check(config_path: Path) -> tuple[float, float, list[float]]:
    config = load_config(config_path)
    watch = config.watches[0]
    async with Checker(config) as checker:
        adapter = await checker.adapter(watch)
        first_calendar = watch.calendars[0]
        await adapter.check(first_calendar, watch=watch.name)
        first = checker.requests_made
        before = checker.requests_made
        timings: list[float] = []
        for _ in range(ROUNDS):
            for calendar in watch.calendars:
                started = time.perf_counter()
                await adapter.check(calendar, watch=watch.name)
                timings.append((time.perf_counter() - started) * 1000)
        steady = (checker.requests_made - before) / (ROUNDS * len(watch.calendars))
    return float(first), steady, timings


def peak_rss_of_check(config_path: Path) -> int:
    """Peak RSS (KiB) of a whole ``rdv-monitor check`` process over 10 calendars."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "check", "-c", str(config_path), "--json"],
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"check exited with status {status}")
    return usage.ru_maxrss


def main() -> None:
    with SimPrefecture() as sim, tempfile.TemporaryDirectory() as tmp:
        path = write_config(Path(tmp), sim.booking_url(BOOKING))
        first, steady, timings = asyncio.run(requests_per_check(path))
        rss = peak_rss_of_check(path)
    print("bench_check (simulated prefecture on 127.0.0.1)")
    print(f"  requests, first calendar check of a session : {first:.0f}")
    print(f"  requests per calendar check, warm session   : {steady:.2f}")
    median = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(
        f"  time per calendar check on loopback          : median {median:.1f} ms,"
        f" p95 {p95:.1f} ms ({len(timings)} checks)"
    )
    print(f"  peak RSS of `rdv-monitor check`, 10 calendars: {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
