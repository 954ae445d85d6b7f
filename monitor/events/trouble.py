"""``trouble``: a calendar could not be read for too long (down, blocked, captcha,
unknown page). The message says what is wrong, since when, and what the person can do."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from monitor.events.base import COMMON_FIELDS, Event, EventKind, register
from monitor.events.common import CALENDAR_HELP, CalendarFields
from monitor.events.writing import Message, Words, Written, body, payload_int, payload_time

__all__ = ["TROUBLE", "TROUBLE_HELP", "trouble_values"]

TROUBLE_HELP: Mapping[str, str] = MappingProxyType(
    {
        "since": "when the trouble began: the time, with the date if not today",
        "duration": 'how long it has lasted, e.g. "47 min"',
        "bad_checks": "how many checks failed since then",
    }
)
"""The placeholders of ``trouble`` and ``recovered`` about the trouble itself."""


def trouble_values(cal: CalendarFields, words: Words) -> tuple[datetime | None, dict[str, object]]:
    """When the trouble began, and the values of :data:`TROUBLE_HELP`'s placeholders."""
    p = cal.payload
    since = payload_time(p, "since")
    bad = payload_int(p.get("bad_checks"))
    duration_s = payload_int(p.get("duration_s"))
    if duration_s is None and since is not None:
        duration_s = round((cal.seen_at - since).total_seconds())
    return since, {
        "since": words.stamp(since),
        "duration": words.duration(duration_s),
        "bad_checks": bad if bad is not None else "?",
    }


_OWN_WORDS = ("blocked", "captcha", "unknown", "not_offered")
"""The statuses with a message of their own; any other trouble is written as "down"."""


def _problem(cal: CalendarFields, words: Words, since: datetime | None) -> tuple[str, str, str]:
    """(title prefix, what is wrong and since when, what the person can do), per status."""
    when = words.since(since)
    code = cal.http_status
    status = cal.status if cal.status in _OWN_WORDS else "down"
    if status == "not_offered":
        offered = cal.payload.get("offered")
        listed = ", ".join(str(o) for o in offered) if isinstance(offered, list) else ""
        name = "not_offered_problem" if cal.calendar else "not_offered_none"
        problem = words.say(name, calendar=cal.calendar, offered=listed or "?", since=when)
    elif status == "blocked":
        refused = words.say("blocked_code", code=code) if code is not None and code >= 400 else ""
        problem = words.say("blocked_problem", code=refused, since=when)
    elif status == "down":
        if code is None:
            problem = words.say("down_silent", since=when)
        elif code >= 400:
            problem = words.say("down_error", code=code, since=when)
        else:
            problem = words.say("down_problem", since=when)
    else:
        problem = words.say(f"{status}_problem", since=when)
    return words.say(f"{status}_prefix"), problem, words.say(f"{status}_advice")


def _write(event: Event, words: Words, gone_at: datetime | None) -> Written:
    cal = CalendarFields(event, words)
    since, common = trouble_values(cal, words)
    prefix, problem, advice = _problem(cal, words, since)
    values = {
        **cal.values(),
        **common,
        "first_status": words.status(event.payload.get("first_status")),
        "last_good": words.stamp(payload_time(event.payload, "last_good")),
        "problem": problem,
        "advice": advice,
    }
    return Written(Message(cal.title(prefix), body(problem, advice, cal.url)), values)


TROUBLE = register(
    EventKind(
        "trouble",
        "A calendar could not be read (down, blocked, captcha, unknown page) for too long.",
        _write,
        fields=(
            *COMMON_FIELDS,
            "since",
            "first_status",
            "duration_s",
            "bad_checks",
            "last_good",
            "offered",
        ),
        placeholders={
            **CALENDAR_HELP,
            **TROUBLE_HELP,
            "first_status": "what the first failed check saw, in words",
            "last_good": 'the last check that could read the calendar, or "?"',
            "problem": "the built-in sentence saying what is wrong and since when",
            "advice": "the built-in sentence saying what you can do",
        },
        grouped=True,
        default=True,
    )
)
"""``status``/``detail`` are those of the check that crossed the threshold; ``since``
is the first bad check of the run, ``first_status`` its status. ``offered`` lists the
calendars the booking offers when ``status`` is ``not_offered`` (empty otherwise)."""
