"""A whole-site outage, as the person running the daemon meets it (issue 10, item 14):
one alert naming the site, and one log line, not one per calendar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from monitor.sites.ezbooking.sim import SimPrefecture
from tests.conftest import RENEWAL
from tests.daemon_harness import DaemonProcess, wait_for
from tests.receiver import LocalTarget

CALENDARS = ["3.1", "3.2", "3.3", "3.4"]


def info_lines(log: str, kind: str) -> list[str]:
    return [line for line in log.splitlines() if " INFO " in line and f": {kind} — " in line]


def test_a_site_outage_is_one_alert_and_one_log_line_naming_the_site(
    sim: SimPrefecture, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with LocalTarget() as phone:
        config = write_config(
            [{"name": "Renouvellement", "url": sim.booking_url(RENEWAL), "calendars": CALENDARS}],
            monitor={
                "interval": "1s",
                "jitter": "0s",
                "trouble_after": "1s",
                "state_dir": str(state),
            },
            notify={"urls": [phone.url], "language": "en"},
        )
        daemon = DaemonProcess(config, state).start()
        try:
            wait_for(lambda: daemon.observation_count() >= len(CALENDARS), what="a first round")
            sim.set_site_state("down")
            wait_for(lambda: len(daemon.events("trouble")) == 4, what="trouble on each calendar")
            wait_for(lambda: info_lines(daemon.log, "trouble"), what="the outage's log line")
            assert phone.wait_for(1, timeout=30)

            sim.set_site_state(None)
            wait_for(lambda: len(daemon.events("recovered")) == 4, what="every calendar back")
            wait_for(lambda: info_lines(daemon.log, "recovered"), what="the recovery's log line")
            assert phone.wait_for(2, timeout=30)
        finally:
            assert daemon.stop() == 0

    (outage,) = info_lines(daemon.log, "trouble")
    (recovery,) = info_lines(daemon.log, "recovered")
    for line in (outage, recovery):
        assert "Renouvellement (the whole site 127.0.0.1)" in line
        assert not any(f"/ {calendar}" in line for calendar in CALENDARS)
    titles = [str(m["title"]) for m in phone.messages]
    assert len(titles) == 2, titles
    assert titles[0].startswith("Site down: 127.0.0.1 – Renouvellement")
    assert titles[1].startswith("Back to normal: 127.0.0.1 – Renouvellement")
