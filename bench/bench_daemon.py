"""Benchmark the daemon's footprint while it watches 10 calendars of the simulator.

The daemon runs as a child process (``python -m monitor run``) against the
simulated prefecture on 127.0.0.1, polling every 2 s so that a short window
holds many runs. Prints:

* CPU time per run of 10 calendars, and the idle CPU per hour between runs;
* CPU seconds per hour at the default schedule (5 min interval, Monday surge),
  from the runs per week the schedule makes (bench_schedule.py's model);
* the daemon's peak RSS.

Run: ``.venv/bin/python bench/bench_daemon.py``. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import load_config
from monitor.schedule import Backoff, Policy, first_run, plan_after_run
from monitor.sites.ezbooking.sim import SimPrefecture
from monitor.store import Store

CALENDARS = ["1.1", "1.2", "1.3", "2", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2"]
WINDOW = 30.0
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def runs(state_dir: Path) -> int:
    with Store.open_readonly(state_dir) as store:
        return len(store.observations()) // len(CALENDARS)


def write_config(directory: Path, url: str, interval: str) -> Path:
    path = directory / f"bench-{interval}.toml"
    cals = ", ".join(f'"{c}"' for c in CALENDARS)
    path.write_text(
        f'[monitor]\ninterval = "{interval}"\njitter = "0s"\nstate_dir = "{directory / interval}"\n'
        f'\n[notify]\nurls = []\n\n[[watch]]\nname = "bench"\nurl = "{url}"\n'
        f"calendars = [{cals}]\n",
        encoding="utf-8",
    )
    os.chmod(path, 0o600)
    return path


def measure(config: Path, state_dir: Path, window: float) -> tuple[float, int, int]:
    """(CPU seconds, runs, peak RSS KiB) over ``window`` seconds after the first run."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "-c", str(config)],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if runs(state_dir) >= 1:
                break
        except Exception:
            pass
        time.sleep(0.1)
    cpu0, runs0 = cpu_seconds(proc.pid), runs(state_dir)
    time.sleep(window)
    cpu1, runs1 = cpu_seconds(proc.pid), runs(state_dir)
    proc.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(proc.pid, 0)
    return cpu1 - cpu0, runs1 - runs0, usage.ru_maxrss


def default_runs_per_hour() -> float:
    """Runs per hour of one watch at the default schedule, averaged over a week."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(
            '[notify]\nurls = []\n[[watch]]\nname = "w"\n'
            'url = "https://www.haute-savoie.gouv.fr/booking/create/29396"\ncalendars = ["3.1"]\n'
        )
        os.chmod(path, 0o600)
        config = load_config(path)
    policy = Policy.for_watch(config, config.watches[0])
    rng = random.Random(1)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    end = now + timedelta(weeks=4)
    planned, count = first_run(policy, now, rng), 0
    while planned.at < end:
        count += 1
        planned = plan_after_run(policy, planned.at, Backoff(), rng, last_start=planned.at)
    return count / (4 * 7 * 24)


def main() -> None:
    with SimPrefecture() as sim, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        busy = write_config(directory, sim.booking_url(29396), "2s")
        cpu, n, rss = measure(busy, directory / "2s", WINDOW)
        idle_cfg = write_config(directory, sim.booking_url(29396), "1h")
        idle_cpu, _, _ = measure(idle_cfg, directory / "1h", 10.0)
    per_run = cpu / max(n, 1)
    idle_per_hour = idle_cpu / 10.0 * 3600
    rate = default_runs_per_hour()
    print("bench_daemon (10 calendars, simulated prefecture on 127.0.0.1)")
    print(f"  runs measured                       : {n} in {WINDOW:.0f} s")
    print(f"  CPU per run of 10 calendars          : {per_run * 1000:.0f} ms")
    print(f"  idle CPU between runs                : {idle_per_hour:.1f} s/hour")
    print(f"  default schedule                     : {rate:.1f} runs/hour (week average)")
    print(f"  CPU at the default schedule          : {per_run * rate + idle_per_hour:.1f} s/hour")
    print(f"  CPU while polling every 2 s          : {cpu / WINDOW * 3600:.0f} s/hour")
    print(f"  peak RSS of the daemon               : {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
