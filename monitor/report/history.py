"""What ``rdv-monitor history`` prints: availability and trouble episodes, as text or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo

from monitor.report.text import Since, span, stamp, text_table
from monitor.store import EpisodeRow
from monitor.transitions import EpisodeKind

__all__ = ["CSV_HEADER", "filter_episodes", "history_csv", "history_text", "matches"]


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
        lines += text_table(
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
        lines += text_table(
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
