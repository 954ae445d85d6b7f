"""One SQLite connection, guarded: opening, the write transaction, reads, closing.

Every aggregate of the store (calendars, outbox, backoffs) goes through one
:class:`Database`, so there is one place where SQLite errors become sentences,
and one kind of write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``).

Durability: WAL journal with ``synchronous=FULL``, so a committed transaction
has been fsynced (also on a Raspberry Pi SD card). Threads: a read-write
database has two connections, each guarded by its own lock: one for write
transactions (the daemon runs them on its writer thread, see
:mod:`monitor.store.writer`) and one for reads, so that a read on the asyncio
loop never waits for a slow fsync: WAL readers never block the writer, nor are
blocked by it. A read-only database (``mode=ro``) works the same way while the
daemon writes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from monitor.store.errors import DB_SUFFIXES, StateError, StoreError, folder_failure, open_failure
from monitor.store.pages import make_private_dir
from monitor.store.schema import migrate, refuse_newer, schema_version

__all__ = ["BUSY_TIMEOUT", "DB_NAME", "ConnectionSettings", "Database", "db_path"]

log = logging.getLogger("monitor.store")

DB_NAME = "state.db"
"""The database file's name inside the state folder."""
BUSY_TIMEOUT = 10.0
"""Seconds to wait for another connection's write lock before giving up."""
CACHE_KIB = 256
"""SQLite page cache per connection, KiB. SQLite's default (2 MiB each) fills up as the
observations table grows, so the daemon's two connections grew its memory by up to
~4 MiB over its first hours (measured with 10 calendars every 2 s: +0.24 MiB/min for
the first minutes); the cache now stops at 2 × 256 KiB. The daemon's queries read a few
indexed pages, and the OS keeps the file cached anyway."""


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """How the connection is set up, as SQLite reports it (what durability rests on)."""

    journal_mode: str
    synchronous: int
    """0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA."""
    foreign_keys: bool
    busy_timeout_ms: int


def db_path(path: str | os.PathLike[str]) -> Path:
    """A database file as given, or ``state.db`` inside a state folder."""
    p = Path(path)
    if p.suffix in DB_SUFFIXES or p.is_file():
        return p
    return p / DB_NAME


class Database:
    """A guarded connection to the state database; open with :meth:`open` or
    :meth:`open_readonly`."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        *,
        readonly: bool,
        reader: sqlite3.Connection | None = None,
    ) -> None:
        """Use :meth:`open` or :meth:`open_readonly` instead.

        ``connection`` takes the write transactions, ``reader`` (default: the same
        connection) the reads.
        """
        self._connection = connection
        self._reader = reader or connection
        for c in (self._connection, self._reader):
            c.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._read_lock = threading.RLock() if reader is not None else self._lock
        self._closed = False
        self.path = path
        self.readonly = readonly
        self.inode = _inode(path)
        """The database file's inode when opened (``None``: unknown): see :meth:`moved`."""

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Database:
        """Open (creating it if needed) the database of a state folder, or a ``.db`` file.

        Creates the folder with mode 0700, sets WAL + ``synchronous=FULL`` +
        foreign keys + a busy timeout, and applies pending migrations in one
        transaction. Raises :class:`StateError` (exit status 2) if the folder or the
        database is unusable (permission, not a database, newer schema), and a plain
        :class:`StoreError` for what may pass by itself (disk full, a lock held too long).
        """
        file = db_path(path)
        writer, reader = _connect(file, Path(path))
        return cls(writer, file, readonly=False, reader=reader)

    def reopen(self) -> None:
        """Open the database file again, as :meth:`open` would (creating the folder and
        the schema if they are gone), and use the new connections from now on.

        For a state folder removed while the daemon ran: the old connections point at
        deleted files, where no write can succeed again. Raises like :meth:`open`.
        """
        writer, reader = _connect(self.path, self.path)
        for c in (writer, reader):
            c.row_factory = sqlite3.Row
        with self._lock, self._read_lock:
            old = {self._connection, self._reader}
            self._connection, self._reader = writer, reader
            self.inode = _inode(self.path)
            self._closed = False
        for c in old:
            with suppress(sqlite3.Error):
                c.close()

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> Database:
        """Open an existing database for reading only (``mode=ro``), e.g. for ``status``.

        Raises :class:`StateError` when no database exists yet, it cannot be read, or
        its schema is not the one this version reads; a plain :class:`StoreError` for
        what may pass (a lock, I/O).
        """
        file = db_path(path)
        if not file.is_file():
            raise StateError(
                f"No state database at {file} yet: it is created when the monitor first "
                "runs (rdv-monitor run). Check [monitor] state_dir if it should exist."
            )
        uri = "file:" + quote(str(file.absolute())) + "?mode=ro"
        connection: sqlite3.Connection | None = None
        try:
            connection = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            refuse_newer(version, file)
            if version < schema_version():
                raise StateError(
                    f"The state database {file} has schema version {version}, older than "
                    f"this rdv-monitor's ({schema_version()}); it is upgraded when the monitor "
                    "next starts (rdv-monitor run)."
                )
        except sqlite3.Error as exc:
            if connection is not None:
                connection.close()
            raise open_failure(exc, file, Path(path), readonly=True) from exc
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        return cls(connection, file, readonly=True)

    def moved(self) -> bool:
        """True when the database file is gone or was replaced since it was opened (its
        folder removed, say): writes through the open connections can no longer land."""
        return self.inode is not None and _inode(self.path) != self.inode

    def close(self) -> None:
        """Close the connection (idempotent). The last one to close checkpoints the WAL."""
        with self._lock, self._read_lock:
            if not self._closed:
                self._closed = True
                if self._reader is not self._connection:
                    self._reader.close()
                self._connection.close()

    @contextmanager
    def guard(self, doing: str) -> Iterator[sqlite3.Connection]:
        """Hold the read connection's lock and turn SQLite errors into a
        :class:`StoreError` naming the action (reads; a read transaction is allowed)."""
        with self._guarded(self._read_lock, lambda: self._reader, doing) as db:
            yield db

    @contextmanager
    def _guarded(
        self, lock: threading.RLock, connection: Callable[[], sqlite3.Connection], doing: str
    ) -> Iterator[sqlite3.Connection]:
        with lock:
            if self._closed:
                raise StoreError(f"Cannot {doing}: the state database {self.path} is closed.")
            try:
                yield connection()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"Cannot {doing} in the state database {self.path}: {exc}."
                ) from exc

    @contextmanager
    def transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: take the write lock up front).

        The body gets the connection and plain data only: it must not call back
        into code that could use the store again.
        """
        if self.readonly:
            raise StoreError(f"Cannot {doing}: the state database was opened read-only.")
        if self.moved():
            # SQLite would write on into the deleted file and the write would be lost.
            raise StoreError(
                f"Cannot {doing}: the state database {self.path} is gone (was its folder removed?)."
            )
        with self._guarded(self._lock, lambda: self._connection, doing) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with suppress(sqlite3.Error):  # the first error is the one to report
                        db.execute("ROLLBACK")
                raise

    def all(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Every row of a query."""
        with self.guard("read") as db:
            rows: list[sqlite3.Row] = db.execute(sql, params).fetchall()
            return rows

    def one(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
        """The first row of a query, or ``None``."""
        with self.guard("read") as db:
            row: sqlite3.Row | None = db.execute(sql, params).fetchone()
            return row

    def scalar(self, sql: str, params: Sequence[object] = ()) -> int:
        """The integer in the first column of the first row (queries that always return one)."""
        row = self.one(sql, params)
        assert row is not None
        return int(row[0])

    def settings(self) -> ConnectionSettings:
        """The connection's durability settings, as SQLite reports them."""
        journal = self.one("PRAGMA journal_mode")
        return ConnectionSettings(
            journal_mode=str(journal[0]) if journal is not None else "",
            synchronous=self.scalar("PRAGMA synchronous"),
            foreign_keys=bool(self.scalar("PRAGMA foreign_keys")),
            busy_timeout_ms=self.scalar("PRAGMA busy_timeout"),
        )


def _connect(file: Path, given: Path) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """The write and read connections of a read-write database, migrated; see
    :meth:`Database.open` for the errors."""
    try:
        make_private_dir(file.parent)
    except OSError as exc:
        raise folder_failure(file.parent, exc) from exc
    opened: list[sqlite3.Connection] = []
    try:
        for role in ("write", "read"):
            connection = sqlite3.connect(
                file, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            opened.append(connection)
            if role == "write":
                mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    log.warning("%s: WAL journal unavailable here (got %s)", file, mode)
                connection.execute("PRAGMA journal_size_limit = 4194304")
                migrate(connection, file)
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    except sqlite3.Error as exc:
        for c in opened:
            c.close()
        raise open_failure(exc, file, given, readonly=False) from exc
    except BaseException:
        for c in opened:
            c.close()
        raise
    return opened[0], opened[1]


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None
