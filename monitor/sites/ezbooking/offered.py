"""The detail of a ``not_offered`` verdict: which calendars the booking offers. Pure.

The config names a calendar the booking does not offer (or none among
several): the fix is to pick one of those offered, so the detail lists them,
cut to a size that an observation, an event and a log line can carry.
"""

from __future__ import annotations

from monitor.observation import Status, Verdict
from monitor.sites.base import CalendarSpec
from monitor.sites.ezbooking.forms import Choice

__all__ = [
    "MAX_LABEL",
    "MAX_LISTED_CALENDARS",
    "MAX_LISTED_CHARS",
    "answered_unasked",
    "cut",
    "no_such_calendar",
    "pick",
]

MAX_LISTED_CALENDARS = 20
"""Calendars named in a "no such calendar" detail; the rest are counted."""
MAX_LABEL = 120
"""Characters of one calendar label quoted in a detail."""
MAX_LISTED_CHARS = 700
"""Characters of that list, at most, so that the advice after it fits in :data:`MAX_DETAIL`."""


def no_such_calendar(calendar: CalendarSpec | None, radios: tuple[Choice, ...]) -> Verdict:
    """The config names a calendar this booking does not offer (or none, among several).

    Its own status, ``not_offered``: the page is the booking's ordinary calendar
    choice, so calling it unknown would wrongly say the site changed. The detail
    names the calendars offered, since picking one of them is the fix.
    """
    offered = _offered(radios)
    labels = tuple(cut(c.label, MAX_LABEL) for c in radios[:MAX_LISTED_CALENDARS])
    if calendar is None:
        detail = (
            f"This booking offers {len(radios)} calendars and the watch names none; "
            f"it offers {offered}; name the ones to watch in `calendars` "
            "(rdv-monitor discover URL lists them)."
        )
    else:
        detail = (
            f"{calendar.display} is not offered by this booking; it offers {offered}; "
            "fix `calendars` (rdv-monitor discover URL lists them)."
        )
    return Verdict(Status.NOT_OFFERED, detail, "Choix de la nature du rendez-vous", offered=labels)


def _offered(radios: tuple[Choice, ...]) -> str:
    """The calendars of step 1 for a detail: the first few, labels cut, the rest counted."""
    shown: list[str] = []
    size = 0
    for choice in radios[:MAX_LISTED_CALENDARS]:
        item = f"{cut(choice.label, MAX_LABEL)} (planning {cut(choice.value, 40)})"
        if shown and size + len(item) > MAX_LISTED_CHARS:
            break
        shown.append(item)
        size += len(item) + 2
    more = len(radios) - len(shown)
    return "; ".join(shown) + (f"; … and {more} more" if more else "")


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def pick(calendar: CalendarSpec | None, radios: tuple[Choice, ...]) -> Choice | None:
    """The radio of ``calendar``: by planning id if the config gives one, else by its label."""
    if calendar is None:
        return None
    if calendar.planning is not None:
        wanted = str(calendar.planning)
        return next((c for c in radios if c.value == wanted), None)
    return next((c for c in radios if calendar.matches(c.label)), None)


def answered_unasked(calendars: int, verdict: Verdict) -> Verdict:
    """The site answers a calendar question nobody asked: it cannot be told whose answer it is."""
    return Verdict(
        Status.UNKNOWN,
        f"The site answered without asking which calendar (it offers {calendars}), even after "
        "starting over from its first page; the answer may be another calendar's, so it is "
        "not reported as this one's.",
        verdict.step,
    )
