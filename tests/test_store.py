"""The SQLite store: records, episodes, the outbox, migrations and read-only access.

Crash safety under ``kill -9`` is in ``test_store_crash.py``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import MonitorError, UsageError
from monitor.observation import Observation, Status
from monitor.store import (
    DB_NAME,
    DeliveryPlan,
    StateError,
    Store,
    StoreError,
    database,
    schema,
)
from monitor.transitions import EpisodeKind

T0 = datetime(2026, 12, 7, 7, 0, 14, tzinfo=UTC)
URL = "https://www.haute-savoie.gouv.fr/booking/create/29396"
SLOTS = (datetime(2026, 12, 8, 8, 0, tzinfo=UTC), datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
PAGE = "<html><body>Nouvelle présentation</body></html>".encode("iso-8859-1")
TA = 900.0
NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


def obs(
    minute: float,
    status: Status,
    *,
    watch: str = "Renouvellement",
    calendar: str = "3.2",
    **extra: object,
) -> Observation:
    fields: dict[str, object] = {
        "watch": watch,
        "calendar": calendar,
        "status": status,
        "url": URL,
        "detail": f"{status.value} page",
        "checked_at": T0 + timedelta(minutes=minute),
        "elapsed_ms": 321,
        "http_status": 200,
        "planning_id": "24980",
        "label": "Calendrier 3.2",
    }
    if status is Status.AVAILABLE:
        fields.update(slots=SLOTS, slot_count=2)
    if status is Status.UNKNOWN:
        fields.update(page=PAGE)
    fields.update(extra)
    return Observation(**fields)  # type: ignore[arg-type]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def store(state_dir: Path) -> Iterator[Store]:
    with Store.open(state_dir) as s:
        yield s


def raw(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    return db


# --------------------------------------------------------------------------- opening


def test_open_creates_a_private_folder_and_a_durable_database(state_dir: Path) -> None:
    with Store.open(state_dir) as s:
        assert s.path == state_dir / DB_NAME
        assert s.pages_dir == state_dir / "pages"
        assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
        settings = s.connection_settings()
        assert settings.journal_mode == "wal"
        assert settings.synchronous == 2  # FULL
        assert settings.foreign_keys is True
        assert settings.busy_timeout_ms >= 1000
        assert s.schema_version() == schema.schema_version() == CURRENT
    assert not s.readonly


def test_open_accepts_a_database_file(tmp_path: Path) -> None:
    with Store.open(tmp_path / "other.db") as s:
        assert s.path == tmp_path / "other.db" and s.state_dir == tmp_path


def test_a_file_that_is_not_a_database_is_refused(state_dir: Path) -> None:
    state_dir.mkdir()
    db = state_dir / DB_NAME
    db.write_bytes(b"this is not sqlite" * 100)
    expected = rf"Cannot open the state database .* Move it away \(mv {db} {db}\.broken\)"
    with pytest.raises(StateError, match=expected) as info:
        Store.open(state_dir)
    # Only the user can fix it: a usage error (exit 2, not retried by systemd), and still
    # a StoreError for code that handles "the state is unusable".
    assert isinstance(info.value, UsageError) and isinstance(info.value, StoreError)
    with pytest.raises(StateError, match=r"Cannot read the state database .* Move it away"):
        Store.open_readonly(state_dir)


def test_a_lock_held_too_long_at_open_stays_a_plain_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock may be released by the time systemd retries: exit 1, not a usage error."""
    path = tmp_path / DB_NAME
    holder = sqlite3.connect(path, isolation_level=None)  # rollback journal, not WAL
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(database, "BUSY_TIMEOUT", 0.05)
    try:
        with pytest.raises(StoreError, match="database is locked") as info:
            Store.open(tmp_path)
        assert not isinstance(info.value, UsageError)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_closed_store_says_so(state_dir: Path) -> None:
    s = Store.open(state_dir)
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError, match="closed") as info:
        s.events_after(0)
    assert not isinstance(info.value, UsageError)  # a failure at run time: exit 1


# --------------------------------------------------------------------------- recording


def test_record_writes_the_observation_state_episode_and_event(store: Store) -> None:
    assert store.record(obs(0, Status.FULL), trouble_after=TA) == []
    (event,) = store.record(obs(5, Status.AVAILABLE), trouble_after=TA)
    assert event.id == 1 and event.kind == "slot_opened"
    assert event.created_at == T0 + timedelta(minutes=5)
    assert event.payload["slots"] == [s.isoformat() for s in SLOTS]
    assert store.event(1) == event

    (row,) = store.observations(status=Status.AVAILABLE)
    assert row.checked_at == T0 + timedelta(minutes=5)
    assert row.slots == SLOTS and row.slot_count == 2 and row.elapsed_ms == 321
    assert (row.watch, row.calendar, row.planning_id, row.url) == (
        "Renouvellement",
        "3.2",
        "24980",
        URL,
    )

    (episode,) = store.episodes()
    assert episode.id == event.episode_id and episode.kind is EpisodeKind.AVAILABILITY
    assert episode.is_open and episode.first_slot == SLOTS[0] and episode.slots == SLOTS

    (cal,) = store.calendar_states()
    assert (cal.status, cal.since, cal.last_available) == (
        Status.AVAILABLE,
        row.checked_at,
        row.checked_at,
    )
    assert cal.last_first_slot == SLOTS[0] and cal.last_slot_count == 2
    assert cal.state is not None and cal.state.availability is not None
    assert cal.state.availability.episode_id == episode.id

    (gone,) = store.record(obs(10, Status.FULL), trouble_after=TA)
    assert gone.kind == "slot_gone" and gone.episode_id == episode.id and gone.id == 2
    assert store.episodes()[0].closed_at == T0 + timedelta(minutes=10)


def test_stored_times_are_fixed_width_utc_text(store: Store) -> None:
    store.record(obs(0, Status.FULL), trouble_after=TA)
    text = raw(store.path).execute("SELECT checked_at FROM observations").fetchone()[0]
    assert text == "2026-12-07T07:00:14.000000+00:00"


def test_trouble_episode_links_its_three_events(store: Store) -> None:
    events = []
    for minute, status in [
        (0, "full"),
        (5, "down"),
        (10, "unknown"),
        (20, "blocked"),
        (25, "full"),
    ]:
        events += store.record(obs(minute, Status(status)), trouble_after=TA)
    assert [e.kind for e in events] == ["layout_changed", "trouble", "recovered"]
    (episode,) = store.episodes(kind="trouble")
    assert {e.episode_id for e in events} == {episode.id}
    assert episode.status is Status.BLOCKED  # the latest bad status
    assert episode.closed_at == T0 + timedelta(minutes=25)
    (cal,) = store.calendar_states()
    assert cal.state is not None and cal.state.trouble is None and cal.status is Status.FULL


def test_unknown_page_is_saved_and_named_in_the_event(store: Store) -> None:
    (event,) = store.record(obs(3, Status.UNKNOWN), trouble_after=TA)
    name = event.payload["page_file"]
    assert name == "20261207T070314Z-renouvellement-3-2.html"
    saved = store.pages_dir / name
    assert saved.read_bytes() == PAGE  # bytes as received, no decoding
    assert event.payload["page_size"] == len(PAGE)
    assert stat.S_IMODE(store.pages_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert os.listdir(store.pages_dir) == [name]  # no temp file left behind
    # the second unknown page of the same run is neither saved nor reported
    assert store.record(obs(4, Status.UNKNOWN), trouble_after=TA) == []
    assert os.listdir(store.pages_dir) == [name]


def test_a_page_that_cannot_be_saved_does_not_lose_the_record(store: Store) -> None:
    store.pages_dir.write_text("a file where the folder should be")
    (event,) = store.record(obs(3, Status.UNKNOWN), trouble_after=TA)
    assert event.kind == "layout_changed"
    assert event.payload["page_file"] is None
    assert "pages" in event.payload["page_error"]
    assert len(store.observations()) == 1


def test_calendars_are_independent(store: Store) -> None:
    store.record(obs(0, Status.AVAILABLE, calendar="3.1"), trouble_after=TA)
    store.record(obs(0, Status.FULL, calendar="3.2"), trouble_after=TA)
    store.record(obs(0, Status.AVAILABLE, watch="Premier titre", calendar=""), trouble_after=TA)
    (gone,) = store.record(obs(5, Status.FULL, calendar="3.1"), trouble_after=TA)
    assert gone.calendar == "3.1"
    keys = [(c.watch, c.calendar) for c in store.calendar_states()]
    assert keys == [("Premier titre", ""), ("Renouvellement", "3.1"), ("Renouvellement", "3.2")]
    assert [e.kind for e in store.events_after(0)] == ["slot_opened", "slot_opened", "slot_gone"]


def test_naive_time_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="aware"):
        store.record(obs(0, Status.FULL, checked_at=datetime(2026, 1, 1)), trouble_after=TA)
    assert store.observations() == []


# --------------------------------------------------------------------------- idempotence


def test_replaying_after_a_reopen_writes_no_duplicate_event(state_dir: Path) -> None:
    available = obs(5, Status.AVAILABLE)
    with Store.open(state_dir) as s:
        s.record(obs(0, Status.FULL), trouble_after=TA)
        assert len(s.record(available, trouble_after=TA)) == 1
    # "crash" and restart: the same observation object is recorded again
    with Store.open(state_dir) as s:
        assert s.record(available, trouble_after=TA) == []
        assert [e.kind for e in s.events_after(0)] == ["slot_opened"]
        assert len(s.episodes()) == 1
        # an earlier wall time is not an older check: the database's order rules
        # (issue 11 item 4, the clock stepped back), and the same slots are no new alert
        assert s.record(obs(1, Status.AVAILABLE), trouble_after=TA) == []
        assert [e.kind for e in s.record(obs(2, Status.FULL), trouble_after=TA)] == ["slot_gone"]
        assert not s.episodes()[0].is_open
        assert len(s.observations()) == 5  # every observation is kept


def test_replay_of_every_step_of_a_story(store: Store) -> None:
    story = [
        obs(0, Status.FULL),
        obs(5, Status.AVAILABLE),
        obs(10, Status.DOWN),
        obs(15, Status.UNKNOWN),
        obs(30, Status.CAPTCHA),
        obs(35, Status.AVAILABLE),
        obs(40, Status.FULL),
    ]
    written = []
    for o in story:
        written += store.record(o, trouble_after=TA)
        assert store.record(o, trouble_after=TA) == []
    assert [e.kind for e in written] == [
        "slot_opened",
        "layout_changed",
        "trouble",
        "recovered",
        "slot_gone",
    ]
    assert store.events_after(0) == written


def test_outbox_ignores_an_event_it_already_has(store: Store) -> None:
    """Even if the calendar's state were lost, the dedup key keeps the outbox clean."""
    available = obs(5, Status.AVAILABLE)
    assert len(store.record(available, trouble_after=TA)) == 1
    other = raw(store.path)  # a second connection, as a hand edit with the sqlite3 shell
    other.execute("UPDATE calendars SET episode_opened_at = NULL, episode_id = NULL")
    other.close()
    assert store.record(available, trouble_after=TA) == []
    assert store.last_event_id() == 1


# --------------------------------------------------------------------------- reading


def test_events_after_follows_the_outbox(store: Store) -> None:
    for minute, status in enumerate(["available", "full"] * 3):
        store.record(obs(minute, Status(status)), trouble_after=TA)
    assert store.last_event_id() == 6
    assert [e.id for e in store.events_after(0, limit=4)] == [1, 2, 3, 4]
    assert [e.id for e in store.events_after(4)] == [5, 6]
    assert store.events_after(6) == []
    assert store.event(99) is None


def test_next_check_is_kept_across_records(store: Store) -> None:
    at = T0 + timedelta(minutes=5)
    assert store.set_next_check("Renouvellement", "3.2", at, "interval") == 1
    (cal,) = store.calendar_states()
    assert cal.status is None and cal.state is None and cal.next_check == at
    store.record(obs(0, Status.FULL), trouble_after=TA)  # the first record uses the row
    (cal,) = store.calendar_states()
    assert cal.status is Status.FULL and (cal.next_check, cal.next_reason) == (at, "interval")
    store.record(obs(1, Status.FULL, calendar="3.3"), trouble_after=TA)
    later = T0 + timedelta(hours=1)
    assert store.set_next_check("Renouvellement", None, later, "release mon 08:00") == 2
    assert {c.next_reason for c in store.calendar_states()} == {"release mon 08:00"}
    store.set_next_check("Renouvellement", "3.2", None, None)
    assert store.calendar_states()[0].next_check is None


def test_history_queries(store: Store) -> None:
    for minute, status in enumerate(["full", "down", "full", "available", "full"]):
        store.record(obs(minute * 60, Status(status)), trouble_after=TA)
    store.record(obs(10, Status.FULL, watch="Autre", calendar=""), trouble_after=TA)
    since = T0 + timedelta(hours=2)
    assert [o.status for o in store.observations(since=since, watch="Renouvellement")] == [
        Status.FULL,
        Status.AVAILABLE,
        Status.FULL,
    ]
    latest = store.observations(watch="Renouvellement", limit=2)
    assert [o.checked_at.hour for o in latest] == [10, 11]  # the latest two, oldest first
    # "latest" is the order of recording (issue 11 item 4), not the wall time
    assert [o.watch for o in store.observations(limit=1)] == ["Autre"]
    assert store.counts_by_status(since) == {
        ("Renouvellement", "3.2"): {Status.AVAILABLE: 1, Status.FULL: 2}
    }
    assert store.counts_by_status(watch="Autre") == {("Autre", ""): {Status.FULL: 1}}
    kinds = [(e.kind, e.is_open) for e in store.episodes()]
    assert kinds == [("trouble", False), ("availability", False)]
    assert [e.kind for e in store.episodes(since=T0 + timedelta(hours=3))] == ["availability"]
    assert store.episodes(watch="Autre") == []


# --------------------------------------------------------------------------- read-only


def test_open_readonly_needs_an_existing_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"No state database at .* yet"):
        Store.open_readonly(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


def test_open_readonly_while_the_daemon_writes(state_dir: Path) -> None:
    with Store.open(state_dir) as writer:
        writer.record(obs(0, Status.FULL), trouble_after=TA)
        with Store.open_readonly(state_dir) as reader:
            assert reader.readonly and reader.calendar_states()[0].status is Status.FULL
            # a writer in the middle of a transaction blocks neither side
            other = raw(state_dir / DB_NAME)
            other.execute("BEGIN IMMEDIATE")
            other.execute(
                "INSERT INTO observations (checked_at, watch, calendar, status, elapsed_ms, "
                "detail, url) VALUES ('2027-01-01T00:00:00.000000+00:00', 'x', '', 'full', 1, "
                "'', '')"
            )
            started = time.monotonic()
            assert len(reader.observations()) == 1  # the committed snapshot only
            assert time.monotonic() - started < 1
            other.execute("ROLLBACK")
            other.close()
            writer.record(obs(5, Status.AVAILABLE), trouble_after=TA)
            assert [e.kind for e in reader.events_after(0)] == ["slot_opened"]
            with pytest.raises(StoreError, match="read-only"):
                reader.record(obs(10, Status.FULL), trouble_after=TA)
            with pytest.raises(StoreError, match="read-only"):
                reader.set_next_check("w", "", None, None)
    with Store.open_readonly(state_dir) as reader:  # also once the daemon has stopped
        assert reader.last_event_id() == 1


def test_store_is_usable_from_another_thread(store: Store) -> None:
    results: list[object] = []

    def work() -> None:
        results.append(store.record(obs(0, Status.AVAILABLE), trouble_after=TA))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert len(results) == 1 and len(store.events_after(0)) == 1


# --------------------------------------------------------------------------- migrations


CURRENT = schema.schema_version()
NEXT = CURRENT + 1


def _add_extra(db: sqlite3.Connection) -> None:
    """A future migration, to test the mechanism beyond the versions released so far."""
    db.execute(
        "CREATE TABLE extra (event_id INTEGER NOT NULL REFERENCES events (id), "
        "target TEXT NOT NULL, delivered_at TEXT)"
    )


def _hand_made_v1(path: Path) -> None:
    """A version-1 database as an older rdv-monitor left it, with one event in it."""
    db = raw(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("BEGIN")
    for statement in schema.SCHEMA_V1:
        db.execute(statement)
    db.execute(
        "INSERT INTO events (kind, watch, calendar, created_at, dedup_key, payload) "
        "VALUES ('heartbeat', '', '', '2026-01-01T08:00:00.000000+00:00', 'hb', '{}')"
    )
    db.execute("PRAGMA user_version = 1")
    db.execute("COMMIT")
    db.close()


def test_migration_upgrades_a_v1_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.db"
    _hand_made_v1(path)
    with Store.open(path) as s:  # the real migrations, v1 → current
        assert s.schema_version() == CURRENT
        assert s.event(1) is not None and s.event(1).kind == "heartbeat"  # type: ignore[union-attr]
        # Events from before deliveries existed are not sent after the upgrade.
        backlog = s.backlog(timedelta(minutes=30))
        assert backlog.events == () and backlog.cursor == 1
        assert s.plan_deliveries(DeliveryPlan(backlog.cursor, backlog.through), NOW) == 0
        assert s.deliveries() == []
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, _add_extra))
    with Store.open(path) as s:
        assert s.schema_version() == NEXT
        raw(path).execute("INSERT INTO extra (event_id, target) VALUES (1, 'phone')")
    with Store.open(path) as s:  # nothing left to do the second time
        assert s.schema_version() == NEXT
        assert raw(path).execute("SELECT count(*) FROM extra").fetchone()[0] == 1


def test_a_failed_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    _hand_made_v1(path)

    def broken(db: sqlite3.Connection) -> None:
        _add_extra(db)
        raise RuntimeError("bug in the next migration")

    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    with pytest.raises(RuntimeError, match="next migration"):
        Store.open(path)
    db = raw(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1  # all steps or none
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "extra" not in tables and "deliveries" not in tables and "events" in tables
    db.close()


def test_a_fresh_database_gets_every_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, _add_extra))
    with Store.open(tmp_path) as s:
        assert s.schema_version() == NEXT
        raw(s.path).execute("SELECT * FROM extra")
        raw(s.path).execute("SELECT * FROM deliveries")


def test_readonly_refuses_a_database_that_needs_upgrading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hand_made_v1(tmp_path / DB_NAME)
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, _add_extra))
    with pytest.raises(StoreError, match=r"older .* upgraded when the monitor next starts"):
        Store.open_readonly(tmp_path)


def test_a_newer_database_is_refused_with_a_sentence(state_dir: Path) -> None:
    Store.open(state_dir).close()
    db = raw(state_dir / DB_NAME)
    db.execute("PRAGMA user_version = 7")
    db.close()
    expected = (
        r"was written by a newer rdv-monitor \(schema version 7; "
        rf"this one knows up to {CURRENT}\)\. Upgrade rdv-monitor"
    )
    with pytest.raises(StateError, match=expected) as info:
        Store.open(state_dir)
    assert isinstance(info.value, MonitorError) and isinstance(info.value, UsageError)
    with pytest.raises(StoreError, match=expected):
        Store.open_readonly(state_dir)
    db = raw(state_dir / DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 7  # left untouched
    db.close()


def test_schema_indexes_what_history_queries(store: Store) -> None:
    plan = (
        raw(store.path)
        .execute(
            "EXPLAIN QUERY PLAN SELECT * FROM observations WHERE watch = ? AND calendar = ? "
            "AND checked_at >= ?",
            ("w", "", "2026"),
        )
        .fetchall()
    )
    assert "observations_by_calendar" in json.dumps([tuple(r) for r in plan])
