"""``recovered``: a calendar reported as in trouble can be read again."""

from __future__ import annotations

from datetime import datetime

from monitor.events.base import COMMON_FIELDS, Event, EventKind, register
from monitor.events.common import CALENDAR_HELP, CalendarFields
from monitor.events.trouble import TROUBLE_HELP, outage_site, trouble_values
from monitor.events.writing import Message, Words, Written, body, payload_text, title


def _write(event: Event, words: Words, gone_at: datetime | None) -> Written:
    cal = CalendarFields(event, words)
    _since, common = trouble_values(cal, words)
    was_status = payload_text(event.payload.get("trouble_status"))
    was = words.phrases.status_was.get(was_status, words.status(was_status))
    values = {**cal.values(), **common, "trouble_status": was}
    site = outage_site(was_status, cal.url)  # the end of a whole-site outage names the site
    first = words.say("first", short=site or cal.short, duration=common["duration"], was=was)
    now = words.say("available" if cal.status == "available" else "full")
    prefix = words.say("title")
    heading = title(prefix, site, cal.watch) if site else cal.title(prefix)
    return Written(Message(heading, body(first, now)), values)


RECOVERED = register(
    EventKind(
        "recovered",
        "A calendar reported as in trouble can be read again.",
        _write,
        fields=(*COMMON_FIELDS, "since", "trouble_status", "duration_s", "bad_checks"),
        placeholders={
            **CALENDAR_HELP,
            **TROUBLE_HELP,
            "trouble_status": 'what the trouble was, in words ("le site était en panne")',
        },
        grouped=True,
        default=True,
    )
)
"""``status`` is the good status seen now (``available``/``full``); ``trouble_status``
the last bad one; ``since`` when the trouble began; ``seen_at`` when it ended."""
