"""What can go wrong with the state, as sentences: which file, why, and what to do.

Two classes, because systemd treats them differently: a :class:`StoreError`
may pass by itself (exit status 1, retried), a :class:`StateError` is the
user's to fix (exit status 2, not retried).
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from monitor.errors import MonitorError, UsageError

__all__ = ["DB_SUFFIXES", "StateError", "StoreError", "folder_failure", "open_failure"]

DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
"""A path ending so is a database file, not a state folder."""


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


def folder_failure(folder: Path, exc: OSError) -> StoreError:
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


def open_failure(exc: sqlite3.Error, db_path: Path, given: Path, *, readonly: bool) -> StoreError:
    """The error for a database SQLite would not open: a :class:`StateError` when the file
    is not a database or the user may not use it, else (a lock, an I/O error) a plain
    :class:`StoreError`, worth a retry."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # primary code of extended
    verb = "read" if readonly else "open"
    if code in _BROKEN_FILE:
        if given == db_path and db_path.suffix not in DB_SUFFIXES:
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
