"""``rdv-monitor status``, ``history`` and ``stats``: what a user reads.

The end-to-end tests read a state directory filled by the REAL daemon run
against the simulated prefecture (one run for the whole module, ~10 s): a slot
opens and closes on 3.2, calendar 3.4 goes down then recovers, and 3.3 is
showing slots when the daemon stops. The expected texts are computed from
what the daemon recorded, in the config's time zone. The pure functions
(percentiles, the heat map, durations, ``--since``) are tested on synthetic data.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import load_config
from monitor.events import Event
from monitor.observation import Status
from monitor.report import (
    CSV_HEADER,
    SCALE,
    Since,
    daily_table,
    duration_stats,
    heatmap,
    heatmap_peaks,
    history_csv,
    parse_since,
    percentile,
    relative,
    render_heatmap,
    span,
    stamp,
    stats_text,
    status_text,
)
from monitor.sites.ezbooking.sim import SimPrefecture
from monitor.store import CalendarStateRow, DeliveryRow, EpisodeRow, Store
from monitor.transitions import CalendarState, EpisodeKind
from tests.conftest import RENEWAL, render_config
from tests.daemon_harness import DaemonProcess, wait_for
from tests.test_check_e2e import future_slots

PARIS = ZoneInfo("Europe/Paris")
CALENDARS = ["3.1", "3.2", "3.3", "3.4"]


# --------------------------------------------------------------------------- a real run


@dataclass
class Run:
    """A state directory written by a real daemon, and what it recorded."""

    config: Path
    state_dir: Path
    booking_url: str
    slots: list[datetime]
    status_while_running: subprocess.CompletedProcess[str]
    episodes: list[EpisodeRow]
    observations: int

    def episode(self, kind: EpisodeKind, calendar: str) -> EpisodeRow:
        (found,) = [e for e in self.episodes if e.kind is kind and e.calendar == calendar]
        return found


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("report")
    state_dir = root / "state"
    with SimPrefecture() as sim:
        config = root / "config.toml"
        config.write_text(
            render_config(
                [
                    {
                        "name": "Renouvellement",
                        "url": sim.booking_url(RENEWAL),
                        "calendars": CALENDARS,
                    }
                ],
                monitor={
                    "interval": "1s",
                    "jitter": "0s",
                    "trouble_after": "2s",
                    "timezone": "Europe/Paris",
                    "state_dir": str(state_dir),
                },
            ),
            encoding="utf-8",
        )
        os.chmod(config, 0o600)
        daemon = DaemonProcess(config, state_dir).start("-v")
        try:
            wait_for(lambda: daemon.observation_count("3.4") >= 1, what="a first round")
            slots = future_slots(0, 1)
            sim.set_state(RENEWAL, "3.2", "available", slots=slots)
            wait_for(lambda: daemon.events("slot_opened"), what="slot_opened on 3.2")
            seen = daemon.observation_count("3.2")
            wait_for(lambda: daemon.observation_count("3.2") >= seen + 2, what="3.2 seen again")
            sim.set_state(RENEWAL, "3.2", "full")
            wait_for(lambda: daemon.events("slot_gone"), what="slot_gone on 3.2")

            sim.set_state(RENEWAL, "3.4", "down", variant="haproxy_503")
            wait_for(lambda: daemon.events("trouble"), timeout=30, what="trouble on 3.4")
            sim.set_state(RENEWAL, "3.4", "full")
            wait_for(lambda: daemon.events("recovered"), timeout=30, what="3.4 recovered")

            sim.set_state(RENEWAL, "3.3", "available", slots=future_slots(5))
            wait_for(lambda: len(daemon.events("slot_opened")) == 2, what="slot_opened on 3.3")
            # `status` reads the database while the daemon writes it (read-only, WAL).
            while_running = subprocess.run(
                [sys.executable, "-m", "monitor", "status", "-c", str(config)],
                capture_output=True,
                text=True,
                timeout=30,
                env={**os.environ, "NO_COLOR": "1"},
            )
            assert daemon.stop() == 0
        finally:
            if daemon.proc is not None and daemon.proc.poll() is None:
                daemon.kill()
        with Store.open_readonly(state_dir) as store:
            episodes = store.episodes()
            observations = len(store.observations())
        yield Run(
            config=config,
            state_dir=state_dir,
            booking_url=sim.booking_url(RENEWAL),
            slots=slots,
            status_while_running=while_running,
            episodes=episodes,
            observations=observations,
        )


def test_status_works_while_the_daemon_runs(run: Run) -> None:
    result = run.status_while_running
    assert result.returncode == 0, result.stderr
    assert "3.3  AVAILABLE since" in result.stdout
    assert "Traceback" not in result.stderr


def test_status_shows_each_calendar_in_config_order_with_what_matters(run: Run, cli) -> None:
    result = cli("status", "-c", str(run.config))
    assert result.code == 0, result.err
    out = result.out
    assert f"State in {run.state_dir} (times in Europe/Paris" in out
    assert out.index("3.1 (primary)") < out.index("  3.2  ") < out.index("  3.3  ")
    assert out.index("  3.3  ") < out.index("  3.4  ")
    assert "3.1 (primary)  full since " in out
    # The calendar with slots: its line, its first slot and the direct link.
    available = out.split("  3.3  ", 1)[1].split("  3.4  ", 1)[0]
    assert available.startswith("AVAILABLE since ")
    assert f"first slot {stamp(future_slots(5)[0], PARIS)}, 1 slot" in available
    assert f"book it now: {run.booking_url}" in available
    # The calendar whose slots have gone: when they were seen, and which.
    gone = run.episode(EpisodeKind.AVAILABILITY, "3.2")
    block = out.split("  3.2  ", 1)[1].split("  3.3  ", 1)[0]
    assert block.startswith("full since ")
    assert f"first slot {stamp(run.slots[0], PARIS)}, 2 slots" in block
    assert "last slot seen " in block
    assert "next check " in block and "(regular interval)" in block
    assert gone.closed_at is not None
    assert "Notifications: none configured ([notify] urls): alerts only go to the log." in out


def test_history_lists_both_episodes_newest_first_with_durations(run: Run, cli) -> None:
    result = cli("history", "-c", str(run.config))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    opened_32 = run.episode(EpisodeKind.AVAILABILITY, "3.2")
    assert opened_32.closed_at is not None
    row = next(
        line
        for line in lines
        if line.startswith(stamp(opened_32.opened_at, PARIS)) and "  3.2  " in line
    )
    lasted = span((opened_32.closed_at - opened_32.opened_at).total_seconds())
    assert stamp(opened_32.closed_at, PARIS) in row
    assert f"  {lasted}  " in row
    assert "  3.2  " in row and stamp(run.slots[0], PARIS) in row and row.endswith("  2")
    still = next(line for line in lines if "still open" in line)
    assert "  3.3  " in still and "so far" in still
    assert result.out.index("still open") < result.out.index(row), "newest first"

    down = run.episode(EpisodeKind.TROUBLE, "3.4")
    trouble = result.out.split("Site trouble (1 episode)", 1)[1]
    assert "STATUS" in trouble and "DETAIL" in trouble
    row = next(line for line in trouble.splitlines() if "  3.4  " in line)
    assert row.startswith(stamp(down.opened_at, PARIS))
    assert "  down  " in row and "503" in row


def test_history_filters_by_calendar_and_watch(run: Run, cli) -> None:
    out = cli("history", "-c", str(run.config), "--calendar", "3.4").out
    assert "Slots open (0 episodes)" in out and "Site trouble (1 episode)" in out
    out = cli("history", "-c", str(run.config), "--watch", "RENOUVELLEMENT", "--since", "all").out
    assert "Slots open (2 episodes)" in out
    out = cli("history", "-c", str(run.config), "--watch", "Premier titre").out
    assert "Slots open (0 episodes)" in out


def test_history_csv_is_rfc4180_with_iso_times(run: Run, cli) -> None:
    result = cli("history", "-c", str(run.config), "--csv")
    assert result.code == 0, result.err
    assert result.out.startswith(",".join(CSV_HEADER) + "\r\n")
    rows = list(csv.DictReader(io.StringIO(result.out, newline="")))
    assert len(rows) == 3
    episode = run.episode(EpisodeKind.AVAILABILITY, "3.2")
    assert episode.closed_at is not None
    (row,) = [r for r in rows if r["calendar"] == "3.2"]
    assert row["kind"] == "availability" and row["watch"] == "Renouvellement"
    assert datetime.fromisoformat(row["opened_at"]) == episode.opened_at.replace(microsecond=0)
    assert row["opened_at"].endswith(("+01:00", "+02:00"))
    expected = round((episode.closed_at - episode.opened_at).total_seconds())
    assert int(row["duration_seconds"]) == expected
    assert datetime.fromisoformat(row["first_slot"]) == run.slots[0]
    assert row["slot_count"] == "2"
    (open_row,) = [r for r in rows if r["calendar"] == "3.3"]
    assert open_row["closed_at"] == "" and open_row["duration_seconds"] == ""


def test_stats_heat_map_marks_the_weekday_and_hour_slots_opened(run: Run, cli) -> None:
    result = cli("stats", "-c", str(run.config))
    assert result.code == 0, result.err
    out = result.out
    assert "\x1b[" not in out, "no colour when stdout is not a terminal"
    for calendar in ("3.2", "3.3"):
        local = run.episode(EpisodeKind.AVAILABILITY, calendar).opened_at.astimezone(PARIS)
        line = next(ln for ln in out.splitlines() if ln.startswith("  " + local.strftime("%a")))
        assert line[5 + 3 * local.hour + 2] in SCALE[1:], (calendar, line)
    assert "When slots appear: 2 openings" in out
    durations = out.split("How long slots stay open", 1)[1]
    assert "  3.2  " in durations and "MEDIAN" in durations and "90%" in durations
    today = datetime.now(PARIS).strftime("%a %Y-%m-%d")
    day = next(line for line in out.splitlines() if line.strip().startswith(today))
    assert int(day.split()[2]) == run.observations


def test_stats_colour_only_on_request(run: Run) -> None:
    with Store.open_readonly(run.state_dir) as store:
        episodes = store.episodes()
        checks = [(o.checked_at, o.status) for o in store.observations()]
    now = datetime.now(UTC)
    plain = stats_text(episodes, checks, now=now, tz=PARIS, since=Since(None, "the start"))
    coloured = stats_text(
        episodes, checks, now=now, tz=PARIS, since=Since(None, "the start"), colour=True
    )
    assert "\x1b[" not in plain
    assert "\x1b[48;5;" in coloured


def test_bad_since_is_a_usage_error_in_one_paragraph(run: Run, cli) -> None:
    for command in ("history", "stats"):
        result = cli(command, "-c", str(run.config), "--since", "last week")
        assert result.code == 2
        assert '--since "last week"' in result.err and '"7d"' in result.err
        errors = [e for e in result.err.splitlines() if not e.startswith("rdv-monitor: warning")]
        assert len(errors) == 1 and "Traceback" not in result.err


@pytest.mark.parametrize(
    ("since", "why"),
    [
        ("100000000d", 'goes back too far: a duration is at most "3650d"'),
        ("0001-01-01", "is out of range"),  # midnight in Paris is before year 1 in UTC
        ("9999-12-31T23:59-12:00", "is out of range"),
    ],
)
def test_since_beyond_what_a_date_can_hold_is_a_usage_error(
    tmp_path: Path, write_config, cli, since: str, why: str
) -> None:
    """These once escaped as OverflowError: "this is a bug", exit 1."""
    config = write_config(
        [{"name": "Renouvellement", "url": "http://127.0.0.1:9/booking/create/29396"}],
        monitor={"state_dir": str(tmp_path / "state")},
    )
    for command in ("history", "stats"):
        result = cli(command, "-c", str(config), "--since", since)
        assert result.code == 2, result.err
        assert f'--since "{since}" {why}' in result.err and '"7d"' in result.err
        errors = [e for e in result.err.splitlines() if not e.startswith("rdv-monitor: warning")]
        assert len(errors) == 1 and "bug" not in result.err


def test_commands_before_the_monitor_ever_ran(tmp_path: Path, write_config, cli) -> None:
    state_dir = tmp_path / "nothing-yet"
    config = write_config(
        [{"name": "Renouvellement", "url": "http://127.0.0.1:9/booking/create/29396"}],
        monitor={"state_dir": str(state_dir)},
    )
    for command in ("status", "history", "stats"):
        result = cli(command, "-c", str(config))
        assert result.code == 0, result.err
        assert result.out.strip() == (
            f"No state yet in {state_dir}: the monitor has not run with this config. "
            f"Start it with `rdv-monitor run -c {config}`."
        )
    assert not state_dir.exists(), "reading must not create the state folder"


def test_status_lists_calendars_no_longer_configured(run: Run, tmp_path: Path, cli) -> None:
    state_dir = tmp_path / "state"
    shutil.copytree(run.state_dir, state_dir)
    text = run.config.read_text(encoding="utf-8")
    text = text.replace(str(run.state_dir), str(state_dir)).replace(', "3.4"', "")
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    os.chmod(config, 0o600)
    out = cli("status", "-c", str(config)).out
    tail = out.split("No longer configured (their history is kept):", 1)[1]
    assert "Renouvellement / 3.4: full, last check " in tail


# --------------------------------------------------------------------------- pure functions


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5.5
    assert percentile(values, 0.9) == pytest.approx(9.1)
    assert percentile(values, 0) == 1 and percentile(values, 1) == 10
    assert percentile([42.0], 0.9) == 42.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def _monday_openings() -> list[datetime]:
    """20 openings on Mondays between 08:00 and 08:05 Paris time, winter and summer alike."""
    first = datetime(2026, 1, 5, 8, 0, tzinfo=PARIS)  # a Monday
    return [(first + timedelta(weeks=week, minutes=week % 6)).astimezone(UTC) for week in range(20)]


def test_heat_map_puts_monday_8h_at_the_top() -> None:
    noise = [datetime(2026, 1, 6, 14, 30, tzinfo=PARIS)] * 3  # Tuesday 14h
    noise += [datetime(2026, 1, 10, 10, 0, tzinfo=PARIS)]  # Saturday 10h
    grid = heatmap(_monday_openings() + noise, PARIS)
    assert grid[0][8] == 20, "DST does not move an 08:0x opening out of the 8h column"
    assert max(c for row in grid for c in row) == grid[0][8]
    assert grid[1][14] == 3 and grid[5][10] == 1
    assert sum(map(sum, grid)) == 24

    text = render_heatmap(grid)
    lines = text.splitlines()
    mon = next(line for line in lines if line.startswith("  Mon"))
    tue = next(line for line in lines if line.startswith("  Tue"))
    assert mon[5 + 3 * 8 + 2] == "@"
    assert tue[5 + 3 * 14 + 2] == SCALE[2]  # 3 of 20 → level 2
    assert mon[5 + 3 * 9 + 2] == " "
    assert "@ 18-20" in text and ". 1-2" in text
    coloured = render_heatmap(grid, colour=True)
    assert "\x1b[48;5;160m\x1b[38;5;16m 20" in coloured


def test_heat_map_peaks_say_when_to_be_ready() -> None:
    ((day, hour, count, typical), *_) = heatmap_peaks(_monday_openings(), PARIS)
    assert (day, hour, count) == (0, 8, 20)
    assert typical in {"08:02", "08:03"}


def test_empty_heat_map_says_so() -> None:
    assert "no slot opened" in render_heatmap(heatmap([], PARIS))


def _episode(
    opened: datetime, minutes: float | None, kind: EpisodeKind = EpisodeKind.AVAILABILITY
) -> EpisodeRow:
    return EpisodeRow(
        id=1,
        kind=kind,
        watch="w",
        calendar="3.1",
        opened_at=opened,
        closed_at=None if minutes is None else opened + timedelta(minutes=minutes),
        first_slot=None,
        slot_count=None,
        slots=(),
        status=Status.AVAILABLE if kind is EpisodeKind.AVAILABILITY else Status.DOWN,
        detail='a "quoted", detail',
    )


def test_duration_stats_median_p90_and_open_ones() -> None:
    start = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    episodes = [_episode(start, m) for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)]
    episodes += [_episode(start, None), _episode(start, 500, EpisodeKind.TROUBLE)]
    stats = duration_stats(episodes)
    assert stats.count == 10 and stats.still_open == 1
    assert stats.median == 5.5 * 60
    assert stats.p90 == pytest.approx(9.1 * 60)
    assert duration_stats([]).median is None


def test_history_csv_quotes_per_rfc4180() -> None:
    start = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    text = history_csv([_episode(start, 3)], PARIS)
    assert text.endswith('"a ""quoted"", detail"\r\n')
    assert "2026-01-05T08:00:00+01:00,2026-01-05T08:03:00+01:00,180," in text


def test_span_and_relative_read_like_a_person_would_say_them() -> None:
    assert span(3 * 86400 + 4 * 3600 + 59) == "3 d 4 h"
    assert span(288) == "4 min 48 s"
    assert span(3600) == "1 h"
    assert span(12.4) == "12 s"
    assert span(-5) == "0 s"
    now = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    assert relative(now + timedelta(seconds=288), now) == "in 4 min 48 s"
    assert relative(now - timedelta(seconds=12), now) == "12 s ago"


def test_parse_since_takes_durations_dates_and_all() -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now, PARIS).at == now - timedelta(days=7)
    assert parse_since("1d12h", now, PARIS).at == now - timedelta(hours=36)
    local_midnight = datetime(2026, 11, 1, tzinfo=PARIS)
    assert parse_since("2026-11-01", now, PARIS).at == local_midnight
    assert parse_since("2026-11-01T08:00", now, PARIS).at == local_midnight + timedelta(hours=8)
    assert parse_since("all", now, PARIS).at is None
    for bad in ("last week", "2026-13-01", "2026-12-01", "", "100000000d", "0001-01-01"):
        with pytest.raises(ValueError, match="--since"):
            parse_since(bad, now, PARIS)
    assert parse_since("3650d", now, PARIS).at == now - timedelta(days=3650)


def test_daily_table_shows_days_without_checks() -> None:
    days = {date(2026, 1, 5): Counter({Status.FULL: 280, Status.DOWN: 3})}
    lines = daily_table(days, date(2026, 1, 4), date(2026, 1, 6))
    assert lines[0].split() == [
        "DATE",
        "TOTAL",
        "FULL",
        "AVAILABLE",
        "DOWN",
        "BLOCKED",
        "CAPTCHA",
        "UNKNOWN",
    ]
    assert lines[1].split() == ["Sun", "2026-01-04", "0", "-", "-", "-", "-", "-", "-"]
    assert lines[2].split() == ["Mon", "2026-01-05", "283", "280", "-", "3", "-", "-", "-"]
    assert len(lines) == 4


def test_status_warns_when_checks_are_overdue_and_lists_failed_deliveries(write_config) -> None:
    config = load_config(
        write_config(
            [
                {
                    "name": "Renouvellement",
                    "url": "http://127.0.0.1:9/booking/create/29396",
                    "calendars": ["3.1", "3.2"],
                }
            ],
            monitor={"timezone": "Europe/Paris"},
        )
    )
    now = datetime(2026, 12, 7, 7, 3, tzinfo=UTC)
    since = now - timedelta(days=3, hours=4)
    state = CalendarState(
        watch="Renouvellement",
        calendar="3.1",
        status=Status.FULL,
        since=since,
        last_check=now - timedelta(hours=3),
        url="http://127.0.0.1:9/booking/create/29396",
        detail="full",
        last_good=now - timedelta(hours=3),
    )
    row = CalendarStateRow(
        watch="Renouvellement",
        calendar="3.1",
        status=Status.FULL,
        since=since,
        last_check=state.last_check,
        next_check=now - timedelta(hours=2, minutes=55),
        next_reason="interval",
        last_available=None,
        last_first_slot=None,
        last_slot_count=None,
        state=state,
    )
    event = Event(
        id=7,
        kind="trouble",
        watch="Renouvellement",
        calendar="3.1",
        created_at=now - timedelta(days=1),
        episode_id=1,
        dedup_key="x",
        payload={},
    )
    failed = DeliveryRow(
        event_id=7,
        target="abc",
        target_masked="tgram://1...n/****89",
        state="failed",
        attempts=12,
        created_at=now - timedelta(days=1),
        next_attempt=now - timedelta(hours=1),
        done_at=now - timedelta(hours=1),
        last_error="HTTP 401 Unauthorized",
    )
    pending = DeliveryRow(
        event_id=7,
        target="def",
        target_masked="mailto://m...e:****@example.org",
        state="pending",
        attempts=1,
        created_at=now - timedelta(days=1),
        next_attempt=now + timedelta(seconds=30),
        done_at=None,
        last_error="timed out",
    )
    text = status_text(
        config,
        [row],
        [failed, pending],
        {7: event},
        counts={"pending": 1, "sent": 4, "failed": 1},
        now=now,
        state_dir=Path("/var/lib/rdv-monitor"),
    )
    assert "3.1 (primary)  full since 3 d 4 h (Fri 2026-12-04 04:03)" in text
    assert "next check was due 2 h 55 min ago: is `rdv-monitor run` still running?" in text
    assert "  3.2  not checked yet" in text
    assert "Notifications: 4 sent, 1 pending, 1 failed" in text
    assert (
        "pending: trouble 3.1 (Sun 2026-12-06 08:03) to mailto://m...e:****@example.org, next "
        "attempt in 30 s; 1 failed attempt, last: timed out"
    ) in text
    assert (
        "failed:  trouble 3.1 (Sun 2026-12-06 08:03) to tgram://1...n/****89, gave up "
        "1 h ago: HTTP 401 Unauthorized"
    ) in text
