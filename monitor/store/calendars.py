"""The calendar aggregate: observations, each calendar's state, and its episodes.

The model::

    Observation ─record()─▶ observations   every check, as seen (append-only)
                     │
                     ├─▶ calendars     the current state per (watch, calendar)
                     ├─▶ episodes      availability and trouble episodes, open → closed
                     └─▶ events        the outbox (see :mod:`monitor.store.outbox`)

:meth:`Calendars.record` does all of it in ONE transaction: insert the
observation, read the calendar's state, run the pure
:func:`monitor.transitions.advance`, apply its episode operations, save the new
state, insert its events, commit. After ``kill -9`` or a power cut the database
holds either all of a record or none of it; the caller then simply checks again.
Only an ``available`` observation opens an availability episode, so there is
no false "slot available" (see :mod:`monitor.transitions`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import monitor.store.codec as codec
from monitor.events import Event
from monitor.observation import Observation, Status
from monitor.store.database import Database
from monitor.store.outbox import insert_events
from monitor.store.pages import PAGES_DIR, save_page
from monitor.transitions import (
    Availability,
    CalendarState,
    CloseEpisode,
    EpisodeKind,
    OpenEpisode,
    TroubleRun,
    UpdateEpisode,
    advance,
)

__all__ = ["CalendarStateRow", "Calendars", "EpisodeRow", "ObservationRow", "rebased"]

log = logging.getLogger("monitor.store")

EpisodeOp = OpenEpisode | UpdateEpisode | CloseEpisode


# --------------------------------------------------------------------------- read models


@dataclass(frozen=True, slots=True)
class CalendarStateRow:
    """One calendar as ``rdv-monitor status`` shows it.

    ``status``/``since``/``last_check`` are ``None`` for a calendar the daemon
    scheduled but has not checked yet. ``last_available``/``last_first_slot``/
    ``last_slot_count`` describe the latest check that showed slots (``None``:
    never). ``state`` is the full :class:`CalendarState` (open episodes, trouble
    run), ``None`` before the first check.
    """

    watch: str
    calendar: str
    status: Status | None
    since: datetime | None
    last_check: datetime | None
    next_check: datetime | None
    next_reason: str | None
    last_available: datetime | None
    last_first_slot: datetime | None
    last_slot_count: int | None
    state: CalendarState | None


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    """One episode. Availability: ``first_slot``/``slot_count``/``slots`` are the latest
    seen. Trouble: ``status``/``detail`` are the latest bad ones. ``closed_at`` is ``None``
    while the episode is open."""

    id: int
    kind: EpisodeKind
    watch: str
    calendar: str
    opened_at: datetime
    closed_at: datetime | None
    first_slot: datetime | None
    slot_count: int | None
    slots: tuple[datetime, ...]
    status: Status
    detail: str

    @property
    def is_open(self) -> bool:
        """True while the episode has not ended."""
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class ObservationRow:
    """One recorded observation (the page body is never stored in the database)."""

    id: int
    checked_at: datetime
    watch: str
    calendar: str
    status: Status
    http_status: int | None
    elapsed_ms: int
    detail: str
    planning_id: str | None
    label: str | None
    url: str
    slot_count: int | None
    slots: tuple[datetime, ...]


def _episode(row: sqlite3.Row) -> EpisodeRow:
    return EpisodeRow(
        id=row["id"],
        kind=EpisodeKind(row["kind"]),
        watch=row["watch"],
        calendar=row["calendar"],
        opened_at=codec.req_dt(row["opened_at"]),
        closed_at=codec.dt(row["closed_at"]),
        first_slot=codec.dt(row["first_slot"]),
        slot_count=row["slot_count"],
        slots=codec.slots(row["slots"]),
        status=Status(row["status"]),
        detail=row["detail"],
    )


def _observation(row: sqlite3.Row) -> ObservationRow:
    return ObservationRow(
        id=row["id"],
        checked_at=codec.req_dt(row["checked_at"]),
        watch=row["watch"],
        calendar=row["calendar"],
        status=Status(row["status"]),
        http_status=row["http_status"],
        elapsed_ms=row["elapsed_ms"],
        detail=row["detail"],
        planning_id=row["planning_id"],
        label=row["label"],
        url=row["url"],
        slot_count=row["slot_count"],
        slots=codec.slots(row["slots"]),
    )


# --------------------------------------------------------------------------- calendar state


def _state_columns(state: CalendarState) -> dict[str, object]:
    """The ``calendars`` row of a state (``next_check``/``next_reason`` excluded: the daemon's)."""
    a, t = state.availability, state.trouble
    return {
        "watch": state.watch,
        "calendar": state.calendar,
        "status": state.status.value,
        "since": codec.ts(state.since),
        "last_check": codec.ts(state.last_check),
        "url": state.url,
        "detail": state.detail,
        "label": state.label,
        "http_status": state.http_status,
        "last_good": codec.opt_ts(state.last_good),
        "last_available": codec.opt_ts(state.last_available),
        "last_first_slot": codec.opt_ts(state.last_first_slot),
        "last_slot_count": state.last_slot_count,
        "episode_id": a.episode_id if a else None,
        "episode_opened_at": codec.ts(a.opened_at) if a else None,
        "episode_seen_at": codec.ts(a.seen_at) if a else None,
        "first_slot": codec.opt_ts(a.first_slot) if a else None,
        "slot_count": a.slot_count if a else None,
        "slots": codec.slots_json(a.slots) if a else "[]",
        "trouble_id": t.episode_id if t else None,
        "trouble_since": codec.ts(t.since) if t else None,
        "trouble_first_status": t.first_status.value if t else None,
        "trouble_status": t.status.value if t else None,
        "trouble_detail": t.detail if t else None,
        "trouble_http_status": t.http_status if t else None,
        "trouble_checks": t.bad_checks if t else 0,
        "trouble_notified": int(t.notified) if t else 0,
        "layout_notified": int(t.layout_notified) if t else 0,
    }


def _upsert_state(db: sqlite3.Connection, state: CalendarState) -> None:
    """Insert or replace a calendar's state, keeping the daemon's ``next_check``/``next_reason``."""
    values = _state_columns(state)
    columns = list(values)
    db.execute(
        f"INSERT INTO calendars ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + c for c in columns)}) "
        "ON CONFLICT (watch, calendar) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns[2:]),
        values,
    )


def _state_from_row(row: sqlite3.Row) -> CalendarState | None:
    """The state stored in a ``calendars`` row; ``None`` if the calendar was never checked."""
    if row["status"] is None:
        return None
    availability = None
    if row["episode_opened_at"] is not None:
        availability = Availability(
            opened_at=codec.req_dt(row["episode_opened_at"]),
            seen_at=codec.req_dt(row["episode_seen_at"]),
            first_slot=codec.dt(row["first_slot"]),
            slot_count=row["slot_count"],
            slots=codec.slots(row["slots"]),
            episode_id=row["episode_id"],
        )
    trouble = None
    if row["trouble_since"] is not None:
        trouble = TroubleRun(
            since=codec.req_dt(row["trouble_since"]),
            first_status=Status(row["trouble_first_status"]),
            status=Status(row["trouble_status"]),
            detail=row["trouble_detail"],
            http_status=row["trouble_http_status"],
            bad_checks=row["trouble_checks"],
            notified=bool(row["trouble_notified"]),
            layout_notified=bool(row["layout_notified"]),
            episode_id=row["trouble_id"],
        )
    return CalendarState(
        watch=row["watch"],
        calendar=row["calendar"],
        status=Status(row["status"]),
        since=codec.req_dt(row["since"]),
        last_check=codec.req_dt(row["last_check"]),
        url=row["url"],
        detail=row["detail"],
        label=row["label"],
        http_status=row["http_status"],
        last_good=codec.dt(row["last_good"]),
        last_available=codec.dt(row["last_available"]),
        last_first_slot=codec.dt(row["last_first_slot"]),
        last_slot_count=row["last_slot_count"],
        availability=availability,
        trouble=trouble,
    )


def _shift(value: datetime | None, by: timedelta) -> datetime | None:
    return None if value is None else value - by


def rebased(state: CalendarState, now: datetime) -> CalendarState:
    """``state`` moved back onto a wall clock that stepped back to ``now``.

    The observation being recorded is the newest one by its sequence in the
    database, whatever the wall clock says (a board without a real-time clock
    steps back when NTP syncs, or forward before it). Every time of the state
    is moved back so that the previous check is at ``now``: durations
    (``trouble_after``, how long slots stayed) go on from where they were
    instead of going negative and silencing events until the clock catches up;
    the time between the two checks, unknowable, counts as none. Slot times are the site's, not
    ours, and are kept. Episode rows keep the times people saw.
    """
    by = state.last_check - now
    if by <= timedelta(0):
        return state
    a, t = state.availability, state.trouble
    return replace(
        state,
        since=state.since - by,
        last_check=now,
        last_good=_shift(state.last_good, by),
        last_available=_shift(state.last_available, by),
        availability=replace(a, opened_at=a.opened_at - by, seen_at=a.seen_at - by) if a else None,
        trouble=replace(t, since=t.since - by) if t else None,
    )


def _insert_observation(db: sqlite3.Connection, obs: Observation) -> None:
    db.execute(
        "INSERT INTO observations (checked_at, watch, calendar, status, http_status, "
        "elapsed_ms, detail, planning_id, label, url, slot_count, slots) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            codec.ts(obs.checked_at),
            obs.watch,
            obs.calendar,
            obs.status.value,
            obs.http_status,
            obs.elapsed_ms,
            obs.detail,
            obs.planning_id,
            obs.label,
            obs.url,
            obs.slot_count,
            codec.slots_json(obs.slots),
        ),
    )


def _apply_episodes(
    db: sqlite3.Connection, state: CalendarState | None, ops: Sequence[EpisodeOp], obs: Observation
) -> dict[str, int | None]:
    """Run the episode operations; return the id of each episode kind involved."""
    ids: dict[str, int | None] = {
        EpisodeKind.AVAILABILITY: state.availability.episode_id
        if state and state.availability
        else None,
        EpisodeKind.TROUBLE: state.trouble.episode_id if state and state.trouble else None,
    }
    for op in ops:
        if isinstance(op, OpenEpisode):
            cursor = db.execute(
                "INSERT INTO episodes (kind, watch, calendar, opened_at, first_slot, "
                "slot_count, slots, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    op.kind.value,
                    obs.watch,
                    obs.calendar,
                    codec.ts(op.opened_at),
                    codec.opt_ts(op.first_slot),
                    op.slot_count,
                    codec.slots_json(op.slots),
                    op.status.value,
                    op.detail,
                ),
            )
            ids[op.kind] = cursor.lastrowid
        elif isinstance(op, UpdateEpisode):
            db.execute(
                "UPDATE episodes SET status = ?, detail = ?, first_slot = ?, "
                "slot_count = ?, slots = ? WHERE id = ?",
                (
                    op.status.value,
                    op.detail,
                    codec.opt_ts(op.first_slot),
                    op.slot_count,
                    codec.slots_json(op.slots),
                    op.episode_id if op.episode_id is not None else ids[op.kind],
                ),
            )
        else:
            db.execute(
                "UPDATE episodes SET closed_at = ? WHERE id = ?",
                (
                    codec.ts(op.closed_at),
                    op.episode_id if op.episode_id is not None else ids[op.kind],
                ),
            )
    return ids


def _with_episode_ids(state: CalendarState, ids: dict[str, int | None]) -> CalendarState:
    """The new state, pointing at the episodes the operations just opened."""
    if state.availability and state.availability.episode_id is None:
        state = replace(
            state,
            availability=replace(state.availability, episode_id=ids.get(EpisodeKind.AVAILABILITY)),
        )
    if state.trouble and state.trouble.episode_id is None:
        state = replace(
            state, trouble=replace(state.trouble, episode_id=ids.get(EpisodeKind.TROUBLE))
        )
    return state


# --------------------------------------------------------------------------- the aggregate


class Calendars:
    """Recording observations and reading calendars, episodes and history."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, obs: Observation, *, trouble_after: float) -> list[Event]:
        """Record one observation and everything it implies, in one transaction.

        Returns the events actually inserted (with their ids), in order; an
        empty list when nothing happened, or when the events already exist
        (the same observation recorded twice). ``trouble_after`` is in seconds.
        Observations are ordered by their sequence in the database, never by
        wall time: one whose ``checked_at`` is before the calendar's last check
        (the wall clock stepped back) is the newest all the same, and the state
        is first :func:`rebased` onto the new clock (logged). The page of a
        ``layout_changed`` event is
        saved before the commit (see :mod:`monitor.store.pages`).
        """
        if obs.checked_at.tzinfo is None or obs.checked_at.utcoffset() is None:
            raise ValueError("Observation.checked_at must be an aware datetime")
        with self._db.transaction("record an observation") as db:
            _insert_observation(db, obs)
            row = db.execute(
                "SELECT * FROM calendars WHERE watch = ? AND calendar = ?",
                (obs.watch, obs.calendar),
            ).fetchone()
            state = _state_from_row(row) if row is not None else None
            if state is not None and obs.checked_at < state.last_check:
                log.warning(
                    "%s %r: the wall clock went back (check at %s, previous one at %s); "
                    "recorded in order all the same",
                    obs.watch,
                    obs.calendar,
                    obs.checked_at.isoformat(),
                    state.last_check.isoformat(),
                )
                state = rebased(state, obs.checked_at)
            transition = advance(state, obs, trouble_after=trouble_after)
            drafts = list(transition.events)
            if transition.page_file is not None and obs.page is not None:
                pages = self._db.path.parent / PAGES_DIR
                drafts = save_page(pages, transition.page_file, obs.page, drafts)
            ids = _apply_episodes(db, state, transition.ops, obs)
            _upsert_state(db, _with_episode_ids(transition.state, ids))
            return insert_events(db, drafts, ids)

    def set_next_check(
        self, watch: str, calendar: str | None, at: datetime | None, reason: str | None
    ) -> int:
        """Note when the daemon will next check a calendar, and why (for ``status``).

        ``calendar`` as a string names one calendar (``""`` for a single-counter
        booking); its row is created if it was never checked. ``None`` updates
        every known calendar of ``watch``. ``at=None`` clears. Returns the number
        of calendars updated.
        """
        values = (codec.opt_ts(at), reason)
        with self._db.transaction("save the next check time") as db:
            if calendar is None:
                cursor = db.execute(
                    "UPDATE calendars SET next_check = ?, next_reason = ? WHERE watch = ?",
                    (*values, watch),
                )
            else:
                cursor = db.execute(
                    "INSERT INTO calendars (watch, calendar, next_check, next_reason) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (watch, calendar) DO UPDATE SET "
                    "next_check = excluded.next_check, next_reason = excluded.next_reason",
                    (watch, calendar, *values),
                )
            return cursor.rowcount

    def calendar_states(self) -> list[CalendarStateRow]:
        """Every calendar the store knows, by watch then calendar."""
        rows = self._db.all("SELECT * FROM calendars ORDER BY watch, calendar")
        return [
            CalendarStateRow(
                watch=r["watch"],
                calendar=r["calendar"],
                status=codec.status(r["status"]),
                since=codec.dt(r["since"]),
                last_check=codec.dt(r["last_check"]),
                next_check=codec.dt(r["next_check"]),
                next_reason=r["next_reason"],
                last_available=codec.dt(r["last_available"]),
                last_first_slot=codec.dt(r["last_first_slot"]),
                last_slot_count=r["last_slot_count"],
                state=_state_from_row(r),
            )
            for r in rows
        ]

    def calendar_state(self, watch: str, calendar: str) -> CalendarState | None:
        """The current state of one calendar (``None``: never checked)."""
        row = self._db.one(
            "SELECT * FROM calendars WHERE watch = ? AND calendar = ?", (watch, calendar)
        )
        return _state_from_row(row) if row is not None else None

    def episode(self, episode_id: int) -> EpisodeRow | None:
        """One episode by id, or ``None``."""
        row = self._db.one("SELECT * FROM episodes WHERE id = ?", (episode_id,))
        return _episode(row) if row is not None else None

    def episodes(
        self,
        since: datetime | None = None,
        watch: str | None = None,
        calendar: str | None = None,
        kind: EpisodeKind | str | None = None,
    ) -> list[EpisodeRow]:
        """Episodes that were open at some time from ``since`` on (all if ``None``),
        optionally of one watch/calendar/kind, oldest first (in the order they were
        opened, which a wall clock stepping back does not change)."""
        where, params = codec.where(
            ("(closed_at IS NULL OR closed_at >= ?)", since) if since else None,
            watch=watch,
            calendar=calendar,
            kind=str(kind) if kind is not None else None,
        )
        rows = self._db.all(f"SELECT * FROM episodes{where} ORDER BY id", params)
        return [_episode(r) for r in rows]

    def observations(
        self,
        since: datetime | None = None,
        watch: str | None = None,
        calendar: str | None = None,
        status: Status | None = None,
        limit: int | None = None,
    ) -> list[ObservationRow]:
        """Observations checked at or after ``since``, optionally filtered, oldest first.

        With ``limit``, the *latest* ``limit`` matching ones (still oldest first).
        Order is the order they were recorded in, not ``checked_at``: wall time is for
        people, and a clock that stepped back must not reorder history.
        """
        where, params = codec.where(
            ("checked_at >= ?", since) if since else None,
            watch=watch,
            calendar=calendar,
            status=status,
        )
        sql = f"SELECT * FROM observations{where} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._db.all(sql, params)
        return [_observation(r) for r in reversed(rows)]

    def counts_by_status(
        self, since: datetime | None = None, *, watch: str | None = None
    ) -> dict[tuple[str, str], dict[Status, int]]:
        """How many checks of each status each calendar had since ``since`` (all if
        ``None``): ``{(watch, calendar): {Status.FULL: 280, Status.DOWN: 3}}``.
        Statuses never seen are absent."""
        where, params = codec.where(("checked_at >= ?", since) if since else None, watch=watch)
        rows = self._db.all(
            f"SELECT watch, calendar, status, count(*) AS n FROM observations{where} "
            "GROUP BY watch, calendar, status ORDER BY watch, calendar, status",
            params,
        )
        counts: dict[tuple[str, str], dict[Status, int]] = {}
        for r in rows:
            counts.setdefault((r["watch"], r["calendar"]), {})[Status(r["status"])] = r["n"]
        return counts
