"""A seeded fault soak of the real daemon against the simulated prefecture.

Three parts, usable by the test suite (``tests/test_soak.py``) and by
``bench/bench_soak.py``:

* :func:`make_scenario` turns a seed into a timeline of actions: slots opening
  and closing on random calendars (each opening with its own slot time, so an
  alert names the opening it is about), site episodes (502, 503, slow, 429,
  403), a notification target that answers 500 for a while, and the daemon
  killed with SIGKILL and restarted every ``kill_every`` seconds.
* :func:`run_soak` plays it against a :class:`SimPrefecture` and a
  :class:`FlakyTarget` with ``python -m monitor run`` as a child process, and
  records the ground truth: what the simulator really showed and when, when the
  daemon was up, what the target received, RSS samples from ``/proc``.
* :func:`tests.soak_oracle.judge` is the oracle: from the ground truth alone
  (and the timing the config promises) it says which openings had to be
  alerted, and compares with what was delivered and what the state database
  holds.

Only public surfaces are used: the console script, the simulator's public
methods, the daemon's "watching" log line, and :class:`~monitor.store.Store`'s
read-only API. Waits are bounded and on observable facts.

**What "long enough to be seen" means.** With ``jitter = 0`` a watch's runs
start ``interval`` apart (start to start) or right after the previous run when
it overran; one run asks every calendar in order, each with a few requests at
least ``min_spacing`` apart. So between two reads of one calendar there are at
most ``interval + run_bound`` seconds, where ``run_bound`` bounds a whole run
(:attr:`Timing.run_bound`). An opening is REQUIRED to be alerted when, for more
than ``see_within = 2 * interval + run_bound`` seconds in one stretch, it was
surely open (between the end of the call that opened it and the start of the
call that closed it), the site was normal, and the daemon was up (from its
"watching" line to the SIGKILL). "Normal" excludes each fault episode and its
backoff shadow: after a streak of failures that began at ``S`` and ended at
``E`` the next run is planned at most ``2 * (E - S) + 2 * interval`` later (the
exponential backoff's delays at least double, so the last one is at most twice
the streak so far plus its floor), plus any Retry-After. A reopening is
REQUIRED only if the calendar was also seen full in between (closed for
``see_within`` on a normal site with the daemon up); otherwise the daemon may
rightly take it for the same episode of availability. Shorter openings MAY be
alerted; an alert whose slot time matches no opening of its calendar is false.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.sites.ezbooking.sim import PARIS, SimPrefecture
from monitor.store import Store
from tests.receiver import FlakyTarget

__all__ = [
    "FAULTS",
    "Action",
    "Life",
    "Opening",
    "Record",
    "Scenario",
    "Timing",
    "make_scenario",
    "run_soak",
]

BOOKING = 29396
CALENDARS = ("3.1", "3.2", "3.3")
WATCH = "Soak"
READY_LINE = "watching "
"""The daemon logs "watching N calendar(s) …" once its first checks are planned."""

FAULTS: tuple[tuple[str, str | None, float | None, int | None], ...] = (
    # (site state, variant, delay, retry_after)
    ("down", "haproxy_502", None, None),
    ("down", "haproxy_503", None, None),
    ("slow", None, 0.4, None),
    ("blocked", "429", None, 1),
    ("blocked", "haproxy_403", None, None),
)


# --------------------------------------------------------------------------- timing


@dataclass(frozen=True, slots=True)
class Timing:
    """The daemon's pace, as written in the config, and what it bounds.

    ``requests_per_calendar`` and ``request_bound`` (seconds a loopback request
    may take on a loaded machine) are generous upper bounds, so the oracle never
    requires an opening the daemon could rightly miss.
    """

    interval: float = 1.0
    spacing: float = 0.05
    calendars: tuple[str, ...] = CALENDARS
    requests_per_calendar: int = 4
    request_bound: float = 0.15
    commit_slack: float = 0.5
    """Between reading a page and its observation being committed (then a kill loses nothing)."""

    @property
    def run_bound(self) -> float:
        """Longest a run of every calendar may take on a normal site."""
        return (
            len(self.calendars) * self.requests_per_calendar * (self.spacing + self.request_bound)
        )

    @property
    def see_within(self) -> float:
        """An opening open longer than this, on a normal site with the daemon up, must be seen.

        Runs start at most ``max(interval, run_bound)`` apart (start to start, or
        right after an overrun); the first run that starts inside the opening
        reads the calendar at most ``run_bound`` later.
        """
        return (
            self.interval + max(self.interval, self.run_bound) + self.run_bound + self.commit_slack
        )

    def backoff_bound(self, streak: float) -> float:
        """The longest backoff delay after a failure streak lasting ``streak`` seconds.

        Each delay is at least half its ceiling ``interval * 2**k``, so the k
        failed runs span at least ``interval * (2**(k-1) - 1)``: the k-th delay is
        at most ``2 * span + 2 * interval``. The first failed run may have started
        up to ``run_bound`` before the fault (its first calendar read after it).
        """
        return 2 * (streak + self.run_bound) + 2 * self.interval

    def shadow(self, streak_start: float, streak_end: float, retry_after: float) -> float:
        """When the next run has started at the latest after a failure streak (absolute time).

        Plus ``run_bound`` for a run slowed by the fault that is still going on.
        """
        return (
            streak_end
            + self.backoff_bound(streak_end - streak_start)
            + retry_after
            + self.run_bound
        )


# --------------------------------------------------------------------------- scenario


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a scenario, ``at`` seconds after its start.

    kinds: ``open`` (calendar, opening), ``close`` (calendar), ``fault`` (fault
    index into :data:`FAULTS`), ``heal``, ``target_fail``, ``target_ok``, ``kill``.
    """

    at: float
    kind: str
    calendar: str = ""
    opening: int = -1
    fault: int = -1


@dataclass(frozen=True, slots=True)
class Scenario:
    seed: int
    duration: float
    timing: Timing
    actions: tuple[Action, ...]


def make_scenario(
    seed: int,
    duration: float,
    *,
    timing: Timing | None = None,
    kill_every: float = 40.0,
    fault_every: float = 12.0,
    target_fail_every: float = 120.0,
    target_fail_first: float = 3.0,
    fault_length: tuple[float, float] = (0.8, 2.5),
    start_allowance: float = 3.0,
) -> Scenario:
    """A random but reproducible timeline of ``duration`` seconds from ``seed``.

    The site's life is a row of *healthy slices* with *trouble* between them when
    it is due. Each slice opens one calendar (in turn) for longer than
    ``see_within``, well inside the slice, so that most openings must be alerted and
    the soak proves "no missed alert" many times per run. Trouble is a kill (then
    ``start_allowance`` seconds for the restart), a fault episode followed by its
    whole backoff shadow, or both: a kill during the backoff that follows a fault.
    Short openings (which MAY be alerted) happen during trouble, on the calendar of
    the slice before, so that the next slice of that calendar comes after a whole
    slice of another one and a reopening is still a new episode. The target fails
    on its own schedule, whatever the site does.
    """
    timing = timing or Timing()
    rng = random.Random(seed)
    actions: list[Action] = []
    need = timing.see_within
    opening = 0
    turn = 0
    t = start_allowance
    next_kill = rng.uniform(kill_every * 0.75, kill_every * 1.25)
    next_fault = rng.uniform(fault_every * 0.5, fault_every)
    while True:
        trouble_from = t
        kill_due, fault_due = t >= next_kill, t >= next_fault
        if fault_due:
            length = rng.uniform(*fault_length)
            fault = rng.randrange(len(FAULTS))
            actions.append(Action(t, "fault", fault=fault))
            actions.append(Action(t + length, "heal"))
            retry = float(FAULTS[fault][3] or 0)
            t = timing.shadow(t, t + length, retry) + 0.5
            if kill_due:  # a restart during the backoff must keep the plan (issue 11 item 3)
                actions.append(Action(t - rng.uniform(0.5, 2.0), "kill"))
                t += start_allowance
                next_kill = t + rng.uniform(kill_every * 0.75, kill_every * 1.25)
            next_fault = t + rng.uniform(fault_every * 0.75, fault_every * 1.25)
        elif kill_due:
            actions.append(Action(t, "kill"))
            t += start_allowance
            next_kill = t + rng.uniform(kill_every * 0.75, kill_every * 1.25)
        if turn and t - trouble_from > 1.5 and rng.random() < 0.7:
            # a short opening during the trouble, on the calendar of the slice before
            calendar = timing.calendars[(turn - 1) % len(timing.calendars)]
            at = rng.uniform(trouble_from + 0.2, t - 1.2)
            actions.append(Action(at, "open", calendar, opening))
            actions.append(Action(at + rng.uniform(0.2, 1.0), "close", calendar))
            opening += 1
        pad = rng.uniform(0.2, 0.6)
        length = rng.uniform(need + 0.8, need + 2.5)
        if t + pad + length + pad > duration:
            break
        calendar = timing.calendars[turn % len(timing.calendars)]
        actions.append(Action(t + pad, "open", calendar, opening))
        actions.append(Action(t + pad + length, "close", calendar))
        opening += 1
        turn += 1
        t += pad + length + pad
    t = rng.uniform(target_fail_first, target_fail_first + 2.0)
    while t < duration - 1:
        length = rng.uniform(4.0, 7.0)
        actions.append(Action(t, "target_fail"))
        actions.append(Action(min(t + length, duration), "target_ok"))
        t += rng.uniform(target_fail_every * 0.75, target_fail_every * 1.25)
    order = {"close": 0, "heal": 0, "target_ok": 0, "open": 1, "fault": 1, "target_fail": 1}
    actions.sort(key=lambda a: (a.at, order.get(a.kind, 2)))
    return Scenario(seed, duration, timing, tuple(actions))


def slot_of(opening: int) -> datetime:
    """The one slot of an opening: nine days ahead, a minute of the day of its own."""
    base = (datetime.now(PARIS) + timedelta(days=9)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return base + timedelta(minutes=60 + opening % 1380)


# --------------------------------------------------------------------------- record


@dataclass(slots=True)
class Opening:
    id: int
    calendar: str
    slot: datetime
    on_before: float
    on_after: float
    off_before: float = float("inf")
    off_after: float = float("inf")


@dataclass(slots=True)
class Episode:
    fault: int
    start: float
    end: float = float("inf")


@dataclass(slots=True)
class Life:
    pid: int
    started: float
    ready: float | None = None
    ended: float | None = None
    killed: bool = False
    exit_code: int | None = None
    rss: list[tuple[float, int]] = field(default_factory=list)


@dataclass(slots=True)
class Record:
    """The ground truth of one soak run, plus what the daemon produced."""

    scenario: Scenario
    openings: list[Opening] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    target_down: list[tuple[float, float]] = field(default_factory=list)
    lives: list[Life] = field(default_factory=list)
    receipts: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    deliveries: list[tuple[int, str, int]] = field(default_factory=list)
    """``(event id, state, attempts)`` of every delivery in the state database."""
    observations: list[tuple[float, str, str, tuple[datetime, ...]]] = field(default_factory=list)
    """``(checked_at, calendar, status, slots)`` of every observation."""
    events: list[tuple[int, str, str]] = field(default_factory=list)
    sim_errors: int = 0
    booking_attempts: int = 0
    final_exit: int | None = None
    drained: bool = False
    log_tail: str = ""


# --------------------------------------------------------------------------- runner


def write_config(path: Path, url: str, target_url: str, state_dir: Path, timing: Timing) -> None:
    calendars = ", ".join(f'"{c}"' for c in timing.calendars)
    path.write_text(
        f"""[monitor]
interval = {timing.interval}
jitter = 0
min_spacing = {timing.spacing}
timeout = "2s"
connect_timeout = "1s"
trouble_after = "1s"
surge = []
releases = []
state_dir = "{state_dir}"

[notify]
urls = ["{target_url}"]
events = ["slot_opened", "trouble", "recovered"]
language = "en"

[notify.templates.slot_opened]
title = "SOAK {{calendar}}"
body = "calendar={{calendar}} first={{first_slot}} seen={{seen_at}}"

[[watch]]
name = "{WATCH}"
url = "{url}"
calendars = [{calendars}]
""",
        encoding="utf-8",
    )
    os.chmod(path, 0o600)


def rss_of_tree(pid: int) -> int:
    """Resident set of ``pid`` and its children, in bytes (0 once it is gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(c) for c in children)
    return total


class _Daemon:
    """The daemon child process; one :class:`Life` per start."""

    def __init__(self, config: Path, log_path: Path, record: Record) -> None:
        self.config = config
        self.log_path = log_path
        self.record = record
        self.proc: subprocess.Popen[bytes] | None = None
        self.life: Life | None = None
        self._log_offset = 0

    def start(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "-v", "run", "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.life = Life(self.proc.pid, time.time())
        self.record.lives.append(self.life)

    def poll(self) -> None:
        """Note readiness (the "watching" line) and sample RSS."""
        life, proc = self.life, self.proc
        if life is None or proc is None or life.ended is not None:
            return
        now = time.time()
        if life.ready is None:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                if READY_LINE.encode() in log.read():
                    life.ready = now
        rss = rss_of_tree(proc.pid)
        if rss:
            life.rss.append((now, rss))

    def kill(self) -> None:
        assert self.proc is not None and self.life is not None
        self.life.ended = time.time()  # before the signal: it is down from now on
        self.life.killed = True
        self.proc.kill()
        self.life.exit_code = self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int:
        assert self.proc is not None and self.life is not None
        self.life.ended = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=10)
            code = -999 if code == 0 else code
        self.life.exit_code = code
        return code


def _apply(action: Action, sim: SimPrefecture, target: FlakyTarget, record: Record) -> None:
    if action.kind == "open":
        before = time.time()
        slot = slot_of(action.opening)
        sim.set_state(BOOKING, action.calendar, "available", slots=[slot])
        record.openings.append(Opening(action.opening, action.calendar, slot, before, time.time()))
    elif action.kind == "close":
        before = time.time()
        sim.set_state(BOOKING, action.calendar, "full")
        for opening in record.openings:
            if opening.calendar == action.calendar and opening.off_before == float("inf"):
                opening.off_before, opening.off_after = before, time.time()
    elif action.kind == "fault":
        state, variant, delay, retry_after = FAULTS[action.fault]
        record.episodes.append(Episode(action.fault, time.time()))
        sim.set_site_state(state, variant=variant, delay=delay, retry_after=retry_after)
    elif action.kind == "heal":
        sim.set_site_state(None)
        record.episodes[-1].end = time.time()
    elif action.kind == "target_fail":
        target.fail_from_now(500)
        record.target_down.append((time.time(), float("inf")))
    elif action.kind == "target_ok":
        target.recover()
        start, _ = record.target_down[-1]
        record.target_down[-1] = (start, time.time())


def _read_state(state_dir: Path, record: Record) -> None:
    with Store.open_readonly(state_dir) as store:
        record.deliveries = [(d.event_id, d.state, d.attempts) for d in store.deliveries()]
        record.events = [
            (e.id or 0, e.kind, e.calendar) for e in store.events_after(0, limit=1_000_000)
        ]
        record.observations = [
            (o.checked_at.timestamp(), o.calendar, o.status.value, o.slots)
            for o in store.observations(watch=WATCH)
        ]


def _all_sent(state_dir: Path) -> bool:
    try:
        with Store.open_readonly(state_dir) as store:
            rows = store.deliveries()
    except Exception:
        return False
    return bool(rows) and all(d.state == "sent" for d in rows)


def run_soak(scenario: Scenario, workdir: Path, *, drain_timeout: float = 45.0) -> Record:
    """Play ``scenario`` against a fresh simulator, target and daemon; return the record."""
    record = Record(scenario)
    workdir.mkdir(parents=True, exist_ok=True)
    state_dir = workdir / "state"
    config = workdir / "config.toml"
    with SimPrefecture() as sim, FlakyTarget() as target:
        write_config(config, sim.booking_url(BOOKING), target.url, state_dir, scenario.timing)
        daemon = _Daemon(config, workdir / "daemon.log", record)
        daemon.start()
        t0 = time.monotonic()
        try:
            for action in scenario.actions:
                _wait_until(t0 + action.at, daemon)
                if action.kind == "kill":
                    daemon.kill()
                    daemon.start()
                else:
                    _apply(action, sim, target, record)
            _wait_until(t0 + scenario.duration, daemon)
            # The end: a healthy site and target; every planned delivery must now arrive.
            sim.set_site_state(None)
            target.recover()
            deadline = time.monotonic() + drain_timeout
            while time.monotonic() < deadline and not _all_sent(state_dir):
                _wait_until(time.monotonic() + 0.2, daemon)
            record.drained = _all_sent(state_dir)
        finally:
            if daemon.proc is not None and daemon.proc.poll() is None:
                record.final_exit = daemon.stop()
            for episode in record.episodes:
                episode.end = min(episode.end, time.time())
        record.receipts = target.log
        record.sim_errors = len(sim.errors)
        record.booking_attempts = sim.booking_attempts
    _read_state(state_dir, record)
    record.log_tail = (workdir / "daemon.log").read_text(errors="replace")[-4000:]
    return record


def _wait_until(when: float, daemon: _Daemon) -> None:
    """Sleep until monotonic ``when``, noting daemon readiness and RSS meanwhile."""
    while True:
        daemon.poll()
        left = when - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))
