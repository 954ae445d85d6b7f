"""Writes run on their own thread, in order, so a slow disk never holds the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.observation import Observation, Status
from monitor.sites.ezbooking.sim import SimPrefecture
from monitor.store import Store, Writer
from monitor.store.database import Database
from tests.conftest import RENEWAL

T0 = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)


def test_the_writer_runs_jobs_one_at_a_time_in_the_order_given() -> None:
    writer = Writer()
    done: list[int] = []
    futures = [writer.submit(done.append, n) for n in range(200)]
    for f in futures:
        f.result(timeout=10)
    writer.close()
    assert done == list(range(200))


class SlowDatabase(Database):
    """An SD card on a bad day: every commit takes ``delay`` seconds."""

    delay = 2.0

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        *,
        readonly: bool,
        reader: sqlite3.Connection | None = None,
    ) -> None:
        super().__init__(connection, path, readonly=readonly, reader=reader)
        self.committing = threading.Event()
        self.commits = 0

    @contextmanager
    def transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        with super().transaction(doing) as db:
            yield db
            self.committing.set()
            time.sleep(self.delay)  # the fsync of the commit that follows
            self.commits += 1
            self.committing.clear()


def test_record_async_leaves_the_loop_free_during_a_slow_commit(tmp_path: Path) -> None:
    db = SlowDatabase.open(tmp_path / "state")
    store = Store(db)
    obs = Observation(
        watch="w",
        calendar="c",
        status=Status.FULL,
        url="http://127.0.0.1:9/booking/create/1",
        detail="full",
        checked_at=T0,
        elapsed_ms=1,
    )

    async def go() -> tuple[int, list[int]]:
        recording = asyncio.create_task(store.record_async(obs, trouble_after=0))
        ticks = 0
        while not db.committing.is_set():
            await asyncio.sleep(0.01)
        while not recording.done():  # the loop runs on while the commit sleeps
            ticks += 1
            await asyncio.sleep(0.01)
        await recording
        return ticks, [o.id for o in store.observations()]

    try:
        ticks, ids = asyncio.run(go())
    finally:
        store.close()
    assert ticks > 10
    assert len(ids) == 1


def test_a_check_planned_during_a_slow_commit_starts_at_its_instant(
    sim: SimPrefecture, write_config, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    config_path = write_config(
        [{"name": "Renouvellement", "url": sim.booking_url(RENEWAL), "calendars": ["3.1", "3.2"]}],
        monitor={"interval": "1h", "jitter": "0s", "state_dir": str(state)},
    )
    config = load_config(str(config_path))
    db = SlowDatabase.open(state)
    daemon = Daemon(config_path, config, store=Store(db))
    started: list[int] = []

    async def release_instant() -> None:
        # The release-instant check: what the store has finished writing when it starts.
        started.append(db.commits)

    async def go() -> None:
        running = asyncio.create_task(daemon.run())
        while not db.committing.is_set():  # the first check's writes are under way
            await asyncio.sleep(0.01)
        commits = db.commits
        at = datetime.now(UTC) + timedelta(seconds=0.3)
        daemon.scheduler.add_job(release_instant, "date", run_date=at, misfire_grace_time=None)
        while not started:
            await asyncio.sleep(0.01)
        # It ran while the 2-second commit under way at planning time was still going.
        assert started == [commits]
        daemon.stop()
        assert await running == 0

    asyncio.run(go())
    with Store.open(state) as store:
        assert store.observations(), "the slow writes were all done before the stop"
