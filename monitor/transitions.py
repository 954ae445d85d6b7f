"""Pure transition logic: one calendar's state + one observation → next state, episodes, events.

The model::

    Observation ──advance()──▶ CalendarState' + episode operations + event drafts
                                    │                  │                 │
                          calendars table      episodes table     events table (outbox)

Nothing here does I/O: :func:`advance` is a function of its arguments, so the
rules are tested exhaustively without a database, and :mod:`monitor.store`
applies its result in one transaction.

Rules, per calendar (keyed by ``(watch, calendar)``; calendar ``""`` for a
single-counter booking):

* **Availability episode.** Opens at the first ``available`` observation and
  closes at the first ``full`` one. Bad observations (``down``, ``blocked``,
  ``captcha``, ``unknown``) in between do not split it: they say nothing about
  the slots. Opening writes ``slot_opened``; closing writes ``slot_gone``; more
  or other slots within an episode only update the episode (no new alert).
  Only ``available`` opens an episode: nothing else can ever become a "slot".
* **Trouble run.** Starts at the first bad observation after a good one
  (``available``/``full``), or at the first observation ever if it is bad, and
  ends at the next good one; every run is a ``trouble`` episode. When a run has
  lasted ``trouble_after`` seconds or more (measured from its first bad check to
  the current one; ``0`` = at the first bad check), one ``trouble`` event is
  written, once per run, whatever the bad statuses that follow (down → blocked).
* **Recovered.** The good observation that ends a run for which ``trouble`` was
  written yields ``recovered``; a short run that was never reported ends silently.
* **Layout changed.** The first ``unknown`` observation of a run yields
  ``layout_changed`` (once per run), and the page is saved under
  :func:`page_file_name` for diagnosis.
* **Not offered.** A ``not_offered`` observation (the config names a calendar
  the booking does not offer) is trouble that is reported at once, whatever
  ``trouble_after``, once per run; it is never ``layout_changed`` and no page
  is saved: the page is the booking's ordinary calendar choice.

Idempotence: every event's ``dedup_key`` is derived from its episode's start
(the opening check's time), so a replayed observation maps to the same key and
the outbox's unique constraint drops it. Besides, :func:`advance` ignores an
observation older than the state's last check (``Transition.stale``), and
replaying the last observation finds the state already advanced.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from monitor.events import (
    LAYOUT_CHANGED,
    RECOVERED,
    SLOT_GONE,
    SLOT_OPENED,
    TROUBLE,
    EventDraft,
    dedup_key,
)
from monitor.observation import Observation, Status

__all__ = [
    "Availability",
    "CalendarState",
    "CloseEpisode",
    "EpisodeKind",
    "EpisodeOp",
    "OpenEpisode",
    "Transition",
    "TroubleRun",
    "UpdateEpisode",
    "advance",
    "iso",
    "page_file_name",
    "slug",
]


class EpisodeKind(StrEnum):
    """The two kinds of episode a calendar goes through."""

    AVAILABILITY = "availability"
    """From the first ``available`` check to the first ``full`` one."""
    TROUBLE = "trouble"
    """From the first bad check (down/blocked/captcha/unknown) to the next good one."""


@dataclass(frozen=True, slots=True)
class Availability:
    """The open availability episode of a calendar (slots were seen and not yet gone).

    ``first_slot``/``slot_count``/``slots`` are those of the latest ``available``
    check (``seen_at``). ``episode_id`` is the episodes-table id, ``None`` until
    the store has inserted the episode.
    """

    opened_at: datetime
    seen_at: datetime
    first_slot: datetime | None = None
    slot_count: int | None = None
    slots: tuple[datetime, ...] = ()
    episode_id: int | None = None


@dataclass(frozen=True, slots=True)
class TroubleRun:
    """The current run of bad checks of a calendar.

    ``status``/``detail``/``http_status`` are those of the latest bad check;
    ``first_status`` the one that started the run. ``notified`` is set once the
    ``trouble`` event is written, ``layout_notified`` once ``layout_changed`` is.
    """

    since: datetime
    first_status: Status
    status: Status
    detail: str
    http_status: int | None = None
    bad_checks: int = 1
    notified: bool = False
    layout_notified: bool = False
    episode_id: int | None = None


@dataclass(frozen=True, slots=True)
class CalendarState:
    """Everything remembered about one calendar between two checks (one ``calendars`` row).

    ``status`` is the latest check's, ``since`` when the calendar entered that
    status, ``last_check`` the latest check's time. ``last_good`` is the latest
    ``available``/``full`` check; ``last_available``/``last_first_slot``/
    ``last_slot_count`` describe the latest check that showed slots (kept after
    the episode closes, for ``rdv-monitor status``). ``availability`` and
    ``trouble`` are the open episodes, ``None`` when there is none; ``trouble``
    is set exactly when ``status`` is a bad one. Times are aware, UTC.
    """

    watch: str
    calendar: str
    status: Status
    since: datetime
    last_check: datetime
    url: str
    detail: str
    label: str | None = None
    http_status: int | None = None
    last_good: datetime | None = None
    last_available: datetime | None = None
    last_first_slot: datetime | None = None
    last_slot_count: int | None = None
    availability: Availability | None = None
    trouble: TroubleRun | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.watch, self.calendar)


@dataclass(frozen=True, slots=True)
class OpenEpisode:
    """Insert an episode; its id then belongs in the new state and in this transition's events."""

    kind: EpisodeKind
    opened_at: datetime
    status: Status
    detail: str
    first_slot: datetime | None = None
    slot_count: int | None = None
    slots: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateEpisode:
    """Record the latest status/detail (trouble) or slots (availability) on an open episode."""

    kind: EpisodeKind
    episode_id: int | None
    status: Status
    detail: str
    first_slot: datetime | None = None
    slot_count: int | None = None
    slots: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class CloseEpisode:
    """Close an open episode at ``closed_at`` (the check that ended it)."""

    kind: EpisodeKind
    episode_id: int | None
    closed_at: datetime


EpisodeOp = OpenEpisode | UpdateEpisode | CloseEpisode
"""What to do to the episodes table, in order."""


@dataclass(frozen=True, slots=True)
class Transition:
    """The result of :func:`advance`.

    ``state`` is the calendar's new state (episodes opened here have
    ``episode_id=None``: the store fills it in). ``events`` are drafts in the
    order they happened; each names the episode it belongs to. ``page_file``,
    when set, is the file name under ``<state_dir>/pages`` where the store must
    save ``Observation.page`` before committing. ``stale`` is true when the
    observation was older than the state's last check and changed nothing.
    """

    state: CalendarState
    events: tuple[EventDraft, ...] = ()
    ops: tuple[EpisodeOp, ...] = ()
    page_file: str | None = None
    stale: bool = False

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of this transition's events, in order (handy in logs and tests)."""
        return tuple(event.kind for event in self.events)


# --------------------------------------------------------------------------- helpers


def iso(value: datetime | None) -> str | None:
    """A payload time: ISO 8601 in UTC, to the second (``None`` stays ``None``)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds")


def slug(text: str, *, limit: int = 48) -> str:
    """``text`` as a safe, readable file-name part: ASCII, lower case, ``-`` between words."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


def page_file_name(watch: str, calendar: str, at: datetime) -> str:
    """The file name (no folder) of a saved unknown page:
    ``<UTC timestamp>-<slug watch>[-<slug calendar>].html``, e.g.
    ``20251208T070014Z-renouvellement-3-2.html``."""
    parts = [at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"), slug(watch) or "watch"]
    if slug(calendar):
        parts.append(slug(calendar))
    return "-".join(parts) + ".html"


def _seconds(start: datetime, end: datetime) -> int:
    return round((end - start).total_seconds())


def _slot_count(obs: Observation) -> int | None:
    """The number of slots: as the page said, else the slots listed, else unknown."""
    if obs.slot_count is not None:
        return obs.slot_count
    return len(obs.slots) or None


def _common(obs: Observation, now: datetime, label: str | None) -> dict[str, Any]:
    """Payload keys shared by every calendar event (see ``monitor.events``)."""
    return {
        "watch": obs.watch,
        "calendar": obs.calendar,
        "label": label,
        "url": obs.url,
        "status": obs.status.value,
        "detail": obs.detail,
        "http_status": obs.http_status,
        "seen_at": iso(now),
    }


def _draft(
    kind: str,
    obs: Observation,
    now: datetime,
    anchor: datetime,
    episode: EpisodeKind,
    payload: dict[str, Any],
) -> EventDraft:
    return EventDraft(
        kind=kind,
        watch=obs.watch,
        calendar=obs.calendar,
        created_at=now,
        dedup_key=dedup_key(kind, obs.watch, obs.calendar, anchor.astimezone(UTC)),
        episode=episode.value,
        payload=payload,
    )


# --------------------------------------------------------------------------- advance


def advance(state: CalendarState | None, obs: Observation, *, trouble_after: float) -> Transition:
    """Apply one observation to a calendar's state (``None``: never checked before).

    ``trouble_after`` is in seconds (``MonitorSettings.trouble_after``). Raises
    ``ValueError`` for a naive ``checked_at`` or a state of another calendar.
    """
    if obs.checked_at.tzinfo is None or obs.checked_at.utcoffset() is None:
        raise ValueError("Observation.checked_at must be an aware datetime")
    if state is not None and state.key != (obs.watch, obs.calendar):
        raise ValueError(f"state of {state.key} given for an observation of {obs.watch!r}")
    now = obs.checked_at.astimezone(UTC)
    if state is not None and now < state.last_check:
        return Transition(state=state, stale=True)

    label = obs.label or (state.label if state else None)
    common = _common(obs, now, label)
    events: list[EventDraft] = []
    ops: list[EpisodeOp] = []
    page_file: str | None = None
    availability = state.availability if state else None
    trouble = state.trouble if state else None
    last_good = state.last_good if state else None
    last_available = state.last_available if state else None
    last_first_slot = state.last_first_slot if state else None
    last_slot_count = state.last_slot_count if state else None

    if obs.status.is_trouble:
        if trouble is None:
            trouble = TroubleRun(
                since=now,
                first_status=obs.status,
                status=obs.status,
                detail=obs.detail,
                http_status=obs.http_status,
            )
            ops.append(OpenEpisode(EpisodeKind.TROUBLE, now, obs.status, obs.detail))
        else:
            if (trouble.status, trouble.detail) != (obs.status, obs.detail):
                ops.append(
                    UpdateEpisode(EpisodeKind.TROUBLE, trouble.episode_id, obs.status, obs.detail)
                )
            trouble = replace(
                trouble,
                status=obs.status,
                detail=obs.detail,
                http_status=obs.http_status,
                bad_checks=trouble.bad_checks + 1,
            )
        if obs.status is Status.UNKNOWN and not trouble.layout_notified:
            page_file = (
                page_file_name(obs.watch, obs.calendar, now) if obs.page is not None else None
            )
            payload = {
                **common,
                "since": iso(trouble.since),
                "page_file": page_file,
                "page_size": len(obs.page) if obs.page is not None else None,
            }
            events.append(
                _draft(LAYOUT_CHANGED.name, obs, now, trouble.since, EpisodeKind.TROUBLE, payload)
            )
            trouble = replace(trouble, layout_notified=True)
        # A calendar the booking does not offer is the config's mistake: waiting
        # trouble_after would not heal it, so it is said at once (still once per run).
        due = obs.status is Status.NOT_OFFERED or (now - trouble.since).total_seconds() >= (
            trouble_after
        )
        if not trouble.notified and due:
            payload = {
                **common,
                "since": iso(trouble.since),
                "first_status": trouble.first_status.value,
                "duration_s": _seconds(trouble.since, now),
                "bad_checks": trouble.bad_checks,
                "last_good": iso(last_good),
                "offered": list(obs.offered),
            }
            events.append(
                _draft(TROUBLE.name, obs, now, trouble.since, EpisodeKind.TROUBLE, payload)
            )
            trouble = replace(trouble, notified=True)
    else:
        last_good = now
        if trouble is not None:
            ops.append(CloseEpisode(EpisodeKind.TROUBLE, trouble.episode_id, now))
            if trouble.notified:
                payload = {
                    **common,
                    "since": iso(trouble.since),
                    "trouble_status": trouble.status.value,
                    "duration_s": _seconds(trouble.since, now),
                    "bad_checks": trouble.bad_checks,
                }
                events.append(
                    _draft(RECOVERED.name, obs, now, trouble.since, EpisodeKind.TROUBLE, payload)
                )
            trouble = None
        if obs.status is Status.AVAILABLE:
            count = _slot_count(obs)
            last_available, last_first_slot, last_slot_count = now, obs.first_slot, count
            if availability is None:
                availability = Availability(now, now, obs.first_slot, count, obs.slots)
                ops.append(
                    OpenEpisode(
                        EpisodeKind.AVAILABILITY,
                        now,
                        obs.status,
                        obs.detail,
                        obs.first_slot,
                        count,
                        obs.slots,
                    )
                )
                payload = {
                    **common,
                    "planning_id": obs.planning_id,
                    "opened_at": iso(now),
                    "first_slot": iso(obs.first_slot),
                    "slot_count": count,
                    "slots": [iso(s) for s in obs.slots],
                }
                events.append(
                    _draft(SLOT_OPENED.name, obs, now, now, EpisodeKind.AVAILABILITY, payload)
                )
            else:
                seen = (availability.first_slot, availability.slot_count, availability.slots)
                if seen != (obs.first_slot, count, obs.slots):
                    ops.append(
                        UpdateEpisode(
                            EpisodeKind.AVAILABILITY,
                            availability.episode_id,
                            obs.status,
                            obs.detail,
                            obs.first_slot,
                            count,
                            obs.slots,
                        )
                    )
                availability = replace(
                    availability,
                    seen_at=now,
                    first_slot=obs.first_slot,
                    slot_count=count,
                    slots=obs.slots,
                )
        elif availability is not None:  # FULL: the slots are gone
            ops.append(CloseEpisode(EpisodeKind.AVAILABILITY, availability.episode_id, now))
            payload = {
                **common,
                "opened_at": iso(availability.opened_at),
                "last_seen_at": iso(availability.seen_at),
                "duration_s": _seconds(availability.opened_at, now),
                "first_slot": iso(availability.first_slot),
                "slot_count": availability.slot_count,
                "slots": [iso(s) for s in availability.slots],
            }
            events.append(
                _draft(
                    SLOT_GONE.name,
                    obs,
                    now,
                    availability.opened_at,
                    EpisodeKind.AVAILABILITY,
                    payload,
                )
            )
            availability = None

    new_state = CalendarState(
        watch=obs.watch,
        calendar=obs.calendar,
        status=obs.status,
        since=now if state is None or state.status is not obs.status else state.since,
        last_check=now,
        url=obs.url,
        detail=obs.detail,
        label=label,
        http_status=obs.http_status,
        last_good=last_good,
        last_available=last_available,
        last_first_slot=last_first_slot,
        last_slot_count=last_slot_count,
        availability=availability,
        trouble=trouble,
    )
    return Transition(state=new_state, events=tuple(events), ops=tuple(ops), page_file=page_file)
