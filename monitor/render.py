"""Turn observations into what a person reads in a terminal, or a program reads as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, tzinfo

from monitor.observation import Observation, Status

__all__ = ["BOLD", "RESET", "STATUS_COLOURS", "format_slot", "json_lines", "table"]

STATUS_COLOURS = {
    Status.AVAILABLE: "\x1b[1;32m",
    Status.FULL: "\x1b[2m",
    Status.CAPTCHA: "\x1b[1;33m",
    Status.BLOCKED: "\x1b[1;31m",
    Status.DOWN: "\x1b[31m",
    Status.UNKNOWN: "\x1b[35m",
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


def table(observations: Sequence[Observation], tz: tzinfo, *, colour: bool = False) -> str:
    """A fixed-width table, one row per calendar, then each row's detail sentence."""
    headers = ("WATCH", "CALENDAR", "STATUS", "HTTP", "MS", "SLOTS")
    rows = [
        (
            o.watch,
            o.calendar or "(single)",
            o.status.value,
            str(o.http_status) if o.http_status is not None else "-",
            str(o.elapsed_ms),
            _slots_text(o, tz),
        )
        for o in observations
    ]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for obs, row in zip(observations, rows, strict=True):
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        if colour:
            cells[2] = f"{STATUS_COLOURS[obs.status]}{cells[2]}{RESET}"
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    for obs in observations:
        name = f"{obs.watch} / {obs.calendar}" if obs.calendar else obs.watch
        label = f" [{obs.label}]" if obs.label else ""
        lines.append(f"{name}{label}: {obs.detail}")
        if obs.status is Status.AVAILABLE:
            lines.append(f"    book it now: {obs.url}")
    return "\n".join(lines)


def json_lines(observations: Sequence[Observation], tz: tzinfo) -> str:
    """One JSON object per calendar per line (the ``check --json`` format)."""
    return "\n".join(json.dumps(o.to_json(tz), ensure_ascii=False) for o in observations)
