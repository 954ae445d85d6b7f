"""One daemon per state folder (issue 10, item 3), tried with real processes.

A second ``rdv-monitor run`` on the same state must refuse to start (exit 2,
naming the PID of the first) without asking the prefecture anything, while
``status``, ``history`` and ``stats`` keep working beside the first; and a
daemon ended by ``kill -9`` leaves no lock behind.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.errors import UsageError
from monitor.lock import StateLock, lock_holder
from monitor.sites.ezbooking.sim import SimPrefecture
from tests.conftest import RENEWAL
from tests.daemon_harness import DaemonProcess, wait_for


def rdv_monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def watched(
    sim: SimPrefecture, write_config: Callable[..., Path], tmp_path: Path
) -> tuple[Path, Path]:
    state = tmp_path / "state"
    config = write_config(
        [{"name": "Renouvellement", "url": sim.booking_url(RENEWAL), "calendars": ["3.1", "3.2"]}],
        monitor={"interval": "1h", "jitter": "0s", "state_dir": str(state)},
    )
    return config, state


def test_a_second_run_on_the_same_state_exits_2_naming_the_first(
    watched: tuple[Path, Path], sim: SimPrefecture
) -> None:
    config, state = watched
    first = DaemonProcess(config, state).start()
    try:
        assert first.proc is not None
        wait_for(lambda: first.observation_count() >= 2, what="the first daemon's checks")
        asked = sim.requests

        second = rdv_monitor("run", "-c", str(config))

        assert second.returncode == 2
        assert f"PID {first.proc.pid}" in second.stderr
        assert "state_dir" in second.stderr
        assert "Traceback" not in second.stderr
        assert sim.requests == asked  # the second one never asked the prefecture
        assert first.proc.poll() is None  # and the first one goes on
    finally:
        assert first.stop() == 0


@pytest.mark.parametrize(
    ("command", "shown"),
    [("status", "Renouvellement"), ("history", "Episodes since"), ("stats", "When slots appear")],
)
def test_read_only_commands_work_beside_the_daemon(
    watched: tuple[Path, Path], command: str, shown: str
) -> None:
    config, state = watched
    daemon = DaemonProcess(config, state).start()
    try:
        wait_for(lambda: daemon.observation_count() >= 2, what="the daemon's checks")

        result = rdv_monitor(command, "-c", str(config))

        assert result.returncode == 0, result.stderr
        assert shown in result.stdout
    finally:
        assert daemon.stop() == 0


def test_a_daemon_killed_with_sigkill_leaves_no_stale_lock(watched: tuple[Path, Path]) -> None:
    config, state = watched
    first = DaemonProcess(config, state).start()
    wait_for(lambda: first.observation_count() >= 2, what="the first daemon's checks")
    first.kill()

    second = DaemonProcess(config, state).start()
    try:
        assert second.proc is not None
        wait_for(lambda: lock_holder(state) == second.proc.pid, what="the second daemon's lock")
        assert second.proc.poll() is None
    finally:
        assert second.stop() == 0


def test_the_lock_is_free_again_once_released(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with StateLock(state) as held:
        assert held.held
        with pytest.raises(UsageError, match=r"PID \d+"):
            StateLock(state).acquire()
    with StateLock(state) as again:  # the same process, after release: free
        assert again.held
