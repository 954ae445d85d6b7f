"""Timers that a wall-clock step cannot delay, and the watch that notices such steps.

The policy (:mod:`monitor.schedule`) plans runs as wall-clock instants, because
a release instant ("Monday 08:00") is a wall-clock time. Waiting for such an
instant by comparing it with the wall clock, as APScheduler does, goes wrong
when the wall clock steps: a board without a real-time clock that boots an
hour ahead and then steps back when NTP syncs would wait an extra hour for a
check planned before the step. So a planned instant is turned into a delay at
the moment it is planned and waited for on the event loop's *monotonic*
clock (:class:`Timers`), which no step moves.

Monotonic time is blind to the wall clock on purpose, so a step *forward*
(NTP setting a late clock right) could make a delay overshoot the release
instant it was meant to hit. :class:`StepDetector` compares the progress of
the two clocks; :func:`watch_steps` samples it every few seconds and tells the
daemon, which plans its watches again from the corrected wall time.

:class:`SteadyClock` is a wall clock that never goes back, for instants kept
in the database that have no wall-clock meaning (notification retries).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.durations import span

__all__ = [
    "STEP_CHECK_EVERY",
    "STEP_TOLERANCE",
    "SteadyClock",
    "Step",
    "StepDetector",
    "Timers",
    "delay_until",
    "watch_steps",
]

log = logging.getLogger("monitor.timers")

STEP_TOLERANCE = 3.0
"""Seconds by which the wall clock may drift from monotonic time between two samples
before it counts as a step (NTP slewing moves it by milliseconds a minute)."""
STEP_CHECK_EVERY = 10.0
"""Seconds between two samples: how late a forward step can be noticed at worst."""

WallClock = Callable[[], datetime]
Monotonic = Callable[[], float]


def delay_until(at: datetime, now: datetime) -> float:
    """Seconds from ``now`` to ``at``; 0 for an instant already passed (one run, now)."""
    return max(0.0, (at - now).total_seconds())


class Timers:
    """At most one pending one-shot callback per key, on the loop's monotonic clock.

    :meth:`arm` converts a planned wall-clock instant into a delay using the
    wall clock *at that moment*, then waits that delay with
    :meth:`asyncio.loop.call_later`; arming a key again replaces its pending
    callback, so a key can never fire twice for one plan.
    """

    def __init__(self, wall: WallClock, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.wall = wall
        self._loop = loop
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def arm(self, key: str, at: datetime, callback: Callable[[], None]) -> float:
        """Call ``callback`` once at wall instant ``at`` (now if passed); returns the delay."""
        self.cancel(key)
        delay = delay_until(at, self.wall())
        loop = self._loop or asyncio.get_running_loop()
        self._handles[key] = loop.call_later(delay, self._fire, key, callback)
        return delay

    def _fire(self, key: str, callback: Callable[[], None]) -> None:
        self._handles.pop(key, None)
        callback()

    def cancel(self, key: str) -> bool:
        """Drop ``key``'s pending callback; returns whether there was one."""
        handle = self._handles.pop(key, None)
        if handle is None:
            return False
        handle.cancel()
        return True

    def cancel_all(self) -> None:
        """Drop every pending callback (the daemon is stopping)."""
        for key in list(self._handles):
            self.cancel(key)

    def pending(self) -> frozenset[str]:
        """The keys with a callback still to come."""
        return frozenset(self._handles)

    def remaining(self, key: str) -> float | None:
        """Monotonic seconds before ``key`` fires, or None if nothing is pending."""
        handle = self._handles.get(key)
        if handle is None:
            return None
        loop = self._loop or asyncio.get_running_loop()
        return max(0.0, handle.when() - loop.time())


@dataclass(frozen=True, slots=True)
class Step:
    """A wall-clock step: ``seconds`` the wall clock moved beyond (positive) or short of
    (negative) the monotonic time elapsed; ``wall`` is the wall time just after it.

    A suspended machine looks like a step forward (monotonic time stops while
    suspended), which is what it is for the plan: that much wall time went by.
    """

    seconds: float
    wall: datetime

    @property
    def backwards(self) -> bool:
        return self.seconds < 0

    def describe(self) -> str:
        way = "back" if self.backwards else "forward"
        return f"{way} by {span(abs(self.seconds))}"


class StepDetector:
    """Notices wall-clock steps by comparing wall and monotonic progress between samples.

    Each :meth:`sample` is compared with the previous one only, so slow drift
    never adds up to a false step.
    """

    def __init__(
        self,
        wall: WallClock,
        monotonic: Monotonic = time.monotonic,
        *,
        tolerance: float = STEP_TOLERANCE,
    ) -> None:
        if not (math.isfinite(tolerance) and tolerance > 0):
            raise ValueError(f"tolerance must be a positive number of seconds, got {tolerance}")
        self.wall = wall
        self.monotonic = monotonic
        self.tolerance = tolerance
        self._last = (wall(), monotonic())

    def sample(self) -> Step | None:
        """The step since the previous sample, or None if the clocks kept together."""
        wall, mono = self.wall(), self.monotonic()
        last_wall, last_mono = self._last
        self._last = (wall, mono)
        skew = (wall - last_wall).total_seconds() - (mono - last_mono)
        return Step(skew, wall) if abs(skew) > self.tolerance else None


async def watch_steps(
    detector: StepDetector,
    on_step: Callable[[Step], Awaitable[None] | None],
    *,
    every: float = STEP_CHECK_EVERY,
) -> None:
    """Sample ``detector`` every ``every`` seconds until cancelled; call ``on_step`` on a step.

    A failing ``on_step`` is logged and the watch goes on: a bug there must not
    leave the next steps unnoticed.
    """
    while True:
        await asyncio.sleep(every)
        step = detector.sample()
        if step is None:
            continue
        try:
            result = on_step(step)
            if result is not None:
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handling a wall-clock step %s failed", step.describe())


class SteadyClock:
    """A wall clock that never goes back: it moves on as the wall clock does, except
    across a step back, where it moves on by the monotonic time elapsed instead.

    For instants that only measure waiting (a notification retry "in 60 s"): read
    from a clock that stepped back an hour, they would wait an extra hour. After
    such a step it stays ahead of the wall clock by the step for the life of the
    process, which only matters to a reader of the raw instants.
    """

    def __init__(self, wall: WallClock, monotonic: Monotonic = time.monotonic) -> None:
        self.wall = wall
        self.monotonic = monotonic
        self._wall = self._steady = wall()
        self._mono = monotonic()

    def __call__(self) -> datetime:
        wall, mono = self.wall(), self.monotonic()
        moved = (wall - self._wall).total_seconds()
        if moved < 0:  # a step back: the real time gone by is the monotonic one
            moved = max(0.0, mono - self._mono)
        self._wall, self._mono = wall, mono
        self._steady += timedelta(seconds=moved)
        return self._steady
