"""Benchmark a one-shot check against the simulated prefecture (127.0.0.1 only).

Prints:
* HTTP requests per calendar check, counted at the simulator: cold (the first
  check of a new watch, nothing known yet), warm (what the daemon pays on
  every poll), after the site dropped every session (a restart: no warning),
  and after a long idle time, the first time (the kept form bounces) and once
  the adapter has learned how long the site keeps an idle session; slots
  closed and open;
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
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from monitor.check import Checker
from monitor.config import CalendarRef, load_config
from monitor.http import Fetcher, HostGate
from monitor.sites.ezbooking.adapter import EzBookingAdapter
from monitor.sites.ezbooking.sim import PARIS, SimPrefecture
from monitor.sites.ezbooking.sim.model import monday_of

BOOKING = 29396
CALENDARS = ["1.1", "1.2", "1.3", "2", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2"]
OPEN = "3.2"
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


async def requests_per_check(
    config_path: Path, sim: SimPrefecture
) -> tuple[dict[str, float], list[float]]:
    """Requests per calendar check, counted at the simulator, in each situation of a session."""
    config = load_config(config_path)
    watch = config.watches[0]
    figures: dict[str, float] = {}
    timings: list[float] = []
    async with Checker(config) as checker:
        adapter = await checker.adapter(watch)

        async def count(calendars: list) -> float:
            sim.reset_counters()
            for calendar in calendars:
                started = time.perf_counter()
                await adapter.check(calendar, watch=watch.name)
                timings.append((time.perf_counter() - started) * 1000)
            return sim.requests / len(calendars)

        figures["cold, closed (first check, nothing known)"] = await count(watch.calendars[:1])
        figures["warm, closed"] = await count(list(watch.calendars) * ROUNDS)
        sim.expire_sessions()
        figures["sessions dropped by the site, closed (step 1 known)"] = await count(
            watch.calendars[:1]
        )
        sim.set_state(BOOKING, OPEN, "available", slots=next_week())
        open_calendar = [c for c in watch.calendars if c.display == OPEN]
        figures["warm, open (slot dates next week)"] = await count(open_calendar * ROUNDS)
        sim.expire_sessions()
        figures["sessions dropped by the site, open (step 1 known)"] = await count(open_calendar)
    async with Checker(config) as checker:
        adapter = await checker.adapter(watch)
        sim.reset_counters()
        await adapter.check(open_calendar[0], watch=watch.name)
        figures["cold, open (first check, nothing known)"] = float(sim.requests)
        sim.set_state(BOOKING, OPEN, "full")
    return figures, timings


async def idle_expiry() -> dict[str, float]:
    """Requests of checks after long idle times, on a clock shared by site and adapter.

    The site keeps an idle session 1440 s (PHP's default). The first idle of an
    hour finds the session gone by surprise (the kept form bounces); after it, a
    session idle that long is known to be gone and the check starts at the landing page.
    """
    now = [0.0]
    start = datetime(2026, 3, 2, 8, 0, tzinfo=PARIS)
    figures: dict[str, float] = {}

    async def after(site: EzBookingAdapter, calendar: CalendarRef, idle: float) -> float:
        now[0] += idle
        sim.reset_counters()
        await site.check(calendar, watch="bench")
        return float(sim.requests)

    with SimPrefecture(clock=lambda: now[0]) as sim:
        sim.set_state(BOOKING, OPEN, "available", slots=next_week())
        for token, kind in (("3.1", "closed"), (OPEN, "open")):
            site = EzBookingAdapter(  # a new watch: nothing learned yet
                sim.booking_url(BOOKING),
                Fetcher(gate=HostGate(0.0)),
                clock=lambda: start + timedelta(seconds=now[0]),
            )
            calendar = CalendarRef.model_validate(token)
            try:
                await after(site, calendar, 0)  # cold
                await after(site, calendar, 30)  # warm
                figures[f"idle 1 h, first time, {kind}"] = await after(site, calendar, 3600)
                await after(site, calendar, 30)
                learned = await after(site, calendar, 3600)
                figures[f"idle 1 h, idle limit learned, {kind}"] = learned
            finally:
                await site.fetcher.aclose()
    return figures


def next_week() -> list[datetime]:
    monday = monday_of(datetime.now(PARIS).date()) + timedelta(days=7)
    return [datetime.combine(monday + timedelta(days=1), dtime(9, 0), PARIS)]


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
        figures, timings = asyncio.run(requests_per_check(path, sim))
        rss = peak_rss_of_check(path)
    figures.update(asyncio.run(idle_expiry()))
    print("bench_check (simulated prefecture on 127.0.0.1)")
    print(f"  requests per calendar check, warm session   : {figures['warm, closed']:.2f}")
    print("  requests per calendar check, counted at the site:")
    for situation, figure in figures.items():
        print(f"    {situation:<52}: {figure:.2f}")
    median = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(
        f"  time per calendar check on loopback          : median {median:.1f} ms,"
        f" p95 {p95:.1f} ms ({len(timings)} checks)"
    )
    print(f"  peak RSS of `rdv-monitor check`, 10 calendars: {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
