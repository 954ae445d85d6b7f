"""Events: what the store tells the notifier, one row of the outbox each.

The model, end to end::

    Observation ──▶ calendar state ──▶ episodes ──▶ events ──▶ outbox ──▶ notifier
    (one check)     (per calendar)     (open/close)  (drafts)   (events table)

An *event* is a fact worth a message: a calendar started showing slots
(``slot_opened``), stopped showing them (``slot_gone``), could not be read for
too long (``trouble``), can be read again (``recovered``), or answered with a
page the classifier has never seen (``layout_changed``). ``heartbeat`` is
reserved for the notifier's daily "still alive" message; the store never
creates it.

Kinds are registered by name, urlwatch-style: each is a small
:class:`EventKind` constant in :data:`KINDS`, so a notifier, a template or the
config can look one up by the word a user writes (``events = ["slot_opened"]``).
Each kind lists the payload keys it always carries (:attr:`EventKind.fields`):
a message must be writable from the payload alone ("3 slots on calendar 3.2
from Tue 8 Dec 09:00, seen at 08:00:14, book at <url>"; "site down since
07:42"), without reading the rest of the database.

Times in payloads are ISO 8601 strings in UTC (``2025-12-08T07:00:14+00:00``);
the notifier shows them in the configured time zone. :meth:`Event.time` parses
one back.

Every event has a ``dedup_key``, unique in the outbox and derived from the
episode it belongs to (:func:`dedup_key`): inserting the same event twice, for
instance when an observation is recorded again after a crash, is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "HEARTBEAT",
    "KINDS",
    "LAYOUT_CHANGED",
    "RECOVERED",
    "SLOT_GONE",
    "SLOT_OPENED",
    "TROUBLE",
    "Event",
    "EventDraft",
    "EventKind",
    "dedup_key",
    "get_kind",
    "payload_to_json",
    "register",
]

_COMMON = ("watch", "calendar", "label", "url", "status", "detail", "http_status", "seen_at")
"""Payload keys of every calendar event: which calendar, where to book, what the check saw."""


@dataclass(frozen=True, slots=True)
class EventKind:
    """One kind of event: its name (as stored and as written in the config) and its contract.

    ``fields`` are the payload keys an event of this kind always carries (a value
    may be ``null`` when unknown, e.g. ``slot_count`` on a step-3 page); the
    notifier and its templates may rely on them.
    """

    name: str
    summary: str
    """One line: when the event is created."""
    fields: tuple[str, ...] = ()


KINDS: dict[str, EventKind] = {}
"""Every known event kind, by name, in registration order."""


def register(kind: EventKind) -> EventKind:
    """Add ``kind`` to :data:`KINDS` and return it (so it can be assigned to a constant)."""
    if kind.name in KINDS:
        raise ValueError(f"event kind {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> EventKind:
    """The registered kind called ``name``; ``KeyError`` naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown event kind {name!r}; known: {', '.join(KINDS)}") from None


SLOT_OPENED = register(
    EventKind(
        "slot_opened",
        "A calendar shows free slots: an availability episode opened.",
        (*_COMMON, "planning_id", "opened_at", "first_slot", "slot_count", "slots"),
    )
)
"""``first_slot``/``slots`` are ISO times (``slots`` may be empty and ``slot_count``
``null`` when the page proves slots exist without listing them)."""

SLOT_GONE = register(
    EventKind(
        "slot_gone",
        "A calendar that showed slots is full again: the availability episode closed.",
        (*_COMMON, "opened_at", "last_seen_at", "duration_s", "first_slot", "slot_count", "slots"),
    )
)
"""``first_slot``/``slot_count``/``slots`` are the last ones seen during the episode;
``last_seen_at`` is the last check that still showed them."""

TROUBLE = register(
    EventKind(
        "trouble",
        "A calendar could not be read (down, blocked, captcha, unknown page) for too long.",
        (*_COMMON, "since", "first_status", "duration_s", "bad_checks", "last_good"),
    )
)
"""``status``/``detail`` are those of the check that crossed the threshold; ``since``
is the first bad check of the run, ``first_status`` its status."""

RECOVERED = register(
    EventKind(
        "recovered",
        "A calendar reported as in trouble can be read again.",
        (*_COMMON, "since", "trouble_status", "duration_s", "bad_checks"),
    )
)
"""``status`` is the good status seen now (``available``/``full``); ``trouble_status``
the last bad one; ``since`` when the trouble began; ``seen_at`` when it ended."""

LAYOUT_CHANGED = register(
    EventKind(
        "layout_changed",
        "A calendar answered with a page never seen before (the site may have changed).",
        (*_COMMON, "since", "page_file", "page_size"),
    )
)
"""``page_file`` is the saved page's file name inside ``<state_dir>/pages`` (``null``
when there was no page body or it could not be saved; then ``page_error`` says why)."""

HEARTBEAT = register(
    EventKind("heartbeat", "The daily 'still watching' message (created by the notifier).")
)


def dedup_key(kind: str, watch: str, calendar: str, anchor: datetime | str) -> str:
    """The outbox key of an event: its kind, its calendar and the start of its episode.

    ``anchor`` identifies the episode in time (the opening check's ``checked_at``,
    or any stable string for events without an episode). JSON keeps the parts
    unambiguous whatever characters watch names contain.
    """
    stamp = anchor.isoformat() if isinstance(anchor, datetime) else anchor
    return json.dumps([kind, watch, calendar, stamp], ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Event:
    """One row of the outbox.

    ``id`` is ``None`` until the event is inserted; ids only grow, so a reader
    can follow the outbox with ``events_after(last_id)``. ``created_at`` is the
    time of the check that caused the event (aware, UTC). ``episode_id`` links
    ``slot_opened``/``slot_gone`` to their availability episode and
    ``trouble``/``recovered``/``layout_changed`` to their trouble episode.
    ``payload`` is JSON-serialisable; see the kinds' ``fields``.
    """

    id: int | None
    kind: str
    watch: str
    calendar: str
    created_at: datetime
    episode_id: int | None
    dedup_key: str
    payload: dict[str, Any] = field(hash=False)

    def __post_init__(self) -> None:
        get_kind(self.kind)  # refuse an unregistered kind early, with the list of known ones
        if self.created_at.tzinfo is None:
            raise ValueError("Event.created_at must be an aware datetime")

    def payload_json(self) -> str:
        """The payload as stored: compact, keys sorted, non-ASCII kept readable."""
        return payload_to_json(self.payload)

    def time(self, key: str) -> datetime | None:
        """The payload time ``key`` (``seen_at``, ``since``, ``first_slot``…) as an aware
        datetime, or ``None`` when absent or null."""
        value = self.payload.get(key)
        return datetime.fromisoformat(value) if isinstance(value, str) else None


def payload_to_json(payload: Mapping[str, Any]) -> str:
    """Serialise a payload the one way the store writes it."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event the transition logic decided on, before the store gives it ids.

    ``episode`` says which of the calendar's episodes it belongs to
    (``"availability"`` or ``"trouble"``): the store knows that episode's id
    only once it has inserted it, possibly in the same transaction.
    """

    kind: str
    watch: str
    calendar: str
    created_at: datetime
    dedup_key: str
    episode: str | None
    payload: dict[str, Any] = field(hash=False)

    def to_event(self, *, id: int | None = None, episode_id: int | None = None) -> Event:
        """The :class:`Event` this draft becomes once stored."""
        return Event(
            id=id,
            kind=self.kind,
            watch=self.watch,
            calendar=self.calendar,
            created_at=self.created_at,
            episode_id=episode_id,
            dedup_key=self.dedup_key,
            payload=self.payload,
        )
