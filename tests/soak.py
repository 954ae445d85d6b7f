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
* :func:`judge` is the oracle: from the ground truth alone (and the timing the
  config promises) it says which openings had to be alerted, and compares with
  what was delivered and what the state database holds.

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
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.sites.ezbooking.sim import PARIS, SimPrefecture
from monitor.store import Store
from tests.receiver import FlakyTarget

__all__ = [
    "Action",
    "Record",
    "Scenario",
    "Timing",
    "Verdict",
    "judge",
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

_SLOT_TIME = re.compile(r"first=.*?(\d{1,2}):(\d{2})")
_SEEN_TIME = re.compile(r"seen=.*?(\d{1,2}):(\d{2}):(\d{2})")


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
        return len(self.calendars) * self.requests_per_calendar * (self.spacing + self.request_bound)

    @property
    def see_within(self) -> float:
        """An opening open longer than this, on a normal site with the daemon up, must be seen.

        Runs start at most ``max(interval, run_bound)`` apart (start to start, or
        right after an overrun); the first run that starts inside the opening
        reads the calendar at most ``run_bound`` later.
        """
        return self.interval + max(self.interval, self.run_bound) + self.run_bound + self.commit_slack

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
) -> Scenario:
    """A random but reproducible timeline of ``duration`` seconds from ``seed``."""
    timing = timing or Timing()
    rng = random.Random(seed)
    actions: list[Action] = []
    long_min = timing.see_within + 1.0
    opening = 0
    for calendar in timing.calendars:
        t = rng.uniform(0.5, 3.0)
        while True:
            if rng.random() < 0.35:
                length = rng.uniform(0.2, 1.2)  # MAY be seen
            else:
                length = rng.uniform(long_min, long_min + 5.0)
            if t + length > duration:
                break
            actions.append(Action(t, "open", calendar, opening))
            actions.append(Action(t + length, "close", calendar))
            opening += 1
            t += length + rng.uniform(timing.see_within * 0.6, timing.see_within * 1.6)
    t = rng.uniform(fault_every * 0.5, fault_every)
    while t < duration - 1:
        length = rng.uniform(0.8, 2.5)
        actions.append(Action(t, "fault", fault=rng.randrange(len(FAULTS))))
        actions.append(Action(min(t + length, duration), "heal"))
        t += length + rng.uniform(fault_every * 0.75, fault_every * 1.5)
    t = rng.uniform(target_fail_first, target_fail_first + 2.0)
    while t < duration - 1:
        length = rng.uniform(4.0, 7.0)
        actions.append(Action(t, "target_fail"))
        actions.append(Action(min(t + length, duration), "target_ok"))
        t += rng.uniform(target_fail_every * 0.75, target_fail_every * 1.25)
    t = rng.uniform(kill_every * 0.75, kill_every * 1.25)
    while t < duration - 1:
        actions.append(Action(t, "kill"))
        t += rng.uniform(kill_every * 0.75, kill_every * 1.25)
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
        record.openings.append(
            Opening(action.opening, action.calendar, slot, before, time.time())
        )
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


# --------------------------------------------------------------------------- oracle

Span = tuple[float, float]


def _intersect(a: list[Span], b: list[Span]) -> list[Span]:
    out = []
    for s1, e1 in a:
        for s2, e2 in b:
            s, e = max(s1, s2), min(e1, e2)
            if e > s:
                out.append((s, e))
    return sorted(out)


def _subtract(spans: list[Span], holes: list[Span]) -> list[Span]:
    out = spans
    for hs, he in holes:
        nxt: list[Span] = []
        for s, e in out:
            if he <= s or hs >= e:
                nxt.append((s, e))
                continue
            if hs > s:
                nxt.append((s, hs))
            if he < e:
                nxt.append((he, e))
        out = nxt
    return out


def _longest(spans: list[Span]) -> float:
    return max((e - s for s, e in spans), default=0.0)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the oracle found. Lists hold opening ids or short descriptions."""

    openings: int
    required: int
    alerted_required: int
    alerted_total: int
    false: list[str]
    missed: list[int]
    missed_restart_backoff: list[int]
    """Missed openings fully explained by issue 11 item 3 (a restart during a backoff
    waits a whole new backoff): required with the saved plan kept, not without."""
    duplicates: list[str]
    crash_duplicates: list[str]
    """Second deliveries of an alert received less than a second before a SIGKILL
    (at-least-once: the daemon died before it could record "sent")."""
    lost: list[str]
    retried: int
    restarts: int
    rss_first: int
    rss_last: int
    rss_max: int
    exit_code: int | None
    seen_before_open: list[str]
    details: dict[str, Any]

    def lines(self) -> Iterator[str]:
        yield f"openings                {self.openings}"
        yield f"required / alerted      {self.required} / {self.alerted_required}"
        yield f"alerts delivered        {self.alerted_total}"
        yield f"false                   {len(self.false)}"
        yield f"missed                  {len(self.missed)}"
        yield f"missed (restart backoff, issue 11.3) {len(self.missed_restart_backoff)}"
        yield f"duplicates              {len(self.duplicates)}"
        yield f"duplicates after kill   {len(self.crash_duplicates)}"
        yield f"lost                    {len(self.lost)}"
        yield f"deliveries retried      {self.retried}"
        yield f"restarts                {self.restarts}"
        yield (
            f"RSS first/last/max      {self.rss_first / 2**20:.1f} / "
            f"{self.rss_last / 2**20:.1f} / {self.rss_max / 2**20:.1f} MiB"
        )
        yield f"seen before it opened   {len(self.seen_before_open)}"
        yield f"exit code               {self.exit_code}"


def _fault_chains(record: Record, timing: Timing) -> list[tuple[float, float, float]]:
    """``(streak start, last fault end, shadow end)`` of merged fault episodes."""
    chains: list[tuple[float, float, float]] = []
    for ep in sorted(record.episodes, key=lambda e: e.start):
        retry = float(FAULTS[ep.fault][3] or 0)
        if chains and ep.start <= chains[-1][2]:
            start, _, _ = chains[-1]
            end = max(ep.end, chains[-1][1])
            chains[-1] = (start, end, max(chains[-1][2], timing.shadow(start, end, retry)))
        else:
            chains.append((ep.start, ep.end, timing.shadow(ep.start, ep.end, retry)))
    return chains


def _restart_shadows(
    record: Record, chains: list[tuple[float, float, float]], timing: Timing
) -> list[Span]:
    """After a restart within a fault's shadow, how long today's daemon may wait.

    It re-plans a whole backoff from the saved streak (issue 11 item 3): at most
    ``2 * (streak length) + 2 * interval`` (+ Retry-After) after it is up.
    """
    holes: list[Span] = []
    for life in record.lives[1:]:
        up = life.ready if life.ready is not None else life.started
        for start, end, shadow in chains:
            if start <= life.started <= shadow:
                streak = min(life.started, end) - start
                retry = max(float(FAULTS[e.fault][3] or 0) for e in record.episodes)
                holes.append((up, up + timing.backoff_bound(streak) + retry + timing.run_bound))
    return holes


def judge(record: Record) -> Verdict:
    """Compare the ground truth with what the daemon delivered and recorded."""
    timing = record.scenario.timing
    need = timing.see_within
    chains = _fault_chains(record, timing)
    up: list[Span] = [
        (life.ready, life.ended if life.ended is not None else float("inf"))
        for life in record.lives
        if life.ready is not None
    ]
    normal = _subtract(up, [(s, shadow) for s, _, shadow in chains])
    normal_buggy = _subtract(normal, _restart_shadows(record, chains, timing))

    # Alerts actually delivered, by (calendar, HH:MM of the slot).
    alerts: list[tuple[float, str, str, int]] = []  # (arrival, calendar, hh:mm, seen seconds)
    for arrived, status, payload in record.receipts:
        if status >= 300 or not str(payload.get("title", "")).startswith("SOAK "):
            continue
        body = str(payload.get("message", ""))
        cal = str(payload["title"])[5:].strip()
        slot = _SLOT_TIME.search(body)
        seen = _SEEN_TIME.search(body)
        hhmm = f"{int(slot[1]):02d}:{slot[2]}" if slot else "?"
        seen_s = int(seen[1]) * 3600 + int(seen[2]) * 60 + int(seen[3]) if seen else -1
        alerts.append((arrived, cal, hhmm, seen_s))

    by_key: dict[tuple[str, str], Opening] = {}
    for op in record.openings:
        by_key[(op.calendar, op.slot.strftime("%H:%M"))] = op
    kills = [life.ended for life in record.lives if life.killed and life.ended is not None]

    false: list[str] = []
    alerted_ids: dict[int, list[float]] = {}
    for arrived, cal, hhmm, _ in alerts:
        found = by_key.get((cal, hhmm))
        if found is None:
            false.append(f"alert for {cal} slot {hhmm} at {arrived:.2f}: no such opening")
        else:
            alerted_ids.setdefault(found.id, []).append(arrived)
    duplicates, crash_duplicates = [], []
    for oid, times in alerted_ids.items():
        for first, again in zip(times, times[1:], strict=False):
            text = f"opening {oid}: alert received at {first:.2f} and again at {again:.2f}"
            if any(first <= k <= first + 1.0 for k in kills):
                crash_duplicates.append(text)
            else:
                duplicates.append(text)

    required: list[int] = []
    required_fixed_only: list[int] = []
    per_cal: dict[str, list[Opening]] = {}
    for op in sorted(record.openings, key=lambda o: o.on_before):
        per_cal.setdefault(op.calendar, []).append(op)
    details: dict[str, Any] = {"see_within": need, "chains": chains, "normal": normal}
    for ops in per_cal.values():
        for i, op in enumerate(ops):
            shown = [(op.on_after, op.off_before)]
            if i > 0:  # the full page in between must have been seeable too
                gap = [(ops[i - 1].off_after, op.on_before)]
                if _longest(_intersect(gap, normal)) <= need:
                    continue
            if _longest(_intersect(shown, normal)) > need:
                required.append(op.id)
                gap_ok = i == 0 or _longest(
                    _intersect([(ops[i - 1].off_after, op.on_before)], normal_buggy)
                ) > need
                if not (gap_ok and _longest(_intersect(shown, normal_buggy)) > need):
                    required_fixed_only.append(op.id)
    missed_all = [oid for oid in required if oid not in alerted_ids]
    missed_bug = [oid for oid in missed_all if oid in required_fixed_only]
    missed = [oid for oid in missed_all if oid not in required_fixed_only]

    # Every planned delivery delivered: all rows sent, and one receipt per row.
    lost: list[str] = []
    for event_id, state, _ in record.deliveries:
        if state != "sent":
            lost.append(f"event {event_id}: delivery {state}")
    ok_receipts = sum(1 for _, status, _ in record.receipts if status < 300)
    if ok_receipts < len(record.deliveries):
        lost.append(f"{len(record.deliveries)} deliveries planned, {ok_receipts} received")
    if not record.drained:
        lost.append("deliveries still pending when the drain time-out ended")

    # "Seen at" must not precede the opening: compare the state database's checks.
    seen_before: list[str] = []
    openings_by_slot = {(op.calendar, op.slot): op for op in record.openings}
    for checked_at, cal, status, slots in record.observations:
        if status != "available" or not slots:
            continue
        op = openings_by_slot.get((cal, slots[0]))
        if op is not None and checked_at < op.on_before - 0.01:
            seen_before.append(
                f"{cal} opening {op.id}: checked_at {checked_at:.2f} < opened at {op.on_before:.2f}"
            )

    # Start-up samples (the interpreter still loading) are not the footprint.
    samples = [
        s
        for life in record.lives
        for s in life.rss
        if life.ready is not None and s[0] >= life.ready
    ]
    return Verdict(
        openings=len(record.openings),
        required=len(required),
        alerted_required=sum(1 for oid in required if oid in alerted_ids),
        alerted_total=len(alerts),
        false=false,
        missed=missed,
        missed_restart_backoff=missed_bug,
        duplicates=duplicates,
        crash_duplicates=crash_duplicates,
        lost=lost,
        retried=sum(1 for _, _, attempts in record.deliveries if attempts > 1),
        restarts=max(0, len(record.lives) - 1),
        rss_first=samples[0][1] if samples else 0,
        rss_last=samples[-1][1] if samples else 0,
        rss_max=max((s[1] for s in samples), default=0),
        exit_code=record.final_exit,
        seen_before_open=seen_before,
        details=details,
    )
