"""What an adapter learnt survives the process (issue 12): a new process checks in 4 requests
at most, 2 while the site session lives; stale or broken knowledge never gives a wrong verdict."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

from monitor.check import Checker
from monitor.config import load_config
from monitor.observation import Observation, Status
from monitor.site_memory import SiteMemory
from monitor.sites.ezbooking.sim import (
    Booking,
    Planning,
    SimPrefecture,
    default_bookings,
    default_slots,
)
from monitor.store import SavedSite, Store
from tests.conftest import RENEWAL

BOOKING = f"/booking/create/{RENEWAL}"
NEW_SESSION = [
    ("GET", BOOKING, 200),
    ("POST", BOOKING, 302),
    ("POST", f"{BOOKING}/1", 302),
    ("GET", f"{BOOKING}/2", 200),
]
WARM = [("POST", f"{BOOKING}/1", 302), ("GET", f"{BOOKING}/2", 200)]


def process(sim: SimPrefecture, config_path: Path, state: Path, *, session: bool = True) -> list:
    """One "process": a Checker with the state database checks every calendar once."""
    config = load_config(config_path)

    async def run() -> list[Observation]:
        with Store.open(state) as store:
            memory = SiteMemory(store, session=session)
            async with Checker(config, memory=memory) as checker:
                return [o async for o in checker.check_watch(config.watches[0])]

    sim.reset_counters()
    return asyncio.run(run())


def watch(sim: SimPrefecture, write_config, calendars: list[str]) -> Path:
    return write_config([{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": calendars}])


def test_a_new_process_with_a_live_session_checks_in_two(sim, write_config, tmp_path):
    config = watch(sim, write_config, ["3.1"])
    (first,) = process(sim, config, tmp_path)
    assert len(sim.request_log) == 5, "first ever: the whole walk"
    (second,) = process(sim, config, tmp_path)
    assert sim.request_log == WARM
    assert second.status is Status.FULL and second.label == first.label
    assert second.planning_id == str(sim.planning_id(RENEWAL, "3.1"))


def test_a_new_process_without_the_session_checks_in_four(sim, write_config, tmp_path):
    config = watch(sim, write_config, ["3.1", "3.2"])
    process(sim, config, tmp_path)
    seen = process(sim, config, tmp_path, session=False)
    assert sim.request_log[:4] == NEW_SESSION, "no bounce, step 1 not fetched"
    assert len(sim.request_log) == 4 + 2, "the second calendar is warm"
    assert [o.status for o in seen] == [Status.FULL, Status.FULL]


def test_a_site_session_gone_meanwhile_is_found_within_the_check(sim, write_config, tmp_path):
    config = watch(sim, write_config, ["3.1"])
    process(sim, config, tmp_path)
    sim.expire_sessions()
    (obs,) = process(sim, config, tmp_path)
    assert obs.status is Status.FULL
    assert ("GET", f"{BOOKING}/1", 200) not in sim.request_log


def _renumbered() -> list[Booking]:
    """The same booking after the prefecture rebuilt its calendars: new ids, one more calendar."""
    bookings = default_bookings()
    for booking in bookings:
        if booking.id == RENEWAL:
            booking.plannings = [
                Planning(p.id + 7000, p.label, p.calendar, p.description) for p in booking.plannings
            ]
            booking.plannings.append(Planning(99001, "Calendrier 3.9 - nouveau guichet"))
    return bookings


def test_changed_planning_ids_still_give_the_right_calendar(sim, write_config, tmp_path, caplog):
    config = watch(sim, write_config, ["3.1", "3.2"])
    process(sim, config, tmp_path)
    port = sim.port
    sim.stop()
    with SimPrefecture(_renumbered(), port=port) as changed:
        changed.set_state(RENEWAL, "3.2", "available", slots=default_slots(date.today()))
        with caplog.at_level(logging.DEBUG, logger="monitor.sites.ezbooking.adapter"):
            one, two = process(changed, config, tmp_path)
        assert one.status is Status.FULL and "3.1" in (one.label or "")
        assert one.planning_id == str(changed.planning_id(RENEWAL, "3.1"))
        assert two.status is Status.AVAILABLE and "3.2" in (two.label or "")
        assert "refused the kept step-1 form" in caplog.text
        # The new knowledge replaced the old: the next process is warm again.
        one, two = process(changed, config, tmp_path)
        assert changed.request_log[:2] == WARM and two.status is Status.AVAILABLE
        assert ("GET", f"{BOOKING}/1", 200) not in changed.request_log
        assert changed.booking_attempts == 0


def test_a_corrupt_or_old_stored_value_is_ignored(sim, write_config, tmp_path):
    config = watch(sim, write_config, ["3.1"])
    process(sim, config, tmp_path)
    url = sim.booking_url(RENEWAL)
    for value in ({"format": 0, "step1": "old"}, {"format": 1, "step1": {"action": 3}}):
        with Store.open(tmp_path) as store:
            store.sites.save("r", url, "ezbooking", SavedSite(value, None), _now())
        (obs,) = process(sim, config, tmp_path)
        assert obs.status is Status.FULL and "3.1" in (obs.label or "")
    with closing(sqlite3.connect(tmp_path / "state.db")) as db, db:  # a damaged row
        db.execute("UPDATE sites SET value = 'not json'")
    (obs,) = process(sim, config, tmp_path)
    assert obs.status is Status.FULL


def _now() -> datetime:
    return datetime.now(UTC)


def test_knowledge_survives_kill_9(sim, write_config, tmp_path):
    config = watch(sim, write_config, ["3.1"])
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from monitor.check import Checker
        from monitor.config import load_config
        from monitor.site_memory import SiteMemory
        from monitor.store import Store

        async def main():
            config = load_config({str(config)!r})
            store = Store.open({str(tmp_path)!r})
            checker = Checker(config, memory=SiteMemory(store))
            [o async for o in checker.check_watch(config.watches[0])]
            os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush of anything

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), check=False)
    assert done.returncode == -signal.SIGKILL
    (obs,) = process(sim, config, tmp_path)
    assert obs.status is Status.FULL
    assert len(sim.request_log) <= 4


def test_cookies_stay_out_of_logs_and_reprs(sim, write_config, tmp_path, caplog):
    config = watch(sim, write_config, ["3.1"])
    with caplog.at_level(logging.DEBUG, logger="monitor"):  # rdv-monitor's own log
        process(sim, config, tmp_path)
        process(sim, config, tmp_path)
    with Store.open(tmp_path) as store:
        saved = store.sites.load("r", sim.booking_url(RENEWAL), "ezbooking")
    assert saved is not None
    cookies = saved.value["cookies"]
    assert isinstance(cookies, list) and cookies, "the session cookie is kept"
    secret = cookies[0][1]
    assert secret and secret not in caplog.text

    from monitor.sites.ezbooking.learnt import Knowledge

    assert secret not in repr(Knowledge.from_json(saved.value))


def test_check_command_recalls_only_with_a_state_database(sim, write_config, cli, tmp_path):
    state = tmp_path / "state"
    config = write_config(
        [{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}],
        monitor={"state_dir": str(state)},
    )
    assert cli("check", "-c", str(config)).code == 0
    assert not state.exists(), "check creates no state folder"
    state.mkdir(mode=0o700)
    Store.open(state).close()
    assert cli("check", "-c", str(config)).code == 0
    sim.reset_counters()
    assert cli("check", "-c", str(config)).code == 0
    assert sim.request_log == WARM
