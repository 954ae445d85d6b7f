"""What the booking-module adapter learnt about its booking, as a value that outlives the process.

Without it the first check of every new process (a daemon restart, each
``rdv-monitor check``) walks landing → conditions → step 1 → answer: 5
requests. With step 1's form, its address and the session's idle behaviour
recalled from the state database, the first check costs 4 (landing,
conditions, the kept form with the landing page's fresh token, the answer),
and 2 when the recalled site session (its cookies) is still alive.

Everything here is a hint: the adapter falls back to the full walk when the
site refuses it. :meth:`Knowledge.from_json` raises :class:`ValueError` for
anything it does not recognise (an older format, a hand-edited row), so a bad
stored value costs one walk, never a crash. Pure code, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.sites.base import CalendarInfo
from monitor.sites.ezbooking.forms import Choice, Form

__all__ = ["FORMAT", "MAX_COOKIES", "Cookie", "Knowledge"]

FORMAT = 1
"""Version of the stored shape; a value of another version is ignored (one walk relearns it)."""
MAX_COOKIES = 20
"""Cookies kept at most: a booking session needs one (``eZSESSID``); a flood is not kept."""
_MAX_TEXT = 8192
"""Longest string accepted back from the database: anything longer is not ours."""


@dataclass(frozen=True, slots=True)
class Cookie:
    """A session cookie of the booking's site. Its value is a credential: never in a repr."""

    name: str
    value: str = field(repr=False)
    domain: str
    path: str = "/"


@dataclass(frozen=True, slots=True)
class Knowledge:
    """Step 1 as last shown, the calendars it offers, and how long the site keeps a session."""

    choice_url: str | None = None
    step1: Form | None = None
    step1_seen: datetime | None = None
    """When the site last showed step 1 (the kept form is re-read once it is old)."""
    calendars: tuple[CalendarInfo, ...] = ()
    survived: float = 0.0
    limit: float | None = None
    cookies: tuple[Cookie, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, object]:
        """A JSON-able dict; :meth:`from_json` reads it back."""
        step1 = self.step1
        return {
            "format": FORMAT,
            "choice_url": self.choice_url,
            "step1": None if step1 is None else _form_json(step1),
            "step1_seen": self.step1_seen.isoformat() if self.step1_seen else None,
            "calendars": [[c.planning_id, c.label] for c in self.calendars],
            "survived": self.survived,
            "limit": self.limit,
            "cookies": [[c.name, c.value, c.domain, c.path] for c in self.cookies],
        }

    @classmethod
    def from_json(cls, data: object) -> Knowledge:
        """The value :meth:`to_json` wrote; :class:`ValueError` for anything else."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError("not a stored value of this version")
        try:
            seen = data["step1_seen"]
            return cls(
                choice_url=_opt_text(data["choice_url"]),
                step1=None if data["step1"] is None else _form(data["step1"]),
                step1_seen=None if seen is None else _aware(datetime.fromisoformat(_text(seen))),
                calendars=tuple(
                    CalendarInfo(_text(i), _text(label)) for i, label in _rows(data["calendars"], 2)
                ),
                survived=_seconds(data["survived"]),
                limit=None if data["limit"] is None else _seconds(data["limit"]),
                cookies=tuple(
                    Cookie(_text(n), _text(v), _text(d), _text(p))
                    for n, v, d, p in _rows(data["cookies"], 4)[:MAX_COOKIES]
                ),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed stored value: {type(exc).__name__}") from None


def _form_json(form: Form) -> dict[str, object]:
    return {
        "action": form.action,
        "method": form.method,
        "fields": [list(p) for p in form.fields],
        "checkboxes": [list(p) for p in form.checkboxes],
        "choices": [[c.name, c.value, c.label, c.checked] for c in form.choices],
        "buttons": [list(p) for p in form.buttons],
    }


def _form(data: object) -> Form:
    if not isinstance(data, Mapping):
        raise ValueError("the kept form is not an object")
    choices = []
    for name, value, label, checked in _rows(data["choices"], 4, texts=3):
        if not isinstance(checked, bool):
            raise ValueError("a choice's checked flag is not a boolean")
        choices.append(Choice(name, value, label, checked))
    return Form(
        action=_text(data["action"]),
        method=_text(data["method"]),
        fields=_pairs(data["fields"]),
        checkboxes=_pairs(data["checkboxes"]),
        choices=tuple(choices),
        buttons=_pairs(data["buttons"]),
    )


def _pairs(data: object) -> tuple[tuple[str, str], ...]:
    return tuple((a, b) for a, b in _rows(data, 2))


def _rows(data: object, width: int, *, texts: int | None = None) -> list[Sequence[Any]]:
    """A list of ``width``-long lists whose first ``texts`` (default: all) items are strings."""
    if not isinstance(data, list):
        raise ValueError("expected a list")
    rows: list[Sequence[Any]] = []
    for row in data:
        if not isinstance(row, list) or len(row) != width:
            raise ValueError(f"expected rows of {width} items")
        for item in row[: width if texts is None else texts]:
            _text(item)
        rows.append(row)
    return rows


def _text(value: object) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise ValueError("expected a string")
    return value


def _opt_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number of seconds")
    if not (0 <= value < math.inf):
        raise ValueError("expected a number of seconds")
    return float(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("expected an aware time")
    return value
