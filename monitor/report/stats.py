"""What ``rdv-monitor stats`` prints: when slots appear, how long they stay, checks per day."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from statistics import median

from monitor.config import WEEKDAYS
from monitor.observation import Status
from monitor.render import BOLD, RESET
from monitor.report.text import Since, span, text_table
from monitor.store import EpisodeRow
from monitor.transitions import EpisodeKind

__all__ = [
    "SCALE",
    "DurationStats",
    "daily_counts",
    "daily_table",
    "duration_stats",
    "durations_table",
    "heatmap",
    "heatmap_peaks",
    "percentile",
    "render_heatmap",
    "stats_text",
]

SCALE = " .:-=+*#%@"
"""Plain heat-map characters, from "no opening" to "the most openings"."""

_HEAT_BACKGROUNDS = (230, 229, 228, 220, 214, 208, 202, 196, 160)
"""ANSI 256-colour backgrounds for the nine non-zero levels: pale yellow to deep red."""

_DAILY_STATUSES = (
    Status.FULL,
    Status.AVAILABLE,
    Status.DOWN,
    Status.BLOCKED,
    Status.CAPTCHA,
    Status.UNKNOWN,
)


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
                    cells.append(f"\x1b[48;5;{bg}m\x1b[38;5;16m{text}{RESET}")
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
    table = text_table(
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
    pruned: Mapping[date, Counter[Status]] | None = None,
) -> str:
    """The whole ``rdv-monitor stats`` text: when slots appear, how long they last, checks/day.

    ``episodes`` are those open at some time in the period; only the ones that
    *opened* in it count for the heat map and durations. ``pruned`` are the daily
    counts of observations pruned after ``[monitor] keep``, added to ``checks``'.
    """
    start = since.at
    opened = [
        e
        for e in episodes
        if e.kind is EpisodeKind.AVAILABILITY and (start is None or e.opened_at >= start)
    ]
    openings = [e.opened_at for e in opened]
    zone = getattr(tz, "key", str(tz))
    bold = (lambda s: f"{BOLD}{s}{RESET}") if colour else (lambda s: s)
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
    for day, counts in (pruned or {}).items():
        days.setdefault(day, Counter()).update(counts)
    if days:
        first = min(days)
        if start is not None:
            first = max(first, start.astimezone(tz).date())
        lines += daily_table(days, first, now.astimezone(tz).date())
    else:
        lines.append("  no check in this period.")
    return "\n".join(lines)
