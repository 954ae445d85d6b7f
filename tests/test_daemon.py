"""The real daemon against the simulated prefecture: events, signals, crash safety, systemd.

Configs use loopback URLs, so the politeness floor does not apply and a
1-second interval keeps each test to a few seconds.
"""

from __future__ import annotations

import re
import signal
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.observation import Status
from monitor.schedule import Backoff, Planned
from monitor.sites.ezbooking.sim import SimPrefecture
from monitor.store import Store
from tests.conftest import RENEWAL
from tests.daemon_harness import DaemonProcess, wait_for
from tests.test_check_e2e import future_slots

CALENDARS = ["3.1", "3.2", "3.3", "3.4"]
FAST = {"interval": "1s", "jitter": "0s", "trouble_after": "2s"}


@pytest.fixture
def daemon_for(sim: SimPrefecture, write_config, tmp_path: Path):
    """Start a daemon on a renewal watch of the simulator; stopped at teardown."""
    started: list[DaemonProcess] = []

    def start(
        monitor: dict[str, object] | None = None,
        env: dict[str, str] | None = None,
        extra: tuple[str, ...] = ("-v",),
    ) -> DaemonProcess:
        state_dir = tmp_path / "state"
        settings = {**FAST, "state_dir": str(state_dir), **(monitor or {})}
        config = write_config(
            [{"name": "Renouvellement", "url": sim.booking_url(RENEWAL), "calendars": CALENDARS}],
            monitor=settings,
        )
        daemon = DaemonProcess(config, state_dir, env=env).start(*extra)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.kill()


def test_slot_on_supplementary_calendar_gives_one_opened_then_one_gone(sim, daemon_for):
    daemon = daemon_for()
    wait_for(lambda: daemon.observation_count("3.4") >= 1, what="a first full round")

    sim.set_state(RENEWAL, "3.3", "available", slots=future_slots(0, 1))
    (opened,) = wait_for(lambda: daemon.events("slot_opened"), what="slot_opened")
    assert opened.calendar == "3.3"
    assert opened.payload["url"] == sim.booking_url(RENEWAL)
    assert opened.payload["slot_count"] == 2

    seen = daemon.observation_count("3.3")
    wait_for(lambda: daemon.observation_count("3.3") >= seen + 3, what="more checks of 3.3")
    assert len(daemon.events("slot_opened")) == 1, "still the same episode: no second alert"

    sim.set_state(RENEWAL, "3.3", "full")
    (gone,) = wait_for(lambda: daemon.events("slot_gone"), what="slot_gone")
    assert gone.calendar == "3.3"
    assert gone.episode_id == opened.episode_id
    seen = daemon.observation_count("3.3")
    wait_for(lambda: daemon.observation_count("3.3") >= seen + 2, what="more checks")
    assert len(daemon.events("slot_gone")) == 1
    assert {e.kind for e in daemon.events()} == {"slot_opened", "slot_gone"}
    assert daemon.stop() == 0
    assert sim.booking_attempts == 0


def test_calendar_down_longer_than_trouble_after_gives_one_trouble_then_recovered(sim, daemon_for):
    daemon = daemon_for()
    wait_for(lambda: daemon.observation_count("3.1") >= 1, what="a first check")
    sim.set_site_state("down", variant="haproxy_503")
    troubles = wait_for(lambda: daemon.events("trouble"), timeout=30, what="trouble")
    assert troubles[0].payload["status"] == "down"

    sim.set_site_state(None)
    recovered = wait_for(
        lambda: (
            len(daemon.events("recovered")) == len(daemon.events("trouble"))
            and daemon.events("recovered")
        ),
        timeout=60,
        what="recovered for every calendar in trouble",
    )
    events = daemon.events()
    for calendar in {e.calendar for e in events}:
        kinds = [e.kind for e in events if e.calendar == calendar]
        assert kinds in (["trouble", "recovered"], []), (calendar, kinds)
    assert {r.episode_id for r in recovered} == {t.episode_id for t in daemon.events("trouble")}
    assert not daemon.events("slot_opened"), "an error page is never a slot"
    assert daemon.stop() == 0


def test_kill_9_mid_run_keeps_state_and_writes_no_duplicate(sim, daemon_for):
    sim.set_state(RENEWAL, "3.2", "available", slots=future_slots(4))
    daemon = daemon_for()
    wait_for(lambda: daemon.events("slot_opened"), what="slot_opened")
    for _ in range(3):
        # Somewhere inside a run: the first calendar of a new run is recorded.
        base = daemon.observation_count()
        wait_for(
            lambda b=base: daemon.observation_count() % 4 == 1 and daemon.observation_count() > b,
            what="a run under way",
        )
        before = daemon.observation_count()
        daemon.kill()
        with daemon.store() as store:
            assert store.observations()  # the database opens after SIGKILL
        assert daemon.observation_count() >= before
        daemon.start("-v")
        wait_for(lambda b=before: daemon.observation_count() > b + 4, what="checks after restart")
    assert len(daemon.events("slot_opened")) == 1, "a restart is not a new slot"
    sim.set_state(RENEWAL, "3.2", "full")
    wait_for(lambda: daemon.events("slot_gone"), what="slot_gone after restarts")
    assert daemon.stop() == 0


def test_sighup_with_broken_config_keeps_the_old_one_and_valid_one_applies(sim, daemon_for):
    daemon = daemon_for()
    wait_for(lambda: daemon.observation_count("3.4") >= 1, what="first round")
    good = daemon.config.read_text(encoding="utf-8")

    daemon.config.write_text(good.replace("[monitor]", "[monitor]\ninterval = 'often'"))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in daemon.log, what="the refusal in the log")
    assert "interval" in daemon.log.split("reload refused", 1)[1]
    seen = daemon.observation_count()
    wait_for(lambda: daemon.observation_count() > seen + 4, what="checks go on")

    daemon.config.write_text(good.replace('"3.1", "3.2", "3.3", "3.4"', '"3.1", "4.2"'))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: daemon.observation_count("4.2") >= 1, what="the new calendar checked")
    assert "configuration reloaded" in daemon.log
    assert daemon.proc is not None and daemon.proc.poll() is None
    assert daemon.stop() == 0


def test_systemd_notify_ready_status_stopping_and_quick_sigterm(sim, daemon_for, tmp_path):
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(15)
        daemon = daemon_for(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        messages: list[str] = []

        def got(prefix: str) -> bool:
            while not any(m.startswith(prefix) for m in messages):
                messages.append(sock.recv(4096).decode())
            return True

        got("READY=1")
        got("WATCHDOG=1")
        got("STATUS=")
        wait_for(lambda: any("3.1 full" in m for m in messages) or got("STATUS=1"), timeout=15)
        started = time.monotonic()
        assert daemon.stop(timeout=10) == 0
        assert time.monotonic() - started < 10
        got("STOPPING=1")


def test_logs_have_no_timestamps_under_the_journal(sim, daemon_for):
    daemon = daemon_for(env={"JOURNAL_STREAM": "8:12345"}, extra=())
    wait_for(lambda: "watching 4 calendar" in daemon.log, what="the start line")
    assert daemon.stop() == 0
    lines = daemon.log.splitlines()
    assert lines
    for line in lines:
        assert line.split(" ", 1)[0] in {"DEBUG", "INFO", "WARNING", "ERROR"}, line
        assert not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line), line


def test_slow_site_does_not_prevent_a_quick_stop(sim, daemon_for):
    sim.set_site_state("slow", delay=30)
    daemon = daemon_for(monitor={"timeout": "60s", "connect_timeout": "5s"})
    wait_for(lambda: sim.requests >= 1, what="a request in flight")
    started = time.monotonic()
    assert daemon.stop(timeout=10) == 0
    assert time.monotonic() - started < 10


def test_run_with_invalid_config_exits_2_without_traceback(write_config, tmp_path, cli):
    path = write_config(
        [{"name": "x", "url": "https://www.haute-savoie.gouv.fr/booking/create/29396"}],
        monitor={"interval": "5s"},
    )
    result = cli("run", "-c", str(path))
    assert result.code == 2
    assert "interval" in result.err and "30" in result.err
    assert "Traceback" not in result.err


def test_restart_after_renaming_a_watch(sim, daemon_for):
    """The state keeps the old name; the daemon must start and watch the new one."""
    daemon = daemon_for()
    wait_for(lambda: daemon.observation_count("3.4") >= 1, what="a first round")
    assert daemon.stop() == 0
    text = daemon.config.read_text(encoding="utf-8")
    daemon.config.write_text(text.replace('"Renouvellement"', '"Renouvellement CST"'))
    daemon.start("-v")

    def renamed_checked() -> bool:
        with daemon.store() as store:
            return bool(store.observations(watch="Renouvellement CST"))

    wait_for(renamed_checked, what="checks under the new name")
    assert daemon.proc is not None and daemon.proc.poll() is None, daemon.log
    assert daemon.stop() == 0


def test_a_restart_does_not_ask_a_site_that_blocked_us_again(sim, daemon_for):
    sim.set_site_state("blocked", variant="429", retry_after=600)
    daemon = daemon_for()
    wait_for(lambda: daemon.observation_count() >= 1, what="the blocked answer")
    assert daemon.stop() == 0
    asked = sim.requests
    daemon.start("-v")
    wait_for(lambda: "watching" in daemon.log.split("stopped")[-1], what="the restart")
    with daemon.store() as store:
        (row,) = [r for r in store.calendar_states() if r.calendar == "3.1"]
        assert row.next_check is not None and row.next_reason == "retry-after"
        saved = store.backoffs.load("Renouvellement")
        assert saved.cause is Status.BLOCKED and saved.not_before is not None
    # What the restarted daemon planned is the fact: no check before the server's deadline.
    assert row.next_check >= saved.not_before
    assert row.next_check - datetime.now(UTC) > timedelta(minutes=9)
    assert sim.requests == asked, "Retry-After: 600 was forgotten by the restart"
    assert daemon.stop() == 0


def test_sighup_refuses_what_start_up_refuses(sim, daemon_for):
    daemon = daemon_for()
    wait_for(lambda: daemon.observation_count() >= 1, what="a first check")
    good = daemon.config.read_text(encoding="utf-8")
    daemon.config.write_text(good.replace("/booking/create/29396", "/rdv/29396"))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in daemon.log, what="the refusal")
    assert "/booking/create/" in daemon.log.split("reload refused", 1)[1]
    seen = daemon.observation_count()
    wait_for(lambda: daemon.observation_count() > seen + 2, what="checks go on")
    assert daemon.stop() == 0


def test_a_restart_during_a_backoff_checks_at_the_saved_instant(sim, daemon_for):
    """Issue 11 item 3: a restart keeps the saved next check instead of a whole new backoff."""
    sim.set_site_state("down", variant="haproxy_503")
    daemon = daemon_for()

    def saved_backoff_plan():
        with daemon.store() as store:
            saved = store.plans.load("Renouvellement")
        return saved if saved is not None and saved.planned.reason == "backoff" else None

    saved = wait_for(saved_backoff_plan, what="a backoff planned and saved")
    daemon.kill()  # during the backoff
    # The streak had grown long: a fresh backoff from it would be 32-64 s away.
    at = datetime.now(UTC) + timedelta(seconds=6)
    with Store.open(daemon.state_dir) as store:
        store.backoffs.save("Renouvellement", Backoff(6, Status.DOWN))
        store.plans.save("Renouvellement", CALENDARS, Planned(at, "backoff"), saved.fingerprint)
    sim.set_site_state(None)
    asked = sim.requests
    daemon.start("-v")
    wait_for(lambda: "watching" in daemon.log, what="the restart")

    def next_check():
        with daemon.store() as store:
            (row,) = [r for r in store.calendar_states() if r.calendar == "3.1"]
        return row

    row = next_check()
    assert (row.next_check, row.next_reason) == (at, "backoff"), "the saved plan is kept"
    wait_for(lambda: sim.requests > asked, timeout=30, what="the resumed check")
    asked_at = datetime.now(UTC)
    assert at <= asked_at < at + timedelta(seconds=3), "checked at the saved instant"
    assert daemon.stop() == 0


def test_an_edited_watch_is_planned_afresh(sim, daemon_for):
    daemon = daemon_for()
    wait_for(lambda: daemon.observation_count("3.4") >= 1, what="a first round")
    assert daemon.stop() == 0
    with Store.open(daemon.state_dir) as store:
        saved = store.plans.load("Renouvellement")
        assert saved is not None
        later = Planned(datetime.now(UTC) + timedelta(hours=1), "backoff")
        store.backoffs.save("Renouvellement", Backoff(6, Status.DOWN))
        store.plans.save("Renouvellement", CALENDARS, later, saved.fingerprint)
    text = daemon.config.read_text(encoding="utf-8")
    daemon.config.write_text(text.replace('"3.1", "3.2", "3.3", "3.4"', '"3.1", "3.2"'))
    daemon.start("-v")

    def replanned():
        with daemon.store() as store:
            plan = store.plans.load("Renouvellement")
        return plan if plan is not None and plan.fingerprint != saved.fingerprint else None

    fresh = wait_for(replanned, what="a plan for the edited watch")
    assert fresh.planned.at < later.at
    assert "config changed since the last run" in daemon.log
    assert daemon.stop() == 0
