"""The database schema, versioned with ``PRAGMA user_version`` and :data:`MIGRATIONS`.

:data:`MIGRATIONS` is an ordered tuple of functions, applied in one
transaction when the store opens for writing; adding version ``n`` is one
function appended to the tuple. A released migration is never edited nor
reordered: it is the record of how older databases are brought up to date.
A database from a newer rdv-monitor is refused with a sentence
(:class:`~monitor.store.errors.StateError`), never written to.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from pathlib import Path

from monitor.observation import Status
from monitor.schedule import Backoff
from monitor.store.codec import opt_ts
from monitor.store.errors import StateError

__all__ = [
    "MIGRATIONS",
    "SCHEMA_V1",
    "SCHEMA_V2",
    "SCHEMA_V3",
    "SCHEMA_V4",
    "SCHEMA_V5",
    "Migration",
    "legacy_backoff",
    "migrate",
    "refuse_newer",
    "schema_version",
]

log = logging.getLogger("monitor.store")

Migration = Callable[[sqlite3.Connection], None]

SCHEMA_V1 = (
    """
    CREATE TABLE observations (
        id          INTEGER PRIMARY KEY,
        checked_at  TEXT    NOT NULL,  -- UTC ISO 8601, microseconds
        watch       TEXT    NOT NULL,
        calendar    TEXT    NOT NULL,  -- '' for a single-counter booking
        status      TEXT    NOT NULL,  -- monitor.observation.Status
        http_status INTEGER,
        elapsed_ms  INTEGER NOT NULL,
        detail      TEXT    NOT NULL,
        planning_id TEXT,
        label       TEXT,
        url         TEXT    NOT NULL,  -- the booking page (never a notification URL)
        slot_count  INTEGER,
        slots       TEXT    NOT NULL DEFAULT '[]'  -- JSON list of UTC ISO times
    )
    """,
    "CREATE INDEX observations_by_calendar ON observations (watch, calendar, checked_at)",
    "CREATE INDEX observations_by_time ON observations (checked_at)",
    """
    CREATE TABLE episodes (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        kind        TEXT    NOT NULL CHECK (kind IN ('availability', 'trouble')),
        watch       TEXT    NOT NULL,
        calendar    TEXT    NOT NULL,
        opened_at   TEXT    NOT NULL,
        closed_at   TEXT,              -- NULL while open
        first_slot  TEXT,              -- availability: latest slots seen
        slot_count  INTEGER,
        slots       TEXT    NOT NULL DEFAULT '[]',
        status      TEXT    NOT NULL,  -- trouble: latest bad status
        detail      TEXT    NOT NULL
    )
    """,
    "CREATE INDEX episodes_by_calendar ON episodes (watch, calendar, opened_at)",
    "CREATE INDEX episodes_by_time ON episodes (opened_at)",
    """
    CREATE TABLE calendars (
        watch                TEXT    NOT NULL,
        calendar             TEXT    NOT NULL,
        status               TEXT,   -- NULL: never checked (only next_check known)
        since                TEXT,
        last_check           TEXT,
        url                  TEXT,
        detail               TEXT,
        label                TEXT,
        http_status          INTEGER,
        last_good            TEXT,
        last_available       TEXT,
        last_first_slot      TEXT,
        last_slot_count      INTEGER,
        episode_id           INTEGER REFERENCES episodes (id),
        episode_opened_at    TEXT,   -- NULL: no open availability episode
        episode_seen_at      TEXT,
        first_slot           TEXT,
        slot_count           INTEGER,
        slots                TEXT    NOT NULL DEFAULT '[]',
        trouble_id           INTEGER REFERENCES episodes (id),
        trouble_since        TEXT,   -- NULL: not in trouble
        trouble_first_status TEXT,
        trouble_status       TEXT,
        trouble_detail       TEXT,
        trouble_http_status  INTEGER,
        trouble_checks       INTEGER NOT NULL DEFAULT 0,
        trouble_notified     INTEGER NOT NULL DEFAULT 0,
        layout_notified      INTEGER NOT NULL DEFAULT 0,
        next_check           TEXT,   -- filled by the daemon for `rdv-monitor status`
        next_reason          TEXT,
        PRIMARY KEY (watch, calendar)
    )
    """,
    """
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a safe outbox cursor
        kind        TEXT    NOT NULL,
        watch       TEXT    NOT NULL,  -- '' for events about no calendar (heartbeat)
        calendar    TEXT    NOT NULL,
        created_at  TEXT    NOT NULL,
        episode_id  INTEGER REFERENCES episodes (id),
        dedup_key   TEXT    NOT NULL UNIQUE,
        payload     TEXT    NOT NULL   -- JSON object
    )
    """,
    "CREATE INDEX events_by_calendar ON events (watch, calendar, created_at)",
)
"""Version 1: observations, episodes, calendars, events."""


def _m1_initial(db: sqlite3.Connection) -> None:
    """Version 1: observations, episodes, calendars, events."""
    for statement in SCHEMA_V1:
        db.execute(statement)


SCHEMA_V2 = (
    """
    CREATE TABLE deliveries (
        event_id      INTEGER NOT NULL REFERENCES events (id),
        target        TEXT    NOT NULL,  -- monitor.notify.Target.id: a hash, never the URL
        target_masked TEXT    NOT NULL,  -- for humans: secrets replaced by ****
        state         TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT    NOT NULL,
        next_attempt  TEXT    NOT NULL,
        done_at       TEXT,
        last_error    TEXT,              -- redacted
        PRIMARY KEY (event_id, target)
    )
    """,
    "CREATE INDEX deliveries_due ON deliveries (state, next_attempt)",
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
)
"""Version 2: per-target deliveries of outbox events, and a key/value table."""


def _m2_deliveries(db: sqlite3.Connection) -> None:
    """Version 2: per-target deliveries of outbox events, and a key/value table.

    Events written before this version count as already handed to delivery:
    a monitor upgraded after weeks of running must not send old alerts.
    """
    for statement in SCHEMA_V2:
        db.execute(statement)
    db.execute(
        "INSERT INTO meta (key, value) SELECT 'delivery_cursor', coalesce(max(id), 0) FROM events"
    )


SCHEMA_V3 = (
    """
    CREATE TABLE backoffs (
        watch      TEXT    PRIMARY KEY,
        failures   INTEGER NOT NULL CHECK (failures >= 0),
        cause      TEXT    CHECK (cause IN ('down', 'blocked')),  -- NULL when failures = 0
        not_before TEXT    -- the site's Retry-After deadline, UTC ISO 8601
    )
    """,
)
"""Version 3: each watch's failure streak, which the daemon carries across restarts."""

LEGACY_BACKOFF_PREFIX = "backoff:"
"""Before version 3 the daemon kept a watch's backoff as JSON in ``meta``, under this prefix."""


def legacy_backoff(raw: str) -> Backoff:
    """A backoff as versions before 3 wrote it (``{"failures", "cause", "not_before"}``).

    Raises ValueError when the text is not one (the migration then drops it: a
    forgotten backoff only means the next check is not delayed).
    """
    try:
        data = json.loads(raw)
        cause = Status(data["cause"]) if data.get("cause") else None
        not_before = datetime.fromisoformat(data["not_before"]) if data.get("not_before") else None
        return Backoff(int(data.get("failures", 0)), cause, not_before)
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a saved backoff: {raw!r}") from exc


def _m3_backoffs(db: sqlite3.Connection) -> None:
    """Version 3: a typed table for the daemon's per-watch backoff.

    The JSON the daemon kept in ``meta`` is read once, moved here and removed.
    """
    for statement in SCHEMA_V3:
        db.execute(statement)
    rows = db.execute(
        "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?",
        (len(LEGACY_BACKOFF_PREFIX), LEGACY_BACKOFF_PREFIX),
    ).fetchall()
    for key, value in rows:
        watch = key[len(LEGACY_BACKOFF_PREFIX) :]
        try:
            backoff = legacy_backoff(value)
        except ValueError:
            log.warning("%s: dropping an unreadable saved backoff", watch)
        else:
            db.execute(
                "INSERT INTO backoffs (watch, failures, cause, not_before) VALUES (?, ?, ?, ?)",
                (
                    watch,
                    backoff.failures,
                    backoff.cause.value if backoff.cause else None,
                    opt_ts(backoff.not_before),
                ),
            )
        db.execute("DELETE FROM meta WHERE key = ?", (key,))


SCHEMA_V4 = (
    """
    CREATE TABLE plans (
        watch    TEXT PRIMARY KEY,
        next_run TEXT NOT NULL,  -- UTC ISO 8601: when the daemon planned to check next
        reason   TEXT NOT NULL,  -- monitor.schedule.Reason
        config   TEXT NOT NULL   -- fingerprint of the watch's config when it was planned
    )
    """,
    """
    CREATE TABLE daily_checks (
        day      TEXT    NOT NULL,  -- local date (the config's time zone when pruned)
        watch    TEXT    NOT NULL,
        calendar TEXT    NOT NULL,
        status   TEXT    NOT NULL,
        checks   INTEGER NOT NULL CHECK (checks >= 0),
        PRIMARY KEY (day, watch, calendar, status)
    )
    """,
)
"""Version 4: each watch's planned next check (kept across restarts), and the daily
check counts of pruned observations (what ``stats`` needs beyond ``[monitor] keep``)."""


def _m4_plans_and_retention(db: sqlite3.Connection) -> None:
    """Version 4: saved plans and daily counts of pruned observations."""
    for statement in SCHEMA_V4:
        db.execute(statement)


SCHEMA_V5 = (
    """
    CREATE TABLE sites (
        watch        TEXT NOT NULL,
        url          TEXT NOT NULL,  -- the booking page
        kind         TEXT NOT NULL,  -- the adapter that wrote it ("ezbooking")
        value        TEXT NOT NULL,  -- JSON, in that adapter's own format
        last_contact TEXT,           -- UTC ISO 8601: when the site last answered
        updated_at   TEXT NOT NULL,
        PRIMARY KEY (watch, url)
    )
    """,
)
"""Version 5: what each watch's adapter learnt about its booking (kept across restarts)."""


def _m5_sites(db: sqlite3.Connection) -> None:
    """Version 5: what adapters learnt about their bookings."""
    for statement in SCHEMA_V5:
        db.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (
    _m1_initial,
    _m2_deliveries,
    _m3_backoffs,
    _m4_plans_and_retention,
    _m5_sites,
)
"""Migration ``n`` (1-based) brings a database from ``user_version`` n-1 to n.

Append a function to add a version; never edit or reorder a released one."""


def schema_version() -> int:
    """The schema version this code writes (the number of migrations)."""
    return len(MIGRATIONS)


def refuse_newer(version: int, path: Path) -> None:
    """A database from a newer rdv-monitor is the user's to resolve: never write to it."""
    if version > schema_version():
        raise StateError(
            f"The state database {path} was written by a newer rdv-monitor (schema version "
            f"{version}; this one knows up to {schema_version()}). Upgrade rdv-monitor, or "
            "move that file away to start with an empty history."
        )


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the database to :func:`schema_version`, all pending steps in one transaction."""
    refuse_newer(db.execute("PRAGMA user_version").fetchone()[0], path)
    target = schema_version()
    if db.execute("PRAGMA user_version").fetchone()[0] == target:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        current = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have
        refuse_newer(current, path)  # migrated between our first look and the lock
        for number in range(current + 1, target + 1):
            log.info("%s: migrating the schema to version %d", path, number)
            MIGRATIONS[number - 1](db)
        db.execute(f"PRAGMA user_version = {target:d}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise
