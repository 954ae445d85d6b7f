"""Site adapters' knowledge kept across processes: recalled at an adapter's birth, saved on change.

What an adapter learnt about its booking (step 1's form, the calendars, how
long the site keeps a session, the session's cookies) would otherwise die
with the process, and every daemon restart or ``rdv-monitor check`` run would
walk the whole booking again (issue 12). The :class:`~monitor.check.Checker`
calls :meth:`SiteMemory.recall` when it creates a watch's adapter, and
:meth:`SiteMemory.save` after each run of the watch and when it closes. A
value is written only when it changed (the time of the last contact alone is
written at close only), so a warm daemon does not write at every check.

The daemon writes through its :class:`~monitor.store.keeper.Keeper` (off the
event loop; held in memory if the disk refuses, and droppable: losing it only
costs a walk). ``check`` writes directly, in short transactions, beside a
running daemon; it then leaves the site session alone (see :func:`daemon_running`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.sites.base import Clock, Memory, SiteAdapter, utc_now
from monitor.store import SavedSite, Store, StoreError

if TYPE_CHECKING:
    from monitor.store.keeper import Keeper

__all__ = ["SiteMemory", "daemon_running", "memory_for_check"]

log = logging.getLogger(__name__)

Write = Callable[[str, Callable[[Store], object], object], Awaitable[object]]
"""Runs a write of the store (what it does, the write, a key replacing held ones)."""


class SiteMemory:
    """Recalls and saves what each watch's adapter learnt, in the state database."""

    def __init__(
        self,
        store: Store,
        write: Write | None = None,
        *,
        session: bool = True,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self._write = write
        self.session = session
        """Whether recalled cookies are used (False beside a daemon that uses them)."""
        self.clock = clock
        self._saved: dict[tuple[str, str], Memory] = {}

    @classmethod
    def through(cls, keeper: Keeper, *, clock: Clock = utc_now) -> SiteMemory:
        """The daemon's: writes go through ``keeper``, in order with its other writes."""

        async def write(what: str, fn: Callable[[Store], object], key: object) -> object:
            return await keeper.write(what, fn, key=key, droppable=True)

        return cls(keeper.store, write, clock=clock)

    def recall(self, watch: str, adapter: SiteAdapter) -> None:
        """Hand ``adapter`` what the last adapter of ``watch`` saved, if anything."""
        try:
            saved = self.store.sites.load(watch, adapter.url, adapter.kind)
        except StoreError as exc:
            log.debug("%s: could not read what was learnt about %s: %s", watch, adapter.url, exc)
            return
        if saved is None:
            return
        memory = Memory(saved.value, saved.last_contact)
        if adapter.recall(memory, session=self.session):
            self._saved[(watch, adapter.url)] = memory

    async def save(self, watch: str, adapter: SiteAdapter, *, closing: bool = False) -> None:
        """Save what ``adapter`` learnt if it changed (``closing``: its last contact too)."""
        memory = adapter.learnt()
        key = (watch, adapter.url)
        before = self._saved.get(key)
        if memory is None or memory == before:
            return
        if before is not None and memory.value == before.value and not closing:
            return
        self._saved[key] = memory
        saved = SavedSite(memory.value, memory.last_contact)
        now = self.clock()

        def apply(store: Store) -> None:
            store.sites.save(watch, adapter.url, adapter.kind, saved, now)

        what = "save what was learnt about a booking"
        try:
            if self._write is not None:
                await self._write(what, apply, ("sites", key))
            else:
                apply(self.store)
        except StoreError as exc:
            # A hint lost: the next process walks the booking once more. Never worth a failure.
            log.debug("%s: could not %s: %s", watch, what, exc)


def daemon_running(state_dir: Path) -> bool:
    """True if the process that last held the state folder's lock still runs.

    Checked without taking the lock (that would make a daemon starting at that
    moment fail). A recycled PID only makes ``check`` leave the session alone.
    """
    from monitor.lock import lock_holder

    pid = lock_holder(state_dir)
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def memory_for_check(
    state_dir: Path, *, clock: Callable[[], datetime] = utc_now
) -> Iterator[SiteMemory | None]:
    """``check``'s memory: the state database if it exists (never created here), else None.

    Beside a running daemon, the recalled site session is left out: two
    processes in one site session would each read answers to the other's choices.
    """
    from monitor.store.database import db_path

    if not db_path(state_dir).exists():
        yield None
        return
    try:
        store = Store.open(state_dir)
    except StoreError as exc:  # a newer schema, a locked or unreadable file: check without
        log.debug("not using the state database %s: %s", state_dir, exc)
        yield None
        return
    try:
        yield SiteMemory(store, session=not daemon_running(state_dir), clock=clock)
    finally:
        store.close()
