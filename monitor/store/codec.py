"""How values are written in the database, and read back.

Times are stored as ISO 8601 text in UTC with microseconds
(``2025-12-08T07:00:14.123456+00:00``): readable with the ``sqlite3`` shell,
and fixed-width, so text order is time order. Lists of slot times are JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum

from monitor.observation import Status

__all__ = ["dt", "opt_ts", "req_dt", "slots", "slots_json", "status", "ts", "where"]


def ts(value: datetime) -> str:
    """A stored time: UTC ISO 8601 with microseconds (fixed width, so text order = time order)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the store only takes aware times")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def opt_ts(value: datetime | None) -> str | None:
    """:func:`ts`, keeping ``None``."""
    return None if value is None else ts(value)


def dt(text: str | None) -> datetime | None:
    """A stored time read back, keeping ``None``."""
    return None if text is None else datetime.fromisoformat(text)


def req_dt(text: str) -> datetime:
    """A stored time of a ``NOT NULL`` column."""
    return datetime.fromisoformat(text)


def slots_json(values: Sequence[datetime]) -> str:
    """Slot times as a JSON list of stored times."""
    return json.dumps([ts(s) for s in values])


def slots(text: str | None) -> tuple[datetime, ...]:
    """Slot times read back (``NULL`` or ``[]``: none)."""
    return tuple(datetime.fromisoformat(s) for s in json.loads(text or "[]"))


def status(text: str | None) -> Status | None:
    """A stored :class:`Status`, keeping ``None``."""
    return None if text is None else Status(text)


def where(since: tuple[str, datetime] | None = None, **equal: object) -> tuple[str, list[object]]:
    """A WHERE clause from optional filters (``None`` = no filter on that column).

    ``since`` is ``(clause with one ?, time)``; the other filters are ``column = value``.
    """
    clauses: list[str] = []
    params: list[object] = []
    if since is not None:
        clauses.append(since[0])
        params.append(ts(since[1]))
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value.value if isinstance(value, Enum) else value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
