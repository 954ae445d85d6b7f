"""Turn observations into what a person reads in a terminal, or a program reads as JSON."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TextIO

from monitor.observation import Observation, Status

__all__ = [
    "BOLD",
    "RESET",
    "STATUS_COLOURS",
    "Progress",
    "TableLayout",
    "format_slot",
    "json_line",
    "json_lines",
    "table",
    "table_header",
    "table_row",
]

STATUS_COLOURS = {
    Status.AVAILABLE: "\x1b[1;32m",
    Status.FULL: "\x1b[2m",
    Status.CAPTCHA: "\x1b[1;33m",
    Status.BLOCKED: "\x1b[1;31m",
    Status.DOWN: "\x1b[31m",
    Status.UNKNOWN: "\x1b[35m",
    Status.NOT_OFFERED: "\x1b[1;35m",
}
"""The terminal colour of each status, the same in ``check``, ``status`` and ``stats``."""
RESET = "\x1b[0m"
BOLD = "\x1b[1m"


def format_slot(when: datetime, tz: tzinfo) -> str:
    """``Mon 2026-12-07 09:30`` in the watch's time zone."""
    return when.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")


def _slots_text(obs: Observation, tz: tzinfo) -> str:
    if obs.status is not Status.AVAILABLE:
        return ""
    if not obs.slots:
        return "slots open (dates not shown)"
    count = obs.slot_count if obs.slot_count is not None else len(obs.slots)
    plural = "s" if count != 1 else ""
    return f"first {format_slot(obs.slots[0], tz)}, {count} slot{plural}"


_HEADERS = ("WATCH", "CALENDAR", "STATUS", "HTTP", "MS", "SLOTS")
_SINGLE = "(single)"


@dataclass(frozen=True, slots=True)
class TableLayout:
    """Column widths of a ``check`` table, fixed before the first row is known.

    ``check`` prints each row as soon as its calendar answered, so widths come
    from what the config names (watches, calendars), not from the answers.
    """

    widths: tuple[int, ...]

    @classmethod
    def of(cls, watches: Iterable[str], calendars: Iterable[str]) -> TableLayout:
        watch = max((len(w) for w in watches), default=0)
        calendar = max((len(c) for c in calendars), default=0)
        status = max(len(s.value) for s in Status)
        content = (watch, max(calendar, len(_SINGLE)), status, 3, 5)
        return cls(tuple(max(len(h), w) for h, w in zip(_HEADERS, content, strict=False)))


def table_header(layout: TableLayout) -> str:
    """The header line of a ``check`` table."""
    return "  ".join(h.ljust(w) for h, w in zip(_HEADERS, layout.widths, strict=False)).rstrip()


def table_row(obs: Observation, tz: tzinfo, layout: TableLayout, *, colour: bool = False) -> str:
    """One calendar's row, then its detail sentence (and the booking link if slots are open)."""
    cells = [
        c.ljust(w)
        for c, w in zip(
            (
                obs.watch,
                obs.calendar or _SINGLE,
                obs.status.value,
                str(obs.http_status) if obs.http_status is not None else "-",
                str(obs.elapsed_ms),
            ),
            layout.widths,
            strict=False,
        )
    ]
    if colour:
        cells[2] = f"{STATUS_COLOURS[obs.status]}{cells[2]}{RESET}"
    lines = ["  ".join([*cells, _slots_text(obs, tz)]).rstrip()]
    label = f"[{obs.label}] " if obs.label else ""
    lines.append(f"    {label}{obs.detail}")
    if obs.status is Status.AVAILABLE:
        lines.append(f"    book it now: {obs.url}")
    return "\n".join(lines)


def table(observations: Sequence[Observation], tz: tzinfo, *, colour: bool = False) -> str:
    """The whole table at once: the header, then each calendar's row and detail."""
    layout = TableLayout.of(
        (o.watch for o in observations), (o.calendar or _SINGLE for o in observations)
    )
    rows = [table_row(o, tz, layout, colour=colour) for o in observations]
    return "\n".join([table_header(layout), *rows])


def json_line(obs: Observation, tz: tzinfo) -> str:
    """One calendar as one JSON object on one line (the ``check --json`` format)."""
    return json.dumps(obs.to_json(tz), ensure_ascii=False)


def json_lines(observations: Sequence[Observation], tz: tzinfo) -> str:
    """One JSON object per calendar per line."""
    return "\n".join(json_line(o, tz) for o in observations)


class Progress:
    """One line on a terminal saying what ``check`` is waiting for, erased before results.

    Written to stderr, and only when it is a terminal: a pipe or a file gets
    the results alone.
    """

    _ERASE = "\r\x1b[K"

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._asking = ""
        self._shown = False

    def asking(self, watch: str, calendar: str | None) -> None:
        self._asking = f"asking {watch} / {calendar}" if calendar else f"asking {watch}"
        self._show(f"{self._asking}…")

    def waiting(self, host: str, seconds: float) -> None:
        self._show(f"{self._asking}: pausing {seconds:.1f} s between requests to {host} (polite)…")

    def clear(self) -> None:
        if self._shown:
            self._stream.write(self._ERASE)
            self._stream.flush()
            self._shown = False

    def _show(self, text: str) -> None:
        width = shutil.get_terminal_size().columns - 1
        cut = text if len(text) <= width else text[: max(width - 1, 0)] + "…"
        self._stream.write(f"{self._ERASE}{cut}")
        self._stream.flush()
        self._shown = True
