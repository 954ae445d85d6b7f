"""The durable state: one embedded SQLite database, ``<state_dir>/state.db``.

The package, one job per module:

* :mod:`~monitor.store.schema` — tables, migrations, ``schema_version``;
* :mod:`~monitor.store.database` — the guarded connection, opening, the write transaction;
* :mod:`~monitor.store.calendars` — observations, calendar state, episodes (``record``);
* :mod:`~monitor.store.outbox` — events, and their deliveries to each target;
* :mod:`~monitor.store.backoff` — each watch's saved failure streak;
* :mod:`~monitor.store.plans` — each watch's planned next check;
* :mod:`~monitor.store.sites` — what each watch's site adapter learnt about its booking;
* :mod:`~monitor.store.retention` — pruning old observations, daily counts, size;
* :mod:`~monitor.store.pages` — files written durably (saved unknown pages);
* :mod:`~monitor.store.writer` — the thread every daemon write runs on, in order;
* :mod:`~monitor.store.keeper` — the daemon's write path: holds writes in memory
  while the disk refuses them (full, read-only, folder removed), then writes them;
* :mod:`~monitor.store.errors` — what can go wrong, as sentences.

:class:`Store` composes them; ``from monitor.store import Store`` is all most
callers need. Writes never call back into caller code from inside a
transaction: callers read plain data, decide, and hand plain data back.

Guarantees: a committed write has been fsynced (WAL, ``synchronous=FULL``);
observations are only appended (and pruned after ``[monitor] keep``, their
daily counts kept; episodes, events and deliveries never are); no event is
written twice; each event is planned for delivery exactly once; an unknown page
is saved before the event naming it is committed. Secrets never come here: an
observation holds its booking URL only, never a notification URL; targets are
stored as a hash and a masked form.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from monitor.events import Event, EventDraft
from monitor.observation import Observation, Status
from monitor.store.backoff import Backoffs
from monitor.store.calendars import Calendars, CalendarStateRow, EpisodeRow, ObservationRow
from monitor.store.database import DB_NAME, ConnectionSettings, Database
from monitor.store.errors import StateError, StoreError
from monitor.store.outbox import Backlog, DeliveryPlan, DeliveryRow, Outbox, PlannedDelivery
from monitor.store.pages import PAGES_DIR
from monitor.store.plans import Plans, SavedPlan
from monitor.store.retention import DatabaseSize, Retention
from monitor.store.schema import schema_version
from monitor.store.sites import SavedSite, Sites
from monitor.store.writer import Writer
from monitor.transitions import CalendarState, EpisodeKind

__all__ = [
    "DB_NAME",
    "PAGES_DIR",
    "Backlog",
    "Backoffs",
    "CalendarStateRow",
    "ConnectionSettings",
    "DatabaseSize",
    "DeliveryPlan",
    "DeliveryRow",
    "EpisodeRow",
    "ObservationRow",
    "PlannedDelivery",
    "Plans",
    "Retention",
    "SavedPlan",
    "SavedSite",
    "Sites",
    "StateError",
    "Store",
    "StoreError",
    "Writer",
    "schema_version",
]

T = TypeVar("T")


class Store:
    """The state database. Open with :meth:`open` (read-write, migrates) or
    :meth:`open_readonly`; close with :meth:`close` or a ``with`` block.

    ``calendars``, ``outbox``, ``backoffs``, ``plans``, ``sites`` and ``retention`` are the
    aggregates; the methods
    below are the everyday surface, each handled by one of them.
    """

    def __init__(self, db: Database) -> None:
        """Use :meth:`open` or :meth:`open_readonly` instead."""
        self._db = db
        self.calendars = Calendars(db)
        self.outbox = Outbox(db)
        self.backoffs = Backoffs(db)
        self.writer = Writer()
        """The thread :meth:`write` runs writes on (started on first use)."""
        self.plans = Plans(db)
        self.retention = Retention(db)
        self.sites = Sites(db)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open (creating it if needed) the database of a state folder, or a ``.db`` file.

        See :meth:`monitor.store.database.Database.open`: a :class:`StateError` (exit 2)
        for what only the user can fix, a plain :class:`StoreError` for what may pass.
        """
        return cls(Database.open(path))

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> Store:
        """Open an existing database for reading only, e.g. for ``status``; works while
        the daemon writes."""
        return cls(Database.open_readonly(path))

    # ---- life cycle

    @property
    def path(self) -> Path:
        """The database file."""
        return self._db.path

    @property
    def state_dir(self) -> Path:
        """The folder of the database file."""
        return self._db.path.parent

    @property
    def pages_dir(self) -> Path:
        """Where unknown pages are saved (``layout_changed`` payloads name files in it)."""
        return self._db.path.parent / PAGES_DIR

    @property
    def readonly(self) -> bool:
        """True when opened with :meth:`open_readonly`."""
        return self._db.readonly

    def schema_version(self) -> int:
        """The database's ``user_version``."""
        return self._db.scalar("PRAGMA user_version")

    def connection_settings(self) -> ConnectionSettings:
        """The durability settings of the connection, as SQLite reports them."""
        return self._db.settings()

    def close(self) -> None:
        """Finish the writes submitted to :meth:`write`, then close the connections
        (idempotent). The last one to close checkpoints the WAL."""
        self.writer.close()
        self._db.close()

    async def write(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a write (``store.record``, ``store.delivery_done``…) on the writer thread,
        after every write submitted before it, and await its result: the asyncio loop
        is never held by an fsync. Raises what ``fn`` raises."""
        return await self.writer.run(fn, *args, **kwargs)

    async def record_async(self, obs: Observation, *, trouble_after: float) -> list[Event]:
        """:meth:`record`, on the writer thread (see :meth:`write`)."""
        return await self.write(self.record, obs, trouble_after=trouble_after)

    def moved(self) -> bool:
        """True when the database file is gone or replaced since it was opened."""
        return self._db.moved()

    def reopen(self) -> None:
        """Open the database file again (re-creating the folder and an empty database if
        they were removed). Raises :class:`StoreError` like :meth:`open`."""
        self._db.reopen()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- calendars (see monitor.store.calendars)

    def record(self, obs: Observation, *, trouble_after: float) -> list[Event]:
        """Record one observation and everything it implies, in one transaction."""
        return self.calendars.record(obs, trouble_after=trouble_after)

    def set_next_check(
        self, watch: str, calendar: str | None, at: datetime | None, reason: str | None
    ) -> int:
        """Note when the daemon will next check a calendar, and why (for ``status``)."""
        return self.calendars.set_next_check(watch, calendar, at, reason)

    def calendar_states(self) -> list[CalendarStateRow]:
        """Every calendar the store knows, by watch then calendar."""
        return self.calendars.calendar_states()

    def calendar_state(self, watch: str, calendar: str) -> CalendarState | None:
        """The current state of one calendar (``None``: never checked)."""
        return self.calendars.calendar_state(watch, calendar)

    def episode(self, episode_id: int) -> EpisodeRow | None:
        """One episode by id, or ``None``."""
        return self.calendars.episode(episode_id)

    def episodes(
        self,
        since: datetime | None = None,
        watch: str | None = None,
        calendar: str | None = None,
        kind: EpisodeKind | str | None = None,
    ) -> list[EpisodeRow]:
        """Episodes open at some time from ``since`` on, oldest first."""
        return self.calendars.episodes(since, watch, calendar, kind)

    def observations(
        self,
        since: datetime | None = None,
        watch: str | None = None,
        calendar: str | None = None,
        status: Status | None = None,
        limit: int | None = None,
    ) -> list[ObservationRow]:
        """Observations checked at or after ``since``, oldest first (``limit``: the latest)."""
        return self.calendars.observations(since, watch, calendar, status, limit)

    def counts_by_status(
        self, since: datetime | None = None, *, watch: str | None = None
    ) -> dict[tuple[str, str], dict[Status, int]]:
        """How many checks of each status each calendar had since ``since``."""
        return self.calendars.counts_by_status(since, watch=watch)

    # ---- outbox (see monitor.store.outbox)

    def add_event(self, draft: EventDraft) -> Event | None:
        """Put an event no observation caused (the heartbeat) in the outbox."""
        return self.outbox.add_event(draft)

    def event(self, event_id: int) -> Event | None:
        """The event with this id, or ``None``."""
        return self.outbox.event(event_id)

    def events_after(self, event_id: int, limit: int = 100) -> list[Event]:
        """Up to ``limit`` events with an id greater than ``event_id``, oldest first."""
        return self.outbox.events_after(event_id, limit)

    def last_event_id(self) -> int:
        """The id of the newest event, 0 if there is none."""
        return self.outbox.last_event_id()

    def backlog(self, window: timedelta, limit: int = 500) -> Backlog:
        """Events not yet handed to delivery, with what routing them needs."""
        return self.outbox.backlog(window, limit)

    def plan_deliveries(self, plan: DeliveryPlan, now: datetime) -> int:
        """Write a plan's deliveries and move the cursor, in one transaction."""
        return self.outbox.plan_deliveries(plan, now)

    def due_deliveries(self, now: datetime, limit: int = 50) -> list[DeliveryRow]:
        """Pending deliveries whose next attempt is due, in order per target."""
        return self.outbox.due_deliveries(now, limit)

    def deliveries(self, event_id: int | None = None) -> list[DeliveryRow]:
        """Every delivery (of one event), in event then target order."""
        return self.outbox.deliveries(event_id)

    def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are ``pending``, ``sent`` and ``failed``."""
        return self.outbox.delivery_counts()

    def delivery_done(
        self, event_id: int, target: str, *, sent: bool, at: datetime, error: str | None = None
    ) -> None:
        """Mark a delivery sent, or failed for good."""
        self.outbox.delivery_done(event_id, target, sent=sent, at=at, error=error)

    def delivery_retry(
        self, event_id: int, target: str, *, next_attempt: datetime, error: str
    ) -> None:
        """Count a failed attempt and plan the next one."""
        self.outbox.delivery_retry(event_id, target, next_attempt=next_attempt, error=error)

    def next_sendable_at(self, busy: Iterable[str] = ()) -> datetime | None:
        """When the worker next has something it can send (``None``: nothing)."""
        return self.outbox.next_sendable_at(busy)
