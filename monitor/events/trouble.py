"""``trouble``: a calendar could not be read for too long (down, blocked, captcha,
unknown page). The message says what is wrong, since when, and what the person can do."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from urllib.parse import urlsplit

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
    title,
)

__all__ = ["SITE_WIDE", "TROUBLE", "TROUBLE_HELP", "outage_site", "trouble_site", "trouble_values"]

SITE_WIDE = frozenset({"down", "blocked"})
"""Trouble statuses about the whole site, not one calendar: a site that does not answer,
or refuses us, does so for every calendar at once. Messages and log lines name the site."""


def outage_site(status: str, url: str) -> str:
    """The site a whole-site outage is about, as people name it (``haute-savoie.gouv.fr``,
    which says the prefecture); ``""`` when ``status`` is trouble with one calendar."""
    if status not in SITE_WIDE:
        return ""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return host or url


def trouble_site(event: Event) -> str:
    """:func:`outage_site` of a ``trouble`` or ``recovered`` event (``""`` for other kinds)."""
    key = {"trouble": "status", "recovered": "trouble_status"}.get(event.kind)
    if key is None:
        return ""
    return outage_site(payload_text(event.payload.get(key)), payload_text(event.payload.get("url")))


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
    site = outage_site(cal.status, cal.url)
    # Grouping sends one message per watch for a whole-site outage: it names the site,
    # not the calendar that happened to cross the threshold first.
    heading = title(prefix, site, cal.watch) if site else cal.title(prefix)
    values = {
        **cal.values(),
        **common,
        "first_status": words.status(event.payload.get("first_status")),
        "last_good": words.stamp(payload_time(event.payload, "last_good")),
        "problem": problem,
        "advice": advice,
        "site": site,
    }
    return Written(Message(heading, body(problem, advice, cal.url)), values)


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
            "site": 'the site when all of it is down or refusing us: "haute-savoie.gouv.fr"; '
            "empty for trouble with one calendar (captcha, unknown page)",
        },
        grouped=True,
        default=True,
    )
)
"""``status``/``detail`` are those of the check that crossed the threshold; ``since``
is the first bad check of the run, ``first_status`` its status. ``offered`` lists the
calendars the booking offers when ``status`` is ``not_offered`` (empty otherwise)."""
