"""What an event is, and the registry of event kinds.

An *event* is a fact worth a message (see :mod:`monitor.events`); its *kind*
owns everything about it: the payload keys it carries, whether the notifier
groups it per watch, whether it is sent when ``[notify] events`` is not given,
whether a user may list it there, the ``{placeholders}`` its templates may use
and the function that writes its message. Every list the config, the delivery
worker or the notifier needs is derived from :data:`KINDS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.events.writing import Words, Written

__all__ = [
    "COMMON_FIELDS",
    "GROUPED",
    "KINDS",
    "Event",
    "EventDraft",
    "EventKind",
    "Writer",
    "dedup_key",
    "default_kinds",
    "get_kind",
    "grouped_kinds",
    "payload_to_json",
    "register",
    "selectable_kinds",
]

COMMON_FIELDS = ("watch", "calendar", "label", "url", "status", "detail", "http_status", "seen_at")
"""Payload keys of every calendar event: which calendar, where to book, what the check saw."""

Writer = Callable[["Event", "Words", "datetime | None"], "Written"]
"""Writes a kind's message: ``(event, words, gone_at) -> Written``. ``gone_at`` is set
only for a ``slot_opened`` delivered after its slots were gone."""


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
    write: Writer
    """Writes the built-in message, and the values its templates may use."""
    fields: tuple[str, ...] = ()
    placeholders: Mapping[str, str] = field(default_factory=dict)
    """Every ``{placeholder}`` a template of this kind may use, with what it holds."""
    grouped: bool = False
    """One message per watch: while one is recent, the same kind for another calendar
    of the watch is not sent again (a site outage is one message, not one per calendar)."""
    default: bool = False
    """Sent when ``[notify] events`` is not given."""
    selectable: bool = True
    """May be listed in ``[notify] events`` (``test`` may not: only ``notify-test`` sends it)."""
    words: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """The kind's own phrases, by language code then phrase name, used when a language
    catalogue (:mod:`monitor.lang`) has none for this kind: a kind can be added in one module."""


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


def selectable_kinds() -> tuple[str, ...]:
    """The names a user may list in ``[notify] events``, in registration order."""
    return tuple(k.name for k in KINDS.values() if k.selectable)


def default_kinds() -> tuple[str, ...]:
    """The kinds sent when ``[notify] events`` is not given."""
    return tuple(k.name for k in KINDS.values() if k.selectable and k.default)


def grouped_kinds() -> frozenset[str]:
    """The kinds sent once per watch while a message of the same kind is recent."""
    return frozenset(k.name for k in KINDS.values() if k.grouped)


class _GroupedView(AbstractSet[str]):
    """:func:`grouped_kinds` as a live set: it sees kinds registered after import."""

    def __contains__(self, name: object) -> bool:
        kind = KINDS.get(name) if isinstance(name, str) else None
        return kind is not None and kind.grouped

    def __iter__(self) -> Iterator[str]:
        return iter(grouped_kinds())

    def __len__(self) -> int:
        return len(grouped_kinds())


GROUPED: AbstractSet[str] = _GroupedView()
"""The names of the grouped kinds, always up to date with :data:`KINDS`."""


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
