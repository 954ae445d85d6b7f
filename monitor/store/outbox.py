"""The outbox: events to tell, and the queue of their deliveries to each target.

* **No event is written twice.** ``events.dedup_key`` is UNIQUE and derived
  from the event's episode; events are inserted with ``ON CONFLICT (dedup_key)
  DO NOTHING`` and only those actually inserted are returned.
* **Each event is planned exactly once.** ``meta.delivery_cursor`` is the id of
  the last event handed to delivery. Planning is two steps with nothing but
  data between them: :meth:`Outbox.backlog` reads the events after the cursor
  (and what routing needs to know about earlier ones), the caller decides the
  targets (a pure function, outside any transaction), and
  :meth:`Outbox.plan_deliveries` writes the deliveries and moves the cursor in
  ONE transaction — only if the cursor is still where the backlog found it.
  After ``kill -9`` either the whole plan is there or none of it.
* **Each target gets its messages in order**: a delivery waits behind an
  earlier pending one to the same target.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import monitor.store.codec as codec
from monitor.events import Event, EventDraft
from monitor.store.database import Database

__all__ = [
    "Backlog",
    "DeliveryPlan",
    "DeliveryRow",
    "Outbox",
    "PlannedDelivery",
    "insert_events",
]

log = logging.getLogger("monitor.store")

_CURSOR = "delivery_cursor"


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One event's delivery to one notification target."""

    event_id: int
    target: str
    target_masked: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt: datetime
    done_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Backlog:
    """Events not yet handed to delivery, oldest first, and what routing them needs.

    ``cursor`` is the delivery cursor they follow (give it back in the
    :class:`DeliveryPlan`). ``last_routed`` maps ``(kind, watch)`` to the
    creation time of the newest earlier event of that kind and watch that went
    to at least one target, for events created within the window asked for
    before the first one (the grouping of site-wide trouble reads it).
    """

    cursor: int
    events: tuple[Event, ...]
    last_routed: Mapping[tuple[str, str], datetime] = field(default_factory=dict)

    @property
    def through(self) -> int:
        """The id of the last event of the backlog (the cursor once it is planned)."""
        last = self.events[-1].id if self.events else None
        return last if last is not None else self.cursor


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """One event to send to one target (``target`` an id, ``target_masked`` for humans)."""

    event_id: int
    target: str
    target_masked: str


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    """The deliveries decided for the events after ``cursor`` up to ``through``.

    An event of that range with no delivery goes to nobody (its kind is not
    sent, or it was grouped with an earlier one).
    """

    cursor: int
    through: int
    deliveries: tuple[PlannedDelivery, ...] = ()


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        kind=row["kind"],
        watch=row["watch"],
        calendar=row["calendar"],
        created_at=codec.req_dt(row["created_at"]),
        episode_id=row["episode_id"],
        dedup_key=row["dedup_key"],
        payload=json.loads(row["payload"]),
    )


def _delivery(row: sqlite3.Row) -> DeliveryRow:
    return DeliveryRow(
        event_id=row["event_id"],
        target=row["target"],
        target_masked=row["target_masked"],
        state=row["state"],
        attempts=row["attempts"],
        created_at=codec.req_dt(row["created_at"]),
        next_attempt=codec.req_dt(row["next_attempt"]),
        done_at=codec.dt(row["done_at"]),
        last_error=row["last_error"],
    )


def insert_events(
    db: sqlite3.Connection, drafts: Sequence[EventDraft], ids: Mapping[str, int | None]
) -> list[Event]:
    """Insert event drafts into the outbox inside the caller's transaction, skipping any
    whose dedup_key exists; ``ids`` gives the episode id of each episode kind."""
    inserted: list[Event] = []
    for draft in drafts:
        episode_id = ids.get(draft.episode) if draft.episode else None
        event = draft.to_event(episode_id=episode_id)
        cursor = db.execute(
            "INSERT INTO events (kind, watch, calendar, created_at, episode_id, dedup_key, "
            "payload) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING",
            (
                event.kind,
                event.watch,
                event.calendar,
                codec.ts(event.created_at),
                episode_id,
                event.dedup_key,
                event.payload_json(),
            ),
        )
        if cursor.rowcount == 1:
            inserted.append(replace(event, id=cursor.lastrowid))
        else:
            log.info("event %s already in the outbox; not written again", draft.dedup_key)
    return inserted


def _cursor(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT value FROM meta WHERE key = ?", (_CURSOR,)).fetchone()[0])


class Outbox:
    """Events and their deliveries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # ---- events

    def add_event(self, draft: EventDraft) -> Event | None:
        """Put an event that no observation caused (the daily heartbeat) in the outbox.

        Returns it with its id, or ``None`` when its dedup key is already there.
        """
        with self._db.transaction("write an event") as db:
            inserted = insert_events(db, [draft], {})
        return inserted[0] if inserted else None

    def event(self, event_id: int) -> Event | None:
        """The event with this id, or ``None``."""
        row = self._db.one("SELECT * FROM events WHERE id = ?", (event_id,))
        return _event(row) if row is not None else None

    def events_after(self, event_id: int, limit: int = 100) -> list[Event]:
        """Up to ``limit`` events with an id greater than ``event_id``, oldest first.

        Ids are never reused (AUTOINCREMENT), so a reader that remembers the last
        id it handled never misses nor repeats one.
        """
        rows = self._db.all(
            "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (event_id, limit)
        )
        return [_event(r) for r in rows]

    def last_event_id(self) -> int:
        """The id of the newest event, 0 if there is none."""
        return self._db.scalar("SELECT coalesce(max(id), 0) FROM events")

    # ---- planning

    def backlog(self, window: timedelta, limit: int = 500) -> Backlog:
        """Up to ``limit`` events not yet handed to delivery, and for each ``(kind, watch)``
        the newest routed event created within ``window`` before the first of them.

        One consistent read: the cursor, the events and the routing facts belong together.
        """
        with self._db.guard("read the notifications to plan") as db:
            db.execute("BEGIN")  # a read transaction: one snapshot for the three queries
            try:
                cursor = _cursor(db)
                rows = db.execute(
                    "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (cursor, limit)
                ).fetchall()
                events = tuple(_event(r) for r in rows)
                routed: dict[tuple[str, str], datetime] = {}
                if events:
                    since = min(e.created_at for e in events) - window
                    for r in db.execute(
                        "SELECT e.kind, e.watch, max(e.created_at) AS at FROM events AS e "
                        "WHERE e.id <= ? AND e.created_at >= ? AND EXISTS "
                        "(SELECT 1 FROM deliveries AS d WHERE d.event_id = e.id) "
                        "GROUP BY e.kind, e.watch",
                        (cursor, codec.ts(since)),
                    ):
                        routed[(r["kind"], r["watch"])] = codec.req_dt(r["at"])
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")
        return Backlog(cursor=cursor, events=events, last_routed=routed)

    def plan_deliveries(self, plan: DeliveryPlan, now: datetime) -> int:
        """Write a plan's deliveries (pending, due ``now``) and move the cursor to
        ``plan.through``, in one transaction.

        Nothing is written when the cursor is no longer ``plan.cursor`` (another
        planner got there first): the caller reads the backlog again. Returns the
        number of deliveries created.
        """
        created = 0
        with self._db.transaction("plan notifications") as db:
            current = _cursor(db)
            if current != plan.cursor:
                log.warning(
                    "the notification cursor moved (%d, expected %d); planning again",
                    current,
                    plan.cursor,
                )
                return 0
            for d in plan.deliveries:
                if not plan.cursor < d.event_id <= plan.through:
                    raise ValueError(
                        f"delivery of event {d.event_id} outside the plan's events "
                        f"({plan.cursor}, {plan.through}]"
                    )
                created += db.execute(
                    "INSERT INTO deliveries (event_id, target, target_masked, state, "
                    "created_at, next_attempt) VALUES (?, ?, ?, 'pending', ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (d.event_id, d.target, d.target_masked, codec.ts(now), codec.ts(now)),
                ).rowcount
            db.execute("UPDATE meta SET value = ? WHERE key = ?", (str(plan.through), _CURSOR))
        return created

    # ---- the delivery queue

    def due_deliveries(self, now: datetime, limit: int = 50) -> list[DeliveryRow]:
        """Pending deliveries whose next attempt is due, oldest event first.

        A delivery waiting behind an earlier one to the same target that is
        not due yet (a retry) waits too: each target gets its messages in order.
        """
        rows = self._db.all(
            "SELECT * FROM deliveries AS d WHERE state = 'pending' AND next_attempt <= ? "
            "AND NOT EXISTS (SELECT 1 FROM deliveries AS e WHERE e.target = d.target "
            "AND e.state = 'pending' AND e.event_id < d.event_id AND e.next_attempt > ?) "
            "ORDER BY event_id, target LIMIT ?",
            (codec.ts(now), codec.ts(now), limit),
        )
        return [_delivery(r) for r in rows]

    def deliveries(self, event_id: int | None = None) -> list[DeliveryRow]:
        """Every delivery (of one event), in event then target order."""
        where, params = codec.where(event_id=event_id)
        rows = self._db.all(f"SELECT * FROM deliveries{where} ORDER BY event_id, target", params)
        return [_delivery(r) for r in rows]

    def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are ``pending``, ``sent`` and ``failed``."""
        rows = self._db.all("SELECT state, count(*) AS n FROM deliveries GROUP BY state")
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({r["state"]: r["n"] for r in rows})
        return counts

    def delivery_done(
        self, event_id: int, target: str, *, sent: bool, at: datetime, error: str | None = None
    ) -> None:
        """Mark a delivery sent, or failed for good (``error`` says why, redacted)."""
        with self._db.transaction("save a notification result") as db:
            db.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, done_at = ?, "
                "last_error = ? WHERE event_id = ? AND target = ?",
                ("sent" if sent else "failed", codec.ts(at), error, event_id, target),
            )

    def delivery_retry(
        self, event_id: int, target: str, *, next_attempt: datetime, error: str
    ) -> None:
        """Count a failed attempt and plan the next one."""
        with self._db.transaction("save a notification retry") as db:
            db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt = ?, last_error = ? "
                "WHERE event_id = ? AND target = ?",
                (codec.ts(next_attempt), error, event_id, target),
            )

    def next_sendable_at(self, busy: Iterable[str] = ()) -> datetime | None:
        """When the worker next has something it can send (``None``: nothing).

        Only each target's oldest pending delivery counts (the others wait
        behind it, to keep order), and targets in ``busy`` are skipped (their
        task will ask again when it ends). A time in the past means "now".
        """
        skip = list(busy)
        exclude = f" AND d.target NOT IN ({', '.join('?' * len(skip))})" if skip else ""
        row = self._db.one(
            "SELECT min(d.next_attempt) FROM deliveries AS d WHERE d.state = 'pending' "
            "AND d.event_id = (SELECT min(e.event_id) FROM deliveries AS e "
            "WHERE e.target = d.target AND e.state = 'pending')" + exclude,
            skip,
        )
        return codec.dt(row[0]) if row is not None else None
