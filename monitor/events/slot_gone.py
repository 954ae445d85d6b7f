"""``slot_gone``: a calendar that showed slots is full again (opt-in: it needs no action)."""

from __future__ import annotations

from datetime import datetime

from monitor.events.base import COMMON_FIELDS, Event, EventKind, register
from monitor.events.common import CALENDAR_HELP, SLOTS_HELP, CalendarFields, slot_values
from monitor.events.writing import Message, Words, Written, body, payload_int, payload_time


def _write(event: Event, words: Words, gone_at: datetime | None) -> Written:
    cal = CalendarFields(event, words)
    p = event.payload
    opened_at = payload_time(p, "opened_at")
    duration_s = payload_int(p.get("duration_s"))
    if duration_s is None and opened_at is not None:
        duration_s = round((cal.seen_at - opened_at).total_seconds())
    duration = words.duration(duration_s)
    values = {
        **cal.values(),
        **slot_values(words, p),
        "opened_at": words.stamp(opened_at, seconds=True),
        "last_seen_at": words.stamp(payload_time(p, "last_seen_at"), seconds=True),
        "duration": duration,
    }
    gone = words.at(cal.seen_at, seconds=True)
    first = words.say("first", short=cal.short, gone=gone, duration=duration)
    message = Message(cal.title(words.say("title")), body(first, words.say("tail"), cal.url))
    return Written(message, values)


SLOT_GONE = register(
    EventKind(
        "slot_gone",
        "A calendar that showed slots is full again: the availability episode closed.",
        _write,
        fields=(
            *COMMON_FIELDS,
            "opened_at",
            "last_seen_at",
            "duration_s",
            "first_slot",
            "slot_count",
            "slots",
        ),
        placeholders={
            **CALENDAR_HELP,
            **SLOTS_HELP,
            "opened_at": "when the slots appeared",
            "last_seen_at": "the last check that still showed them",
            "duration": 'how long they stayed open, e.g. "3 min 26 s"',
        },
    )
)
"""``first_slot``/``slot_count``/``slots`` are the last ones seen during the episode;
``last_seen_at`` is the last check that still showed them."""
