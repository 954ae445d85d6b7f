"""A SIGTERM that arrives while the daemon starts is a clean stop, not a kill.

systemd may stop a service that is still starting (a start time-out, a quick
restart). Before the daemon's own handlers are in place the default action of
SIGTERM would end the process mid-way, with status -15 and no "stopped" line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.receiver import ClosedPort

WAIT = 30.0


def _config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "[monitor]\n"
        f'state_dir = "{tmp_path / "state"}"\n'
        'interval = "1h"\n'
        "[[watch]]\n"
        'name = "R"\n'
        f'url = "http://127.0.0.1:{port}/booking/create/29396"\n'
        'calendars = ["3.1"]\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def test_sigterm_during_start_up_stops_cleanly(tmp_path: Path) -> None:
    with ClosedPort() as closed:
        config = _config(tmp_path, closed.port)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        child = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert child.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + WAIT
        # The first line is written while the store is created: before the daemon's
        # own signal handlers exist, which is the window this test is about.
        while time.monotonic() < deadline:
            line = child.stderr.readline()
            if not line:
                break
            lines.append(line)
            child.send_signal(signal.SIGTERM)
            break
        try:
            _, rest = child.communicate(timeout=WAIT)
        finally:
            child.kill()
    output = "".join(lines) + rest
    assert lines, "the daemon printed nothing"
    assert child.returncode == 0, output
    assert "stopped" in output
