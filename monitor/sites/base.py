"""What every site adapter provides.

Each adapter class declares which URLs it :meth:`~SiteAdapter.accepts` and how
its calendars are named (:attr:`~SiteAdapter.naming`); the one list of
adapters is :mod:`monitor.sites.registry`, which the config and the daemon ask.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Protocol

import httpx

from monitor.http import Fetcher
from monitor.observation import Observation

__all__ = [
    "CalendarInfo",
    "CalendarNaming",
    "CalendarSpec",
    "Clock",
    "Memory",
    "SiteAdapter",
    "utc_now",
]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class CalendarSpec(Protocol):
    """A calendar as the user named it: a label token ("3.1") or a planning id."""

    @property
    def planning(self) -> int | None: ...
    @property
    def display(self) -> str: ...
    def matches(self, label: str) -> bool: ...


class CalendarNaming(Protocol):
    """How a platform's calendars are named in a config and recognised on its pages.

    The config checks what the user wrote with :meth:`parse_label` and
    :meth:`parse_planning`; the adapter picks a calendar with the two ``matches``.
    Error messages are advice to follow "… is not a calendar name; " (or "… is not
    a planning id; "), without the value, which the config quotes its own way.
    """

    def parse_label(self, text: str) -> str:
        """The label as the config keeps it; :class:`ValueError` if it is not one."""
        ...

    def parse_planning(self, value: object) -> int:
        """The planning id; :class:`ValueError` if ``value`` is not one."""
        ...

    def label_matches(self, token: str, label: str) -> bool:
        """True if the site's calendar ``label`` is the one the config calls ``token``."""
        ...

    def planning_matches(self, planning: int, value: str | int | None) -> bool:
        """True if a calendar choice whose id is ``value`` is planning ``planning``."""
        ...


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    """A calendar a booking offers, as listed by :meth:`SiteAdapter.discover`."""

    planning_id: str
    label: str


@dataclass(frozen=True, slots=True)
class Memory:
    """What an adapter learnt about its booking, as the state database keeps it.

    Handed back to a new adapter of the same watch (:meth:`SiteAdapter.recall`) so
    that a new process does not ask the site again what the last one already knew.
    """

    value: Mapping[str, object]
    """JSON-able knowledge in the adapter's own format: a change is worth a write."""
    last_contact: datetime | None = None
    """When the site last answered: kept with ``value``, but alone not worth a write."""


class SiteAdapter(ABC):
    """Checks the calendars of one booking page, one at a time.

    One instance per watched booking: it owns the site session (cookies) and
    whatever it learnt about the site's pages. It never books anything.
    """

    kind: ClassVar[str]
    """Short name shown to users ("ezbooking")."""
    naming: ClassVar[CalendarNaming]
    """How this platform's calendars are named (what ``calendars = [...]`` may hold)."""

    def __init__(self, url: str, fetcher: Fetcher, *, clock: Clock = utc_now) -> None:
        self.url = url
        self.fetcher = fetcher
        self.clock = clock
        # The fetcher is this booking's session: whatever a page asks, it must never
        # carry our cookie or form token to, or trust an answer from, another site.
        fetcher.confine_to(url)

    def learnt(self) -> Memory | None:
        """What this adapter learnt worth keeping across restarts (``None``: nothing)."""
        return None

    def recall(self, memory: Memory, *, session: bool = True) -> bool:
        """Take back what an earlier adapter of this watch learnt; True if any of it was used.

        Only a hint: the adapter must still read every answer it reports, and fall
        back to asking the site when the hint is wrong. ``session=False`` leaves out
        the site session itself (its cookies), for a process that may run beside
        another one using it. An unreadable value is ignored (False), never raised.
        """
        return False

    @classmethod
    @abstractmethod
    def accepts(cls, url: httpx.URL) -> bool:
        """True if this adapter knows how to read the booking at ``url``."""

    @abstractmethod
    async def discover(self) -> list[CalendarInfo]:
        """The calendars the booking offers (empty for a single-counter booking)."""

    @abstractmethod
    async def check(self, calendar: CalendarSpec | None, *, watch: str) -> Observation:
        """Check one calendar (``None``: the booking's only one) and say what was seen.

        Never raises for anything the site does: time-outs, error pages,
        hostile addresses and surprises (even a bug of ours set off by a page)
        all become an :class:`Observation` with the right status, so that one
        strange page cannot stop the monitoring of every other calendar.
        """
