"""Notifications through the real daemon process: crash safety and secrecy."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.sites.ezbooking.sim import SimPrefecture
from tests.conftest import RENEWAL
from tests.daemon_harness import DaemonProcess, wait_for
from tests.receiver import LocalTarget
from tests.test_check_e2e import future_slots

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # Telegram-shaped, fake


@pytest.fixture
def targets() -> Iterator[tuple[LocalTarget, LocalTarget]]:
    with LocalTarget() as phone, LocalTarget() as mail:
        yield phone, mail


def start_daemon(
    sim: SimPrefecture, write_config, tmp_path: Path, urls: list[str]
) -> DaemonProcess:
    state_dir = tmp_path / "state"
    config = write_config(
        [{"name": "Renouvellement", "url": sim.booking_url(RENEWAL), "calendars": ["3.1", "3.2"]}],
        monitor={"interval": "1s", "jitter": "0s", "state_dir": str(state_dir)},
        notify={"urls": urls},
    )
    return DaemonProcess(config, state_dir).start("-v")


def test_kill_9_with_a_delivery_pending_delivers_after_restart_without_duplicate(
    sim, write_config, tmp_path, targets
):
    phone, mail = targets
    mail.fail_next(1)  # the mail server is down for the first attempt
    daemon = start_daemon(sim, write_config, tmp_path, [phone.url, mail.url])
    try:
        sim.set_state(RENEWAL, "3.2", "available", slots=future_slots(0, 2))
        assert phone.wait_for(1, timeout=20), "the phone got the alert at once"
        wait_for(lambda: mail.failed, what="the failed mail attempt")
        wait_for(
            lambda: any(d.state == "sent" for d in daemon.store().deliveries()),
            what="the phone's delivery recorded",
        )
        daemon.kill()  # the mail delivery is pending, its retry planned ~15 s later
        with daemon.store() as store:
            states = sorted(d.state for d in store.deliveries())
        assert states == ["pending", "sent"]

        daemon.start("-v")
        assert mail.wait_for(1, timeout=40), "the pending mail was delivered after restart"
        wait_for(
            lambda: [d.state for d in daemon.store().deliveries()] == ["sent", "sent"],
            what="both deliveries sent",
        )
        assert len(phone.messages) == 1, "no duplicate to the target that had it already"
        assert len(mail.messages) == 1
        assert mail.messages[0]["title"].startswith("Créneau libre : 3.2")
    finally:
        daemon.stop()


def test_the_token_appears_nowhere(sim, write_config, tmp_path, targets, cli):
    phone, _ = targets
    secret_url = phone.url_with_secret(TOKEN)
    phone.fail_next(1)  # a failure makes the daemon log the target and the reason
    daemon = start_daemon(sim, write_config, tmp_path, [secret_url])
    try:
        sim.set_state(RENEWAL, "3.1", "available", slots=future_slots(1))
        assert phone.wait_for(1, timeout=40), "delivered after one failed attempt"
        assert TOKEN.split(":")[1] in phone.paths[-1], "the token really was used"
        sim.set_site_state("down")
        wait_for(lambda: "down" in daemon.log, what="a check of a down site in the log")
    finally:
        daemon.stop()

    outputs = [daemon.log]
    for args in (["validate"], ["notify-test"]):
        result = cli(*args, "-c", str(daemon.config))
        outputs += [result.out, result.err]
    run = subprocess.run(
        [sys.executable, "-m", "monitor", "-vv", "check", "-c", str(daemon.config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    outputs += [run.stdout, run.stderr]
    assert "not delivered" in daemon.log and "****" in daemon.log
    for part in TOKEN.split(":"):
        for text in outputs:
            assert part not in text
        for path in daemon.state_dir.rglob("*"):
            if path.is_file():
                assert part.encode() not in path.read_bytes(), path
