"""How the booking module's calendars are named, in a config and on its pages.

A booking with several counters first asks which calendar to use: a list of
radio buttons whose labels carry a short token ("Calendrier 3.1 -
Renouvellement", "(3.1)", "Calendrier n°3.1") and whose ``value`` is the
planning id (``24980``). A config names a calendar by that token or by its
planning id. These rules belong to the plugin, not to the config: another
platform would name its calendars its own way, and the config asks the
adapter's :data:`NAMING` (through :mod:`monitor.sites.registry`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from monitor.text import normalize_space

__all__ = ["LABEL_TOKEN", "NAMING", "EzBookingNaming", "normalize_space"]

LABEL_TOKEN = re.compile(r"^[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*$")
"""A calendar label token as printed on a booking page: "2", "3.1", "1.1", "A"."""


@lru_cache(maxsize=256)
def _token_pattern(token: str) -> re.Pattern[str]:
    """``token`` as a whole token: the characters around it may not extend it."""

    def side(char: str) -> str:
        return "0-9" if char.isdigit() else "a-z" if char.isalpha() else ""

    before = side(token[0])
    after = side(token[-1])
    lead = rf"(?<![{before}])(?<![{before}]\.)" if before else ""
    trail = rf"(?![{after}])(?!\.[0-9a-z])" if after else ""
    return re.compile(lead + re.escape(token) + trail)


class EzBookingNaming:
    """The booking module's calendar names (see :class:`monitor.sites.base.CalendarNaming`)."""

    def parse_label(self, text: str) -> str:
        """The label token as the config keeps it (spaces normalised).

        Raises :class:`ValueError` whose message says how to write one, to follow
        "… is not a calendar name; ".
        """
        label = normalize_space(text)
        if LABEL_TOKEN.match(label):
            return label
        tokens = [
            t
            for t in re.findall(r"[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*", label)
            if any(c.isdigit() for c in t)
        ]
        hint = f' Write just "{tokens[0]}".' if len(tokens) == 1 else ""
        raise ValueError(
            'give the short name the booking page shows, such as "3.1", "2" or "1.1" '
            f"(letters, digits and dots, no spaces).{hint}"
        )

    def parse_planning(self, value: object) -> int:
        """A planning id from a whole number (or its digits as text).

        Raises :class:`ValueError` whose message says what one is, to follow
        "… is not a planning id; ".
        """
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(
                "it is the whole number in the calendar's radio button "
                '(value="24980"), written { planning = 24980 }'
            )
        return value

    def label_matches(self, token: str, label: str) -> bool:
        """True if the site's calendar ``label`` carries ``token`` as a whole token.

        "3.1" matches "Calendrier 3.1 - Renouvellement", "(3.1)", "Calendrier n°3.1",
        "3.1 Renouvellement", but not "3.10", "13.1", "3.1.2" or "23.1": the
        characters around the token may not extend it (a digit next to a digit,
        a letter next to a letter, or a dot followed by more of the token).
        Whitespace, no-break spaces and letter case do not matter.
        """
        pattern = _token_pattern(token.lower())
        return pattern.search(normalize_space(label).lower()) is not None

    def planning_matches(self, planning: int, value: str | int | None) -> bool:
        """True if a calendar radio's ``value`` is the planning id ``planning``."""
        return value is not None and str(value).strip() == str(planning)


NAMING = EzBookingNaming()
"""The booking module's naming rules, as its adapter declares them."""
