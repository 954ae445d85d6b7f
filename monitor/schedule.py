"""When to check a watch next: the polling policy, as pure functions.

The daemon checks each watch in a loop. The contract, per watch:

1. at start-up, ``planned = first_run(policy, now, rng)``;
2. at ``planned.at``, run the check (primary calendar first) and note its
   start time; never start a second run of the same watch meanwhile;
3. when it ends, ``state = backoff_after(state, statuses, retry_after, now)``
   then ``planned = plan_after_run(policy, now, state, rng, last_start=start)``
   with the *current* time, and schedule one one-shot job at ``planned.at``;
   back to 2.

Nothing here sleeps, reads the clock, draws hidden randomness or does I/O:
time and a :class:`random.Random` are passed in, so every decision can be
tested with explicit datetimes and replayed from a seed.

What the policy is trying to do: new slots are published every Monday from
08:00 (Europe/Paris) and are gone within minutes; cancelled slots come back at
random times. We must see them fast, yet stay polite to a public service that
throttles (and may block) clients that poll too often.

How the next run is chosen, in this order (``anchor`` = when the last run
*started*, ``last_start``; intervals are measured start to start):

1. **Pace.** Outside a surge window: ``anchor + interval + U(0, jitter)``
   (``interval`` is ``Config.interval_for(watch)``). Inside a surge window
   (``[[monitor.surge]]``; default Monday 07:58–08:30 every 30 s):
   ``anchor + pace + U(0, min(jitter, pace / 4))`` where ``pace`` is the
   shorter of the window's and the watch's interval. Jitter is scaled down in
   a surge so that a 30 s jitter cannot double a 30 s interval; a quarter of
   the pace still de-synchronises us from other pollers.
2. **Backoff** replaces the pace during a failure streak: runs with no good
   answer (``available``/``full``) that saw ``down`` or ``blocked`` (see
   :func:`backoff_after`, :func:`backoff_delay`): exponential, "equal
   jitter", never faster than the normal interval, capped at one hour.
3. **Surge start.** If that time falls after the start of a surge window, the
   run happens at the window start instead (no jitter): we enter the surge on
   time. Windows are ``[start, end)``; where windows overlap, the shortest
   interval wins.
4. **Floor.** Never less than ``floor`` after the previous start
   (:data:`~monitor.config.POLITE_INTERVAL`, 30 s, for real hosts; none for
   loopback, i.e. the simulator).
5. **Release.** If the run would start after the next release instant
   (``releases = ["mon 08:00"]``), or less than ``keep_clear`` before it, it
   is moved to the release instant exactly (no jitter). ``keep_clear`` is
   ``max(release_guard, floor)``: ``release_guard`` (default 20 s, about one
   run's duration) makes sure no run is still in progress at 08:00:00, and
   the floor part makes sure the previous run is far enough back that the
   floor cannot push the release run late. So a check of the primary
   calendar (checked first by the daemon) starts at the release instant.
   (Only a run this module did not plan — a manual check, an overrun —
   can sit within the floor of a release; then politeness wins and the
   release run starts ``floor`` after it.)
6. **Retry-After.** Never earlier than the server asked (``not_before``).
7. **Now.** Never in the past: a plan that is already due (suspended laptop,
   clock jump, a run that overran) returns ``now``, once. Missed runs are
   coalesced into one, never replayed as a burst.

A default Monday (summer time; UTC+2) then looks like: 07:55:29 interval →
07:58:00 surge-start → 07:58:31 surge → 07:59:05 surge → 08:00:00 release →
08:00:34 surge → … every 30–37.5 s … → 08:30:1x surge → 08:35:3x interval.
About 1,970 checks a week, of which ~57 in the surge (see
``bench/bench_schedule.py`` for what that buys).

Backoff and overrides. A watch whose failure streak includes a ``blocked``
answer (blocked is sticky until a good answer, even if later runs only see
``down``: a deny page often turns into errors) is left alone: surge windows
and release instants do **not** pull its next run earlier (a site that refuses
us must not be hammered at 08:00). A watch that is ``down`` (5xx, time-outs —
typical of an overloaded site at 08:00) keeps the surge pace inside a surge
window and is still pulled to surge starts and release instants, because that
is exactly when the site is overloaded and slots are there. Retry-After is
honoured in every case. ``captcha`` and ``unknown`` are not failures: the
server answered promptly (no load problem), an unknown page may be a new
layout showing slots, and a captcha is reported to the human by the notifier;
polling on at the (already polite) normal pace lets us notice as soon as the
page becomes readable. They neither grow nor reset a backoff already running.
The first ``available`` or ``full`` answer resets it.

Time. Windows and releases are wall-clock times in the configured zone;
intervals are elapsed seconds. All arithmetic is done in UTC (adding a
``timedelta`` to a ``ZoneInfo`` datetime is wall-clock arithmetic in Python,
which is off by an hour across a DST change), and every returned datetime is
aware and in UTC; convert with ``.astimezone(policy.tz)`` for display. A
wall-clock time that does not exist (spring forward: "sun 02:30" in Paris on
2026-03-29) is read with the offset before the gap, i.e. shifted forward by
the gap's length (02:30 → 03:30 CEST); one that happens twice (autumn:
02:30 on 2026-10-25) means its first occurrence (CEST). This is Python's
``fold=0`` and the rule of RFC 5545 §3.3.5. A window's start and end are each
read that way, so a window lying in the gap is shifted forward whole
(02:10–02:50 → 03:10–03:50 CEST), and one whose shifted start is not before its
end (02:30–03:15 → 03:30–03:15) is empty that day. Beware that Python's ``==``
between datetimes of different zones is always False for an ambiguous or
non-existent local time (PEP 495), another reason everything here is UTC.
Naive datetimes are refused (ValueError).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from monitor.config import POLITE_INTERVAL, Config, Release, SurgeWindow, Watch
from monitor.observation import Status

__all__ = [
    "SURGE_JITTER_SHARE",
    "Backoff",
    "Planned",
    "Policy",
    "Reason",
    "backoff_after",
    "backoff_delay",
    "first_run",
    "next_release",
    "plan_after_run",
    "resume",
    "surge_at",
    "watch_fingerprint",
]

Reason = Literal["start", "interval", "surge", "surge-start", "release", "backoff", "retry-after"]
"""Why a run was planned at its time (for logs and ``rdv-monitor status``):

* ``start``: the first run after start-up (a small random delay);
* ``interval``: the normal interval plus jitter;
* ``surge``: the pace of the surge window the last run started in;
* ``surge-start``: the start of a surge window (entered on time);
* ``release``: a release instant (or the keep-clear zone just before it);
* ``backoff``: exponential backoff after ``down``/``blocked`` answers;
* ``retry-after``: the time the server asked us to wait until.
"""

SURGE_JITTER_SHARE = 0.25
"""In a surge window, jitter is at most this share of the surge pace."""

_GOOD = frozenset({Status.AVAILABLE, Status.FULL})
_FAILURES = frozenset({Status.BLOCKED, Status.DOWN})
_MAX_EXPONENT = 64  # factor ** failures would overflow a float long before; the cap rules anyway


def _utc(value: datetime, name: str) -> datetime:
    """``value`` as an aware UTC datetime; naive datetimes are a programming error."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value!r}")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything that decides when one watch is checked. Durations are seconds.

    Build it with :meth:`for_watch`; the constructor is for tests and tools.
    ``floor`` is the shortest time between two starts (30 s for real hosts,
    0 for loopback). ``release_guard`` is how long before a release instant a
    run may not start (about one run's duration), so that none is in progress
    when slots are published. ``backoff_factor`` and ``backoff_cap`` shape the
    exponential backoff (see :func:`backoff_delay`).
    """

    interval: float
    jitter: float
    surges: tuple[SurgeWindow, ...]
    releases: tuple[Release, ...]
    tz: ZoneInfo
    floor: float
    release_guard: float = 20.0
    backoff_factor: float = 2.0
    backoff_cap: float = 3600.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.interval) and self.interval > 0):
            raise ValueError(f"interval must be a positive number of seconds, got {self.interval}")
        for name in ("jitter", "floor", "release_guard", "backoff_cap"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be zero or more seconds, got {value}")
        if not (math.isfinite(self.backoff_factor) and self.backoff_factor >= 1):
            raise ValueError(f"backoff_factor must be at least 1, got {self.backoff_factor}")

    @classmethod
    def for_watch(
        cls,
        config: Config,
        watch: Watch,
        *,
        release_guard: float = 20.0,
        backoff_factor: float = 2.0,
        backoff_cap: float = 3600.0,
    ) -> Policy:
        """The policy of ``watch``: its interval, the ``[monitor]`` jitter, surge windows,
        releases and time zone, and the politeness floor unless the watch is on loopback."""
        return cls(
            interval=config.interval_for(watch),
            jitter=config.monitor.jitter,
            surges=config.monitor.surge,
            releases=config.monitor.releases,
            tz=config.tz,
            floor=0.0 if watch.is_loopback else POLITE_INTERVAL,
            release_guard=release_guard,
            backoff_factor=backoff_factor,
            backoff_cap=backoff_cap,
        )

    @property
    def keep_clear(self) -> float:
        """Seconds before a release instant in which no run may start (guard and floor)."""
        return max(self.release_guard, self.floor)


@dataclass(frozen=True, slots=True)
class Backoff:
    """A watch's failure streak, carried by the caller from one run to the next.

    ``failures`` counts consecutive runs without a good answer that saw ``down``
    or ``blocked``; ``cause`` is ``BLOCKED`` if any run of the streak was blocked
    (sticky until a good answer), else ``DOWN``; ``None`` when ``failures`` is 0.
    ``not_before`` is the Retry-After deadline (aware), which holds even after a
    good answer. ``Backoff()`` is the healthy state.
    """

    failures: int = 0
    cause: Status | None = None
    not_before: datetime | None = None

    def __post_init__(self) -> None:
        if self.failures < 0:
            raise ValueError(f"failures must be zero or more, got {self.failures}")
        if self.failures and self.cause not in _FAILURES:
            raise ValueError(f"a failure streak is caused by down or blocked, not {self.cause}")
        if not self.failures and self.cause is not None:
            raise ValueError("cause must be None when there are no failures")
        if self.not_before is not None:  # stored in UTC (see the module doc on PEP 495)
            object.__setattr__(self, "not_before", _utc(self.not_before, "not_before"))


@dataclass(frozen=True, slots=True)
class Planned:
    """When to run a watch next (aware, UTC) and why (see :data:`Reason`)."""

    at: datetime
    reason: Reason


# --------------------------------------------------------------------------- calendar helpers


def _local_instant(tz: ZoneInfo, day: date, at: time) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``tz`` (fold=0: see module doc)."""
    local = datetime(day.year, day.month, day.day, at.hour, at.minute, at.second, tzinfo=tz)
    return local.astimezone(UTC)


def _days(tz: ZoneInfo, instant: datetime, before: int, after: int) -> Iterator[date]:
    """Local dates from ``before`` days before the local date of ``instant`` to ``after`` after."""
    today = instant.astimezone(tz).date()
    for offset in range(-before, after + 1):
        yield today + timedelta(days=offset)


def _window_on(tz: ZoneInfo, window: SurgeWindow, day: date) -> tuple[datetime, datetime] | None:
    """The UTC span ``[start, end)`` of ``window`` on local ``day``, or None (not that day,
    or empty because it lies in a DST gap)."""
    if day.weekday() not in window.days:
        return None
    start = _local_instant(tz, day, window.start)
    end = _local_instant(tz, day, window.end)
    return (start, end) if start < end else None


def surge_at(policy: Policy, when: datetime) -> SurgeWindow | None:
    """The surge window that ``when`` falls in (start included, end excluded), or None.

    If several windows overlap, the one with the shortest interval wins.
    """
    t = _utc(when, "when")
    best: SurgeWindow | None = None
    for window in policy.surges:
        for day in _days(policy.tz, t, 1, 1):
            span = _window_on(policy.tz, window, day)
            if span is not None and span[0] <= t < span[1]:
                if best is None or window.interval < best.interval:
                    best = window
                break
    return best


def _next_surge_start(policy: Policy, after: datetime) -> datetime | None:
    """The first start of a surge window strictly after ``after`` (UTC), or None."""
    found: datetime | None = None
    for window in policy.surges:
        for day in _days(policy.tz, after, 1, 8):
            span = _window_on(policy.tz, window, day)
            if span is not None and span[0] > after:
                if found is None or span[0] < found:
                    found = span[0]
                break
    return found


def next_release(policy: Policy, after: datetime) -> datetime | None:
    """The first release instant strictly after ``after`` (aware, UTC), or None if no
    releases are configured. A release on a non-existent or ambiguous local time
    follows the module's fold=0 rule."""
    t = _utc(after, "after")
    found: datetime | None = None
    for release in policy.releases:
        for day in _days(policy.tz, t, 1, 8):
            if day.weekday() != release.weekday:
                continue
            instant = _local_instant(policy.tz, day, release.time)
            if instant > t:
                if found is None or instant < found:
                    found = instant
                break
    return found


# --------------------------------------------------------------------------- backoff


def backoff_after(
    previous: Backoff, statuses: Sequence[Status], retry_after: float | None, now: datetime
) -> Backoff:
    """The backoff state after a run that ended at ``now`` and saw ``statuses`` (one per
    calendar checked) and, at most, ``retry_after`` seconds (the largest Retry-After of
    the run's observations).

    * any ``available``/``full``: healthy again (failures reset);
    * else any ``blocked`` (or ``down`` during a streak that was blocked): one more
      failure, cause ``blocked``;
    * else any ``down``: one more failure, cause ``down``;
    * else (only ``captcha``/``unknown``, or nothing checked): unchanged — neither
      evidence of health nor of overload, see the module docstring.

    ``not_before`` becomes ``now + retry_after``, or stays at a previous deadline that
    is later (a promise made to the server is kept even after a good answer).
    """
    now = _utc(now, "now")
    not_before: datetime | None = None
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        not_before = now + timedelta(seconds=retry_after)
    kept = previous.not_before
    if kept is not None and kept > now and (not_before is None or kept > not_before):
        not_before = kept
    seen = set(statuses)
    if seen & _GOOD:
        return Backoff(not_before=not_before)
    if Status.BLOCKED in seen or (Status.DOWN in seen and previous.cause is Status.BLOCKED):
        return Backoff(previous.failures + 1, Status.BLOCKED, not_before)
    if Status.DOWN in seen:
        return Backoff(previous.failures + 1, Status.DOWN, not_before)
    return Backoff(previous.failures, previous.cause, not_before)


def backoff_delay(policy: Policy, failures: int, rng: random.Random) -> float:
    """Seconds to wait after the ``failures``-th consecutive failed run.

    "Equal jitter": with ``ceiling = min(cap, interval * factor ** failures)`` the delay
    is uniform in ``[ceiling / 2, ceiling]`` — so with the defaults (factor 2) the first
    failure waits 1–2 intervals, the second 2–4, … up to 30–60 min. Never less than
    the normal interval: "full jitter" (uniform in ``[0, ceiling]``) spreads a crowd of
    clients best, but could make a failing watch poll *faster* than a healthy one,
    which is the opposite of backing off; we are one client, so equal jitter's half
    randomness is enough to avoid lock-step.
    """
    if failures <= 0:
        return policy.interval
    exponent = min(failures, _MAX_EXPONENT)
    ceiling = min(policy.backoff_cap, policy.interval * policy.backoff_factor**exponent)
    delay = ceiling / 2 + rng.uniform(0.0, ceiling / 2)
    return max(delay, policy.interval)


# --------------------------------------------------------------------------- planning


def _surge_pace(policy: Policy, window: SurgeWindow, rng: random.Random) -> float:
    """Seconds to the next run inside ``window``: its pace plus the scaled-down jitter."""
    pace = min(window.interval, policy.interval)
    return pace + rng.uniform(0.0, min(policy.jitter, pace * SURGE_JITTER_SHARE))


def _finish(at: datetime, reason: Reason, not_before: datetime | None, now: datetime) -> Planned:
    """Apply Retry-After, then never return a time before ``now`` (coalesce missed runs)."""
    if not_before is not None and at < not_before:
        at, reason = not_before, "retry-after"
    return Planned(at=max(at, now), reason=reason)


def plan_after_run(
    policy: Policy,
    now: datetime,
    backoff: Backoff,
    rng: random.Random,
    *,
    last_start: datetime | None = None,
) -> Planned:
    """When to run the watch next; call it after **every** run, with the current time.

    ``now`` is when the run ended (the current time); ``last_start`` is when it
    started (intervals and the floor are measured from it; without it, from ``now``,
    which is later and so never less polite). ``backoff`` is the state returned by
    :func:`backoff_after` for this run. A ``last_start`` after ``now`` (the clock went
    backwards) is ignored, so a clock step back never stalls the watch.

    The result is never before ``now``: if the planned time already passed (laptop
    suspended, clock jumped, slow run), it is ``now`` — one catch-up run, not a burst.
    See the module docstring for the order of the rules.
    """
    now = _utc(now, "now")
    anchor = now
    if last_start is not None and (start := _utc(last_start, "last_start")) <= now:
        anchor = start
    blocked = backoff.failures > 0 and backoff.cause is Status.BLOCKED
    surge = surge_at(policy, anchor)

    reason: Reason
    if backoff.failures > 0:
        delay, reason = backoff_delay(policy, backoff.failures, rng), "backoff"
        if surge is not None and not blocked:
            pace = _surge_pace(policy, surge, rng)
            if pace < delay:
                delay, reason = pace, "surge"
    elif surge is not None:
        delay, reason = _surge_pace(policy, surge, rng), "surge"
    else:
        delay, reason = policy.interval + rng.uniform(0.0, policy.jitter), "interval"
    at = anchor + timedelta(seconds=delay)

    if not blocked and (entry := _next_surge_start(policy, anchor)) is not None and entry < at:
        at, reason = entry, "surge-start"
    earliest = anchor + timedelta(seconds=policy.floor)
    at = max(at, earliest)
    release = None if blocked else next_release(policy, anchor)
    if release is not None and at > release - timedelta(seconds=policy.keep_clear):
        at, reason = max(release, earliest), "release"
    return _finish(at, reason, backoff.not_before, now)


def first_run(
    policy: Policy, now: datetime, rng: random.Random, *, backoff: Backoff | None = None
) -> Planned:
    """When to run the watch first after start-up.

    Soon: after a random delay of at most the jitter (the surge jitter inside a surge
    window), so that several watches do not fire together — unless a surge window
    starts or a release instant comes first, or the delay would land in the release's
    keep-clear zone: then at that instant. A release at exactly ``now`` counts.

    ``backoff`` is the state saved before a restart, if the daemon keeps one: its
    Retry-After is honoured, and a running failure streak is treated as if a failed
    run had just ended (so a crash-looping daemon cannot hammer a site that blocks it).
    """
    now = _utc(now, "now")
    state = backoff if backoff is not None else Backoff()
    if state.failures > 0:
        return plan_after_run(policy, now, state, rng)
    surge = surge_at(policy, now)
    spread = policy.jitter
    if surge is not None:
        spread = min(spread, min(surge.interval, policy.interval) * SURGE_JITTER_SHARE)
    at = now + timedelta(seconds=rng.uniform(0.0, spread))
    reason: Reason = "start"
    if (entry := _next_surge_start(policy, now)) is not None and entry < at:
        at, reason = entry, "surge-start"
    release = next_release(policy, now - timedelta(microseconds=1))
    if release is not None and at > release - timedelta(seconds=policy.keep_clear):
        at, reason = release, "release"
    return _finish(at, reason, state.not_before, now)


def resume(
    policy: Policy,
    now: datetime,
    rng: random.Random,
    *,
    saved: Planned | None,
    backoff: Backoff | None = None,
    last_check: datetime | None = None,
) -> Planned:
    """When to run a watch first after a restart, given the plan the previous process saved.

    A restart must not make a watch blind: it runs at ``saved.at`` at the latest, or
    earlier if a fresh plan (:func:`first_run` with the saved ``backoff``, no sooner
    than ``floor`` after ``last_check``) comes first. Re-planning a whole backoff from
    the saved streak instead could wait up to the one-hour cap after every restart.

    A saved time already reached means the run it planned was due or under way when
    the process stopped: the watch is then planned as if that run had just started
    (a failure streak keeps its pace, so a crash loop cannot hammer a site). Retry-After
    (``backoff.not_before``) is honoured in every case. Pass ``saved=None`` for a new
    watch, or one whose config changed since the plan was saved (see
    :func:`watch_fingerprint`): it simply gets the fresh plan.
    """
    now = _utc(now, "now")
    state = backoff if backoff is not None else Backoff()
    fresh = first_run(policy, now, rng, backoff=state)
    if last_check is not None:
        earliest = _utc(last_check, "last_check") + timedelta(seconds=policy.floor)
        if fresh.at < earliest:
            fresh = Planned(earliest, fresh.reason)
    if saved is None:
        return fresh
    kept = saved
    if _utc(saved.at, "saved.at") <= now:
        kept = plan_after_run(policy, now, state, rng, last_start=saved.at)
    kept = _finish(_utc(kept.at, "saved.at"), kept.reason, state.not_before, now)
    return kept if kept.at < fresh.at else fresh


def watch_fingerprint(policy: Policy, watch: Watch) -> str:
    """A digest of everything that decides how and when ``watch`` is checked.

    A plan saved under another fingerprint was made for another config (an edited
    URL, calendar list or interval) and is not resumed. Notification tags are left
    out: they change who is told, not when the site is asked.
    """
    identity = repr((policy, watch.model_dump(exclude={"notify"})))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
