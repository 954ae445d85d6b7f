"""What ``rdv-monitor status``, ``history``, ``stats`` and ``validate`` print: pure formatting.

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

One module per command (:mod:`.status`, :mod:`.history`, :mod:`.stats`,
:mod:`.describe`), and :mod:`.text` for what they share.
"""

from monitor.report.describe import describe_config
from monitor.report.history import (
    CSV_HEADER,
    filter_episodes,
    history_csv,
    history_text,
    matches,
)
from monitor.report.stats import (
    SCALE,
    DurationStats,
    daily_counts,
    daily_table,
    duration_stats,
    durations_table,
    heatmap,
    heatmap_peaks,
    percentile,
    render_heatmap,
    stats_text,
)
from monitor.report.status import OVERDUE_GRACE, status_text
from monitor.report.text import (
    SINCE_HELP,
    Since,
    ago,
    no_state_sentence,
    parse_since,
    relative,
    span,
    stamp,
)

__all__ = [
    "CSV_HEADER",
    "OVERDUE_GRACE",
    "SCALE",
    "SINCE_HELP",
    "DurationStats",
    "Since",
    "ago",
    "daily_counts",
    "daily_table",
    "describe_config",
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
