"""``layout_changed``: a calendar answered with a page never seen before (the site may
have changed); the page is saved so that the classifier can learn it."""

from __future__ import annotations

from datetime import datetime

from monitor.events.base import COMMON_FIELDS, Event, EventKind, register
from monitor.events.common import CALENDAR_HELP, CalendarFields
from monitor.events.writing import (
    Message,
    Words,
    Written,
    body,
    payload_int,
    payload_text,
    payload_time,
)


def _write(event: Event, words: Words, gone_at: datetime | None) -> Written:
    cal = CalendarFields(event, words)
    p = event.payload
    since = payload_time(p, "since") or cal.seen_at
    page_file = payload_text(p.get("page_file"))
    saved = f"pages/{page_file}" if page_file else ""
    error = payload_text(p.get("page_error"))
    first = words.say("first", short=cal.short, since=words.since(since))
    if saved:
        where = words.say("saved", saved=saved)
    else:
        where = words.say("not_saved_because", error=error) if error else words.say("not_saved")
    advice = words.say("advice")
    values = {
        **cal.values(),
        "since": words.stamp(since),
        "page_file": saved or "?",
        "page_size": words.size(payload_int(p.get("page_size"))),
        "advice": advice,
    }
    message = Message(cal.title(words.say("title")), body(first, where, advice, cal.url))
    return Written(message, values)


LAYOUT_CHANGED = register(
    EventKind(
        "layout_changed",
        "A calendar answered with a page never seen before (the site may have changed).",
        _write,
        fields=(*COMMON_FIELDS, "since", "page_file", "page_size"),
        placeholders={
            **CALENDAR_HELP,
            "since": "when the unknown page was first seen",
            "page_file": "where the page was saved: pages/<file> in the state directory",
            "page_size": 'the saved page\'s size, e.g. "48 Kio", or "?"',
            "advice": "the built-in sentence saying what you can do",
        },
        grouped=True,
        default=True,
    )
)
"""``page_file`` is the saved page's file name inside ``<state_dir>/pages`` (``null``
when there was no page body or it could not be saved; then ``page_error`` says why)."""
