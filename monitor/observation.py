"""The values that flow from a site adapter to the store: what one check saw.

A check of one calendar ends in exactly one :class:`Observation`. Its
:class:`Status` is deliberately more than "slots / no slots": error pages,
captchas and blocks are states of their own so that nothing but positive
evidence of open slots can ever become ``available``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum

__all__ = ["Observation", "Status", "Verdict"]


class Status(StrEnum):
    """What a calendar looked like at one check."""

    AVAILABLE = "available"
    """Positive evidence of open slots (step 3/4 page, free slot links)."""
    FULL = "full"
    """The « plus de plage horaire libre » page."""
    CAPTCHA = "captcha"
    """A captcha stands in the way: a human must look."""
    BLOCKED = "blocked"
    """403/429, deny pages, "Forbidden": we are being refused."""
    DOWN = "down"
    """5xx, proxy error pages, maintenance/closed pages, time-outs, connection errors."""
    UNKNOWN = "unknown"
    """None of the above: a page never seen before. Never treated as a slot."""
    NOT_OFFERED = "not_offered"
    """The booking does not offer the calendar the config names (a mistyped label, or
    the prefecture changed its calendars): the config must be fixed, not rdv-monitor.
    Trouble, but never a layout change."""

    @property
    def is_trouble(self) -> bool:
        """True for the states in which the monitor cannot tell whether slots exist."""
        return self not in (Status.AVAILABLE, Status.FULL)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the pure classifier read in one HTTP response.

    ``slots`` are aware datetimes (UTC), earliest first, read from free-slot
    links; ``slot_count`` is ``None`` when the page proves slots exist but does
    not show them (step 3), so "unknown" is never confused with "zero".
    """

    status: Status
    detail: str
    step: str | None = None
    slots: tuple[datetime, ...] = ()
    slot_count: int | None = None
    offered: tuple[str, ...] = ()
    """For ``not_offered``: the calendar labels the booking offers."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One check of one calendar of one watch, as recorded and reported."""

    watch: str
    calendar: str
    """The calendar as configured ("3.1", "planning 24980"), or "" for a single-counter booking."""
    status: Status
    url: str
    """The booking page a human should open: the direct link."""
    detail: str
    checked_at: datetime
    elapsed_ms: int
    http_status: int | None = None
    planning_id: str | None = None
    label: str | None = None
    """The calendar's full label as the site shows it, when known."""
    slots: tuple[datetime, ...] = ()
    slot_count: int | None = None
    retry_after: float | None = None
    """Seconds the server asked us to wait (``Retry-After``), when it did."""
    offered: tuple[str, ...] = ()
    """For ``not_offered``: the calendar labels the booking offers, so that the alert can
    list them (the fix is to pick one of them)."""
    page: bytes | None = field(default=None, repr=False, compare=False)
    """The body of an ``unknown`` page, kept for diagnosis; ``None`` otherwise."""

    @property
    def first_slot(self) -> datetime | None:
        return self.slots[0] if self.slots else None

    def to_json(self, tz: tzinfo) -> dict[str, object]:
        """The stable JSON shape of ``rdv-monitor check --json`` (times shown in ``tz``)."""
        return {
            "watch": self.watch,
            "calendar": self.calendar,
            "label": self.label,
            "planning_id": self.planning_id,
            "status": self.status.value,
            "url": self.url,
            "http_status": self.http_status,
            "elapsed_ms": self.elapsed_ms,
            "detail": self.detail,
            "slots": [s.astimezone(tz).isoformat() for s in self.slots],
            "slot_count": self.slot_count,
            "checked_at": self.checked_at.astimezone(tz).isoformat(timespec="seconds"),
        }
