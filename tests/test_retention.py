"""Retention (issue 11 item 5): ``[monitor] keep`` prunes raw observations in small
batches, keeps what ``stats`` needs as daily counts, and the file stops growing."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.observation import Observation, Status
from monitor.store import Store

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
CALENDARS = [f"3.{n}" for n in range(10)]
EVERY = timedelta(minutes=5)


def fill(path: Path, start: datetime, days: int) -> int:
    """Append ``days`` of checks of 10 calendars every 5 minutes, as the daemon would
    have recorded them (bulk: one transaction, so a simulated year takes seconds)."""
    rows = []
    at = start
    end = start + timedelta(days=days)
    while at < end:
        for calendar in CALENDARS:
            status = "down" if at.hour == 8 and at.minute < 5 else "full"
            rows.append((at.isoformat(timespec="microseconds"), "W", calendar, status))
        at += EVERY
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO observations (checked_at, watch, calendar, status, http_status, "
            "elapsed_ms, detail, url) VALUES (?, ?, ?, ?, 200, 80, 'page', 'http://x/')",
            rows,
        )
    db.close()
    return len(rows)


def prune_all(store: Store, before: datetime) -> int:
    total = 0
    while (n := store.retention.prune_batch(before, PARIS)) > 0:
        assert n <= 500, "small batches"
        total += n
    return total


def test_pruning_keeps_recent_checks_and_counts_the_old_ones(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state") as store:
        store.record(_available(T0), trouble_after=900)
        added = 1 + fill(store.path, T0 + timedelta(minutes=1), 10)
        now = T0 + timedelta(days=10)
        pruned = prune_all(store, now - timedelta(days=3))
        kept = store.observations()
        assert pruned + len(kept) == added
        assert min(o.checked_at for o in kept) >= now - timedelta(days=3)
        # the episode and its event are kept whatever happened to the observation
        assert [e.kind for e in store.events_after(0)] == ["slot_opened"]
        assert len(store.episodes()) == 1
        days = store.retention.daily_counts()
        assert sum(sum(c.values()) for c in days.values()) == pruned
        first_day = T0.astimezone(PARIS).date()
        assert days[first_day][Status.AVAILABLE] == 1
        # 10 calendars x 288 checks a day, of which the 08:00 ones are down
        assert days[date(2026, 1, 6)] == Counter({Status.FULL: 2870, Status.DOWN: 10})
        only_one = store.retention.daily_counts(keep=lambda w, c: c == "3.1")
        assert only_one[date(2026, 1, 6)] == Counter({Status.FULL: 287, Status.DOWN: 1})


def test_the_file_stops_growing_in_a_steady_state(tmp_path: Path) -> None:
    """What is pruned makes room for what is added (bench/bench_retention.py: a year)."""
    keep = timedelta(days=6)
    sizes = []
    store = Store.open(tmp_path / "state")
    for week in range(8):
        start = T0 + timedelta(days=3 * week)
        fill(store.path, start, 3)
        prune_all(store, start + timedelta(days=3) - keep)
        store.close()  # checkpoints the WAL into the file
        sizes.append((tmp_path / "state" / "state.db").stat().st_size)
        store = Store.open(tmp_path / "state")
    with store:
        assert store.retention.size().observations == 6 * 288 * 10
    steady = sizes[3:]
    assert max(steady) <= steady[0] * 1.10, f"file grows in the steady state: {sizes}"


def test_status_shows_the_database_size(tmp_path: Path, write_config, cli) -> None:
    state = tmp_path / "state"
    with Store.open(state) as store:
        store.record(_available(T0), trouble_after=900)
    config = write_config(
        [{"name": "W", "url": "http://127.0.0.1:9/booking/create/1", "calendars": ["3.2"]}],
        monitor={"state_dir": str(state), "keep": "90d"},
    )
    result = cli("status", "-c", str(config))
    assert result.code == 0, result.err
    (line,) = [x for x in result.out.splitlines() if x.startswith("Database:")]
    assert "KiB" in line and "1 checks kept for 90 d" in line


def test_stats_counts_pruned_days(tmp_path: Path, write_config, cli) -> None:
    state = tmp_path / "state"
    with Store.open(state) as store:
        fill(store.path, T0, 2)
        prune_all(store, T0 + timedelta(days=2))
        assert store.observations() == []
    config = write_config(
        [{"name": "W", "url": "http://127.0.0.1:9/booking/create/1", "calendars": ["3.1"]}],
        monitor={"state_dir": str(state)},
    )
    result = cli("stats", "-c", str(config), "--since", "2026-01-01", "--calendar", "3.1")
    assert result.code == 0, result.err
    assert "Tue 2026-01-06" in result.out
    (row,) = [x for x in result.out.splitlines() if "Tue 2026-01-06" in x]
    assert row.split()[2] == "288", row  # weekday, date, checks


@pytest.mark.parametrize("value", ["0", "-3d", "forever", "20000d"])
def test_keep_must_be_a_sensible_duration(value: str, write_config, cli) -> None:
    config = write_config(
        [{"name": "W", "url": "http://127.0.0.1:9/booking/create/1"}], monitor={"keep": value}
    )
    result = cli("check", "-c", str(config))
    assert result.code == 2
    assert "keep" in result.err and "Traceback" not in result.err


def _available(at: datetime) -> Observation:
    return Observation(
        watch="W",
        calendar="3.2",
        status=Status.AVAILABLE,
        url="http://127.0.0.1:9/booking/create/1",
        detail="slots",
        checked_at=at,
        elapsed_ms=80,
        http_status=200,
        slots=(at + timedelta(days=9),),
        slot_count=1,
    )
