"""Shared by every report: times and durations as people say them, ``--since``, tables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

from monitor.durations import DurationTooLongError, parse_duration, span
from monitor.observation import Status
from monitor.render import RESET, STATUS_COLOURS

__all__ = [
    "SINCE_HELP",
    "Since",
    "ago",
    "no_state_sentence",
    "paint",
    "parse_since",
    "relative",
    "span",
    "stamp",
    "text_table",
]

# --------------------------------------------------------------------------- times


def stamp(when: datetime, tz: tzinfo) -> str:
    """``Mon 2026-12-07 08:01`` in ``tz`` (the format of ``rdv-monitor check``)."""
    return when.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")


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


def paint(text: str, status: Status | None, colour: bool) -> str:
    """``text`` in ``status``'s terminal colour when ``colour`` (as ``check`` shows it)."""
    if not colour or status is None:
        return text
    return f"{STATUS_COLOURS[status]}{text}{RESET}"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart, header first; one string per line."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines
