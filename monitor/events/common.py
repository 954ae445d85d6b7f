"""What the messages of calendar events share: the calendar's fields, and the slots.

Read defensively: a payload written by an older version, or damaged, still
gives a message (a lost alert is worse than an ugly one).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from monitor.events.base import Event
from monitor.events.writing import Words, payload_int, payload_text, payload_time, title

__all__ = ["CALENDAR_HELP", "SLOTS_HELP", "CalendarFields", "slot_values"]

CALENDAR_HELP: Mapping[str, str] = MappingProxyType(
    {
        "watch": "the watch's name, as in [[watch]] name",
        "calendar": 'the calendar, e.g. "3.2" (empty for a booking with a single counter)',
        "label": "the calendar's full label as the site shows it (empty when unknown)",
        "where": 'calendar and watch as titles show them: "3.2 – Renouvellement titre de séjour"',
        "url": "the direct link to the booking page",
        "status": 'what the check saw, in words ("complet", "site en panne" / "full", "site down")',
        "detail": (
            "the check's own one-sentence explanation (in English, as the classifier says it)"
        ),
        "http_status": 'the HTTP status code of the answer, or "?" when there was none',
        "seen_at": "when the check was made: the time (08:00:14), with the date if not today",
    }
)
"""The placeholders of every calendar event."""

SLOTS_HELP: Mapping[str, str] = MappingProxyType(
    {
        "first_slot": 'the earliest slot, e.g. "mar. 8 déc. à 09:00", or "?" when not shown',
        "slot_count": 'the number of slots, or "?" when the site does not show it',
        "slots": "the slot dates, earliest first (at most 5, then how many more), or ?",
        "summary": 'the built-in first line: "3 créneaux dès le mar. 8 déc. à 09:00"',
    }
)
"""The placeholders of the events about slots (``slot_opened``, ``slot_gone``)."""


class CalendarFields:
    """The payload fields every calendar event shares, read defensively."""

    def __init__(self, event: Event, words: Words) -> None:
        p = event.payload
        self.payload = p
        self.words = words
        self.watch = payload_text(p.get("watch")) or event.watch
        calendar = p.get("calendar")
        self.calendar = payload_text(calendar) if calendar is not None else event.calendar
        self.label = payload_text(p.get("label"))
        self.url = payload_text(p.get("url"))
        self.status = payload_text(p.get("status"))
        self.http_status = payload_int(p.get("http_status"))
        self.seen_at = payload_time(p, "seen_at") or event.created_at
        self.where = f"{self.calendar} – {self.watch}" if self.calendar else self.watch
        self.short = self.calendar or self.watch
        """How a first line names the calendar: "3.2", or the watch for a single counter."""

    def title(self, prefix: str) -> str:
        return title(prefix, self.calendar, self.watch)

    def values(self) -> dict[str, object]:
        """The values of :data:`CALENDAR_HELP`'s placeholders."""
        return {
            "watch": self.watch,
            "calendar": self.calendar,
            "label": self.label,
            "where": self.where,
            "url": self.url,
            "status": self.words.status(self.status),
            "detail": payload_text(self.payload.get("detail")),
            "http_status": self.http_status if self.http_status is not None else "?",
            "seen_at": self.words.stamp(self.seen_at, seconds=True),
        }


def _slot_dates(payload: Mapping[str, Any]) -> tuple[datetime | None, list[datetime]]:
    slots = [t for t in (payload_time({"t": s}, "t") for s in payload.get("slots") or ()) if t]
    first = payload_time(payload, "first_slot") or (min(slots) if slots else None)
    return first, sorted(slots)


def _summary(words: Words, count: int | None, first: datetime | None) -> str:
    """« 3 créneaux dès le mar. 8 déc. à 09:00 » / "3 slots from Tue 8 Dec 09:00"."""
    if first is None:
        if count is None:
            return words.shared("slots", "open")
        name = "one_undated" if count == 1 else "many_undated"
        return words.shared("slots", name, count=count)
    date = words.date(first)
    if count is None:
        return words.shared("slots", "from", date=date)
    return words.shared("slots", "one" if count == 1 else "many", count=count, date=date)


def slot_values(words: Words, payload: Mapping[str, Any]) -> dict[str, object]:
    """The values of :data:`SLOTS_HELP`'s placeholders."""
    count = payload_int(payload.get("slot_count"))
    first, slots = _slot_dates(payload)
    shown = ", ".join(words.date(s) for s in slots[:5])
    if len(slots) > 5:
        shown += f" (+{len(slots) - 5})"
    return {
        "first_slot": words.date(first) if first is not None else "?",
        "slot_count": count if count is not None else "?",
        "slots": shown or "?",
        "summary": _summary(words, count, first),
    }
