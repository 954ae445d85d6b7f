"""The durable state: one embedded SQLite database, ``<state_dir>/state.db``.

The model::

    Observation ─record()─▶ observations   every check, as seen (append-only)
                     │
                     ├─▶ calendars     the current state per (watch, calendar)
                     ├─▶ episodes      availability and trouble episodes, open → closed
                     └─▶ events        the outbox: what the notifier must deliver

:meth:`Store.record` does all of it in ONE transaction: insert the observation,
read the calendar's state, run the pure :func:`monitor.transitions.advance`,
apply its episode operations, save the new state, insert its events, commit.
After ``kill -9`` or a power cut the database holds either all of a record or
none of it; the caller then simply checks again.

Guarantees and how they are kept:

* **Nothing recorded is lost.** WAL journal with ``synchronous=FULL``: a
  committed record has been fsynced (also on a Raspberry Pi SD card), and
  observations are only ever appended.
* **No event is written twice.** ``events.dedup_key`` is UNIQUE and derived
  from the event's episode, and events are inserted with ``ON CONFLICT
  (dedup_key) DO NOTHING``; :meth:`Store.record` returns only the events it
  actually inserted, so recording the same observation again is harmless.
* **No false "slot available".** Only an ``available`` observation opens an
  availability episode (see :mod:`monitor.transitions`).
* **Unknown pages are kept.** The page of a ``layout_changed`` event is written
  to ``<state_dir>/pages/<file>`` (temp file, fsync, rename, fsync of the folder)
  *before* the commit: after a crash either the event and its file exist, or
  only a harmless orphan file does. If the page cannot be saved (disk full),
  the observation and event are recorded anyway, with ``page_file`` null and
  ``page_error`` saying why.

The schema is versioned with ``PRAGMA user_version`` and :data:`MIGRATIONS`,
an ordered tuple of functions applied in one transaction at :meth:`Store.open`.
Adding migration 2 is one function appended to the tuple. A database from a
newer version is refused with a sentence (:class:`StateError`).

Times are stored as ISO 8601 text in UTC with microseconds
(``2025-12-08T07:00:14.123456+00:00``): readable with the ``sqlite3`` shell,
and fixed-width, so text order is time order. Secrets never come here: an
observation holds its booking URL only, never a notification URL.

Threads: one connection per :class:`Store`, opened with
``check_same_thread=False`` and guarded by a lock, so the daemon may call it
from the asyncio loop thread (each call is short) or from a worker thread.
:meth:`Store.open_readonly` gives commands such as ``rdv-monitor status`` a
read-only view that works while the daemon writes (WAL readers never block
the writer, nor are blocked by it).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

from monitor.errors import MonitorError, UsageError
from monitor.events import LAYOUT_CHANGED, Event, EventDraft
from monitor.observation import Observation, Status
from monitor.transitions import (
    Availability,
    CalendarState,
    CloseEpisode,
    EpisodeKind,
    OpenEpisode,
    TroubleRun,
    UpdateEpisode,
    advance,
)

__all__ = [
    "DB_NAME",
    "MIGRATIONS",
    "PAGES_DIR",
    "CalendarStateRow",
    "DeliveryRow",
    "EpisodeRow",
    "ObservationRow",
    "StateError",
    "Store",
    "StoreError",
]

log = logging.getLogger(__name__)

DB_NAME = "state.db"
"""The database file's name inside the state folder."""
PAGES_DIR = "pages"
"""The folder, inside the state folder, where unknown pages are saved."""
BUSY_TIMEOUT = 10.0
"""Seconds to wait for another connection's write lock before giving up."""
_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")


class StoreError(MonitorError):
    """The state database cannot be opened, read or written; the message says why and what to do.

    Raised as is for failures that may pass by themselves (disk full, an I/O error, a lock
    held too long): exit status 1, which systemd retries 30 s later.
    """


class StateError(StoreError, UsageError):
    """The state cannot be opened for a reason only the user can fix (exit status 2).

    A state folder that is a file or cannot be created, missing permission, a file that is
    not an rdv-monitor database, a schema from a newer rdv-monitor: a retry would fail the
    same way every 30 s, so this is a :class:`~monitor.errors.UsageError`, which the systemd
    unit does not restart (``RestartPreventExitStatus=2``). Still a :class:`StoreError`, so
    callers that handle "the state is unusable" need no second ``except``.
    """


_TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.ENOMEM})
"""Errors creating the state folder that may pass by themselves (so: exit 1, retried)."""
_BROKEN_FILE = frozenset({sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT})
"""SQLite primary result codes meaning "this file is not a usable database"."""
_NO_ACCESS = frozenset(
    {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_AUTH}
)
"""SQLite primary result codes meaning "this user may not open (or write) that file"."""


def _folder_failure(folder: Path, exc: OSError) -> StoreError:
    """The error for a state folder that cannot be created: a :class:`StateError` unless the
    cause may pass by itself (a full disk)."""
    reason = exc.strerror or str(exc)
    if exc.errno in _TRANSIENT_ERRNOS:
        return StoreError(
            f"Cannot create the state folder {folder}: {reason}. Free some space on that disk; "
            "rdv-monitor tries again when restarted."
        )
    hint = ""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        hint = f" ({folder} or a folder above it is a file, not a folder)"
    return StateError(
        f"Cannot create the state folder {folder}: {reason}{hint}. Create it yourself, "
        "writable by the user that runs rdv-monitor, or set [monitor] state_dir to a folder "
        "that user can write."
    )


def _open_failure(exc: sqlite3.Error, db_path: Path, given: Path, *, readonly: bool) -> StoreError:
    """The error for a database SQLite would not open: a :class:`StateError` when the file
    is not a database or the user may not use it, else (a lock, an I/O error) a plain
    :class:`StoreError`, worth a retry."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # primary code of extended
    verb = "read" if readonly else "open"
    if code in _BROKEN_FILE:
        if given == db_path and db_path.suffix not in _DB_SUFFIXES:
            return StateError(
                f"Cannot {verb} the state: {db_path} is a file, not a folder ({exc}). Set "
                "[monitor] state_dir to a folder (rdv-monitor creates state.db in it)."
            )
        return StateError(
            f"Cannot {verb} the state database {db_path}: {exc}; it is damaged or is not an "
            f"rdv-monitor database. Move it away (mv {db_path} {db_path}.broken) and start "
            "again: rdv-monitor creates an empty one (the history in the old file is not read)."
        )
    if code in _NO_ACCESS:
        need = "read" if readonly else "read and write"
        return StateError(
            f"Cannot {verb} the state database {db_path}: {exc}. The user that runs "
            f"rdv-monitor must be able to {need} the folder {db_path.parent} and the files in "
            "it: fix their owner or permissions (chown, chmod), or set [monitor] state_dir to "
            "a folder that user can write."
        )
    return StoreError(f"Cannot {verb} the state database {db_path}: {exc}.")


# --------------------------------------------------------------------------- schema

Migration = Callable[[sqlite3.Connection], None]

_V1 = (
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


def _m1_initial(db: sqlite3.Connection) -> None:
    """Version 1: observations, episodes, calendars, events."""
    for statement in _V1:
        db.execute(statement)


_V2 = (
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


def _m2_deliveries(db: sqlite3.Connection) -> None:
    """Version 2: per-target deliveries of outbox events, and a key/value table.

    Events written before this version count as already handed to delivery:
    a monitor upgraded after weeks of running must not send old alerts.
    """
    for statement in _V2:
        db.execute(statement)
    db.execute(
        "INSERT INTO meta (key, value) SELECT 'delivery_cursor', coalesce(max(id), 0) FROM events"
    )


MIGRATIONS: tuple[Migration, ...] = (_m1_initial, _m2_deliveries)
"""Migration ``n`` (1-based) brings a database from ``user_version`` n-1 to n.

Append a function to add a version; never edit or reorder a released one."""


def schema_version() -> int:
    """The schema version this code writes (the number of migrations)."""
    return len(MIGRATIONS)


# --------------------------------------------------------------------------- conversions


def _ts(value: datetime) -> str:
    """A stored time: UTC ISO 8601 with microseconds (fixed width, so text order = time order)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the store only takes aware times")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _opt_ts(value: datetime | None) -> str | None:
    return None if value is None else _ts(value)


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _req_dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _slots_json(slots: Sequence[datetime]) -> str:
    return json.dumps([_ts(s) for s in slots])


def _slots(text: str | None) -> tuple[datetime, ...]:
    return tuple(datetime.fromisoformat(s) for s in json.loads(text or "[]"))


def _status(text: str | None) -> Status | None:
    return None if text is None else Status(text)


def _state_columns(state: CalendarState) -> dict[str, object]:
    """The ``calendars`` row of a state (``next_check``/``next_reason`` excluded: the daemon's)."""
    a, t = state.availability, state.trouble
    return {
        "watch": state.watch,
        "calendar": state.calendar,
        "status": state.status.value,
        "since": _ts(state.since),
        "last_check": _ts(state.last_check),
        "url": state.url,
        "detail": state.detail,
        "label": state.label,
        "http_status": state.http_status,
        "last_good": _opt_ts(state.last_good),
        "last_available": _opt_ts(state.last_available),
        "last_first_slot": _opt_ts(state.last_first_slot),
        "last_slot_count": state.last_slot_count,
        "episode_id": a.episode_id if a else None,
        "episode_opened_at": _ts(a.opened_at) if a else None,
        "episode_seen_at": _ts(a.seen_at) if a else None,
        "first_slot": _opt_ts(a.first_slot) if a else None,
        "slot_count": a.slot_count if a else None,
        "slots": _slots_json(a.slots) if a else "[]",
        "trouble_id": t.episode_id if t else None,
        "trouble_since": _ts(t.since) if t else None,
        "trouble_first_status": t.first_status.value if t else None,
        "trouble_status": t.status.value if t else None,
        "trouble_detail": t.detail if t else None,
        "trouble_http_status": t.http_status if t else None,
        "trouble_checks": t.bad_checks if t else 0,
        "trouble_notified": int(t.notified) if t else 0,
        "layout_notified": int(t.layout_notified) if t else 0,
    }


def _upsert_state(db: sqlite3.Connection, state: CalendarState) -> None:
    """Insert or replace a calendar's state, keeping the daemon's ``next_check``/``next_reason``."""
    values = _state_columns(state)
    columns = list(values)
    db.execute(
        f"INSERT INTO calendars ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + c for c in columns)}) "
        "ON CONFLICT (watch, calendar) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns[2:]),
        values,
    )


def _state_from_row(row: sqlite3.Row) -> CalendarState | None:
    """The state stored in a ``calendars`` row; ``None`` if the calendar was never checked."""
    if row["status"] is None:
        return None
    availability = None
    if row["episode_opened_at"] is not None:
        availability = Availability(
            opened_at=_req_dt(row["episode_opened_at"]),
            seen_at=_req_dt(row["episode_seen_at"]),
            first_slot=_dt(row["first_slot"]),
            slot_count=row["slot_count"],
            slots=_slots(row["slots"]),
            episode_id=row["episode_id"],
        )
    trouble = None
    if row["trouble_since"] is not None:
        trouble = TroubleRun(
            since=_req_dt(row["trouble_since"]),
            first_status=Status(row["trouble_first_status"]),
            status=Status(row["trouble_status"]),
            detail=row["trouble_detail"],
            http_status=row["trouble_http_status"],
            bad_checks=row["trouble_checks"],
            notified=bool(row["trouble_notified"]),
            layout_notified=bool(row["layout_notified"]),
            episode_id=row["trouble_id"],
        )
    return CalendarState(
        watch=row["watch"],
        calendar=row["calendar"],
        status=Status(row["status"]),
        since=_req_dt(row["since"]),
        last_check=_req_dt(row["last_check"]),
        url=row["url"],
        detail=row["detail"],
        label=row["label"],
        http_status=row["http_status"],
        last_good=_dt(row["last_good"]),
        last_available=_dt(row["last_available"]),
        last_first_slot=_dt(row["last_first_slot"]),
        last_slot_count=row["last_slot_count"],
        availability=availability,
        trouble=trouble,
    )


# --------------------------------------------------------------------------- read models


@dataclass(frozen=True, slots=True)
class CalendarStateRow:
    """One calendar as ``rdv-monitor status`` shows it.

    ``status``/``since``/``last_check`` are ``None`` for a calendar the daemon
    scheduled but has not checked yet. ``last_available``/``last_first_slot``/
    ``last_slot_count`` describe the latest check that showed slots (``None``:
    never). ``state`` is the full :class:`CalendarState` (open episodes, trouble
    run), ``None`` before the first check.
    """

    watch: str
    calendar: str
    status: Status | None
    since: datetime | None
    last_check: datetime | None
    next_check: datetime | None
    next_reason: str | None
    last_available: datetime | None
    last_first_slot: datetime | None
    last_slot_count: int | None
    state: CalendarState | None


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    """One episode. Availability: ``first_slot``/``slot_count``/``slots`` are the latest
    seen. Trouble: ``status``/``detail`` are the latest bad ones. ``closed_at`` is ``None``
    while the episode is open."""

    id: int
    kind: EpisodeKind
    watch: str
    calendar: str
    opened_at: datetime
    closed_at: datetime | None
    first_slot: datetime | None
    slot_count: int | None
    slots: tuple[datetime, ...]
    status: Status
    detail: str

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class ObservationRow:
    """One recorded observation (the page body is never stored in the database)."""

    id: int
    checked_at: datetime
    watch: str
    calendar: str
    status: Status
    http_status: int | None
    elapsed_ms: int
    detail: str
    planning_id: str | None
    label: str | None
    url: str
    slot_count: int | None
    slots: tuple[datetime, ...]


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


def _delivery(row: sqlite3.Row) -> DeliveryRow:
    return DeliveryRow(
        event_id=row["event_id"],
        target=row["target"],
        target_masked=row["target_masked"],
        state=row["state"],
        attempts=row["attempts"],
        created_at=_req_dt(row["created_at"]),
        next_attempt=_req_dt(row["next_attempt"]),
        done_at=_dt(row["done_at"]),
        last_error=row["last_error"],
    )


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        kind=row["kind"],
        watch=row["watch"],
        calendar=row["calendar"],
        created_at=_req_dt(row["created_at"]),
        episode_id=row["episode_id"],
        dedup_key=row["dedup_key"],
        payload=json.loads(row["payload"]),
    )


def _episode(row: sqlite3.Row) -> EpisodeRow:
    return EpisodeRow(
        id=row["id"],
        kind=EpisodeKind(row["kind"]),
        watch=row["watch"],
        calendar=row["calendar"],
        opened_at=_req_dt(row["opened_at"]),
        closed_at=_dt(row["closed_at"]),
        first_slot=_dt(row["first_slot"]),
        slot_count=row["slot_count"],
        slots=_slots(row["slots"]),
        status=Status(row["status"]),
        detail=row["detail"],
    )


def _observation(row: sqlite3.Row) -> ObservationRow:
    return ObservationRow(
        id=row["id"],
        checked_at=_req_dt(row["checked_at"]),
        watch=row["watch"],
        calendar=row["calendar"],
        status=Status(row["status"]),
        http_status=row["http_status"],
        elapsed_ms=row["elapsed_ms"],
        detail=row["detail"],
        planning_id=row["planning_id"],
        label=row["label"],
        url=row["url"],
        slot_count=row["slot_count"],
        slots=_slots(row["slots"]),
    )


def _where(since: tuple[str, datetime] | None = None, **equal: object) -> tuple[str, list[object]]:
    """A WHERE clause from optional filters (``None`` = no filter on that column)."""
    clauses: list[str] = []
    params: list[object] = []
    if since is not None:
        clauses.append(since[0])
        params.append(_ts(since[1]))
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value.value if isinstance(value, Status | EpisodeKind) else value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


# --------------------------------------------------------------------------- files


def _db_path(path: str | os.PathLike[str]) -> Path:
    """A database file as given, or ``state.db`` inside a state folder."""
    p = Path(path)
    if p.suffix in _DB_SUFFIXES or p.is_file():
        return p
    return p / DB_NAME


def _fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _make_private_dir(folder: Path) -> bool:
    """Create ``folder`` (and parents) with mode 0700 if missing; True if it was created."""
    if folder.is_dir():
        return False
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    _fsync_dir(folder.parent)
    return True


def _write_durably(folder: Path, name: str, data: bytes) -> None:
    """Write ``folder/name`` so that it is either absent or complete after a crash."""
    if "/" in name or name.startswith("."):
        raise ValueError(f"not a plain file name: {name!r}")
    _make_private_dir(folder)
    temp = folder / f".{name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, folder / name)
    _fsync_dir(folder)


# --------------------------------------------------------------------------- the store


class Store:
    """The state database. Open with :meth:`open` (read-write, migrates) or
    :meth:`open_readonly`; close with :meth:`close` or a ``with`` block."""

    def __init__(self, db: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
        """Use :meth:`open` or :meth:`open_readonly` instead."""
        db.row_factory = sqlite3.Row
        self._db = db
        self._path = path
        self._readonly = readonly
        self._lock = threading.RLock()
        self._closed = False

    # ---- opening

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open (creating it if needed) the database of a state folder, or a ``.db`` file.

        Creates the folder with mode 0700, sets WAL + ``synchronous=FULL`` +
        foreign keys + a busy timeout, and applies pending migrations in one
        transaction. Raises :class:`StateError` (exit status 2) if the folder or the
        database is unusable (permission, not a database, newer schema), and a plain
        :class:`StoreError` for what may pass by itself (disk full, a lock held too long).
        """
        db_path = _db_path(path)
        try:
            _make_private_dir(db_path.parent)
        except OSError as exc:
            raise _folder_failure(db_path.parent, exc) from exc
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(
                db_path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("%s: WAL journal unavailable here (got %s)", db_path, mode)
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            db.execute("PRAGMA journal_size_limit = 4194304")
            _migrate(db, db_path)
        except sqlite3.Error as exc:
            if db is not None:
                db.close()
            raise _open_failure(exc, db_path, Path(path), readonly=False) from exc
        except BaseException:
            if db is not None:
                db.close()
            raise
        return cls(db, db_path, readonly=False)

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> Store:
        """Open an existing database for reading only (``mode=ro``), e.g. for ``status``.

        Works while the daemon writes (WAL). Raises :class:`StateError` when no
        database exists yet, it cannot be read, or its schema is not the one this
        version reads; a plain :class:`StoreError` for what may pass (a lock, I/O).
        """
        db_path = _db_path(path)
        if not db_path.is_file():
            raise StateError(
                f"No state database at {db_path} yet: it is created when the monitor first "
                "runs (rdv-monitor run). Check [monitor] state_dir if it should exist."
            )
        uri = "file:" + quote(str(db_path.absolute())) + "?mode=ro"
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            _refuse_newer(version, db_path)
            if version < schema_version():
                raise StateError(
                    f"The state database {db_path} has schema version {version}, older than "
                    f"this rdv-monitor's ({schema_version()}); it is upgraded when the monitor "
                    "next starts (rdv-monitor run)."
                )
        except sqlite3.Error as exc:
            if db is not None:
                db.close()
            raise _open_failure(exc, db_path, Path(path), readonly=True) from exc
        except BaseException:
            if db is not None:
                db.close()
            raise
        return cls(db, db_path, readonly=True)

    # ---- life cycle

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def state_dir(self) -> Path:
        return self._path.parent

    @property
    def pages_dir(self) -> Path:
        """Where unknown pages are saved (``layout_changed`` payloads name files in it)."""
        return self._path.parent / PAGES_DIR

    @property
    def readonly(self) -> bool:
        return self._readonly

    def schema_version(self) -> int:
        """The database's ``user_version``."""
        return self._scalar("PRAGMA user_version")

    def close(self) -> None:
        """Close the connection (idempotent). The last one to close checkpoints the WAL."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- plumbing

    @contextmanager
    def _guard(self, doing: str) -> Iterator[sqlite3.Connection]:
        """Hold the lock and turn SQLite errors into a :class:`StoreError` naming the action."""
        with self._lock:
            if self._closed:
                raise StoreError(f"Cannot {doing}: the state database {self._path} is closed.")
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise StoreError(
                    f"Cannot {doing} in the state database {self._path}: {exc}."
                ) from exc

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: take the write lock up front)."""
        if self._readonly:
            raise StoreError(f"Cannot {doing}: the state database was opened read-only.")
        with self._guard(doing) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with suppress(sqlite3.Error):  # the first error is the one to report
                        db.execute("ROLLBACK")
                raise

    def _all(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._guard("read") as db:
            return db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
        with self._guard("read") as db:
            row: sqlite3.Row | None = db.execute(sql, params).fetchone()
            return row

    def _scalar(self, sql: str, params: Sequence[object] = ()) -> int:
        """The integer in the first column of the first row (queries that always return one)."""
        row = self._one(sql, params)
        assert row is not None
        return int(row[0])

    # ---- writing

    def record(self, obs: Observation, *, trouble_after: float) -> list[Event]:
        """Record one observation and everything it implies, in one transaction.

        Returns the events actually inserted (with their ids), in order; an
        empty list when nothing happened, or when the events already exist
        (the same observation recorded twice). ``trouble_after`` is in seconds.
        An observation older than the calendar's last check is stored but
        changes nothing (logged).
        """
        if obs.checked_at.tzinfo is None or obs.checked_at.utcoffset() is None:
            raise ValueError("Observation.checked_at must be an aware datetime")
        with self._transaction("record an observation") as db:
            db.execute(
                "INSERT INTO observations (checked_at, watch, calendar, status, http_status, "
                "elapsed_ms, detail, planning_id, label, url, slot_count, slots) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _ts(obs.checked_at),
                    obs.watch,
                    obs.calendar,
                    obs.status.value,
                    obs.http_status,
                    obs.elapsed_ms,
                    obs.detail,
                    obs.planning_id,
                    obs.label,
                    obs.url,
                    obs.slot_count,
                    _slots_json(obs.slots),
                ),
            )
            row = db.execute(
                "SELECT * FROM calendars WHERE watch = ? AND calendar = ?",
                (obs.watch, obs.calendar),
            ).fetchone()
            state = _state_from_row(row) if row is not None else None
            transition = advance(state, obs, trouble_after=trouble_after)
            if transition.stale:
                log.warning(
                    "%s %r: observation of %s is older than the last check (%s); "
                    "recorded, state unchanged",
                    obs.watch,
                    obs.calendar,
                    obs.checked_at.isoformat(),
                    state.last_check.isoformat() if state else "?",
                )
                return []
            drafts = list(transition.events)
            if transition.page_file is not None and obs.page is not None:
                drafts = self._save_page(transition.page_file, obs.page, drafts)
            ids = self._apply_episodes(db, state, transition.ops, obs)
            new_state = transition.state
            if new_state.availability and new_state.availability.episode_id is None:
                new_state = replace(
                    new_state,
                    availability=replace(
                        new_state.availability, episode_id=ids.get(EpisodeKind.AVAILABILITY)
                    ),
                )
            if new_state.trouble and new_state.trouble.episode_id is None:
                new_state = replace(
                    new_state,
                    trouble=replace(new_state.trouble, episode_id=ids.get(EpisodeKind.TROUBLE)),
                )
            _upsert_state(db, new_state)
            return self._insert_events(db, drafts, ids)

    def _save_page(self, name: str, page: bytes, drafts: list[EventDraft]) -> list[EventDraft]:
        """Save an unknown page before the commit; on failure, say so in the event instead."""
        try:
            _write_durably(self.pages_dir, name, page)
        except OSError as exc:
            reason = f"{exc.strerror or exc} ({self.pages_dir / name})"
            log.warning("could not save the unknown page: %s", reason)
            return [
                replace(d, payload={**d.payload, "page_file": None, "page_error": reason})
                if d.kind == LAYOUT_CHANGED.name
                else d
                for d in drafts
            ]
        return drafts

    @staticmethod
    def _apply_episodes(
        db: sqlite3.Connection,
        state: CalendarState | None,
        ops: Sequence[OpenEpisode | UpdateEpisode | CloseEpisode],
        obs: Observation,
    ) -> dict[str, int | None]:
        """Run the episode operations; return the id of each episode kind involved."""
        ids: dict[str, int | None] = {
            EpisodeKind.AVAILABILITY: state.availability.episode_id
            if state and state.availability
            else None,
            EpisodeKind.TROUBLE: state.trouble.episode_id if state and state.trouble else None,
        }
        for op in ops:
            if isinstance(op, OpenEpisode):
                cursor = db.execute(
                    "INSERT INTO episodes (kind, watch, calendar, opened_at, first_slot, "
                    "slot_count, slots, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        op.kind.value,
                        obs.watch,
                        obs.calendar,
                        _ts(op.opened_at),
                        _opt_ts(op.first_slot),
                        op.slot_count,
                        _slots_json(op.slots),
                        op.status.value,
                        op.detail,
                    ),
                )
                ids[op.kind] = cursor.lastrowid
            elif isinstance(op, UpdateEpisode):
                db.execute(
                    "UPDATE episodes SET status = ?, detail = ?, first_slot = ?, "
                    "slot_count = ?, slots = ? WHERE id = ?",
                    (
                        op.status.value,
                        op.detail,
                        _opt_ts(op.first_slot),
                        op.slot_count,
                        _slots_json(op.slots),
                        op.episode_id if op.episode_id is not None else ids[op.kind],
                    ),
                )
            else:
                db.execute(
                    "UPDATE episodes SET closed_at = ? WHERE id = ?",
                    (
                        _ts(op.closed_at),
                        op.episode_id if op.episode_id is not None else ids[op.kind],
                    ),
                )
        return ids

    @staticmethod
    def _insert_events(
        db: sqlite3.Connection, drafts: Sequence[EventDraft], ids: dict[str, int | None]
    ) -> list[Event]:
        """Insert event drafts into the outbox, skipping any whose dedup_key exists."""
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
                    _ts(event.created_at),
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

    def set_next_check(
        self, watch: str, calendar: str | None, at: datetime | None, reason: str | None
    ) -> int:
        """Note when the daemon will next check a calendar, and why (for ``status``).

        ``calendar`` as a string names one calendar (``""`` for a single-counter
        booking); its row is created if it was never checked. ``None`` updates
        every known calendar of ``watch``. ``at=None`` clears. Returns the number
        of calendars updated.
        """
        values = (_opt_ts(at), reason)
        with self._transaction("save the next check time") as db:
            if calendar is None:
                cursor = db.execute(
                    "UPDATE calendars SET next_check = ?, next_reason = ? WHERE watch = ?",
                    (*values, watch),
                )
            else:
                cursor = db.execute(
                    "INSERT INTO calendars (watch, calendar, next_check, next_reason) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (watch, calendar) DO UPDATE SET "
                    "next_check = excluded.next_check, next_reason = excluded.next_reason",
                    (watch, calendar, *values),
                )
            return cursor.rowcount

    # ---- reading

    def event(self, event_id: int) -> Event | None:
        """The event with this id, or ``None``."""
        row = self._one("SELECT * FROM events WHERE id = ?", (event_id,))
        return _event(row) if row is not None else None

    def events_after(self, event_id: int, limit: int = 100) -> list[Event]:
        """Up to ``limit`` events with an id greater than ``event_id``, oldest first.

        Ids are never reused (AUTOINCREMENT), so a reader that remembers the last
        id it handled never misses nor repeats one.
        """
        rows = self._all("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (event_id, limit))
        return [_event(r) for r in rows]

    def last_event_id(self) -> int:
        """The id of the newest event, 0 if there is none."""
        return self._scalar("SELECT coalesce(max(id), 0) FROM events")

    def calendar_states(self) -> list[CalendarStateRow]:
        """Every calendar the store knows, by watch then calendar."""
        rows = self._all("SELECT * FROM calendars ORDER BY watch, calendar")
        return [
            CalendarStateRow(
                watch=r["watch"],
                calendar=r["calendar"],
                status=_status(r["status"]),
                since=_dt(r["since"]),
                last_check=_dt(r["last_check"]),
                next_check=_dt(r["next_check"]),
                next_reason=r["next_reason"],
                last_available=_dt(r["last_available"]),
                last_first_slot=_dt(r["last_first_slot"]),
                last_slot_count=r["last_slot_count"],
                state=_state_from_row(r),
            )
            for r in rows
        ]

    def calendar_state(self, watch: str, calendar: str) -> CalendarState | None:
        """The current state of one calendar (``None``: never checked)."""
        row = self._one(
            "SELECT * FROM calendars WHERE watch = ? AND calendar = ?", (watch, calendar)
        )
        return _state_from_row(row) if row is not None else None

    def episodes(
        self,
        since: datetime | None = None,
        watch: str | None = None,
        calendar: str | None = None,
        kind: EpisodeKind | str | None = None,
    ) -> list[EpisodeRow]:
        """Episodes that were open at some time from ``since`` on (all if ``None``),
        optionally of one watch/calendar/kind, oldest first."""
        where, params = _where(
            ("(closed_at IS NULL OR closed_at >= ?)", since) if since else None,
            watch=watch,
            calendar=calendar,
            kind=str(kind) if kind is not None else None,
        )
        rows = self._all(f"SELECT * FROM episodes{where} ORDER BY opened_at, id", params)
        return [_episode(r) for r in rows]

    def observations(
        self,
        since: datetime | None = None,
        watch: str | None = None,
        calendar: str | None = None,
        status: Status | None = None,
        limit: int | None = None,
    ) -> list[ObservationRow]:
        """Observations checked at or after ``since``, optionally filtered, oldest first.

        With ``limit``, the *latest* ``limit`` matching ones (still oldest first).
        """
        where, params = _where(
            ("checked_at >= ?", since) if since else None,
            watch=watch,
            calendar=calendar,
            status=status,
        )
        sql = f"SELECT * FROM observations{where} ORDER BY checked_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._all(sql, params)
        return [_observation(r) for r in reversed(rows)]

    def counts_by_status(
        self, since: datetime | None = None, *, watch: str | None = None
    ) -> dict[tuple[str, str], dict[Status, int]]:
        """How many checks of each status each calendar had since ``since`` (all if
        ``None``): ``{(watch, calendar): {Status.FULL: 280, Status.DOWN: 3}}``.
        Statuses never seen are absent."""
        where, params = _where(("checked_at >= ?", since) if since else None, watch=watch)
        rows = self._all(
            f"SELECT watch, calendar, status, count(*) AS n FROM observations{where} "
            "GROUP BY watch, calendar, status ORDER BY watch, calendar, status",
            params,
        )
        counts: dict[tuple[str, str], dict[Status, int]] = {}
        for r in rows:
            counts.setdefault((r["watch"], r["calendar"]), {})[Status(r["status"])] = r["n"]
        return counts

    # ---- deliveries (the notifier's side of the outbox)

    def enqueue_deliveries(
        self, targets_for: Callable[[Event], Iterable[tuple[str, str]]], now: datetime
    ) -> int:
        """Create the pending deliveries of every event not yet handed to delivery.

        ``targets_for(event)`` says to which targets (``(id, masked)``) an
        event goes; an event for nobody gets no delivery. The cursor moves in
        the same transaction, so after a crash each event is planned exactly once.
        Returns the number of deliveries created.
        """
        created = 0
        with self._transaction("plan notifications") as db:
            cursor = int(
                db.execute("SELECT value FROM meta WHERE key = 'delivery_cursor'").fetchone()[0]
            )
            rows = db.execute("SELECT * FROM events WHERE id > ? ORDER BY id", (cursor,))
            for event in [_event(r) for r in rows.fetchall()]:
                assert event.id is not None
                for target, masked in targets_for(event):
                    created += db.execute(
                        "INSERT INTO deliveries (event_id, target, target_masked, state, "
                        "created_at, next_attempt) VALUES (?, ?, ?, 'pending', ?, ?) "
                        "ON CONFLICT DO NOTHING",
                        (event.id, target, masked, _ts(now), _ts(now)),
                    ).rowcount
                cursor = event.id
            db.execute("UPDATE meta SET value = ? WHERE key = 'delivery_cursor'", (str(cursor),))
        return created

    def due_deliveries(self, now: datetime, limit: int = 50) -> list[DeliveryRow]:
        """Pending deliveries whose next attempt is due, oldest event first.

        A delivery waiting behind an earlier one to the same target that is
        not due yet (a retry) waits too: each target gets its messages in order.
        """
        rows = self._all(
            "SELECT * FROM deliveries AS d WHERE state = 'pending' AND next_attempt <= ? "
            "AND NOT EXISTS (SELECT 1 FROM deliveries AS e WHERE e.target = d.target "
            "AND e.state = 'pending' AND e.event_id < d.event_id AND e.next_attempt > ?) "
            "ORDER BY event_id, target LIMIT ?",
            (_ts(now), _ts(now), limit),
        )
        return [_delivery(r) for r in rows]

    def deliveries(self, event_id: int | None = None) -> list[DeliveryRow]:
        """Every delivery (of one event), in event then target order."""
        where, params = _where(event_id=event_id)
        rows = self._all(f"SELECT * FROM deliveries{where} ORDER BY event_id, target", params)
        return [_delivery(r) for r in rows]

    def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are ``pending``, ``sent`` and ``failed``."""
        rows = self._all("SELECT state, count(*) AS n FROM deliveries GROUP BY state")
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({r["state"]: r["n"] for r in rows})
        return counts

    def delivery_done(
        self, event_id: int, target: str, *, sent: bool, at: datetime, error: str | None = None
    ) -> None:
        """Mark a delivery sent, or failed for good (``error`` says why, redacted)."""
        with self._transaction("save a notification result") as db:
            db.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, done_at = ?, "
                "last_error = ? WHERE event_id = ? AND target = ?",
                ("sent" if sent else "failed", _ts(at), error, event_id, target),
            )

    def delivery_retry(
        self, event_id: int, target: str, *, next_attempt: datetime, error: str
    ) -> None:
        """Count a failed attempt and plan the next one."""
        with self._transaction("save a notification retry") as db:
            db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt = ?, last_error = ? "
                "WHERE event_id = ? AND target = ?",
                (_ts(next_attempt), error, event_id, target),
            )

    def episode(self, episode_id: int) -> EpisodeRow | None:
        """One episode by id, or ``None``."""
        row = self._one("SELECT * FROM episodes WHERE id = ?", (episode_id,))
        return _episode(row) if row is not None else None

    def get_meta(self, key: str) -> str | None:
        """A small value the daemon keeps between runs (e.g. a watch's backoff)."""
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction("save a setting") as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def routed_recently(self, event: Event, since: datetime) -> bool:
        """True if an earlier event of the same kind and watch, created since ``since``,
        was handed to at least one target (see the delivery worker's grouping)."""
        row = self._one(
            "SELECT 1 FROM events AS e JOIN deliveries AS d ON d.event_id = e.id "
            "WHERE e.kind = ? AND e.watch = ? AND e.created_at >= ? AND e.id < ? LIMIT 1",
            (event.kind, event.watch, _ts(since), event.id),
        )
        return row is not None

    def next_sendable_at(self, busy: Iterable[str] = ()) -> datetime | None:
        """When the worker next has something it can send (``None``: nothing).

        Only each target's oldest pending delivery counts (the others wait
        behind it, to keep order), and targets in ``busy`` are skipped (their
        task will ask again when it ends). A time in the past means "now".
        """
        busy = list(busy)
        exclude = f" AND d.target NOT IN ({', '.join('?' * len(busy))})" if busy else ""
        row = self._one(
            "SELECT min(d.next_attempt) FROM deliveries AS d WHERE d.state = 'pending' "
            "AND d.event_id = (SELECT min(e.event_id) FROM deliveries AS e "
            "WHERE e.target = d.target AND e.state = 'pending')" + exclude,
            busy,
        )
        return _dt(row[0]) if row is not None else None

    def add_event(self, draft: EventDraft) -> Event | None:
        """Put an event that no observation caused (the daily heartbeat) in the outbox.

        Returns it with its id, or ``None`` when its dedup key is already there.
        """
        with self._transaction("write an event") as db:
            inserted = self._insert_events(db, [draft], {})
        return inserted[0] if inserted else None


# --------------------------------------------------------------------------- migrations


def _refuse_newer(version: int, path: Path) -> None:
    """A database from a newer rdv-monitor is the user's to resolve: never write to it."""
    if version > schema_version():
        raise StateError(
            f"The state database {path} was written by a newer rdv-monitor (schema version "
            f"{version}; this one knows up to {schema_version()}). Upgrade rdv-monitor, or "
            "move that file away to start with an empty history."
        )


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the database to :func:`schema_version`, all pending steps in one transaction."""
    _refuse_newer(db.execute("PRAGMA user_version").fetchone()[0], path)
    target = schema_version()
    if db.execute("PRAGMA user_version").fetchone()[0] == target:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        current = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have
        _refuse_newer(current, path)  # migrated between our first look and the lock
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
