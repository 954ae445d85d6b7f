"""Each watch's planned next check, kept so that a restart resumes the plan.

Without it a restart during a backoff re-planned a whole new backoff from the
saved failure streak, and could stay blind for up to an hour to slots on a
site that had recovered meanwhile (issue 11, item 3). The daemon saves a
watch's plan whenever it plans (one transaction, together with the
``next_check`` that ``status`` shows for each of its calendars), with a
fingerprint of the watch's config; at start-up a watch whose fingerprint is
unchanged resumes at its saved time at the latest (see
:func:`monitor.schedule.resume`). One row per watch in ``plans`` (schema
version 4).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import monitor.store.codec as codec
from monitor.schedule import Planned, Reason
from monitor.store.database import Database

__all__ = ["Plans", "SavedPlan"]

log = logging.getLogger("monitor.store")

_REASONS: frozenset[str] = frozenset(get_args(Reason))


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """A watch's plan as the previous process saved it, and the config it was made for."""

    planned: Planned
    fingerprint: str


class Plans:
    """The saved plan of each watch."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(
        self, watch: str, calendars: Sequence[str], planned: Planned, fingerprint: str
    ) -> None:
        """Save ``watch``'s next check, and show it as the next check of each of its
        ``calendars`` (``""`` for a single-counter booking), in one transaction."""
        at = codec.ts(planned.at)
        with self._db.transaction("save the next check") as db:
            db.execute(
                "INSERT INTO plans (watch, next_run, reason, config) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (watch) DO UPDATE SET next_run = excluded.next_run, "
                "reason = excluded.reason, config = excluded.config",
                (watch, at, planned.reason, fingerprint),
            )
            db.executemany(
                "INSERT INTO calendars (watch, calendar, next_check, next_reason) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (watch, calendar) DO UPDATE SET "
                "next_check = excluded.next_check, next_reason = excluded.next_reason",
                [(watch, calendar, at, planned.reason) for calendar in calendars],
            )

    def load(self, watch: str) -> SavedPlan | None:
        """The plan saved for ``watch``; ``None`` when there is none or it is unreadable
        (logged: it only means the watch is planned afresh)."""
        row = self._db.one("SELECT next_run, reason, config FROM plans WHERE watch = ?", (watch,))
        if row is None:
            return None
        try:
            if row["reason"] not in _REASONS:
                raise ValueError(f"unknown reason {row['reason']!r}")
            at = codec.req_dt(row["next_run"])
            reason: Reason = row["reason"]
        except ValueError:
            log.warning("%s: ignoring an unreadable saved plan", watch)
            return None
        return SavedPlan(Planned(at, reason), row["config"])
