"""The daemon's per-watch backoff in the store: typed, kept across restarts, and moved
once from the JSON that versions before schema 3 kept in ``meta``."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.observation import Status
from monitor.schedule import Backoff
from monitor.store import Store, StoreError, schema

RETRY = datetime(2026, 12, 7, 8, 10, tzinfo=UTC)


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def hand_made_v2(path: Path, meta: dict[str, str]) -> None:
    """A version-2 database as rdv-monitor left it before backoffs had their own table."""
    db = raw(path)
    db.execute("BEGIN")
    for statement in (*schema.SCHEMA_V1, *schema.SCHEMA_V2):
        db.execute(statement)
    db.execute("INSERT INTO meta (key, value) VALUES ('delivery_cursor', '0')")
    db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
    db.execute("PRAGMA user_version = 2")
    db.execute("COMMIT")
    db.close()


def test_a_backoff_is_saved_and_read_back_after_a_restart(tmp_path: Path) -> None:
    blocked = Backoff(3, Status.BLOCKED, RETRY)
    with Store.open(tmp_path) as store:
        assert store.backoffs.load("Renouvellement") == Backoff()  # never saved: healthy
        store.backoffs.save("Renouvellement", Backoff(1, Status.DOWN))
        store.backoffs.save("Renouvellement", blocked)  # replaces, never adds
        store.backoffs.save("Premier titre", Backoff())
    with Store.open_readonly(tmp_path) as store:
        assert store.backoffs.load("Renouvellement") == blocked
        assert store.backoffs.all() == {"Premier titre": Backoff(), "Renouvellement": blocked}


def test_a_backoff_keeps_its_retry_after_deadline_in_utc(tmp_path: Path) -> None:
    paris = RETRY.astimezone(datetime.now().astimezone().tzinfo)
    with Store.open(tmp_path) as store:
        store.backoffs.save("w", Backoff(0, None, paris))
        loaded = store.backoffs.load("w")
    assert loaded.not_before == RETRY and loaded.failures == 0 and loaded.cause is None


def test_the_old_json_backoff_is_moved_once_into_its_table(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    old = {"failures": 4, "cause": "blocked", "not_before": RETRY.isoformat()}
    hand_made_v2(
        path,
        {
            "backoff:Renouvellement": json.dumps(old),
            "backoff:Premier titre": json.dumps({"failures": 0, "cause": None, "not_before": None}),
            "backoff:Broken": "{not json",
            "backoff:Impossible": json.dumps({"failures": 2, "cause": "full"}),
        },
    )
    with caplog.at_level(logging.WARNING), Store.open(path) as store:
        assert store.schema_version() == schema.schema_version()
        assert store.backoffs.load("Renouvellement") == Backoff(4, Status.BLOCKED, RETRY)
        assert store.backoffs.all() == {
            "Premier titre": Backoff(),
            "Renouvellement": Backoff(4, Status.BLOCKED, RETRY),
        }
    # Unreadable ones are dropped with a line naming the watch: they only meant a delay.
    assert "Broken: dropping an unreadable saved backoff" in caplog.text
    assert "Impossible: dropping an unreadable saved backoff" in caplog.text
    db = raw(path)
    keys = [k for (k,) in db.execute("SELECT key FROM meta ORDER BY key")]
    db.close()
    assert keys == ["delivery_cursor"]  # moved, not copied
    with Store.open(path) as store:  # read once: a second start changes nothing
        store.backoffs.save("Renouvellement", Backoff())
    with Store.open(path) as store:
        assert store.backoffs.load("Renouvellement") == Backoff()


def test_legacy_backoff_text_is_parsed_or_refused() -> None:
    text = json.dumps({"failures": 1, "cause": "down", "not_before": None})
    assert schema.legacy_backoff(text) == Backoff(1, Status.DOWN)
    for bad in ("[]", "{}x", '{"failures": -1}', '{"not_before": "yesterday"}', "null"):
        with pytest.raises(ValueError):
            schema.legacy_backoff(bad)


def test_backoff_writes_are_refused_on_a_readonly_store(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    with Store.open_readonly(tmp_path) as store, pytest.raises(StoreError, match="read-only"):
        store.backoffs.save("w", Backoff(1, Status.DOWN, RETRY + timedelta(hours=1)))
