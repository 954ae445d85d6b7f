"""Benchmark what the daemon costs the prefecture and the machine: requests per check and RSS.

The figures of issue 12, measured against the simulated prefecture on
127.0.0.1 (never a real site) with its 10 calendars of booking 29396, and
a local apprise ``json://`` receiver started here (nothing leaves the machine):

(a) requests per calendar check, counted at the simulator, slots closed and
    slots open: *first ever* is ``rdv-monitor check`` of one calendar with no
    knowledge kept; *cold* the same command run again, a new process that
    recalls what the first one learnt from the state database, while the
    site session lives and after the site wiped its sessions (a wipe cannot
    be foreseen: the recalled session is tried, bounces, and the check
    continues in a new one; a session known to be too old costs 4); *warm* the mean of the
    nine checks that follow the first one in one session (a check of all 10
    calendars, minus the first);
(b) the daemon's RSS, summed over its process tree from ``/proc``: when it
    sends its first request, idle after its first run, and sampled every
    ``--sample`` seconds for ``--seconds`` while it polls 10 calendars every
    2 s and delivers alerts (one calendar opens and closes in turn);
(c) requests per minute per calendar with one calendar at a 3 s interval;
(d) open → alert latency (slots opened at the simulator → message at the
    receiver), median and p90, same 3 s interval.

It uses public surfaces only, so that it survives refactors: the
``rdv-monitor`` console script with a TOML config, the simulator's
:class:`SimPrefecture` (its states and request counter), and the daemon's
metrics endpoint (``[monitor] metrics``) to count checks in (c), and its state
database (read-only) to count them in (b), where the daemon runs without metrics as
users run it by default. Run:
``.venv/bin/python bench/bench_footprint.py [--seconds 60]``. It prints figures;
it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from monitor.sites.ezbooking.sim import PARIS, SimPrefecture

BOOKING = 29396
CALENDARS = ("1.1", "1.2", "1.3", "2", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ── the machine side: processes and their memory ───────────────────────────


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from ``/proc/<pid>/task/*/children``."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with suppress(OSError):  # the task ended meanwhile
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return found


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid``'s process tree, MiB (``statm``'s resident pages)."""
    total = 0
    for member in tree(pid):
        with suppress(OSError, IndexError, ValueError):  # it exited meanwhile
            total += int(Path(f"/proc/{member}/statm").read_text().split()[1])
    return total * PAGE / 2**20


def command() -> list[str]:
    """The ``rdv-monitor`` console script next to this interpreter, else ``python -m monitor``."""
    script = shutil.which("rdv-monitor", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "monitor"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ── a local apprise json:// receiver ────────────────────────────────────────


class Receiver:
    """Records the arrival time of each POST; apprise's ``json://127.0.0.1:PORT/`` posts here."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.cond:
                    owner.arrivals.append(time.monotonic())
                    owner.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/alert"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def count(self) -> int:
        with self.cond:
            return len(self.arrivals)

    def wait_for(self, count: int, timeout: float) -> float | None:
        """Arrival time of message number ``count`` (1-based), or None after ``timeout``."""
        with self.cond:
            if self.cond.wait_for(lambda: len(self.arrivals) >= count, timeout):
                return self.arrivals[count - 1]
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ── configs and runs ────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Setup:
    directory: Path
    url: str
    notify: str


def write_config(
    setup: Setup,
    name: str,
    calendars: tuple[str, ...],
    *,
    interval: str = "1h",
    metrics: int | None = None,
    events: tuple[str, ...] = ("slot_opened", "slot_gone"),
) -> Path:
    path = setup.directory / f"{name}.toml"
    cals = ", ".join(f'"{c}"' for c in calendars)
    listen = f'metrics = "127.0.0.1:{metrics}"\n' if metrics else ""
    path.write_text(
        f'[monitor]\ninterval = "{interval}"\njitter = "0s"\nmin_spacing = "0s"\n'
        f'state_dir = "{setup.directory / name}"\n{listen}'
        f'\n[notify]\nurls = ["{setup.notify}"]\nevents = {json.dumps(list(events))}\n'
        f'\n[[watch]]\nname = "bench"\nurl = "{setup.url}"\ncalendars = [{cals}]\n',
        encoding="utf-8",
    )
    os.chmod(path, 0o600)
    return path


def open_slots(sim: SimPrefecture, calendar: str | None) -> None:
    """Free slots in the next days: every calendar (``None``) or one."""
    day = sim.today + timedelta(days=2)
    slots = [datetime.combine(day + timedelta(days=i), dtime(9, 30), PARIS) for i in range(3)]
    if calendar is None:
        sim.set_booking_state(BOOKING, "available", slots=slots)
    else:
        sim.set_state(BOOKING, calendar, "available", slots=slots)


def close_slots(sim: SimPrefecture) -> None:
    sim.set_booking_state(BOOKING, "full")


def requests_of_check(sim: SimPrefecture, config: Path) -> int:
    """Requests the simulator received for one ``rdv-monitor check`` (a fresh session)."""
    sim.reset_counters()
    done = subprocess.run(
        [*command(), "check", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"bench_footprint: rdv-monitor check failed:\n{done.stderr}")
    statuses = {json.loads(line)["status"] for line in done.stdout.splitlines() if line.strip()}
    if not statuses <= {"full", "available"}:
        sys.exit(f"bench_footprint: unexpected statuses {statuses}:\n{done.stdout}")
    return sim.requests


# A debug hook of this bench, never of the product: the daemon run through it writes
# the names of its modules to $BENCH_MODULES when it exits (``--modules``).
_DUMP_MODULES = """
import atexit, os, sys
def dump():
    with open(os.environ["BENCH_MODULES"], "w", encoding="utf-8") as out:
        out.write("\\n".join(sorted(sys.modules)))
atexit.register(dump)
from monitor.cli import main
sys.argv[0] = "rdv-monitor"
sys.exit(main())
"""


@contextmanager
def daemon(config: Path, modules_to: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    run = [sys.executable, "-c", _DUMP_MODULES] if modules_to else command()
    env = {**os.environ, "BENCH_MODULES": str(modules_to)} if modules_to else None
    # The log goes to a file: a pipe read only at the end fills up (64 KiB, some minutes
    # of INFO lines) and the daemon then blocks on its next log line, checks and all.
    log = config.with_suffix(".log")
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [*run, "run", "-c", str(config)], env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if proc.returncode not in (0, -signal.SIGTERM):
        tail = log.read_bytes()[-2000:].decode(errors="replace")
        print(f"bench_footprint: daemon exited {proc.returncode}:\n{tail}")


def wait_until(fact: Callable[[], bool], timeout: float, poll: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fact():
            return True
        time.sleep(poll)
    return False


def checks_done(port: int) -> int:
    """Calendar checks so far, from the daemon's metrics endpoint (0 until it answers)."""
    try:
        with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except OSError:
        return 0
    return round(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("rdv_monitor_checks_total{")
        )
    )


def checks_recorded(state_dir: Path) -> int:
    """Calendar checks so far, from the daemon's state database (read-only; 0 until it
    exists). (b) counts this way so that the daemon runs as users run it, without the
    metrics endpoint, whose library would be counted in its memory."""
    path = state_dir / "state.db"
    if not path.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            return int(db.execute("SELECT count(*) FROM observations").fetchone()[0])
    except sqlite3.Error:
        return 0


def quiet_for(sim: SimPrefecture, seconds: float, timeout: float) -> bool:
    """Wait until the simulator received requests, then none for ``seconds``."""
    deadline = time.monotonic() + timeout
    last, since = sim.requests, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = sim.requests
        if now != last:
            last, since = now, time.monotonic()
        elif now and time.monotonic() - since >= seconds:
            return True
    return False


# ── the four measurements ───────────────────────────────────────────────────


def measure_requests(sim: SimPrefecture, setup: Setup) -> dict[str, tuple[int, int, int, float]]:
    """(a): {"closed"/"open": (first ever, cold alive, cold gone, warm)} requests per check."""
    from monitor.store import Store

    figures = {}
    for name, prepare in (
        ("closed", lambda: close_slots(sim)),
        ("open", lambda: open_slots(sim, None)),
    ):
        prepare()
        # `check` keeps knowledge only in an existing state database (it never creates one).
        one = write_config(setup, f"check-1-{name}", CALENDARS[:1])
        Store.open(setup.directory / f"check-1-{name}").close()
        ten = write_config(setup, f"check-10-{name}", CALENDARS)
        first = requests_of_check(sim, one)
        alive = requests_of_check(sim, one)
        sim.expire_sessions()
        gone = requests_of_check(sim, one)
        total = requests_of_check(sim, ten)
        figures[name] = (first, alive, gone, (total - first) / (len(CALENDARS) - 1))
    close_slots(sim)
    return figures


@dataclass(frozen=True)
class Sample:
    at: float
    rss: float
    checks: int
    deliveries: int


def measure_rss(
    sim: SimPrefecture,
    setup: Setup,
    receiver: Receiver,
    seconds: float,
    every: float,
    modules_to: Path | None = None,
) -> tuple[float, float, list[Sample]]:
    """(b): RSS at the first request, idle after the first run, and samples while busy."""
    close_slots(sim)
    sim.reset_counters()
    idle = write_config(setup, "idle", CALENDARS)
    with daemon(idle, modules_to) as proc:
        wait_until(lambda: sim.requests > 0, 60, poll=0.005)
        at_start = rss_mib(proc.pid)
        quiet_for(sim, 2.0, 120)
        time.sleep(1.0)  # let the allocator settle after the run
        idle_rss = rss_mib(proc.pid)

    busy = write_config(setup, "busy", CALENDARS, interval="2s")
    state = setup.directory / "busy"
    sent0 = receiver.count
    samples: list[Sample] = []
    with daemon(busy) as proc:
        wait_until(lambda: checks_recorded(state) > 0, 60, poll=0.1)
        start = time.monotonic()
        turn, toggled = 0, start
        while (now := time.monotonic()) - start < seconds:
            if not samples or now - samples[-1].at - start >= every:
                sample = Sample(
                    now - start, rss_mib(proc.pid), checks_recorded(state), receiver.count - sent0
                )
                samples.append(sample)
            if now - toggled >= 5.0:  # one calendar opens, the previous one closes: 2 alerts
                close_slots(sim)
                open_slots(sim, CALENDARS[turn % len(CALENDARS)])
                turn, toggled = turn + 1, now
            time.sleep(0.1)
        now = time.monotonic()
        samples.append(
            Sample(now - start, rss_mib(proc.pid), checks_recorded(state), receiver.count - sent0)
        )
        close_slots(sim)
    return at_start, idle_rss, samples


def measure_pace_and_latency(
    sim: SimPrefecture, setup: Setup, receiver: Receiver, rate_seconds: float, trials: int
) -> tuple[float, float, list[float]]:
    """(c) and (d): requests/min of one calendar at 3 s; checks/min; open → alert latencies."""
    close_slots(sim)
    port = free_port()
    config = write_config(setup, "pace", CALENDARS[:1], interval="3s", metrics=port)
    latencies: list[float] = []
    with daemon(config) as proc:
        wait_until(lambda: checks_done(port) > 0, 60, poll=0.1)
        sim.reset_counters()
        checks0, start = checks_done(port), time.monotonic()
        time.sleep(rate_seconds)
        minutes = (time.monotonic() - start) / 60
        per_minute = sim.requests / minutes
        checks_per_minute = (checks_done(port) - checks0) / minutes
        expected = receiver.count
        for trial in range(trials):
            time.sleep((trial * 0.37) % 3.0)  # spread the opening over the 3 s cycle
            opened = time.monotonic()
            open_slots(sim, CALENDARS[0])
            arrived = receiver.wait_for(expected + 1, 30)
            if arrived is None or proc.poll() is not None:
                print("bench_footprint: no alert within 30 s of opening; latency trials stopped")
                break
            latencies.append(arrived - opened)
            close_slots(sim)
            expected += 2  # slot_opened, then slot_gone
            if receiver.wait_for(expected, 30) is None:
                print("bench_footprint: no slot_gone alert within 30 s; latency trials stopped")
                break
    return per_minute, checks_per_minute, latencies


# ── output ──────────────────────────────────────────────────────────────────


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_modules(loaded: list[str]) -> None:
    """What the idle daemon imported beyond the standard library, by top-level package,
    to spot what it should not carry (the simulator, a CLI, a whole plugin set)."""
    packages: dict[str, int] = {}
    for name in loaded:
        top = name.split(".")[0]
        if top not in sys.stdlib_module_names and not top.startswith("_"):
            packages[top] = packages.get(top, 0) + 1
    print(f"    modules of the idle daemon: {len(loaded)}; beyond the standard library:")
    print("      " + ", ".join(f"{top} ({n})" for top, n in sorted(packages.items())))
    sim = [name for name in loaded if name.startswith("monitor.sites.ezbooking.sim")]
    print(f"      simulator modules: {sim or 'none'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="busy RSS window (60)")
    parser.add_argument("--sample", type=float, default=5.0, help="RSS sampling period (5)")
    parser.add_argument("--rate-seconds", type=float, default=30.0, help="(c) window (30)")
    parser.add_argument("--trials", type=int, default=10, help="(d) open → alert trials (10)")
    parser.add_argument(
        "--modules",
        action="store_true",
        help="also list what the idle daemon imported beyond the standard library",
    )
    args = parser.parse_args(argv)

    receiver = Receiver()
    with SimPrefecture() as sim, tempfile.TemporaryDirectory() as tmp:
        setup = Setup(Path(tmp), sim.booking_url(BOOKING), receiver.url)
        requests = measure_requests(sim, setup)
        modules_to = Path(tmp) / "modules.txt" if args.modules else None
        at_start, idle_rss, samples = measure_rss(
            sim, setup, receiver, args.seconds, args.sample, modules_to
        )
        loaded = modules_to.read_text(encoding="utf-8").split() if modules_to else []
        per_minute, checks_per_minute, latencies = measure_pace_and_latency(
            sim, setup, receiver, args.rate_seconds, args.trials
        )
    receiver.close()

    print(
        f"bench_footprint ({date.today()}, {os.cpu_count()} CPUs, "
        "simulated prefecture on 127.0.0.1)"
    )
    print("(a) requests per calendar check   first ever  cold+session  cold, wiped  warm")
    for name, (first, alive, gone, warm) in requests.items():
        print(f"    slots {name:<6}{first:>20}{alive:>14}{gone:>13}{warm:>6.1f}")
    print(f"(b) daemon RSS, {len(CALENDARS)} calendars (process tree, MiB)")
    print(f"    at its first request                  {at_start:6.1f}")
    print(f"    idle after its first run              {idle_rss:6.1f}")
    print("    polling every 2 s, alerts sent:   t(s)  checks  deliveries  RSS")
    for s in samples:
        print(f"{'':36}{s.at:5.0f}  {s.checks:6}  {s.deliveries:10}  {s.rss:5.1f}")
    if samples:
        # The drift over the second half: the first seconds hold one-off growth (caches, pools).
        first, last = samples[len(samples) // 2], samples[-1]
        slope = (last.rss - first.rss) / max(last.at - first.at, 1e-9) * 60
        print(
            f"    after {last.checks} checks and {last.deliveries} deliveries: "
            f"{last.rss:.1f} MiB = {last.rss * 2**20 / 1e6:.1f} MB "
            f"(max {max(s.rss for s in samples):.1f} MiB, "
            f"drift over the 2nd half {slope:+.2f} MiB/min)"
        )
    if args.modules:
        print_modules(loaded)
    print(
        f"(c) one calendar at a 3 s interval        {per_minute:6.1f} requests/min "
        f"({checks_per_minute:.1f} checks/min)"
    )
    if latencies:
        print(
            f"(d) open → alert, {len(latencies)} trials          "
            f"median {statistics.median(latencies):.2f} s"
            f"   p90 {percentile(latencies, 0.9):.2f} s"
        )


if __name__ == "__main__":
    main()
