"""``kill -9`` in the middle of recording: the database opens, is intact, and lost nothing.

A child process records observations in a loop on a real file and prints an
acknowledgement after each committed :meth:`Store.record`; the test kills it
with SIGKILL after a random number of acknowledgements, many times over. After
each kill the database must pass ``PRAGMA integrity_check`` and hold the
store's invariants, and hold every acknowledged observation (plus at most the
one in flight).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.store import DB_NAME, Store

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import random, sys
from datetime import UTC, datetime, timedelta
from monitor.observation import Observation, Status
from monitor.store import Store

path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
t0 = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
statuses = [Status.FULL, Status.AVAILABLE, Status.DOWN, Status.UNKNOWN, Status.BLOCKED]
weights = [5, 3, 3, 1, 1]
with Store.open(path) as store:
    n = sum(sum(c.values()) for c in store.counts_by_status().values())
    print("ready", flush=True)
    while True:
        n += 1  # minutes since t0: always later than anything already recorded
        status = rng.choices(statuses, weights)[0]
        slots = (t0 + timedelta(days=rng.randint(1, 9)),) if status is Status.AVAILABLE else ()
        obs = Observation(
            watch="Renouvellement", calendar=rng.choice(["3.1", "3.2"]), status=status,
            url="https://example.invalid/booking/create/1", detail=status.value,
            checked_at=t0 + timedelta(minutes=n), elapsed_ms=1, slots=slots,
            slot_count=len(slots) or None,
            page=b"<html>" + b"x" * 20000 + b"</html>" if status is Status.UNKNOWN else None,
        )
        store.record(obs, trouble_after=600)
        print("ack", n, flush=True)
"""


def count_observations(path: Path) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT count(*) FROM observations").fetchone()[0])
    finally:
        db.close()


def check_invariants(path: Path) -> None:
    """What must hold in any state the store can be left in."""
    with Store.open(path):  # opens (recovers the WAL) and finds nothing to migrate
        pass
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
        assert one("SELECT count(*) FROM events") == one(
            "SELECT count(DISTINCT dedup_key) FROM events"
        )
        # every slot_opened has its availability episode, opened by the same check
        assert (
            one(
                "SELECT count(*) FROM events e LEFT JOIN episodes p ON p.id = e.episode_id "
                "WHERE e.kind = 'slot_opened' AND (p.id IS NULL OR p.kind != 'availability' "
                "OR p.opened_at != e.created_at OR p.calendar != e.calendar)"
            )
            == 0
        )
        # one slot_opened per availability episode, one slot_gone per closed one
        assert one("SELECT count(*) FROM events WHERE kind = 'slot_opened'") == one(
            "SELECT count(*) FROM episodes WHERE kind = 'availability'"
        )
        assert one("SELECT count(*) FROM events WHERE kind = 'slot_gone'") == one(
            "SELECT count(*) FROM episodes WHERE kind = 'availability' AND closed_at IS NOT NULL"
        )
        # at most one trouble / recovered / layout_changed per trouble episode
        assert (
            one(
                "SELECT count(*) FROM (SELECT episode_id, kind FROM events "
                "WHERE kind IN ('trouble', 'recovered', 'layout_changed') "
                "GROUP BY episode_id, kind HAVING count(*) > 1)"
            )
            == 0
        )
        # the state points at the open episodes, and there is no other open one
        for row in db.execute("SELECT * FROM calendars"):
            open_ids = {
                r[0]
                for r in db.execute(
                    "SELECT id FROM episodes WHERE watch = ? AND calendar = ? "
                    "AND closed_at IS NULL",
                    (row["watch"], row["calendar"]),
                )
            }
            assert open_ids == {row["episode_id"], row["trouble_id"]} - {None}
            last = db.execute(
                "SELECT max(checked_at) FROM observations WHERE watch = ? AND calendar = ?",
                (row["watch"], row["calendar"]),
            ).fetchone()[0]
            assert row["last_check"] == last
        # every page named by an event was written before its event was committed
        for (payload,) in db.execute("SELECT payload FROM events WHERE kind = 'layout_changed'"):
            name = json.loads(payload)["page_file"]
            assert (path.parent / "pages" / name).stat().st_size == 20013
    finally:
        db.close()


@pytest.mark.timeout(60)
def test_kill_9_loses_nothing_and_breaks_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state" / DB_NAME
    rng = random.Random(20261207)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for round_number in range(10):
        before = count_observations(path)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(round_number)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        # Kill after a random amount of observed progress, not after a random time: the
        # child keeps recording while the acks are read, so the kill still lands anywhere
        # in a record (before, inside or after its commit) however loaded the machine is.
        wanted = rng.randint(1, 40)
        read = [child.stdout.readline() for _ in range(wanted)]
        assert all(line.startswith("ack ") for line in read), read
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()
        child.wait()
        assert child.returncode == -signal.SIGKILL
        acked = wanted + rest.count("ack ")
        after = count_observations(path)
        assert acked <= after - before <= acked + 1, (round_number, acked, before, after)
        check_invariants(path)
    with Store.open_readonly(path) as store:
        kinds = {e.kind for e in store.events_after(0, limit=10_000)}
    assert {"slot_opened", "slot_gone"} <= kinds
