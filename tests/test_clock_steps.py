"""A wall clock that steps back (issue 11 item 4): the database's order rules, not wall time.

A board without a real-time clock starts at some past time and steps when NTP
syncs; a clock set an hour ahead steps back an hour. Observations recorded after
the step must still be the newest ones: events are written, in order, and
``status``/``history`` show what happened last.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import pytest

from monitor.observation import Observation, Status
from monitor.report import history_text, parse_since
from monitor.store import Store

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
