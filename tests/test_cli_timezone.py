"""One time zone for people (issue 10, item 13): the daemon's log lines are stamped in the
config's ``timezone``, ISO 8601 with its offset, as the CSV of ``history`` is."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from monitor.sites.ezbooking.sim import SimPrefecture
from tests.conftest import RENEWAL
from tests.daemon_harness import DaemonProcess, wait_for

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}([+-]\d\d:\d\d)) INFO ", re.MULTILINE)
READY = re.compile(STAMP.pattern + "watching ", re.MULTILINE)


def test_log_lines_are_stamped_in_the_configured_zone_with_its_offset(
    sim: SimPrefecture, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    config = write_config(
        [{"name": "Renouvellement", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}],
        monitor={"timezone": "Asia/Kolkata", "interval": "1h", "state_dir": str(state)},
    )
    daemon = DaemonProcess(config, state, env={"TZ": "UTC"}).start()
    try:
        # The start line, not any stamped line: the first one (a schema migration) is
        # written before the daemon handles SIGTERM, and a stop then would kill it.
        wait_for(lambda: READY.search(daemon.log), what="the stamped start line")
    finally:
        assert daemon.stop() == 0
    offsets = {match.group(2) for match in STAMP.finditer(daemon.log)}
    assert offsets == {"+05:30"}  # not the machine's UTC
