"""What each watch's site adapter learnt about its booking, kept so that a restart reuses it.

Without it the first check of every new process walks the whole booking again
(issue 12). One row per (watch, booking URL) in ``sites`` (schema version 5):
the adapter's own JSON value, when the site last answered, and when the row
was written. Keyed by watch as well as URL because each watch has its own
site session: two watches of one booking must never share one. Rows of
watches no longer configured are left: a few hundred bytes each, and a watch
put back later starts warm. The value is a hint the adapter checks; an
unreadable row reads as no row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import monitor.store.codec as codec
from monitor.store.database import Database

__all__ = ["SavedSite", "Sites"]

log = logging.getLogger("monitor.store")


@dataclass(frozen=True, slots=True)
class SavedSite:
    """One saved row: the adapter's JSON value and when the site last answered it."""

    value: Mapping[str, object]
    last_contact: datetime | None


class Sites:
    """The saved knowledge of each watch's adapter."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def load(self, watch: str, url: str, kind: str) -> SavedSite | None:
        """What the adapter of ``watch`` (of ``kind``, at ``url``) saved; ``None`` if nothing
        usable (another adapter kind, or a row that is not JSON: logged at DEBUG)."""
        row = self._db.one(
            "SELECT kind, value, last_contact FROM sites WHERE watch = ? AND url = ?",
            (watch, url),
        )
        if row is None or row["kind"] != kind:
            return None
        try:
            value = json.loads(row["value"])
            last = codec.dt(row["last_contact"])
        except ValueError:
            log.debug("%s: ignoring an unreadable saved site value", watch)
            return None
        if not isinstance(value, dict):
            return None
        if last is not None and last.tzinfo is None:
            last = None
        return SavedSite(value, last)

    def save(self, watch: str, url: str, kind: str, saved: SavedSite, now: datetime) -> None:
        """Replace the saved knowledge of ``watch``'s adapter (one short transaction)."""
        value = json.dumps(saved.value, ensure_ascii=False, separators=(",", ":"))
        with self._db.transaction("save what the adapter learnt") as db:
            db.execute(
                "INSERT INTO sites (watch, url, kind, value, last_contact, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (watch, url) DO UPDATE SET "
                "kind = excluded.kind, value = excluded.value, "
                "last_contact = excluded.last_contact, updated_at = excluded.updated_at",
                (watch, url, kind, value, codec.opt_ts(saved.last_contact), codec.ts(now)),
            )
