"""A wall clock that steps back (issue 11 item 4): the database's order rules, not wall time.

A board without a real-time clock starts at some past time and steps when NTP
syncs; a clock set an hour ahead steps back an hour. Observations recorded after
the step must still be the newest ones: events are written, in order, and
``status``/``history`` show what happened last. And the daemon's timers wait on
the monotonic clock: a step back does not delay the next check by an hour, and a
step forward does not make it miss a release instant.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.observation import Observation, Status
from monitor.report import history_text, parse_since
from monitor.schedule import Planned
from monitor.sites.ezbooking.sim import SimPrefecture
from monitor.store import Store
from tests.conftest import RENEWAL

T = TypeVar("T")

T0 = datetime(2026, 12, 7, 7, 0, 0, tzinfo=UTC)
URL = "http://127.0.0.1:9/booking/create/29396"
SLOTS = (datetime(2026, 12, 21, 8, 0, tzinfo=UTC), datetime(2026, 12, 21, 9, 0, tzinfo=UTC))
TROUBLE_AFTER = 15 * 60.0


class SteppingClock:
    """A wall clock that moves 5 minutes per check and can be stepped."""

    def __init__(self) -> None:
        self.now = T0

    def tick(self) -> datetime:
        self.now += timedelta(minutes=5)
        return self.now

    def step(self, by: timedelta) -> None:
        self.now += by


def check(clock: SteppingClock, status: Status) -> Observation:
    extra: dict[str, object] = {}
    if status is Status.AVAILABLE:
        extra = {"slots": SLOTS, "slot_count": 2}
    return Observation(
        watch="Renouvellement",
        calendar="3.2",
        status=status,
        url=URL,
        detail=f"{status.value} page",
        checked_at=clock.tick(),
        elapsed_ms=120,
        http_status=503 if status is Status.DOWN else 200,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "state") as opened:
        yield opened


def record(store: Store, clock: SteppingClock, *statuses: Status) -> list[str]:
    kinds: list[str] = []
    for status in statuses:
        kinds += [e.kind for e in store.record(check(clock, status), trouble_after=TROUBLE_AFTER)]
    return kinds


def test_a_clock_stepped_back_an_hour_mid_run_still_writes_every_event_in_order(
    store: Store,
) -> None:
    clock = SteppingClock()
    assert record(store, clock, Status.FULL, Status.DOWN, Status.DOWN) == []
    clock.step(-timedelta(hours=1))
    # 5 min of trouble before the step; the gap across the step counts as none (its
    # length is unknowable), then 5, 10, 15 min after it: reported now, not an hour
    # later when the clock has caught up.
    assert record(store, clock, Status.DOWN, Status.DOWN) == []
    assert record(store, clock, Status.DOWN) == ["trouble"]
    assert record(store, clock, Status.FULL, Status.AVAILABLE, Status.AVAILABLE) == [
        "recovered",
        "slot_opened",
    ]
    assert record(store, clock, Status.FULL) == ["slot_gone"]

    events = store.events_after(0)
    assert [e.kind for e in events] == ["trouble", "recovered", "slot_opened", "slot_gone"]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events[-1].payload["seen_at"] is not None

    # status: the last check is the one recorded last, whatever the wall time says
    (row,) = store.calendar_states()
    assert row.status is Status.FULL and row.last_check == clock.now
    assert row.last_available == clock.now - timedelta(minutes=5)
    # history: in the order things happened; nothing open any more
    episodes = store.episodes()
    assert [(e.kind.value, e.is_open) for e in episodes] == [
        ("trouble", False),
        ("availability", False),
    ]
    observed = store.observations()
    assert [o.status for o in observed][-3:] == [Status.AVAILABLE, Status.AVAILABLE, Status.FULL]
    assert observed[-1].checked_at == clock.now
    assert [o.status for o in store.observations(limit=1)] == [Status.FULL]


def test_history_after_a_step_back_shows_no_negative_durations(store: Store) -> None:
    clock = SteppingClock()
    record(store, clock, Status.FULL, Status.AVAILABLE)
    clock.step(-timedelta(hours=1))
    record(store, clock, Status.FULL)
    tz: tzinfo = UTC
    text = history_text(
        store.episodes(), now=clock.now, tz=tz, since=parse_since("all", clock.now, tz)
    )
    (line,) = [line for line in text.splitlines() if "3.2" in line]
    assert "  0 s  " in line, "a span across the step is shown as zero, never negative"
    assert "Slots open (1 episode)" in text


def test_a_clock_stepping_forward_then_back_never_reopens_a_closed_episode(store: Store) -> None:
    clock = SteppingClock()
    assert record(store, clock, Status.AVAILABLE) == ["slot_opened"]
    clock.step(timedelta(days=365))  # an unset board clock, then NTP
    assert record(store, clock, Status.FULL) == ["slot_gone"]
    clock.step(-timedelta(days=365))
    assert record(store, clock, Status.FULL, Status.FULL) == []
    assert record(store, clock, Status.AVAILABLE) == ["slot_opened"]
    assert [e.is_open for e in store.episodes()] == [False, True]


# ── the daemon's timers (the scheduler half of item 4) ─────────────────────────────

WATCH = "Renouvellement"


class ShiftedWall:
    """The real wall clock moved by an offset that a test steps; fed to the daemon."""

    def __init__(self, start: datetime | None = None) -> None:
        self.offset = timedelta() if start is None else start - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def step(self, by: timedelta) -> None:
        self.offset += by


async def wait_until(predicate: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
    """Poll ``predicate`` on the loop (the daemon runs meanwhile) until it gives something."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


def start_daemon(
    sim: SimPrefecture, write_config: Callable[..., Path], state: Path, wall: ShiftedWall, **monitor
) -> Daemon:
    settings = {"jitter": "0s", "state_dir": str(state), **monitor}
    path = write_config(
        [{"name": WATCH, "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}], monitor=settings
    )
    return Daemon(path, load_config(str(path)), clock=wall, step_check_every=0.1)


def checked(state: Path, at_least: int) -> list[datetime] | None:
    """When each check's answer was read (wall time, in the order recorded), once there
    are ``at_least``."""
    with Store.open_readonly(state) as store:
        seen = [o.checked_at for o in store.observations(watch=WATCH)]
    return seen if len(seen) >= at_least else None


def test_a_wall_clock_stepping_back_an_hour_does_not_delay_the_next_check(
    sim: SimPrefecture, write_config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    wall = ShiftedWall()
    daemon = start_daemon(sim, write_config, state, wall, interval="3s")

    async def go() -> list[datetime]:
        running = asyncio.create_task(daemon.run())
        await wait_until(lambda: checked(state, 1), "the first check")
        wall.step(-timedelta(hours=1))  # the board's clock was an hour ahead; NTP syncs
        seen = await wait_until(lambda: checked(state, 3), "two checks after the step")
        daemon.stop()
        assert await running == 0
        return seen

    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        first, second, third = asyncio.run(go())[:3]
    # Real time between checks: the planned 3 s, not 3 s plus the hour the wall lost...
    across = (second - first + timedelta(hours=1)).total_seconds()
    assert 2.5 <= across < 10, across
    # ...and no burst of catch-up checks either: the next one keeps the pace.
    assert 2.5 <= (third - second).total_seconds() < 10
    assert "clock stepped back" in caplog.text


def test_a_wall_clock_stepping_forward_still_checks_at_the_release_instant(
    sim: SimPrefecture, write_config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    paris = ZoneInfo("Europe/Paris")
    release = datetime(2026, 12, 7, 8, 0, tzinfo=paris).astimezone(UTC)  # Monday 08:00
    wall = ShiftedWall(start=release - timedelta(minutes=30))
    daemon = start_daemon(sim, write_config, state, wall, interval="1h", releases=["mon 08:00"])

    def planned_for_release() -> Planned | None:
        with Store.open_readonly(state) as store:
            saved = store.plans.load(WATCH)
        return saved.planned if saved is not None and saved.planned.reason == "release" else None

    async def go() -> list[datetime]:
        running = asyncio.create_task(daemon.run())
        await wait_until(lambda: checked(state, 1), "the first check")
        planned = await wait_until(planned_for_release, "the release check planned")
        assert planned.at == release  # half an hour away on the monotonic clock
        # NTP puts a late clock right: the release is now 2 s away, not 30 min.
        wall.step(release - timedelta(seconds=2) - wall())
        seen = await wait_until(lambda: checked(state, 2), "the release check")
        daemon.stop()
        assert await running == 0
        return seen

    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        seen = asyncio.run(go())
    assert release <= seen[1] < release + timedelta(seconds=5), "at 08:00, not before nor late"
    assert "clock stepped forward" in caplog.text
