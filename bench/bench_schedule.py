"""Benchmark the polling policy: how fast are slots seen, for how many requests?

Simulates WEEKS weeks (Europe/Paris, crossing the spring DST change) of one
watch with the default config (interval 5m, jitter 30s, surge Monday
07:58–08:30 every 30s, release "mon 08:00", real host so a 30 s floor):

* every Monday at 08:00:00, PUBLISHED slots appear on the primary calendar and
  are each taken after an exponential time (mean 4 min);
* cancellations: a Poisson process of CANCELLATIONS slots a week, three times
  as likely during office hours (Mon–Fri 08:00–18:00) as outside; each stays
  free for an exponential time (mean 10 min).

and compares two pollers with the same number of checks a week:

(a) rdv-monitor's schedule (:func:`monitor.schedule.plan_after_run`), each run
    lasting 3–8 s (the primary calendar is checked first);
(b) a fixed-interval poller (random phase) whose interval is the week divided
    by (a)'s number of checks.

A check is modelled as instantaneous at its start: it sees the slots free at
that instant. (The primary calendar's requests take a second or two, which
would add that much to every delay of both pollers alike; it also means the
0 s delay of (a)'s 08:00:00 release run is exact only by construction.) A slot
is "missed" when it is gone before any check sees it; delays are from the
slot appearing to the first check that sees it, over detected slots.

Run: ``/tmp/venv/bin/python bench/bench_schedule.py``. Seeded; prints
figures; asserts nothing; runs in a few seconds.
"""

from __future__ import annotations

import bisect
import random
import statistics
import time as clock
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.config import Config, Watch
from monitor.observation import Status
from monitor.schedule import Backoff, Policy, backoff_after, first_run, plan_after_run

SEED = 20260105
WEEKS = 20
PARIS = ZoneInfo("Europe/Paris")
BEGIN = datetime(2026, 1, 5, 0, 0, tzinfo=PARIS).astimezone(UTC)  # a Monday, winter time
END = BEGIN + timedelta(weeks=WEEKS)
WEEK = 7 * 24 * 3600.0

PUBLISHED = 10
"""Slots published every Monday at 08:00."""
PUBLISHED_MEAN_LIFE = 4 * 60.0
CANCELLATIONS = 15.0
"""Expected cancelled slots per week."""
CANCELLED_MEAN_LIFE = 10 * 60.0
OFFICE_WEIGHT = 3.0
"""How much likelier a cancellation is during office hours."""

Slot = tuple[float, float]
"""(appears, gone) as POSIX timestamps."""


def default_policy() -> Policy:
    """The policy of a default-config watch on a real prefecture host."""
    config = Config(
        watches=(Watch(name="bench", url="https://www.haute-savoie.gouv.fr/booking/create/29396"),)
    )
    return Policy.for_watch(config, config.watches[0])


def mondays_at_eight(lag: float, rng: random.Random) -> list[float]:
    """Each Monday 08:00 local in the period (+ U(0, lag) s of publication lag)."""
    out = []
    day = BEGIN.astimezone(PARIS).date()
    for week in range(WEEKS):
        monday = day + timedelta(weeks=week)
        eight = datetime(monday.year, monday.month, monday.day, 8, 0, tzinfo=PARIS)
        out.append(eight.timestamp() + rng.uniform(0.0, lag))
    return out


def publications(rng: random.Random, lag: float = 0.0) -> list[list[Slot]]:
    """Per Monday, the PUBLISHED slots: all appear at once, each taken after Exp(4 min)."""
    return [
        [(t, t + rng.expovariate(1 / PUBLISHED_MEAN_LIFE)) for _ in range(PUBLISHED)]
        for t in mondays_at_eight(lag, rng)
    ]


def office_hours(ts: float) -> bool:
    local = datetime.fromtimestamp(ts, PARIS)
    return local.weekday() < 5 and 8 <= local.hour < 18


def cancellations(rng: random.Random) -> list[Slot]:
    """A non-homogeneous Poisson process (thinning): CANCELLATIONS a week on average,
    OFFICE_WEIGHT times likelier in office hours; each slot free for Exp(10 min)."""
    office_share = 5 * 10 / (7 * 24)
    base_rate = CANCELLATIONS / WEEK / (office_share * OFFICE_WEIGHT + (1 - office_share))
    peak = base_rate * OFFICE_WEIGHT
    slots = []
    t = BEGIN.timestamp()
    while True:
        t += rng.expovariate(peak)
        if t >= END.timestamp():
            return slots
        weight = OFFICE_WEIGHT if office_hours(t) else 1.0
        if rng.random() < weight / OFFICE_WEIGHT:
            slots.append((t, t + rng.expovariate(1 / CANCELLED_MEAN_LIFE)))


def schedule_checks(policy: Policy, rng: random.Random) -> list[float]:
    """Start times of every run of (a): the daemon loop, with runs of 3-8 s."""
    durations = random.Random(SEED + 1)
    starts: list[float] = []
    state = Backoff()
    planned = first_run(policy, BEGIN, rng)
    while planned.at < END:
        start = planned.at
        starts.append(start.timestamp())
        finish = start + timedelta(seconds=durations.uniform(3.0, 8.0))
        state = backoff_after(state, [Status.FULL], None, finish)
        planned = plan_after_run(policy, finish, state, rng, last_start=start)
    return starts


def fixed_checks(count: int, rng: random.Random) -> tuple[float, list[float]]:
    """(b): ``count`` checks evenly spaced over the period, random phase."""
    interval = (END - BEGIN).total_seconds() / count
    phase = rng.uniform(0.0, interval)
    first = BEGIN.timestamp() + phase
    return interval, [first + k * interval for k in range(count)]


def detect(checks: Sequence[float], slots: Sequence[Slot]) -> tuple[list[float], int]:
    """Delays (s) of detected slots and the number missed (gone before any check)."""
    delays, missed = [], 0
    for appears, gone in slots:
        i = bisect.bisect_left(checks, appears)
        if i < len(checks) and checks[i] < gone:
            delays.append(checks[i] - appears)
        else:
            missed += 1
    return delays, missed


def first_detection(checks: Sequence[float], batches: Sequence[list[Slot]]) -> list[float]:
    """Per publication, the delay until some slot of it is seen (inf if none was)."""
    out = []
    for batch in batches:
        delays, _ = detect(checks, batch)
        out.append(min(delays) if delays else float("inf"))
    return out


def p95(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def row(label: str, checks: Sequence[float], slots: Sequence[Slot]) -> str:
    delays, missed = detect(checks, slots)
    median = statistics.median(delays) if delays else float("nan")
    return (
        f"  {label:<38} slots {len(slots):4d}  median {median:7.1f} s  "
        f"p95 {p95(delays):7.1f} s  missed {missed / len(slots):6.1%}"
    )


def main() -> None:
    started = clock.perf_counter()
    policy = default_policy()
    rng = random.Random(SEED)
    published = publications(random.Random(SEED + 2))
    lagged = publications(random.Random(SEED + 3), lag=60.0)
    cancelled = cancellations(random.Random(SEED + 4))

    a = schedule_checks(policy, rng)
    interval_b, b = fixed_checks(len(a), random.Random(SEED + 5))
    locals_a = [datetime.fromtimestamp(t, PARIS) for t in a]
    monday_morning = sum(1 for t in locals_a if t.weekday() == 0 and 7 <= t.hour < 9)

    print(f"Simulated {WEEKS} weeks from {BEGIN.astimezone(PARIS):%Y-%m-%d} (Europe/Paris)")
    print(f"seed {SEED}; a check sees the slots free at its start instant")
    print(
        f"Slots: {PUBLISHED} published each Monday 08:00:00, taken after Exp(mean "
        f"{PUBLISHED_MEAN_LIFE / 60:.0f} min); {len(cancelled)} cancellations "
        f"({len(cancelled) / WEEKS:.1f}/week), free for Exp(mean "
        f"{CANCELLED_MEAN_LIFE / 60:.0f} min)\n"
    )
    for name, checks, note in (
        ("(a) rdv-monitor schedule", a, f"{monday_morning / WEEKS:.1f}/week on Monday 07:00-09:00"),
        ("(b) fixed interval", b, f"every {interval_b:.1f} s"),
    ):
        print(f"{name}: {len(checks) / WEEKS:.1f} checks/week ({note})")
        everything = [s for batch in published for s in batch] + cancelled
        print(row("all slots", checks, everything))
        print(
            row("Monday 08:00 publication, per slot", checks, [s for bt in published for s in bt])
        )
        firsts = first_detection(checks, published)
        seen = [d for d in firsts if d != float("inf")]
        print(
            f"  {'Monday 08:00, first slot seen':<38} weeks {len(firsts):4d}  median "
            f"{statistics.median(seen) if seen else float('nan'):7.1f} s  p95 {p95(seen):7.1f} s  "
            f"missed {(len(firsts) - len(seen)) / len(firsts):6.1%}"
        )
        print(row("cancellations", checks, cancelled))
        print(
            row("Monday, published +U(0,60s), per slot", checks, [s for bt in lagged for s in bt])
        )
        print()
    print(f"({clock.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
