"""Timers on the monotonic clock, the wall-clock step detector and the steady clock.

Wall time is a fake that tests step at will; timers run on a real event loop
with delays of a fraction of a second, and tests wait for the callbacks (facts),
with deadlines far shorter than the hour a wall-clock timer would lose.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from monitor.timers import SteadyClock, Step, StepDetector, Timers, delay_until, watch_steps

T0 = datetime(2026, 12, 7, 6, 59, 0, tzinfo=UTC)
DEADLINE = 10.0
"""Seconds a test waits for a callback: far less than the hour a step back would add."""


class Wall:
    """A wall clock at T0, moved and stepped by hand (or frozen)."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self.frozen: datetime | None = None

    def __call__(self) -> datetime:
        if self.frozen is not None:
            return self.frozen
        return T0 + self.offset

    def step(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class Mono:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delay_until_a_passed_instant_is_zero() -> None:
    assert delay_until(T0 + timedelta(seconds=90), T0) == 90.0
    assert delay_until(T0 - timedelta(hours=2), T0) == 0.0


def test_a_timer_armed_before_a_step_back_fires_after_its_delay_not_an_hour_later() -> None:
    wall = Wall()

    async def go() -> tuple[float, float, float, frozenset[str]]:
        loop = asyncio.get_running_loop()
        fired = asyncio.Event()
        timers = Timers(wall)
        armed_at = loop.time()
        delay = timers.arm("w", wall() + timedelta(seconds=0.3), fired.set)
        wall.step(-3600)  # after arming: a board stepping back when NTP syncs
        assert timers.pending() == {"w"}
        await asyncio.wait_for(fired.wait(), timeout=DEADLINE)
        return delay, armed_at, loop.time(), timers.pending()

    delay, armed_at, fired_at, pending = asyncio.run(go())
    assert delay == pytest.approx(0.3, abs=0.01), "the delay is fixed when planned"
    assert fired_at - armed_at >= 0.3, "not before its delay"
    assert pending == frozenset(), "a fired timer is no longer pending"


def test_arming_again_replaces_and_cancel_drops() -> None:
    wall = Wall()

    async def go() -> list[str]:
        calls: list[str] = []
        last = asyncio.Event()
        timers = Timers(wall)
        timers.arm("a", wall() + timedelta(seconds=0.05), lambda: calls.append("a first"))
        timers.arm("a", wall() + timedelta(seconds=0.1), lambda: calls.append("a again"))
        timers.arm("b", wall() + timedelta(seconds=0.05), lambda: calls.append("b"))
        assert timers.cancel("b") and not timers.cancel("b")
        timers.arm("c", wall() + timedelta(seconds=0.2), lambda: calls.append("c"))
        timers.arm("d", wall() + timedelta(seconds=0.1), lambda: calls.append("d"))
        timers.cancel_all()
        timers.arm("a", wall() + timedelta(seconds=0.1), lambda: calls.append("a"))
        timers.arm("end", wall() + timedelta(seconds=0.3), last.set)
        remaining = timers.remaining("end")
        assert remaining is not None and 0.0 < remaining <= 0.3
        assert timers.remaining("b") is None
        await asyncio.wait_for(last.wait(), timeout=DEADLINE)
        return calls

    assert asyncio.run(go()) == ["a"]


def test_the_detector_sees_a_step_back_and_a_step_forward_but_not_drift() -> None:
    wall, mono = Wall(), Mono()
    detector = StepDetector(wall, mono, tolerance=3.0)
    for _ in range(10):  # 2 s of drift per minute, ten minutes: never one step
        mono.now += 60
        wall.step(62)
        assert detector.sample() is None
    mono.now += 10
    wall.step(10 - 3600)
    back = detector.sample()
    assert back is not None and back.backwards
    assert back.seconds == pytest.approx(-3600)
    assert back.wall == wall()
    assert back.describe() == "back by 1 h"
    mono.now += 10
    wall.step(10 + 25 * 60)
    forward = detector.sample()
    assert forward is not None and not forward.backwards
    assert forward.describe() == "forward by 25 min"
    assert detector.sample() is None


def test_the_detector_refuses_a_useless_tolerance() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        StepDetector(Wall(), Mono(), tolerance=0)


def test_watch_steps_reports_each_step_and_survives_a_failing_handler() -> None:
    wall, mono = Wall(), Mono()
    detector = StepDetector(wall, mono)
    seen: list[Step] = []
    two = asyncio.Event()

    def on_step(step: Step) -> None:
        seen.append(step)
        if len(seen) == 1:
            wall.step(-7200)  # the next sample sees a second step
            raise RuntimeError("a bug in the handler")
        two.set()

    async def go() -> None:
        wall.step(-3600)
        watching = asyncio.create_task(watch_steps(detector, on_step, every=0.01))
        await asyncio.wait_for(two.wait(), timeout=DEADLINE)
        watching.cancel()

    asyncio.run(go())
    assert [s.seconds for s in seen] == [-3600, -7200]


def test_the_steady_clock_never_goes_back_and_follows_the_wall_otherwise() -> None:
    wall, mono = Wall(), Mono()
    steady = SteadyClock(wall, mono)
    assert steady() == T0
    wall.step(30)
    mono.now += 30
    assert steady() == T0 + timedelta(seconds=30)
    wall.step(5 - 3600)  # 5 s go by, and the clock steps back an hour
    mono.now += 5
    after_step = steady()
    assert after_step == T0 + timedelta(seconds=35), "moved on by the real 5 s"
    wall.step(60)
    mono.now += 60
    assert steady() == after_step + timedelta(seconds=60), "a retry in 60 s is due in 60 s"
    wall.step(7200)  # forward: followed
    mono.now += 1
    assert steady() == after_step + timedelta(seconds=7260)


def test_the_steady_clock_of_a_frozen_wall_clock_stays_frozen() -> None:
    wall, mono = Wall(), Mono()
    wall.frozen = T0
    steady = SteadyClock(wall, mono)
    mono.now += 100
    assert steady() == T0, "a test's fixed clock keeps meaning what it says"
