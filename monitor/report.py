"""What ``rdv-monitor status``, ``history`` and ``stats`` print: pure formatting and analysis.

The commands in :mod:`monitor.cli` only open the state database read-only and
hand its rows to the functions here, together with the config and "now". So
everything a user reads (relative times, tables, the heat map of when slots
appear, percentiles) is computed from plain values and tested without a
database, a clock or a terminal.

Conventions, chosen for non-technical readers on a small server:

* every time is shown in the config's time zone, as ``Mon 2026-12-07 08:01``
  (the format of ``rdv-monitor check``), and durations as ``3 d 4 h``,
  ``2 h 5 min`` or ``4 min 48 s``: the two largest units, nothing smaller;
* CSV (``history --csv``) is RFC 4180 with a header row, ISO 8601 times with
  their UTC offset and durations in whole seconds, for spreadsheets;
* the heat map counts availability episode *openings* (the first check that
  saw slots) per weekday and hour, in local time: the cell that stands out is
  when to be ready. Colour (ANSI 256-colour backgrounds) is only for a
  terminal; otherwise the characters of :data:`SCALE` with a legend.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from statistics import median

from monitor.config import WEEKDAYS, Config
from monitor.durations import DurationTooLongError, parse_duration
from monitor.events import Event
from monitor.observation import Status
from monitor.render import _COLOURS as STATUS_COLOURS
from monitor.store import CalendarStateRow, DeliveryRow, EpisodeRow
from monitor.transitions import EpisodeKind

__all__ = [
    "SCALE",
    "DurationStats",
    "Since",
    "ago",
    "daily_counts",
    "daily_table",
    "duration_stats",
    "durations_table",
    "filter_episodes",
    "heatmap",
    "heatmap_peaks",
    "history_csv",
    "history_text",
    "matches",
    "no_state_sentence",
    "parse_since",
    "percentile",
    "relative",
    "render_heatmap",
    "span",
    "stamp",
    "stats_text",
    "status_text",
]

SCALE = " .:-=+*#%@"
"""Plain heat-map characters, from "no opening" to "the most openings"."""

_HEAT_BACKGROUNDS = (230, 229, 228, 220, 214, 208, 202, 196, 160)
"""ANSI 256-colour backgrounds for the nine non-zero levels: pale yellow to deep red."""

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"

_DAILY_STATUSES = (
    Status.FULL,
    Status.AVAILABLE,
    Status.DOWN,
    Status.BLOCKED,
    Status.CAPTCHA,
    Status.UNKNOWN,
)

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


# --------------------------------------------------------------------------- times


def stamp(when: datetime, tz: tzinfo) -> str:
    """``Mon 2026-12-07 08:01`` in ``tz`` (the format of ``rdv-monitor check``)."""
    return when.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")


def span(seconds: float) -> str:
    """A duration for people: the two largest units, e.g. ``3 d 4 h``, ``4 min 48 s``, ``12 s``.

    Negative values are shown as zero (clocks between machines may disagree a little).
    """
    total = max(0, round(seconds))
    amounts: list[tuple[int, str]] = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, total = divmod(total, size)
        amounts.append((count, unit))
    first = next((i for i, (count, _) in enumerate(amounts) if count), len(amounts) - 1)
    shown = [a for a in amounts[first : first + 2] if a[0] or a is amounts[first]]
    return " ".join(f"{count} {unit}" for count, unit in shown)


def ago(when: datetime, now: datetime) -> str:
    """``12 s ago`` for a past time (``just now`` within a second); see :func:`relative`."""
    if abs((now - when).total_seconds()) < 1:
        return "just now"
    return relative(when, now)


def relative(when: datetime, now: datetime) -> str:
    """``in 4 min 48 s`` for a future time, ``12 s ago`` for a past one, ``now`` within 1 s."""
    seconds = (when - now).total_seconds()
    if abs(seconds) < 1:
        return "now"
    return f"in {span(seconds)}" if seconds > 0 else f"{span(-seconds)} ago"


@dataclass(frozen=True, slots=True)
class Since:
    """The start of a report's period: ``at`` (``None``: everything) and how to name it."""

    at: datetime | None
    text: str


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SINCE_HELP = (
    'give a duration back from now ("7d", "12h", "1d12h"), a date ("2026-11-01", midnight '
    'in the config\'s time zone), a date and time ("2026-11-01T08:00") or "all"'
)


def parse_since(text: str, now: datetime, tz: tzinfo) -> Since:
    """The ``--since`` value: a duration back from ``now``, a local date or time, or ``all``.

    Raises :class:`ValueError` with one sentence saying what is accepted; a time
    after ``now`` is refused too (the report would be empty, which looks like a bug).
    So is a time that :mod:`datetime` cannot hold or convert to UTC (``0001-01-01``
    in a zone east of UTC): the user typed it, so it is their mistake to fix (exit
    status 2), never an :class:`OverflowError` reported as a bug.
    """
    value = text.strip()
    if value.lower() == "all":
        return Since(None, "the start")
    try:
        return _since(text, value, now, tz)
    except OverflowError:
        raise ValueError(f'--since "{text}" is out of range; {SINCE_HELP}.') from None


def _since(text: str, value: str, now: datetime, tz: tzinfo) -> Since:
    """:func:`parse_since` for anything but ``all``; may raise :class:`OverflowError`."""
    if _DATE_RE.match(value) or (len(value) > 10 and value[:10].count("-") == 2):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f'--since "{text}" is not a valid date; {SINCE_HELP}.') from None
        at = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
    else:
        try:
            at = now - timedelta(seconds=parse_duration(value))
        except DurationTooLongError:
            raise ValueError(
                f'--since "{text}" goes back too far: a duration is at most "3650d" (about '
                f'10 years; "all" goes back to the start); {SINCE_HELP}.'
            ) from None
        except ValueError:
            raise ValueError(f'--since "{text}" is not understood; {SINCE_HELP}.') from None
    if at > now:
        raise ValueError(f'--since "{text}" is in the future ({stamp(at, tz)}); {SINCE_HELP}.')
    return Since(at.astimezone(UTC), stamp(at, tz))


def no_state_sentence(state_dir: Path, config_path: str) -> str:
    """What the read-only commands print when the monitor never ran with this config."""
    return (
        f"No state yet in {state_dir}: the monitor has not run with this config. "
        f"Start it with `rdv-monitor run -c {config_path}`."
    )


# --------------------------------------------------------------------------- status


def _paint(text: str, status: Status | None, colour: bool) -> str:
    if not colour or status is None:
        return text
    return f"{STATUS_COLOURS[status]}{text}{_RESET}"


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
        f"  {name}  {_paint(word, status, colour)} since {span((now - row.since).total_seconds())}"
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


# --------------------------------------------------------------------------- history


def matches(value: str, wanted: str | None) -> bool:
    """``--watch``/``--calendar`` matching: ``None`` matches anything; case and outer spaces
    are ignored, so ``--calendar 3.2`` and ``--watch renouvellement`` find what is meant."""
    return wanted is None or value.strip().casefold() == wanted.strip().casefold()


def filter_episodes(
    episodes: Iterable[EpisodeRow], *, watch: str | None = None, calendar: str | None = None
) -> list[EpisodeRow]:
    """The episodes of ``watch`` and ``calendar`` (see :func:`matches`)."""
    return [e for e in episodes if matches(e.watch, watch) and matches(e.calendar, calendar)]


def _where(e: EpisodeRow, one_watch: bool) -> str:
    calendar = e.calendar or "(single)"
    return calendar if one_watch else f"{e.watch} / {calendar}"


def _lasted(e: EpisodeRow, now: datetime) -> str:
    end = e.closed_at or now
    text = span((end - e.opened_at).total_seconds())
    return text if e.closed_at else text + " so far"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def history_text(episodes: Sequence[EpisodeRow], *, now: datetime, tz: tzinfo, since: Since) -> str:
    """The ``history`` tables: availability episodes, then trouble episodes, newest first."""
    newest = sorted(episodes, key=lambda e: (e.opened_at, e.id), reverse=True)
    one_watch = len({e.watch for e in newest}) <= 1
    head = f"Episodes since {since.text} (times in {getattr(tz, 'key', tz)})"
    if one_watch and newest:
        head += f", watch {newest[0].watch}"
    lines = [head, ""]
    available = [e for e in newest if e.kind is EpisodeKind.AVAILABILITY]
    trouble = [e for e in newest if e.kind is EpisodeKind.TROUBLE]
    lines.append(f"Slots open ({len(available)} episode{'s' if len(available) != 1 else ''})")
    if available:
        lines += _table(
            ("OPENED", "GONE", "LASTED", "CALENDAR", "FIRST SLOT", "SLOTS"),
            [
                (
                    stamp(e.opened_at, tz),
                    stamp(e.closed_at, tz) if e.closed_at else "still open",
                    _lasted(e, now),
                    _where(e, one_watch),
                    stamp(e.first_slot, tz) if e.first_slot else "-",
                    str(e.slot_count) if e.slot_count is not None else "?",
                )
                for e in available
            ],
        )
    else:
        lines.append("  none: no slot was seen in this period.")
    lines += ["", f"Site trouble ({len(trouble)} episode{'s' if len(trouble) != 1 else ''})"]
    if trouble:
        lines += _table(
            ("FROM", "TO", "LASTED", "CALENDAR", "STATUS", "DETAIL"),
            [
                (
                    stamp(e.opened_at, tz),
                    stamp(e.closed_at, tz) if e.closed_at else "still on",
                    _lasted(e, now),
                    _where(e, one_watch),
                    e.status.value,
                    _shorten(e.detail, 70),
                )
                for e in trouble
            ],
        )
    else:
        lines.append("  none: the site answered normally.")
    return "\n".join(lines)


CSV_HEADER = (
    "kind",
    "watch",
    "calendar",
    "opened_at",
    "closed_at",
    "duration_seconds",
    "status",
    "first_slot",
    "slot_count",
    "detail",
)


def history_csv(episodes: Sequence[EpisodeRow], tz: tzinfo) -> str:
    """RFC 4180 CSV (CRLF line ends, header row), newest first, ISO 8601 times in ``tz``.

    ``closed_at`` and ``duration_seconds`` are empty for an episode still open.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)

    def iso(when: datetime | None) -> str:
        return when.astimezone(tz).isoformat(timespec="seconds") if when else ""

    for e in sorted(episodes, key=lambda e: (e.opened_at, e.id), reverse=True):
        duration = str(round((e.closed_at - e.opened_at).total_seconds())) if e.closed_at else ""
        writer.writerow(
            (
                e.kind.value,
                e.watch,
                e.calendar,
                iso(e.opened_at),
                iso(e.closed_at),
                duration,
                e.status.value,
                iso(e.first_slot),
                "" if e.slot_count is None else e.slot_count,
                e.detail,
            )
        )
    return out.getvalue()


# --------------------------------------------------------------------------- stats


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks.

    The usual definition (spreadsheets' PERCENTILE, numpy's default): with
    ``n`` sorted values, position ``q * (n - 1)``. Raises :class:`ValueError`
    for no values or ``q`` out of range.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q} is not between 0 and 1")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def heatmap(openings: Iterable[datetime], tz: tzinfo) -> list[list[int]]:
    """Counts of ``openings`` per local weekday (rows, Monday first) and hour (columns 0–23)."""
    grid = [[0] * 24 for _ in range(7)]
    for when in openings:
        local = when.astimezone(tz)
        grid[local.weekday()][local.hour] += 1
    return grid


def _level(count: int, top: int) -> int:
    """0 for no opening, else 1–9 in proportion to the busiest cell (which is 9)."""
    if count <= 0 or top <= 0:
        return 0
    return max(1, min(9, math.ceil(count * 9 / top)))


def render_heatmap(grid: Sequence[Sequence[int]], *, colour: bool = False) -> str:
    """The weekday × hour grid as text, three columns per hour, and its legend.

    ``colour``: the count on an ANSI 256-colour background (for a terminal);
    otherwise one character of :data:`SCALE` per cell, with a legend saying
    which counts each character stands for.
    """
    top = max((c for row in grid for c in row), default=0)
    lines = ["     " + "".join(f"{h:>3}" for h in range(24))]
    for day, row in enumerate(grid):
        cells = []
        for count in row:
            level = _level(count, top)
            if colour:
                if level:
                    bg = _HEAT_BACKGROUNDS[level - 1]
                    text = f"{count:>3}" if count < 1000 else "+++"
                    cells.append(f"\x1b[48;5;{bg}m\x1b[38;5;16m{text}{_RESET}")
                else:
                    cells.append("  ·")
            else:
                cells.append(f"  {SCALE[level]}")
        lines.append(f"  {WEEKDAYS[day].capitalize()}" + "".join(cells))
    if top == 0:
        lines.append("  (no slot opened in this period)")
    elif colour:
        lines.append(f"  each cell: how many times slots appeared then (busiest: {top})")
    else:
        lines.append("  legend: " + _legend(top))
    return "\n".join(lines)


def _legend(top: int) -> str:
    """``. 1  : 2  … @ 9`` for the counts each :data:`SCALE` character stands for."""
    parts = []
    for level in range(1, 10):
        counts = [c for c in range(1, top + 1) if _level(c, top) == level]
        if not counts:
            continue
        if len(counts) == 1:
            parts.append(f"{SCALE[level]} {counts[0]}")
        else:
            parts.append(f"{SCALE[level]} {counts[0]}-{counts[-1]}")
    return "   ".join(parts) + "   (slot openings per hour)"


def heatmap_peaks(
    openings: Sequence[datetime], tz: tzinfo, limit: int = 3
) -> list[tuple[int, int, int, str]]:
    """The busiest weekday/hour cells: ``(weekday, hour, count, typical minute)``, busiest first.

    The typical minute is the median opening time within that hour ("08:01"):
    the moment to be ready. Ties go to the earlier weekday and hour.
    """
    by_cell: dict[tuple[int, int], list[datetime]] = {}
    for when in openings:
        local = when.astimezone(tz)
        by_cell.setdefault((local.weekday(), local.hour), []).append(local)
    ranked = sorted(by_cell.items(), key=lambda item: (-len(item[1]), item[0]))
    peaks = []
    for (day, hour), times in ranked[:limit]:
        seconds = median(t.minute * 60 + t.second for t in times)
        typical = time(hour, int(seconds // 60), int(seconds % 60)).strftime("%H:%M")
        peaks.append((day, hour, len(times), typical))
    return peaks


@dataclass(frozen=True, slots=True)
class DurationStats:
    """How long closed availability episodes lasted (seconds); ``still_open`` are not counted."""

    count: int
    median: float | None
    p90: float | None
    still_open: int


def duration_stats(episodes: Iterable[EpisodeRow]) -> DurationStats:
    """Median and 90th percentile of the durations of closed availability episodes."""
    durations: list[float] = []
    still_open = 0
    for e in episodes:
        if e.kind is not EpisodeKind.AVAILABILITY:
            continue
        if e.closed_at is None:
            still_open += 1
        else:
            durations.append((e.closed_at - e.opened_at).total_seconds())
    if not durations:
        return DurationStats(0, None, None, still_open)
    return DurationStats(
        len(durations), percentile(durations, 0.5), percentile(durations, 0.9), still_open
    )


def durations_table(episodes: Sequence[EpisodeRow]) -> list[str]:
    """One row per calendar with closed availability episodes, then ``all`` when several."""
    keys = sorted({(e.watch, e.calendar) for e in episodes if e.kind is EpisodeKind.AVAILABILITY})
    one_watch = len({w for w, _ in keys}) <= 1
    rows = []
    for watch, calendar in keys:
        stats = duration_stats(e for e in episodes if (e.watch, e.calendar) == (watch, calendar))
        name = (calendar or "(single)") if one_watch else f"{watch} / {calendar or '(single)'}"
        rows.append((name, stats))
    if len(rows) > 1:
        rows.append(("all", duration_stats(episodes)))
    if not rows:
        return ["  no slot opened in this period."]
    table = _table(
        ("CALENDAR", "EPISODES", "MEDIAN", "90%", "STILL OPEN"),
        [
            (
                name,
                str(s.count),
                span(s.median) if s.median is not None else "-",
                span(s.p90) if s.p90 is not None else "-",
                str(s.still_open),
            )
            for name, s in rows
        ],
    )
    return ["  " + line for line in table]


def daily_counts(
    checks: Iterable[tuple[datetime, Status]], tz: tzinfo
) -> dict[date, Counter[Status]]:
    """How many checks of each status each local day had."""
    days: dict[date, Counter[Status]] = {}
    for when, status in checks:
        days.setdefault(when.astimezone(tz).date(), Counter())[status] += 1
    return days


def daily_table(days: Mapping[date, Counter[Status]], first: date, last: date) -> list[str]:
    """The per-day table from ``first`` to ``last`` (local dates), oldest first.

    Days without any check are shown too (all zero): they are when the monitor
    was not running, which is worth seeing.
    """
    if first > last:
        return ["  no check in this period."]
    rows = []
    day = first
    while day <= last:
        counts = days.get(day, Counter())
        row = [day.strftime("%a %Y-%m-%d"), str(sum(counts.values()))]
        row += [str(counts[s]) if counts[s] else "-" for s in _DAILY_STATUSES]
        rows.append(row)
        day += timedelta(days=1)
    headers = ("DATE", "TOTAL", *(s.value.upper() for s in _DAILY_STATUSES))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [
        "  "
        + "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    ]
    for r in rows:
        lines.append(
            "  "
            + "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return lines


def stats_text(
    episodes: Sequence[EpisodeRow],
    checks: Sequence[tuple[datetime, Status]],
    *,
    now: datetime,
    tz: tzinfo,
    since: Since,
    colour: bool = False,
) -> str:
    """The whole ``rdv-monitor stats`` text: when slots appear, how long they last, checks/day.

    ``episodes`` are those open at some time in the period; only the ones that
    *opened* in it count for the heat map and durations.
    """
    start = since.at
    opened = [
        e
        for e in episodes
        if e.kind is EpisodeKind.AVAILABILITY and (start is None or e.opened_at >= start)
    ]
    openings = [e.opened_at for e in opened]
    zone = getattr(tz, "key", str(tz))
    bold = (lambda s: f"{_BOLD}{s}{_RESET}") if colour else (lambda s: s)
    lines = [
        bold(f"When slots appear: {len(openings)} opening{'s' if len(openings) != 1 else ''}")
        + f" since {since.text}, by weekday and hour ({zone})",
        render_heatmap(heatmap(openings, tz), colour=colour),
    ]
    peaks = heatmap_peaks(openings, tz)
    if peaks:
        best = "; ".join(
            f"{WEEKDAYS[d].capitalize()} {h:02d}h ({n}×, typically {m})" for d, h, n, m in peaks
        )
        lines.append(f"  most often: {best}")
    lines += ["", bold("How long slots stay open") + " (first check that saw them → first full)"]
    lines += durations_table(opened)
    lines += ["", bold("Checks per day") + f" ({zone})"]
    days = daily_counts(checks, tz)
    if days:
        first = min(days)
        if start is not None:
            first = max(first, start.astimezone(tz).date())
        lines += daily_table(days, first, now.astimezone(tz).date())
    else:
        lines.append("  no check in this period.")
    return "\n".join(lines)
