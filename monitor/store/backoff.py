"""Each watch's failure streak (:class:`monitor.schedule.Backoff`), kept across restarts.

A site that blocked us must not be asked again just because systemd restarted
the daemon: the daemon saves a watch's backoff whenever it changes and reads
it back at start-up. One row per watch in ``backoffs`` (schema version 3;
older versions kept it as JSON in ``meta``, moved here by the migration).
"""

from __future__ import annotations

import logging
import sqlite3

import monitor.store.codec as codec
from monitor.observation import Status
from monitor.schedule import Backoff
from monitor.store.database import Database

__all__ = ["Backoffs"]

log = logging.getLogger("monitor.store")


def _backoff(row: sqlite3.Row) -> Backoff:
    cause = Status(row["cause"]) if row["cause"] is not None else None
    return Backoff(row["failures"], cause, codec.dt(row["not_before"]))


class Backoffs:
    """The saved backoff of each watch."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def load(self, watch: str) -> Backoff:
        """The saved backoff of ``watch``; the healthy ``Backoff()`` when none was saved
        (or the saved one is unreadable, which is logged: it only means no delay)."""
        row = self._db.one(
            "SELECT failures, cause, not_before FROM backoffs WHERE watch = ?", (watch,)
        )
        if row is None:
            return Backoff()
        try:
            return _backoff(row)
        except ValueError:
            log.warning("%s: ignoring an unreadable saved backoff", watch)
            return Backoff()

    def save(self, watch: str, backoff: Backoff) -> None:
        """Save ``watch``'s backoff (replacing the previous one)."""
        with self._db.transaction("save a watch's backoff") as db:
            db.execute(
                "INSERT INTO backoffs (watch, failures, cause, not_before) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (watch) DO UPDATE SET failures = excluded.failures, "
                "cause = excluded.cause, not_before = excluded.not_before",
                (
                    watch,
                    backoff.failures,
                    backoff.cause.value if backoff.cause else None,
                    codec.opt_ts(backoff.not_before),
                ),
            )

    def all(self) -> dict[str, Backoff]:
        """Every saved backoff, by watch (unreadable ones left out)."""
        saved: dict[str, Backoff] = {}
        for row in self._db.all("SELECT * FROM backoffs ORDER BY watch"):
            try:
                saved[row["watch"]] = _backoff(row)
            except ValueError:
                log.warning("%s: ignoring an unreadable saved backoff", row["watch"])
        return saved
