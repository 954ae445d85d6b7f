"""``slot_opened``: a calendar shows free slots (an availability episode opened).

The alert the whole program exists for: the count and first date first, then the
link, then a reminder that slots go within minutes. Delivered late (after the
slots were gone), it says so, still with the link.
"""

from __future__ import annotations

from datetime import datetime

from monitor.events.base import COMMON_FIELDS, Event, EventKind, register
from monitor.events.common import CALENDAR_HELP, SLOTS_HELP, CalendarFields, slot_values
from monitor.events.writing import Message, Words, Written, body, payload_int


def _write(event: Event, words: Words, gone_at: datetime | None) -> Written:
    cal = CalendarFields(event, words)
    values = {**cal.values(), **slot_values(words, event.payload)}
    planning = payload_int(event.payload.get("planning_id"))
    values["planning_id"] = planning if planning is not None else "?"
    values["gone_at"] = words.stamp(gone_at, seconds=True) if gone_at is not None else ""
    summary = str(values["summary"])
    seen = words.at(cal.seen_at, seconds=True)
    if gone_at is None:
        first = summary[:1].upper() + summary[1:]
        reminder = words.say("reminder", seen=seen)
        message = Message(cal.title(words.say("title")), body(first, cal.url, reminder, cal.label))
        return Written(message, values)
    count = payload_int(event.payload.get("slot_count"))
    undated = summary == words.shared("slots", "open")
    shown = words.say("late_undated") if undated else summary
    gone = words.at(gone_at, seconds=True)
    first = words.say("late_one" if count == 1 else "late_many", seen=seen, gone=gone, shown=shown)
    late = body(first, words.say("late"), cal.url, cal.label)
    return Written(Message(cal.title(words.say("late_title")), late), values)


SLOT_OPENED = register(
    EventKind(
        "slot_opened",
        "A calendar shows free slots: an availability episode opened.",
        _write,
        fields=(*COMMON_FIELDS, "planning_id", "opened_at", "first_slot", "slot_count", "slots"),
        placeholders={
            **CALENDAR_HELP,
            **SLOTS_HELP,
            "planning_id": 'the calendar\'s planning id on the site, or "?"',
            "gone_at": "when the slots were gone again (empty unless the alert came late)",
        },
        default=True,
    )
)
"""``first_slot``/``slots`` are ISO times (``slots`` may be empty and ``slot_count``
``null`` when the page proves slots exist without listing them)."""
