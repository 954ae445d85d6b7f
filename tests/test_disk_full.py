"""A full disk, a read-only one, a state folder removed mid-run: nothing seen is lost.

What a user checks: one clear log line naming the state folder, one alert,
the events of the checks made meanwhile (a slot that opened is told), and
afterwards a database holding every check in order, each event once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.observation import Observation, Status
from monitor.store import Store
from monitor.store.database import Database
from monitor.store.keeper import Keeper

T0 = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
URL = "http://127.0.0.1:9/booking/create/1"


def obs(minute: int, status: Status, calendar: str = "3.1") -> Observation:
    slots = (T0 + timedelta(days=3),) if status is Status.AVAILABLE else ()
    return Observation(
        watch="Renouvellement",
        calendar=calendar,
        status=status,
        url=URL,
        detail=status.value,
        checked_at=T0 + timedelta(minutes=minute),
        elapsed_ms=1,
        slots=slots,
        slot_count=len(slots) or None,
    )


class FailingDatabase(Database):
    """A database whose write transactions fail like a full disk while ``full`` is set."""

    full = False

    @contextmanager
    def transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        with super().transaction(doing) as db:
            if self.full:  # raised inside the transaction, as SQLite does
                raise sqlite3.OperationalError("database or disk is full")
            yield db


class Alerts:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str, reason: str) -> None:
        assert reason and reason in line
        self.lines.append(line)


def keeper_for(store: Store, alerts: Alerts, **kw: int) -> Keeper:
    return Keeper(store, on_unwritable=alerts, **kw)


def errors_about(caplog: pytest.LogCaptureFixture, folder: Path) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and str(folder) in r.getMessage()
    ]


SCENARIO = [
    (0, Status.FULL),
    (1, Status.FULL),  # ← the disk fills up before this one
    (2, Status.AVAILABLE),
    (3, Status.AVAILABLE),
    (4, Status.FULL),
    (5, Status.DOWN),
    (6, Status.FULL),
]


def assert_complete(path: Path) -> None:
    """Every check in order, and the slot told once, opened then gone."""
    with Store.open(path) as store:
        seen = [(o.checked_at, o.status) for o in store.observations()]
        assert seen == [(T0 + timedelta(minutes=m), s) for m, s in SCENARIO]
        kinds = [e.kind for e in store.events_after(0)]
        assert kinds == ["slot_opened", "slot_gone"]


def test_a_full_disk_is_said_once_checks_go_on_and_everything_is_written_after(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    db = FailingDatabase.open(tmp_path / "state")
    store = Store(db)
    alerts = Alerts()
    keeper = keeper_for(store, alerts)

    async def go() -> list[list[str]]:
        told: list[list[str]] = []
        for minute, status in SCENARIO:
            if minute == 1:
                db.full = True
            events = await keeper.record(obs(minute, status), trouble_after=600)
            told.append([e.kind for e in events])
        assert keeper.holding == len(SCENARIO) - 1
        assert not await keeper.flush()  # still full: nothing lost, nothing written
        db.full = False
        assert await keeper.flush()
        return told

    try:
        told = asyncio.run(go())
    finally:
        db.full = False
        store.close()
    # The slot was told at once, from memory: the database could not hold it yet.
    assert told == [[], [], ["slot_opened"], [], ["slot_gone"], [], []]
    assert len(alerts.lines) == 1
    (line,) = errors_about(caplog, tmp_path / "state")
    assert "free some space" in line and line == alerts.lines[0]
    assert keeper.holding == 0
    assert_complete(tmp_path / "state")


def test_at_the_memory_bound_unremarkable_checks_go_first_and_events_stay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = FailingDatabase.open(tmp_path / "state")
    store = Store(db)
    keeper = keeper_for(store, Alerts(), max_held=3)

    async def go() -> None:
        db.full = True
        for minute, status in SCENARIO:
            await keeper.record(obs(minute, status), trouble_after=600)
        assert keeper.holding == 3 and keeper.dropped == len(SCENARIO) - 3
        db.full = False
        assert await keeper.flush()

    try:
        asyncio.run(go())
        kept = [(o.checked_at.minute, o.status) for o in store.observations()]
        assert [e.kind for e in store.events_after(0)] == ["slot_opened", "slot_gone"]
    finally:
        db.full = False
        store.close()
    assert (2, Status.AVAILABLE) in kept and (4, Status.FULL) in kept
    assert any("dropped" in r.getMessage() for r in caplog.records)


def test_a_state_folder_removed_mid_run_is_created_again_with_what_was_held(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "state"
    store = Store.open(folder)
    alerts = Alerts()
    keeper = keeper_for(store, alerts)

    async def go() -> None:
        await keeper.record(obs(0, Status.FULL), trouble_after=600)
        shutil.rmtree(folder)
        for minute, status in SCENARIO[1:]:
            await keeper.record(obs(minute, status), trouble_after=600)
        assert keeper.holding == len(SCENARIO) - 1
        assert await keeper.flush()

    try:
        asyncio.run(go())
    finally:
        store.close()
    assert len(alerts.lines) == 1
    (line,) = errors_about(caplog, folder)
    assert "gone" in line
    with Store.open(folder) as reopened:
        seen = [(o.checked_at, o.status) for o in reopened.observations()]
        # The first check went with the removed folder; the rest is there, in order.
        assert seen == [(T0 + timedelta(minutes=m), s) for m, s in SCENARIO[1:]]
        assert [e.kind for e in reopened.events_after(0)] == ["slot_opened", "slot_gone"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (needs root; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    with path.open("wb") as f:
        with suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        with suppress(OSError):
            os.fsync(f.fileno())


def test_a_real_full_file_system(small_disk: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = small_disk / "state"
    store = Store.open(folder)
    alerts = Alerts()
    keeper = keeper_for(store, alerts)
    filler = small_disk / "filler"

    async def go() -> None:
        await keeper.record(obs(0, Status.FULL), trouble_after=600)
        fill(filler)
        minute = 0
        # SQLite may still find room in pages it holds: check on until a write fails.
        while keeper.holding == 0:
            minute += 1
            assert minute < 2000, "the full disk never refused a write"
            await keeper.record(obs(minute, Status.FULL, calendar=f"c{minute}"), trouble_after=0)
        await keeper.record(obs(minute + 1, Status.AVAILABLE), trouble_after=600)
        held = keeper.holding
        assert held >= 2
        filler.unlink()
        assert await keeper.flush()

    try:
        asyncio.run(go())
        assert [e.kind for e in store.events_after(0) if e.calendar == "3.1"] == ["slot_opened"]
        times = [o.checked_at for o in store.observations()]
        assert times == sorted(times) and len(times) == len(set(times))
    finally:
        store.close()
    assert len(alerts.lines) == 1
    assert len(errors_about(caplog, folder)) == 1
    assert "free some space" in alerts.lines[0]
