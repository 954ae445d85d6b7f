"""Retention: raw observations older than ``[monitor] keep`` are pruned, in small batches.

Observations are the only table that grows with time (about a million rows a
year for 10 calendars every 5 minutes). Each :meth:`Retention.prune_batch`
deletes at most a few hundred of the oldest ones in one short transaction, so
the daemon can run it between checks without holding the write lock for long.
What the pruned rows are still needed for is kept first, in the same
transaction: their number per local day, calendar and status in
``daily_checks`` (``rdv-monitor stats`` "checks per day" reads it for days
beyond ``keep``). Episodes, events and deliveries are never pruned.

SQLite reuses the pages the deleted rows free (the freelist), so in a steady
state the file stops growing: new observations fill the space old ones left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path

import monitor.store.codec as codec
from monitor.observation import Status
from monitor.store.database import Database

__all__ = ["PRUNE_BATCH", "DatabaseSize", "Retention"]

PRUNE_BATCH = 500
"""Observations deleted per transaction: a few milliseconds of write lock."""


@dataclass(frozen=True, slots=True)
class DatabaseSize:
    """How much disk the state database takes (``status`` shows it)."""

    file_bytes: int
    """The database file plus its write-ahead log."""
    free_bytes: int
    """Space inside the file left by deleted rows, reused before the file grows."""
    observations: int


class Retention:
    """Pruning old observations, and the daily counts kept in their place."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def prune_batch(self, before: datetime, tz: tzinfo, limit: int = PRUNE_BATCH) -> int:
        """Delete up to ``limit`` of the oldest observations checked before ``before``,
        adding them to the daily counts (local days in ``tz``). Returns how many were
        deleted: fewer than ``limit`` means none is left to prune."""
        with self._db.transaction("prune old observations") as db:
            rows = db.execute(
                "SELECT id, checked_at, watch, calendar, status FROM observations "
                "WHERE checked_at < ? ORDER BY checked_at LIMIT ?",
                (codec.ts(before), limit),
            ).fetchall()
            if not rows:
                return 0
            counts: Counter[tuple[str, str, str, str]] = Counter()
            for row in rows:
                day = codec.req_dt(row["checked_at"]).astimezone(tz).date().isoformat()
                counts[(day, row["watch"], row["calendar"], row["status"])] += 1
            db.executemany(
                "INSERT INTO daily_checks (day, watch, calendar, status, checks) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (day, watch, calendar, status) "
                "DO UPDATE SET checks = checks + excluded.checks",
                [(*key, n) for key, n in counts.items()],
            )
            db.executemany("DELETE FROM observations WHERE id = ?", [(r["id"],) for r in rows])
            return len(rows)

    def daily_counts(
        self,
        since: date | None = None,
        *,
        keep: Callable[[str, str], bool] | None = None,
    ) -> dict[date, Counter[Status]]:
        """Checks of pruned observations per local day and status, from ``since`` on,
        of the calendars for which ``keep(watch, calendar)`` is true (all if ``None``)."""
        sql = "SELECT day, watch, calendar, status, checks FROM daily_checks"
        params: list[object] = []
        if since is not None:
            sql += " WHERE day >= ?"
            params.append(since.isoformat())
        days: dict[date, Counter[Status]] = {}
        for row in self._db.all(sql, params):
            if keep is None or keep(row["watch"], row["calendar"]):
                day = date.fromisoformat(row["day"])
                days.setdefault(day, Counter())[Status(row["status"])] += row["checks"]
        return days

    def size(self) -> DatabaseSize:
        """The database's size on disk, its reusable free space and its observation count."""
        path: Path = self._db.path
        wal = path.with_name(path.name + "-wal")
        file_bytes = sum(p.stat().st_size for p in (path, wal) if p.exists())
        free = self._db.scalar("PRAGMA freelist_count") * self._db.scalar("PRAGMA page_size")
        count = self._db.scalar("SELECT count(*) FROM observations")
        return DatabaseSize(file_bytes, free, count)
