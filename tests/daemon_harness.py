"""Run the real daemon (``python -m monitor run``) as a child process, as systemd would.

Tests use it against the simulated prefecture and read what the daemon wrote
through a read-only :class:`~monitor.store.Store`, exactly as ``rdv-monitor
status`` does. Waiting is by polling with a deadline, never fixed sleeps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from monitor.events import Event
from monitor.store import Store

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except Exception:  # e.g. the database does not exist yet
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


class DaemonProcess:
    """One ``rdv-monitor run`` child process with its log captured to a file."""

    def __init__(self, config: Path, state_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.state_dir = state_dir
        self.log_path = state_dir.parent / f"daemon-{time.monotonic_ns()}.log"
        self._env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> DaemonProcess:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop/kill)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", *extra, "run", "-c", str(self.config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._env,
        )
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit status (fails if it takes longer)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no cleanup at all
        self.proc.wait(timeout=10)
        self._log.close()

    def store(self) -> Store:
        return Store.open_readonly(self.state_dir)

    def events(self, kind: str | None = None) -> list[Event]:
        with self.store() as store:
            events = store.events_after(0, limit=10_000)
        return [e for e in events if kind is None or e.kind == kind]

    def observation_count(self, calendar: str | None = None) -> int:
        with self.store() as store:
            return len(store.observations(calendar=calendar))
