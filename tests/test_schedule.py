"""The polling policy (monitor.schedule): explicit datetimes, seeded randomness, no sleeping.

Local times are Europe/Paris; the UTC instants are asserted too, so that a
daylight-saving mistake (an hour off) cannot hide behind a local-time comparison.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import statistics
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.config import DEFAULT_SURGE, POLITE_INTERVAL, Config, Release, parse_config
from monitor.observation import Status
from monitor.schedule import (
    Backoff,
    Planned,
    Policy,
    backoff_after,
    backoff_delay,
    first_run,
    next_release,
    plan_after_run,
    resume,
    surge_at,
    watch_fingerprint,
)

PARIS = ZoneInfo("Europe/Paris")
REAL_URL = "https://www.haute-savoie.gouv.fr/booking/create/29396"
LOOPBACK_URL = "http://127.0.0.1:8080/booking/create/29396"
HEALTHY = Backoff()

# Mondays: summer time (CEST, UTC+2) and winter time (CET, UTC+1).
SUMMER_MONDAY = (2026, 6, 1)
WINTER_MONDAY = (2026, 1, 5)


def paris(y: int, mo: int, d: int, h: int, mi: int, s: float = 0, fold: int = 0) -> datetime:
    """An aware Europe/Paris wall-clock time (seconds may be fractional)."""
    whole = int(s)
    micro = round((s - whole) * 1_000_000)
    return datetime(y, mo, d, h, mi, whole, micro, tzinfo=PARIS, fold=fold)


def utc(y: int, mo: int, d: int, h: int, mi: int, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def make_config(monitor: str = "", url: str = REAL_URL, watch_extra: str = "") -> Config:
    text = f'[monitor]\n{monitor}\n[[watch]]\nname = "w"\nurl = "{url}"\n{watch_extra}\n'
    return parse_config(tomllib.loads(text), source="test.toml")


def make_policy(monitor: str = "", url: str = REAL_URL, **overrides: object) -> Policy:
    config = make_config(monitor, url)
    policy = Policy.for_watch(config, config.watches[0])
    return dataclasses.replace(policy, **overrides) if overrides else policy


def after(
    policy: Policy,
    start: datetime,
    *,
    backoff: Backoff = HEALTHY,
    duration: float = 5.0,
    seed: int = 0,
) -> Planned:
    """Plan after a run that started at ``start`` and took ``duration`` seconds."""
    end = start + timedelta(seconds=duration)
    return plan_after_run(policy, end, backoff, random.Random(seed), last_start=start)


# --------------------------------------------------------------------------- policy


def test_policy_from_config_defaults() -> None:
    config = make_config()
    policy = Policy.for_watch(config, config.watches[0])
    assert policy.interval == 300.0
    assert policy.jitter == 30.0
    assert policy.surges == DEFAULT_SURGE
    assert policy.releases == (Release(weekday=0, time=time(8, 0)),)
    assert policy.tz == PARIS
    assert policy.floor == POLITE_INTERVAL
    assert policy.keep_clear == POLITE_INTERVAL  # the floor is longer than the 20 s guard


def test_policy_loopback_has_no_floor_and_per_watch_interval() -> None:
    config = make_config(url=LOOPBACK_URL, watch_extra='interval = "2s"')
    policy = Policy.for_watch(config, config.watches[0])
    assert policy.floor == 0.0
    assert policy.interval == 2.0
    assert policy.keep_clear == policy.release_guard == 20.0


@pytest.mark.parametrize(
    "field, value",
    [("interval", 0.0), ("jitter", -1.0), ("floor", float("nan")), ("backoff_factor", 0.5)],
)
def test_policy_rejects_nonsense(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        make_policy(**{field: value})


def test_naive_datetimes_are_refused() -> None:
    policy = make_policy()
    with pytest.raises(ValueError, match="aware"):
        plan_after_run(policy, datetime(2026, 6, 1, 8, 0), HEALTHY, random.Random(0))
    with pytest.raises(ValueError, match="aware"):
        next_release(policy, datetime(2026, 6, 1, 8, 0))


# --------------------------------------------------------------------------- surge windows


@pytest.mark.parametrize(
    "monday, offset_hours", [(SUMMER_MONDAY, 2), (WINTER_MONDAY, 1)], ids=["summer", "winter"]
)
def test_default_surge_membership_edges(monday: tuple[int, int, int], offset_hours: int) -> None:
    policy = make_policy()
    y, mo, d = monday
    start_utc = utc(y, mo, d, 7 - offset_hours, 58)
    end_utc = utc(y, mo, d, 8 - offset_hours, 30)
    assert paris(y, mo, d, 7, 58) == start_utc
    assert surge_at(policy, start_utc - timedelta(seconds=1)) is None
    assert surge_at(policy, start_utc) == DEFAULT_SURGE[0]
    assert surge_at(policy, end_utc - timedelta(seconds=1)) == DEFAULT_SURGE[0]
    assert surge_at(policy, end_utc) is None
    # Same wall-clock time on a Tuesday: no surge.
    assert surge_at(policy, start_utc + timedelta(days=1, minutes=5)) is None


def test_surge_entered_on_time() -> None:
    policy = make_policy()
    for seed in range(50):
        planned = after(policy, paris(*SUMMER_MONDAY, 7, 55, 30), seed=seed)
        assert planned == Planned(at=utc(*SUMMER_MONDAY, 5, 58), reason="surge-start")


def test_interval_inside_surge_has_scaled_jitter() -> None:
    policy = make_policy()
    start = paris(*SUMMER_MONDAY, 8, 5)
    gaps = []
    for seed in range(500):
        planned = after(policy, start, seed=seed)
        assert planned.reason == "surge"
        gaps.append((planned.at - start).total_seconds())
    # 30 s pace + U(0, min(30 s jitter, 30 s / 4)).
    assert min(gaps) >= 30.0 and max(gaps) <= 37.5
    assert min(gaps) < 30.5 and max(gaps) > 37.0
    assert statistics.mean(gaps) == pytest.approx(33.75, abs=0.3)


def test_surge_exit_returns_to_the_base_interval() -> None:
    policy = make_policy()
    last_in = after(policy, paris(*SUMMER_MONDAY, 8, 29, 50))
    assert last_in.reason == "surge"
    assert last_in.at.astimezone(PARIS).time() >= time(8, 30, 20)
    assert surge_at(policy, last_in.at) is None
    following = after(policy, last_in.at)
    assert following.reason == "interval"
    assert (following.at - last_in.at).total_seconds() >= 300


def test_custom_surge_on_wednesday_replaces_the_default() -> None:
    monitor = '[[monitor.surge]]\ndays = ["wed"]\nstart = "14:00"\nend = "14:30"\ninterval = "45s"'
    policy = make_policy(monitor)
    wednesday = (2026, 6, 3)
    assert surge_at(policy, paris(*wednesday, 14, 0)) is not None
    assert surge_at(policy, paris(*SUMMER_MONDAY, 8, 5)) is None  # no default surge any more
    entry = after(policy, paris(*wednesday, 13, 57))
    assert entry == Planned(at=utc(*wednesday, 12, 0), reason="surge-start")
    inside = after(policy, entry.at)
    gap = (inside.at - entry.at).total_seconds()
    assert inside.reason == "surge" and 45.0 <= gap <= 45.0 + 45.0 / 4
    # The Monday release still holds without a Monday surge window.
    assert after(policy, paris(*SUMMER_MONDAY, 7, 56)).at == utc(*SUMMER_MONDAY, 6, 0)


def test_surge_never_slows_a_faster_watch() -> None:
    policy = make_policy(url=LOOPBACK_URL, interval=5.0, jitter=0.0)
    planned = after(policy, paris(*SUMMER_MONDAY, 8, 10))
    assert (planned.at - paris(*SUMMER_MONDAY, 8, 10)).total_seconds() == 5.0


# --------------------------------------------------------------------------- releases


def test_release_hit_exactly_in_the_default_surge() -> None:
    policy = make_policy()
    for seed in range(100):
        planned = after(policy, paris(*SUMMER_MONDAY, 7, 59, 5), seed=seed)
        assert planned == Planned(at=utc(*SUMMER_MONDAY, 6, 0), reason="release")
        assert planned.at.astimezone(PARIS).time() == time(8, 0, 0)


def test_release_hit_exactly_without_surge() -> None:
    policy = make_policy(surges=())
    for seed in range(100):
        planned = after(policy, paris(*WINTER_MONDAY, 7, 56, 40), seed=seed)
        assert planned == Planned(at=utc(*WINTER_MONDAY, 7, 0), reason="release")


def test_release_guard_moves_a_run_from_0759_50_to_0800() -> None:
    policy = make_policy(surges=(), jitter=0.0)
    planned = after(policy, paris(*SUMMER_MONDAY, 7, 54, 50))
    assert planned == Planned(at=paris(*SUMMER_MONDAY, 8, 0), reason="release")


def test_release_guard_is_a_parameter() -> None:
    # Loopback: no floor, so the keep-clear zone is the guard alone.
    policy = make_policy(url=LOOPBACK_URL, surges=(), jitter=0.0, release_guard=20.0)
    outside_guard = after(policy, paris(*SUMMER_MONDAY, 7, 54, 35))  # would run at 07:59:35
    assert outside_guard.at == paris(*SUMMER_MONDAY, 7, 59, 35)
    inside_guard = after(policy, paris(*SUMMER_MONDAY, 7, 54, 45))  # would run at 07:59:45
    assert inside_guard == Planned(at=paris(*SUMMER_MONDAY, 8, 0), reason="release")
    wider = dataclasses.replace(policy, release_guard=30.0)
    assert after(wider, paris(*SUMMER_MONDAY, 7, 54, 35)).at == paris(*SUMMER_MONDAY, 8, 0)


def test_keep_clear_covers_the_floor_so_the_release_run_is_never_late() -> None:
    # A run at 07:59:35 would force the next one to 08:00:05 (30 s floor): moved instead.
    policy = make_policy(surges=(), jitter=0.0)
    planned = after(policy, paris(*SUMMER_MONDAY, 7, 54, 35))
    assert planned == Planned(at=paris(*SUMMER_MONDAY, 8, 0), reason="release")


def test_after_the_release_run_the_next_release_is_next_week() -> None:
    policy = make_policy()
    release = utc(*SUMMER_MONDAY, 6, 0)
    assert next_release(policy, release) == release + timedelta(days=7)
    planned = after(policy, release)
    assert planned.reason == "surge"
    assert 30 <= (planned.at - release).total_seconds() <= 37.5


def test_no_releases_configured() -> None:
    policy = make_policy("releases = []")
    assert next_release(policy, utc(*SUMMER_MONDAY, 0, 0)) is None
    assert after(policy, paris(*SUMMER_MONDAY, 7, 59, 5)).reason == "surge"


# --------------------------------------------------------------------------- DST


def test_release_instants_across_both_dst_changes() -> None:
    policy = make_policy()
    # Spring forward on Sunday 2026-03-29.
    assert next_release(policy, utc(2026, 3, 20, 12, 0)) == utc(2026, 3, 23, 7, 0)
    assert next_release(policy, utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 30, 6, 0)
    # Fall back on Sunday 2026-10-25.
    assert next_release(policy, utc(2026, 10, 16, 12, 0)) == utc(2026, 10, 19, 6, 0)
    assert next_release(policy, utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 26, 7, 0)
    # Asked from inside the change itself.
    assert next_release(policy, utc(2026, 3, 29, 1, 30)) == utc(2026, 3, 30, 6, 0)
    assert next_release(policy, utc(2026, 10, 25, 1, 30)) == utc(2026, 10, 26, 7, 0)


@pytest.mark.parametrize(
    "monday, window_utc",
    [
        ((2026, 3, 23), (6, 58, 7, 30)),  # CET, before the spring change
        ((2026, 3, 30), (5, 58, 6, 30)),  # CEST, after it
        ((2026, 10, 19), (5, 58, 6, 30)),  # CEST, before the autumn change
        ((2026, 10, 26), (6, 58, 7, 30)),  # CET, after it
    ],
)
def test_surge_membership_in_dst_weeks(
    monday: tuple[int, int, int], window_utc: tuple[int, int, int, int]
) -> None:
    policy = make_policy()
    h0, m0, h1, m1 = window_utc
    start, end = utc(*monday, h0, m0), utc(*monday, h1, m1)
    one = timedelta(seconds=1)
    assert surge_at(policy, start - one) is None
    assert surge_at(policy, start) is not None
    assert surge_at(policy, end - one) is not None
    assert surge_at(policy, end) is None
    release = next_release(policy, start)
    assert release == start + timedelta(minutes=2)
    assert after(policy, start + timedelta(seconds=65)).at == release


def test_intervals_are_elapsed_seconds_across_dst() -> None:
    policy = make_policy(surges=(), jitter=0.0, releases=())
    # Autumn: 02:58 CEST (first pass) + 5 min is 02:03 CET wall time, i.e. 01:03Z.
    # (Wall-clock arithmetic would give 03:03 CET = 02:03Z, an hour late.)
    first_pass = paris(2026, 10, 25, 2, 58, fold=0)
    # (== across zones is always False for an ambiguous local time, PEP 495: compare in UTC.)
    assert first_pass.astimezone(UTC) == utc(2026, 10, 25, 0, 58)
    assert after(policy, first_pass).at == utc(2026, 10, 25, 1, 3)
    # Spring: 01:58 CET + 5 min is 03:03 CEST, i.e. 01:03Z.
    assert after(policy, paris(2026, 3, 29, 1, 58)).at == utc(2026, 3, 29, 1, 3)


def test_results_are_utc() -> None:
    planned = after(make_policy(), paris(*SUMMER_MONDAY, 12, 0))
    assert planned.at.tzinfo is UTC


def test_release_on_a_nonexistent_local_time_shifts_forward() -> None:
    policy = make_policy('releases = ["sun 02:30"]')
    # 2026-03-29 02:30 does not exist in Paris: read with the CET offset = 03:30 CEST.
    release = next_release(policy, utc(2026, 3, 28, 12, 0))
    assert release == utc(2026, 3, 29, 1, 30)
    assert release.astimezone(PARIS).time() == time(3, 30)
    # Planning around it does not crash and hits it.
    assert after(policy, utc(2026, 3, 29, 1, 27)).at == release


def test_release_on_an_ambiguous_local_time_is_the_first_occurrence() -> None:
    policy = make_policy('releases = ["sun 02:30"]')
    release = next_release(policy, utc(2026, 10, 24, 12, 0))
    assert release == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, not 02:30 CET (01:30Z)
    assert next_release(policy, release) == utc(2026, 11, 1, 1, 30)


def test_surge_windows_on_nonexistent_and_ambiguous_times() -> None:
    gap_start = '[[monitor.surge]]\ndays = ["sun"]\nstart = "02:30"\nend = "04:00"'
    policy = make_policy(gap_start)
    assert surge_at(policy, utc(2026, 3, 29, 1, 29)) is None
    assert surge_at(policy, utc(2026, 3, 29, 1, 30)) is not None  # 03:30 CEST
    assert surge_at(policy, utc(2026, 3, 29, 1, 59)) is not None
    assert surge_at(policy, utc(2026, 3, 29, 2, 0)) is None  # 04:00 CEST
    # Entirely inside the gap: shifted forward whole, to 03:10-03:50 CEST.
    in_gap = make_policy('[[monitor.surge]]\ndays = ["sun"]\nstart = "02:10"\nend = "02:50"')
    assert surge_at(in_gap, utc(2026, 3, 29, 1, 9)) is None
    assert surge_at(in_gap, utc(2026, 3, 29, 1, 10)) is not None
    assert surge_at(in_gap, utc(2026, 3, 29, 1, 50)) is None
    # Shifted start after its end (03:30-03:15 CEST): empty that day, no crash, and no
    # surge-start to a ghost window.
    empty = make_policy('[[monitor.surge]]\ndays = ["sun"]\nstart = "02:30"\nend = "03:15"')
    for minute in range(0, 180, 5):
        assert surge_at(empty, utc(2026, 3, 29, 0, 0) + timedelta(minutes=minute)) is None
    assert after(empty, utc(2026, 3, 29, 0, 58)).reason == "interval"
    assert surge_at(empty, utc(2026, 4, 5, 0, 45)) is not None  # a week later: 02:45 CEST
    # A window over the repeated hour covers both passes (2 h elapsed).
    repeated = make_policy('[[monitor.surge]]\ndays = ["sun"]\nstart = "02:00"\nend = "03:00"')
    assert surge_at(repeated, utc(2026, 10, 24, 23, 59)) is None
    assert surge_at(repeated, utc(2026, 10, 25, 0, 0)) is not None  # 02:00 CEST
    assert surge_at(repeated, utc(2026, 10, 25, 1, 30)) is not None  # 02:30 CET
    assert surge_at(repeated, utc(2026, 10, 25, 2, 0)) is None  # 03:00 CET


# --------------------------------------------------------------------------- jitter


def test_interval_jitter_is_uniform_within_bounds() -> None:
    policy = make_policy()
    rng = random.Random(1234)
    start = paris(*SUMMER_MONDAY, 12, 0)
    gaps = [
        (plan_after_run(policy, start, HEALTHY, rng, last_start=start).at - start).total_seconds()
        for _ in range(4000)
    ]
    assert all(300.0 <= g <= 330.0 for g in gaps)
    assert min(gaps) < 300.5 and max(gaps) > 329.5
    assert statistics.mean(gaps) == pytest.approx(315.0, abs=0.6)
    # Roughly uniform: each 10 s third holds about a third.
    for low in (300, 310, 320):
        share = sum(low <= g < low + 10 for g in gaps) / len(gaps)
        assert share == pytest.approx(1 / 3, abs=0.04)


def test_zero_jitter_is_exact() -> None:
    policy = make_policy(jitter=0.0)
    start = paris(*SUMMER_MONDAY, 12, 0)
    assert after(policy, start).at == start + timedelta(seconds=300)


# --------------------------------------------------------------------------- backoff state


def test_backoff_after_transitions() -> None:
    now = utc(*SUMMER_MONDAY, 12, 0)
    down = backoff_after(HEALTHY, [Status.DOWN], None, now)
    assert down == Backoff(failures=1, cause=Status.DOWN)
    twice = backoff_after(down, [Status.DOWN, Status.DOWN], None, now)
    assert twice == Backoff(failures=2, cause=Status.DOWN)
    # Blocked wins in a mixed run, and stays the cause until a good answer.
    blocked = backoff_after(twice, [Status.DOWN, Status.BLOCKED], None, now)
    assert blocked == Backoff(failures=3, cause=Status.BLOCKED)
    assert backoff_after(blocked, [Status.DOWN], None, now).cause is Status.BLOCKED
    # One good answer resets, even next to failures.
    assert backoff_after(blocked, [Status.BLOCKED, Status.FULL], None, now) == HEALTHY
    assert backoff_after(blocked, [Status.AVAILABLE], None, now) == HEALTHY


@pytest.mark.parametrize("statuses", [[Status.CAPTCHA], [Status.UNKNOWN], []])
def test_captcha_and_unknown_are_neutral(statuses: Sequence[Status]) -> None:
    now = utc(*SUMMER_MONDAY, 12, 0)
    assert backoff_after(HEALTHY, statuses, None, now) == HEALTHY
    streak = Backoff(failures=2, cause=Status.DOWN)
    assert backoff_after(streak, statuses, None, now) == streak


def test_retry_after_sets_and_keeps_not_before() -> None:
    now = utc(*SUMMER_MONDAY, 12, 0)
    state = backoff_after(HEALTHY, [Status.DOWN], 120.0, now)
    assert state.not_before == now + timedelta(seconds=120)
    # A later good answer resets the streak but keeps the promise.
    good = backoff_after(state, [Status.FULL], None, now + timedelta(seconds=10))
    assert good == Backoff(not_before=now + timedelta(seconds=120))
    # A longer Retry-After replaces it; a shorter one does not shorten it.
    longer = backoff_after(state, [Status.DOWN], 600.0, now)
    assert longer.not_before == now + timedelta(seconds=600)
    shorter = backoff_after(longer, [Status.DOWN], 5.0, now)
    assert shorter.not_before == now + timedelta(seconds=600)
    # An expired deadline is dropped.
    assert backoff_after(state, [Status.FULL], None, now + timedelta(hours=1)) == HEALTHY


def test_backoff_state_is_validated() -> None:
    with pytest.raises(ValueError):
        Backoff(failures=1)
    with pytest.raises(ValueError):
        Backoff(failures=1, cause=Status.CAPTCHA)
    with pytest.raises(ValueError):
        Backoff(cause=Status.DOWN)
    # not_before is kept in UTC whatever zone it was given in.
    local = Backoff(not_before=paris(2026, 10, 25, 2, 30, fold=1))
    assert local.not_before is not None and local.not_before.tzinfo is UTC
    assert local.not_before == utc(2026, 10, 25, 1, 30)


# --------------------------------------------------------------------------- backoff delays


def test_backoff_grows_exponentially_and_is_capped() -> None:
    policy = make_policy()
    rng = random.Random(7)
    for failures in range(1, 12):
        ceiling = min(3600.0, 300.0 * 2**failures)
        delays = [backoff_delay(policy, failures, rng) for _ in range(300)]
        assert all(max(ceiling / 2, 300.0) <= d <= ceiling for d in delays), failures
        assert min(delays) < ceiling / 2 + ceiling / 20 and max(delays) > ceiling * 0.95
    assert backoff_delay(policy, 10_000, rng) <= 3600.0  # no overflow


def test_backoff_is_never_faster_than_the_normal_interval() -> None:
    policy = make_policy(interval=7200.0)
    assert backoff_delay(policy, 1, random.Random(0)) >= 7200.0
    assert backoff_delay(policy, 0, random.Random(0)) == 7200.0


def test_backoff_applies_outside_surge() -> None:
    policy = make_policy()
    start = paris(*SUMMER_MONDAY, 12, 0)
    planned = after(policy, start, backoff=Backoff(failures=2, cause=Status.DOWN))
    assert planned.reason == "backoff"
    assert 600 <= (planned.at - start).total_seconds() <= 1200


def test_blocked_backoff_not_overridden_by_surge_or_release() -> None:
    policy = make_policy()
    blocked = Backoff(failures=1, cause=Status.BLOCKED)
    for seed in range(50):
        # 07:57: the surge starts at 07:58 and the release is at 08:00: neither pulls it.
        start = paris(*SUMMER_MONDAY, 7, 57)
        planned = after(policy, start, backoff=blocked, seed=seed)
        assert planned.reason == "backoff"
        assert planned.at >= start + timedelta(seconds=300)
        assert planned.at > utc(*SUMMER_MONDAY, 6, 0)
        # Inside the surge: no surge pace either.
        inside = paris(*SUMMER_MONDAY, 8, 5)
        assert after(policy, inside, backoff=blocked, seed=seed).at >= inside + timedelta(
            seconds=300
        )


def test_down_backoff_shortened_by_surge() -> None:
    policy = make_policy()
    down = Backoff(failures=5, cause=Status.DOWN)
    start = paris(*SUMMER_MONDAY, 8, 5)
    planned = after(policy, start, backoff=down)
    assert planned.reason == "surge"
    assert 30 <= (planned.at - start).total_seconds() <= 37.5
    # Before the surge, a down backoff is pulled to the surge start and to the release.
    assert after(policy, paris(*SUMMER_MONDAY, 7, 50), backoff=down) == Planned(
        at=utc(*SUMMER_MONDAY, 5, 58), reason="surge-start"
    )
    assert after(policy, paris(*SUMMER_MONDAY, 7, 59, 10), backoff=down) == Planned(
        at=utc(*SUMMER_MONDAY, 6, 0), reason="release"
    )


def test_retry_after_honoured_even_in_surge_and_at_release() -> None:
    policy = make_policy()
    start = paris(*SUMMER_MONDAY, 7, 59, 10)
    end = start + timedelta(seconds=5)
    state = backoff_after(HEALTHY, [Status.DOWN], 120.0, end)
    planned = plan_after_run(policy, end, state, random.Random(0), last_start=start)
    assert planned == Planned(at=end + timedelta(seconds=120), reason="retry-after")
    # Also with a healthy streak (Retry-After on a good answer) and a blocked one.
    for cause_state in (
        Backoff(not_before=end + timedelta(seconds=90)),
        Backoff(failures=1, cause=Status.BLOCKED, not_before=end + timedelta(hours=2)),
    ):
        assert cause_state.not_before is not None
        got = plan_after_run(policy, end, cause_state, random.Random(0), last_start=start)
        assert got == Planned(at=cause_state.not_before, reason="retry-after")


def test_back_to_normal_after_a_good_answer() -> None:
    policy = make_policy()
    now = paris(*SUMMER_MONDAY, 12, 0)
    state = HEALTHY
    for statuses in ([Status.DOWN], [Status.DOWN], [Status.BLOCKED]):
        state = backoff_after(state, statuses, None, now)
    assert state.failures == 3
    state = backoff_after(state, [Status.FULL], None, now)
    planned = plan_after_run(policy, now, state, random.Random(0), last_start=now)
    assert planned.reason == "interval"
    assert 300 <= (planned.at - now).total_seconds() <= 330


# --------------------------------------------------------------------------- clock jumps


def test_clock_jump_forward_gives_one_run_now() -> None:
    policy = make_policy()
    rng = random.Random(3)
    last_start = paris(*SUMMER_MONDAY, 10, 0)
    woke = paris(2026, 6, 3, 12, 0)  # Wednesday: the laptop was suspended for two days
    planned = plan_after_run(policy, woke, HEALTHY, rng, last_start=last_start)
    assert planned.at == woke  # due: now, not a replay of the missed runs
    # The daemon runs it, then plans again: normal spacing, no burst.
    run_end = woke + timedelta(seconds=4)
    again = plan_after_run(policy, run_end, HEALTHY, rng, last_start=woke)
    assert (again.at - woke).total_seconds() >= 300


def test_clock_jump_over_a_release_runs_once_now() -> None:
    policy = make_policy()
    woke = paris(*SUMMER_MONDAY, 9, 0)
    planned = plan_after_run(
        policy, woke, HEALTHY, random.Random(0), last_start=paris(2026, 5, 31, 12, 0)
    )
    # The missed interval run and the missed release coalesce into one run, now.
    assert planned.at == woke


def test_clock_step_backwards_does_not_stall() -> None:
    policy = make_policy()
    now = paris(*SUMMER_MONDAY, 12, 0)
    recorded_start = now + timedelta(hours=1)  # the clock was stepped back an hour
    planned = plan_after_run(policy, now, HEALTHY, random.Random(0), last_start=recorded_start)
    assert 300 <= (planned.at - now).total_seconds() <= 330


def test_overrunning_run_is_followed_at_once_not_twice() -> None:
    policy = make_policy(url=LOOPBACK_URL, interval=10.0, jitter=0.0)
    start = paris(*SUMMER_MONDAY, 12, 0)
    end = start + timedelta(seconds=45)  # took longer than the interval
    planned = plan_after_run(policy, end, HEALTHY, random.Random(0), last_start=start)
    assert planned.at == end


# --------------------------------------------------------------------------- floor


def test_floor_enforced_for_real_hosts() -> None:
    policy = make_policy(interval=10.0, jitter=0.0, surges=(), releases=())
    start = paris(*SUMMER_MONDAY, 12, 0)
    assert after(policy, start).at == start + timedelta(seconds=POLITE_INTERVAL)
    # Entering a surge 10 s after the last run: pushed to the floor.
    policy = make_policy()
    planned = after(policy, paris(*SUMMER_MONDAY, 7, 57, 50))
    assert planned == Planned(at=paris(*SUMMER_MONDAY, 7, 58, 20), reason="surge-start")
    # Without last_start the floor counts from now (later, never less polite).
    end = paris(*SUMMER_MONDAY, 7, 57, 55)
    planned = plan_after_run(policy, end, HEALTHY, random.Random(0))
    assert planned.at == end + timedelta(seconds=POLITE_INTERVAL)


def test_no_floor_for_loopback() -> None:
    policy = make_policy(url=LOOPBACK_URL, interval=1.0, jitter=0.0, surges=(), releases=())
    start = paris(*SUMMER_MONDAY, 12, 0)
    assert after(policy, start, duration=0.2).at == start + timedelta(seconds=1)
    policy = make_policy(url=LOOPBACK_URL)
    planned = after(policy, paris(*SUMMER_MONDAY, 7, 57, 50))
    assert planned == Planned(at=paris(*SUMMER_MONDAY, 7, 58), reason="surge-start")


# --------------------------------------------------------------------------- first run


def test_first_run_is_soon() -> None:
    policy = make_policy()
    now = paris(*SUMMER_MONDAY, 12, 0)
    for seed in range(100):
        planned = first_run(policy, now, random.Random(seed))
        assert planned.reason == "start"
        assert now <= planned.at <= now + timedelta(seconds=30)


def test_first_run_waits_for_an_imminent_release() -> None:
    policy = make_policy()
    release = utc(*SUMMER_MONDAY, 6, 0)
    for seed in range(50):
        planned = first_run(policy, release - timedelta(seconds=15), random.Random(seed))
        assert planned == Planned(at=release, reason="release")
    assert first_run(policy, release, random.Random(0)) == Planned(at=release, reason="release")
    in_surge = first_run(policy, release + timedelta(seconds=1), random.Random(0))
    assert in_surge.reason == "start"
    assert in_surge.at <= release + timedelta(seconds=1 + 7.5)


def test_first_run_respects_a_saved_backoff() -> None:
    policy = make_policy()
    now = paris(*SUMMER_MONDAY, 7, 59)
    later = now + timedelta(minutes=10)
    assert first_run(policy, now, random.Random(0), backoff=Backoff(not_before=later)) == Planned(
        at=later, reason="retry-after"
    )
    blocked = Backoff(failures=2, cause=Status.BLOCKED)
    planned = first_run(policy, now, random.Random(0), backoff=blocked)
    assert planned.reason == "backoff" and planned.at >= now + timedelta(seconds=600)


# --------------------------------------------------------------------------- a simulated week


def simulate(
    policy: Policy,
    begin: datetime,
    end: datetime,
    *,
    seed: int,
    answer: Callable[[datetime], Sequence[Status]] | None = None,
) -> list[tuple[datetime, datetime]]:
    """Drive the policy as the daemon would: first_run, then plan_after_run after each
    run. Returns (start, end) of every run. ``answer(start)`` gives the run's statuses
    (default: the calendar is full)."""
    rng = random.Random(seed)
    durations = random.Random(seed + 1)
    runs: list[tuple[datetime, datetime]] = []
    state = HEALTHY
    planned = first_run(policy, begin, rng)
    while planned.at < end:
        start = planned.at
        finish = start + timedelta(seconds=durations.uniform(2.0, 8.0))
        statuses = answer(start) if answer is not None else [Status.FULL]
        runs.append((start, finish))
        state = backoff_after(state, statuses, None, finish)
        planned = plan_after_run(policy, finish, state, rng, last_start=start)
        assert planned.at >= finish  # never two runs of one watch at once
    return runs


def releases_between(policy: Policy, begin: datetime, end: datetime) -> list[datetime]:
    found = []
    at = next_release(policy, begin)
    while at is not None and at < end:
        found.append(at)
        at = next_release(policy, at)
    return found


@pytest.mark.parametrize(
    "begin",
    [paris(2026, 3, 23, 0, 0), paris(2026, 10, 19, 0, 0), paris(2026, 6, 3, 17, 23, 11)],
    ids=["spring-dst", "autumn-dst", "summer-midweek"],
)
def test_simulated_fortnight(begin: datetime) -> None:
    policy = make_policy()
    end = begin + timedelta(days=14)
    runs = simulate(policy, begin, end, seed=begin.day)
    starts = [s for s, _ in runs]
    releases = releases_between(policy, begin, end)
    assert len(releases) == 2
    for release in releases:
        assert release.astimezone(PARIS).time() == time(8, 0)
        assert any(release <= s <= release + timedelta(seconds=2) for s in starts), release
        # And no run in progress at the release instant.
        assert not any(s < release < f for s, f in runs)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= POLITE_INTERVAL
    # Per week: ~604800 / 315 ≈ 1920 interval runs, plus ~57 surge runs in place of ~6.
    per_week = len(runs) / 2
    assert 1880 <= per_week <= 2040, per_week
    in_surge = [s for s in starts if surge_at(policy, s) is not None]
    assert 2 * 50 <= len(in_surge) <= 2 * 66


def test_simulated_week_site_down_at_eight_still_hits_the_release() -> None:
    policy = make_policy()
    monday = SUMMER_MONDAY

    def answer(start: datetime) -> list[Status]:
        local = start.astimezone(PARIS)
        if local.date() == datetime(*monday).date() and time(7, 0) <= local.time() < time(9, 0):
            return [Status.DOWN]
        return [Status.FULL]

    begin = paris(2026, 5, 31, 12, 0)
    runs = simulate(policy, begin, begin + timedelta(days=2), seed=5, answer=answer)
    starts = [s for s, _ in runs]
    release = utc(*monday, 6, 0)
    assert any(release <= s <= release + timedelta(seconds=2) for s in starts)
    surge_runs = [s for s in starts if surge_at(policy, s) is not None]
    assert len(surge_runs) >= 50  # down: keep trying at surge pace


def test_simulated_week_blocked_site_is_not_hammered_at_eight() -> None:
    policy = make_policy()

    def answer(start: datetime) -> list[Status]:
        return [Status.BLOCKED]

    begin = paris(2026, 5, 31, 12, 0)
    runs = simulate(policy, begin, begin + timedelta(days=2), seed=6, answer=answer)
    starts = [s for s, _ in runs]
    assert len([s for s in starts if surge_at(policy, s) is not None]) <= 1
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert all(g >= 300 for g in gaps)
    assert max(gaps) <= 3600
    # 48 h of blocks at 30-60 min apart once capped: dozens of requests, not thousands.
    assert len(runs) <= 100


# --------------------------------------------------------------------------- restart


def test_a_restart_during_a_backoff_resumes_at_the_saved_instant() -> None:
    """Issue 11 item 3: the killed daemon planned +86 s; the restarted one must not wait longer."""
    policy = make_policy(release_guard=0.0, releases=(), surges=())
    killed_at = utc(2026, 6, 3, 10, 0)
    streak = Backoff(6, Status.DOWN)  # a fresh backoff would be 32-64 min
    saved = Planned(killed_at + timedelta(seconds=86), "backoff")
    for seed in range(20):
        planned = resume(
            policy,
            killed_at + timedelta(seconds=5),
            random.Random(seed),
            saved=saved,
            backoff=streak,
        )
        assert planned == saved


def test_a_resumed_plan_is_never_later_than_a_fresh_one() -> None:
    policy = make_policy(releases=(), surges=())
    now = utc(2026, 6, 3, 10, 0)
    saved = Planned(now + timedelta(minutes=4), "interval")
    planned = resume(policy, now, random.Random(1), saved=saved, backoff=HEALTHY)
    fresh = first_run(policy, now, random.Random(1))
    assert planned == fresh and planned.at < saved.at and planned.reason == "start"


def test_a_saved_run_already_due_keeps_the_pace_of_the_streak() -> None:
    """Killed during the run the plan was for: planned as if that run had just started."""
    policy = make_policy(releases=(), surges=())
    due = utc(2026, 6, 3, 10, 0)
    streak = Backoff(2, Status.BLOCKED)
    for seed in range(20):
        planned = resume(
            policy,
            due + timedelta(seconds=3),
            random.Random(seed),
            saved=Planned(due, "backoff"),
            backoff=streak,
        )
        assert planned.reason == "backoff"
        # failures 2: ceiling 4 intervals, so 2-4 intervals after the run that was due
        assert due + timedelta(seconds=2 * 300) <= planned.at <= due + timedelta(seconds=4 * 300)


def test_a_resumed_plan_still_honours_retry_after() -> None:
    policy = make_policy(releases=(), surges=())
    now = utc(2026, 6, 3, 10, 0)
    backoff = Backoff(1, Status.BLOCKED, not_before=now + timedelta(hours=2))
    planned = resume(
        policy,
        now,
        random.Random(0),
        saved=Planned(now + timedelta(minutes=1), "backoff"),
        backoff=backoff,
    )
    assert planned == Planned(now + timedelta(hours=2), "retry-after")


def test_a_new_watch_gets_a_fresh_plan_behind_the_floor() -> None:
    policy = make_policy(releases=(), surges=())
    now = utc(2026, 6, 3, 10, 0)
    planned = resume(policy, now, random.Random(0), saved=None, last_check=now)
    assert planned.at == now + timedelta(seconds=POLITE_INTERVAL)


def test_the_fingerprint_changes_with_what_decides_checks_not_with_tags() -> None:
    base = make_config()
    fp = watch_fingerprint(Policy.for_watch(base, base.watches[0]), base.watches[0])
    tagged = base.watches[0].model_copy(update={"notify": ("phone",)})
    assert watch_fingerprint(Policy.for_watch(base, tagged), tagged) == fp
    for changed in (
        make_config(watch_extra='calendars = ["3.1"]'),
        make_config(watch_extra='interval = "10m"'),
        make_config(url=REAL_URL.replace("29396", "29397")),
        make_config(monitor='jitter = "5s"'),
    ):
        watch = changed.watches[0]
        assert watch_fingerprint(Policy.for_watch(changed, watch), watch) != fp
