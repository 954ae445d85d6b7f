"""The daemon's write path: every write on the writer thread, and held in memory when the
disk refuses it.

A full disk (``SQLITE_FULL``), a file system remounted read-only, or a state
folder removed while the daemon runs must not stop the monitoring. When a
write fails, the :class:`Keeper`:

* keeps checking: the write that failed, and every write after it, wait in
  memory, **in order**; an observation's events are derived in memory from
  the calendar's current state (kept in memory too, as the database would
  have it), so the alerts are the ones the database will hold;
* says so once: ONE log line naming the state folder, what went wrong and the
  fix, and one call of ``on_unwritable`` (the daemon sends a ``trouble`` alert
  from memory: the outbox may be unwritable too);
* tries again with a growing delay (2 s doubling to 5 min), re-opening the
  database when its file is gone (folder removed: it is created again, with an
  empty database), and when a try succeeds writes everything held, in order,
  each observation with its events in one transaction as always. Replaying the
  observations through :meth:`Store.record` gives the same events (the same
  dedup keys): nothing is written twice.

Memory is bounded (:data:`MAX_HELD` writes). At the bound, the oldest held
observation that changed nothing worth telling (no event) is dropped, and the
log says so once: events, and the observations that caused them, are kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from monitor.events import Event
from monitor.observation import Observation
from monitor.store import Store, StoreError
from monitor.transitions import CalendarState, advance

__all__ = ["MAX_HELD", "Keeper"]

log = logging.getLogger("monitor.store")

T = TypeVar("T")

MAX_HELD = 20_000
"""Writes held in memory at most (about 70 days of 10 calendars checked every 5 min)."""
FIRST_RETRY = 2.0
MAX_RETRY = 300.0


@dataclass(frozen=True, slots=True)
class _Held:
    """A write that could not be done yet."""

    what: str
    apply: Callable[[Store], object]
    droppable: bool
    """An observation that caused no event, or a note for ``status``: dropped first at the bound."""
    key: object = None
    """Writes with the same key replace each other (only the latest matters)."""


class Keeper:
    """Runs the daemon's writes on the store's writer thread; holds them when they fail.

    ``on_unwritable`` gets the one-line explanation when writes start failing (once
    per outage); ``on_written`` when everything held has been written.
    """

    def __init__(
        self,
        store: Store,
        *,
        on_unwritable: Callable[[str, str], None] = lambda _line, _reason: None,
        on_written: Callable[[int], None] = lambda _count: None,
        max_held: int = MAX_HELD,
    ) -> None:
        self.store = store
        self.on_unwritable = on_unwritable
        self.on_written = on_written
        self.max_held = max_held
        self._held: list[_Held] = []
        self._states: dict[tuple[str, str], CalendarState | None] = {}
        self._dropped = 0
        self._failing = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.outages = 0
        """How many times writes started failing (each told once)."""

    @property
    def holding(self) -> int:
        """How many writes wait in memory (0: the database is up to date)."""
        return len(self._held)

    @property
    def dropped(self) -> int:
        """How many held observations were dropped at the memory bound."""
        return self._dropped

    # ---- writes

    async def record(self, obs: Observation, *, trouble_after: float) -> list[Event]:
        """Record an observation and return its events (without ids when held in memory)."""
        if not self._held:
            try:
                return await self.store.record_async(obs, trouble_after=trouble_after)
            except StoreError as exc:
                self._failed(exc)
        return self._record_in_memory(obs, trouble_after)

    async def write(
        self, what: str, fn: Callable[[Store], T], *, key: object = None, droppable: bool = False
    ) -> T | None:
        """Run ``fn(store)`` on the writer thread; ``None`` when it is held for later.

        ``what`` names it in the log; ``key``: a later write with the same key replaces
        this one while held (a backoff, a next check time).
        """
        if not self._held:
            try:
                return await self.store.write(fn, self.store)
            except StoreError as exc:
                self._failed(exc)
        self._hold(_Held(what, fn, droppable, key))
        return None

    def defer(
        self, what: str, fn: Callable[[Store], Any], *, key: object = None, droppable: bool = False
    ) -> None:
        """:meth:`write` from code that cannot wait (still in order with the other writes)."""
        if not self._held:
            future = self.store.writer.submit(fn, self.store)
            if not future.done():
                task = asyncio.ensure_future(self._settle(asyncio.wrap_future(future), what, fn))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
            exc = future.exception()
            if not isinstance(exc, StoreError):
                future.result()  # a bug: raise it here
                return
            self._failed(exc)
        self._hold(_Held(what, fn, droppable, key))

    async def _settle(
        self, future: asyncio.Future[Any], what: str, fn: Callable[[Store], Any]
    ) -> None:
        try:
            await future
        except StoreError as exc:
            self._failed(exc)
            # Submitted before the failure was known: it goes first among the held ones.
            self._held.insert(0, _Held(what, fn, True))
        except Exception:
            log.exception("could not %s", what)

    # ---- holding

    def _record_in_memory(self, obs: Observation, trouble_after: float) -> list[Event]:
        key = (obs.watch, obs.calendar)
        if key not in self._states:
            try:  # the database as it was before the first held write of this calendar
                self._states[key] = self.store.calendar_state(obs.watch, obs.calendar)
            except StoreError:
                self._states[key] = None
        transition = advance(self._states[key], obs, trouble_after=trouble_after)
        events = [] if transition.stale else [d.to_event() for d in transition.events]
        if not transition.stale:
            self._states[key] = transition.state

        def apply(store: Store) -> object:
            return store.calendars.record(obs, trouble_after=trouble_after)

        self._hold(_Held(f"record {obs.watch} {obs.calendar}".strip(), apply, not events))
        return events

    def _hold(self, held: _Held) -> None:
        if held.key is not None:
            self._held = [h for h in self._held if h.key != held.key]
        self._held.append(held)
        if len(self._held) > self.max_held:
            victim = next((h for h in self._held if h.droppable), None)
            if victim is None:
                return  # only events left: they are kept, whatever the memory
            self._held.remove(victim)
            self._dropped += 1
            if self._dropped == 1:
                log.warning(
                    "%d writes held in memory for %s: from now on the oldest observations "
                    "that changed nothing are dropped (events are kept)",
                    self.max_held,
                    self.store.state_dir,
                )

    def _failed(self, exc: StoreError) -> None:
        if self._failing.is_set():
            return
        self._failing.set()
        self.outages += 1
        line = unwritable_line(self.store, exc, self.max_held)
        log.error("%s", line)
        self.on_unwritable(line, str(exc.__cause__ or exc))

    # ---- getting back

    async def run(self) -> None:
        """Until cancelled: while writes are held, try to write them, backing off."""
        while True:
            await self._failing.wait()
            delay = FIRST_RETRY
            while self._failing.is_set():
                await asyncio.sleep(delay)
                if await self.flush():
                    break
                delay = min(MAX_RETRY, delay * 2)

    async def flush(self) -> bool:
        """Try to write everything held, in order; True when nothing is held any more."""
        if not self._held:
            self._recovered(0)
            return True
        written = 0
        try:
            if self.store.moved():
                await self.store.write(self.store.reopen)
                log.warning("the state database %s was re-created", self.store.path)
            while self._held:
                held = self._held[0]
                await self.store.write(held.apply, self.store)
                self._held.pop(0)
                written += 1
        except StoreError as exc:
            log.debug("still cannot write the state database (%d written): %s", written, exc)
            return False
        self._recovered(written + self._dropped)
        return True

    def _recovered(self, count: int) -> None:
        self._states.clear()
        if self._failing.is_set():
            self._failing.clear()
            log.warning(
                "the state database %s is writable again: wrote the %d write(s) held in memory%s",
                self.store.path,
                count - self._dropped,
                f" ({self._dropped} unremarkable observations were dropped)"
                if self._dropped
                else "",
            )
            self._dropped = 0
            self.on_written(count)


def unwritable_line(store: Store, exc: StoreError, max_held: int) -> str:
    """The one line that tells the person what is wrong with the state folder and the fix."""
    folder = store.state_dir
    reason = str(exc.__cause__ or exc)
    lowered = reason.lower()
    if store.moved() or not folder.is_dir():
        fix = (
            f"the folder {folder} (or its disk) is gone: remount the disk or recreate the "
            "folder; rdv-monitor re-creates it with an empty database when it can"
        )
    elif "full" in lowered or "space" in lowered:
        fix = f"free some space on the disk of {folder}"
    elif "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        fix = (
            f"make {folder} writable again by the user that runs rdv-monitor "
            "(remount the disk read-write, fix owner or permissions)"
        )
    else:
        fix = f"check the disk of {folder} (dmesg may say more)"
    return (
        f"Cannot write the state database in {folder} ({reason}): {fix}. rdv-monitor keeps "
        f"checking and notifying, holds up to {max_held} writes in memory, and writes them "
        "in order as soon as the disk takes them again."
    )
