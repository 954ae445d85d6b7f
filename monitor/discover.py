"""What ``rdv-monitor discover URL`` prints: the calendars a booking offers, and the
``calendars = [...]`` line to paste, written only with names the booking really has.

Pure: the calendars are fetched by the command; this module only words them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from monitor.config.tables import Invalid
from monitor.config.values import WebUrl
from monitor.errors import UsageError
from monitor.sites.base import CalendarInfo, CalendarNaming

__all__ = ["booking_url", "calendar_name", "calendars_line", "discover_text"]

_WORD = re.compile(r"[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*")
"""Candidate names inside a label; the site's naming rules decide which ones are valid."""


def booking_url(url: str) -> str:
    """``url`` checked as ``validate`` checks a watch's ``url`` (same words, same "did you
    mean https://…"); :class:`UsageError` otherwise."""
    try:
        return WebUrl(url)
    except Invalid as exc:
        raise UsageError(f"discover: {exc.message}") from None


def calendar_name(cal: CalendarInfo, others: Sequence[CalendarInfo], naming: CalendarNaming) -> str:
    """The short name a config can give ``cal``: a number in its label that the site's
    naming accepts, that names it and no other calendar of the booking; ``""`` when none
    does (the calendar is then named by its planning id)."""
    # Only numbers: "3.1" in « Calendrier 3.1 - Renouvellement »; a word such as "Accueil"
    # would be accepted too, but nobody would recognise it as the calendar's name.
    words = [w for w in _WORD.findall(cal.label) if any(c.isdigit() for c in w)]
    for word in words:
        try:
            token = naming.parse_label(word)
        except ValueError:
            continue
        if not naming.label_matches(token, cal.label):
            continue
        if any(naming.label_matches(token, o.label) for o in others if o is not cal):
            continue
        return token
    return ""


def calendars_line(calendars: Sequence[CalendarInfo], naming: CalendarNaming) -> str:
    """``calendars = ["3.1", "3.2", { planning = 24990 }]``: every calendar, by its label's
    name when it has a unique valid one, else by its planning id."""
    items = []
    for cal in calendars:
        name = calendar_name(cal, calendars, naming)
        if name:
            items.append(json.dumps(name, ensure_ascii=False))
        elif cal.planning_id.isdigit():
            items.append(f"{{ planning = {cal.planning_id} }}")
    return f"calendars = [{', '.join(items)}]"


def discover_text(url: str, calendars: Sequence[CalendarInfo], naming: CalendarNaming) -> str:
    """The whole output of ``discover``."""
    if not calendars:
        return f"{url} has a single calendar: leave `calendars` out of its [[watch]]."
    width = max(len(c.planning_id) for c in calendars)
    lines = [f"{url} offers {len(calendars)} calendars:"]
    lines += [f"  planning {c.planning_id.ljust(width)}  {c.label}" for c in calendars]
    lines += [
        "",
        "Name them in a [[watch]], the one to try first in first place (keep only those",
        "that fit your situation):",
        f"  {calendars_line(calendars, naming)}",
    ]
    return "\n".join(lines)
