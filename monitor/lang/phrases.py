"""What a language catalogue holds: every word rdv-monitor writes to a person.

A catalogue is one :class:`Phrases` value, the ``PHRASES`` constant of a module
of :mod:`monitor.lang` named by the language's code (``fr.py``, ``en.py``).
Being a dataclass without defaults, a catalogue that forgets a field fails at
import (and under mypy), not in the middle of an alert.

Texts with ``{name}`` fields are filled with :meth:`str.format`; each field's
docstring lists the names it receives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Phrases"]


@dataclass(frozen=True, slots=True)
class Phrases:
    """The words of one language: dates, statuses, durations and every message."""

    code: str
    """The value written in ``[notify] language`` ("fr")."""
    days: tuple[str, str, str, str, str, str, str]
    """Weekday abbreviations, Monday first."""
    months: tuple[str, str, str, str, str, str, str, str, str, str, str, str]
    """Month abbreviations, January first."""
    date: str
    """A date and time: ``{weekday} {day} {month} {year} {clock}`` (``{year}`` is empty
    or starts with a space)."""
    at_today: str
    """A time today: ``{time}`` (« à 08:00 »)."""
    at_day: str
    """A time another day: ``{date}`` (« le mar. 8 déc. à 08:00 »)."""
    at_unknown: str
    since_today: str
    """The start of something today: ``{time}`` (« depuis 07:42 »)."""
    since_day: str
    """The start of something another day: ``{date}``."""
    since_unknown: str
    units: Mapping[str, str]
    """Duration units for people, keyed ``d``, ``h``, ``min``, ``s`` (« j », « h »…)."""
    sizes: tuple[str, str, str]
    """Bytes, kibibytes, mebibytes."""
    status: Mapping[str, str]
    """What a check saw, for a sentence (« site en panne »), keyed by status."""
    status_was: Mapping[str, str]
    """What the trouble was, once over (« le site était en panne »), for bad statuses."""
    status_short: Mapping[str, str]
    """A status in a count (« complet : 280 »), keyed by status."""
    count_by_status: str
    """One status in a count: ``{status}``, ``{count}``."""
    messages: Mapping[str, Mapping[str, str]]
    """The phrases of each event kind's message, by kind name then phrase name; the
    kind's module says which phrase names it uses and what each receives."""
    procedures: Mapping[str, str]
    """The words of the ``rdv-monitor procedures`` listing."""
