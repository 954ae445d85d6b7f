"""What ``rdv-monitor status`` prints: each calendar's state, the next check, deliveries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from monitor.config import Config, format_size
from monitor.events import Event
from monitor.observation import Status
from monitor.report.text import ago, paint, relative, span, stamp
from monitor.store import CalendarStateRow, DatabaseSize, DeliveryRow

__all__ = ["OVERDUE_GRACE", "status_text"]

_REASONS = {
    "start": "first check after start-up",
    "interval": "regular interval",
    "surge": "faster checks in a surge window",
    "surge-start": "start of a surge window",
    "release": "release time, new slots expected",
    "backoff": "backing off: the site is failing",
    "retry-after": "the site asked us to wait",
}
"""``next_reason`` words (:data:`monitor.schedule.Reason`) as a user reads them."""

OVERDUE_GRACE = timedelta(minutes=2)
"""A planned check this late means the daemon is probably not running."""


def _slots_phrase(first: datetime | None, count: int | None, tz: tzinfo) -> str:
    """``first slot Thu 2026-12-10 09:30, 3 slots`` (or what is known of it)."""
    if first is None:
        return "dates not shown" if count is None else f"{count} slot{'s' if count != 1 else ''}"
    text = f"first slot {stamp(first, tz)}"
    if count is not None:
        text += f", {count} slot{'s' if count != 1 else ''}"
    return text


def _calendar_lines(
    name: str, row: CalendarStateRow | None, now: datetime, tz: tzinfo, colour: bool
) -> list[str]:
    """The block of one calendar in ``status``: status line, then indented details."""
    indent = "      "
    if row is None or row.status is None or row.since is None:
        head = f"  {name}  not checked yet"
        if row is not None and row.next_check is not None:
            head += "; " + _next_phrase(row, now, tz)
        return [head]
    state = row.state
    status = row.status
    word = status.value.upper() if status is Status.AVAILABLE else status.value
    head = (
        f"  {name}  {paint(word, status, colour)} since {span((now - row.since).total_seconds())}"
    )
    head += f" ({stamp(row.since, tz)})"
    lines = [head]
    if status is Status.AVAILABLE and state is not None:
        a = state.availability
        first = a.first_slot if a else row.last_first_slot
        count = a.slot_count if a else row.last_slot_count
        lines.append(f"{indent}{_slots_phrase(first, count, tz)}")
        lines.append(f"{indent}book it now: {state.url}")
    elif status.is_trouble and state is not None:
        lines.append(f"{indent}{state.detail}")
        if state.last_good is not None:
            lines.append(f"{indent}last good check {ago(state.last_good, now)}")
        if state.availability is not None:
            lines.append(
                f"{indent}slots were open at the last good check: "
                f"{_slots_phrase(state.availability.first_slot, state.availability.slot_count, tz)}"
            )
    check = f"last check {ago(row.last_check, now)}" if row.last_check else "never checked"
    if row.next_check is not None:
        check += "; " + _next_phrase(row, now, tz)
    lines.append(indent + check)
    if status is not Status.AVAILABLE:
        if row.last_available is not None:
            lines.append(
                f"{indent}last slot seen {stamp(row.last_available, tz)} "
                f"({ago(row.last_available, now)}): "
                f"{_slots_phrase(row.last_first_slot, row.last_slot_count, tz)}"
            )
        else:
            lines.append(f"{indent}no slot seen yet")
    return lines


def _next_phrase(row: CalendarStateRow, now: datetime, tz: tzinfo) -> str:
    """``next check in 4 min 48 s (regular interval)``, or a warning when it is overdue."""
    assert row.next_check is not None
    reason = _REASONS.get(row.next_reason or "", row.next_reason or "")
    why = f" ({reason})" if reason else ""
    if row.next_check < now - OVERDUE_GRACE:
        return f"next check was due {ago(row.next_check, now)}: is `rdv-monitor run` still running?"
    at = row.next_check.astimezone(tz).strftime("%H:%M:%S")
    if (row.next_check - now).total_seconds() < 1:
        return f"next check due at {at}{why}"
    return f"next check {relative(row.next_check, now)}, at {at}{why}"


def status_text(
    config: Config,
    rows: Sequence[CalendarStateRow],
    deliveries: Sequence[DeliveryRow],
    events: Mapping[int, Event],
    *,
    counts: Mapping[str, int],
    now: datetime,
    state_dir: Path,
    colour: bool = False,
    size: DatabaseSize | None = None,
) -> str:
    """The whole ``rdv-monitor status`` text.

    Configured watches first, in config order and each one's calendars primary
    first; then calendars the state still has but the config no longer lists
    (their history is kept, so say so rather than hide them); then the
    notifications waiting or given up, with masked targets only. ``deliveries``
    are the unsent ones (pending, failed), ``counts`` the totals per state and
    ``events`` maps their event ids to the events, for the kind and calendar.
    """
    tz = config.tz
    by_key = {(r.watch, r.calendar): r for r in rows}
    lines = [f"State in {state_dir} (times in {config.monitor.timezone}, now {stamp(now, tz)})"]
    if size is not None:
        lines.append(_size_line(size, config.monitor.keep))
    shown: set[tuple[str, str]] = set()
    for watch in config.watches:
        lines.append("")
        lines.append(watch.name + ("" if watch.enabled else "  [disabled: not checked]"))
        calendars = [c.display for c in watch.calendars] or [""]
        for number, calendar in enumerate(calendars):
            key = (watch.name, calendar)
            shown.add(key)
            name = calendar or "(single calendar)"
            if number == 0 and len(calendars) > 1:
                name += " (primary)"
            lines += _calendar_lines(name, by_key.get(key), now, tz, colour)
    gone = [r for r in rows if (r.watch, r.calendar) not in shown and r.status is not None]
    if gone:
        lines += ["", "No longer configured (their history is kept):"]
        for r in gone:
            assert r.status is not None and r.last_check is not None
            name = f"{r.watch} / {r.calendar}" if r.calendar else r.watch
            lines.append(f"  {name}: {r.status.value}, last check {ago(r.last_check, now)}")
    if not any(counts.values()) and not (config.notify.urls or config.notify.config):
        lines += ["", "Notifications: none configured ([notify] urls): alerts only go to the log."]
    else:
        lines += ["", *_deliveries_lines(deliveries, counts, events, now, tz)]
    return "\n".join(lines)


def _size_line(size: DatabaseSize, keep: float) -> str:
    """``Database: 41.2MiB, 103,680 checks kept for 180 d (2.1MiB free for reuse)``."""
    free = f" ({format_size(size.free_bytes)} free for reuse)" if size.free_bytes else ""
    return (
        f"Database: {format_size(size.file_bytes)}, {size.observations:,} checks kept "
        f"for {span(keep)}{free}"
    )


def _deliveries_lines(
    deliveries: Sequence[DeliveryRow],
    counts: Mapping[str, int],
    events: Mapping[int, Event],
    now: datetime,
    tz: tzinfo,
) -> list[str]:
    """The notifications summary, then each pending and (latest) failed delivery."""
    if not any(counts.values()):
        return ["Notifications: none yet."]
    lines = [
        f"Notifications: {counts.get('sent', 0)} sent, {counts.get('pending', 0)} pending, "
        f"{counts.get('failed', 0)} failed"
    ]

    def about(d: DeliveryRow) -> str:
        event = events.get(d.event_id)
        if event is None:
            return f"event {d.event_id}"
        where = event.calendar or event.watch
        return f"{event.kind}{' ' + where if where else ''} ({stamp(event.created_at, tz)})"

    pending = [d for d in deliveries if d.state == "pending"]
    for d in pending[:5]:
        tried = ""
        if d.attempts:
            tried = f"; {d.attempts} failed attempt{'s' if d.attempts != 1 else ''}"
            tried += f", last: {d.last_error}" if d.last_error else ""
        lines.append(
            f"  pending: {about(d)} to {d.target_masked}, next attempt "
            f"{relative(d.next_attempt, now)}{tried}"
        )
    if len(pending) > 5:
        lines.append(f"  … and {len(pending) - 5} more pending")
    failed = sorted(
        (d for d in deliveries if d.state == "failed"),
        key=lambda d: d.done_at or d.created_at,
        reverse=True,
    )
    for d in failed[:5]:
        lines.append(
            f"  failed:  {about(d)} to {d.target_masked}, gave up "
            f"{ago(d.done_at or d.created_at, now)}: {d.last_error or 'no reason recorded'}"
        )
    if len(failed) > 5:
        lines.append(f"  … and {len(failed) - 5} more failed")
    return lines
