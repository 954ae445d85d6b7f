"""Shared fixtures: a simulated prefecture on 127.0.0.1 and configs pointing at it.

Nothing here, nor in any test, talks to the internet or to a real prefecture.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.sites.ezbooking.sim import SimPrefecture

RENEWAL = 29396
SINGLE = 29400
INDEX_PHP = 9845


@pytest.fixture
def sim() -> Iterator[SimPrefecture]:
    """A fresh simulated prefecture, every calendar full."""
    with SimPrefecture() as prefecture:
        yield prefecture


def toml_value(value: object) -> str:
    """Enough TOML for test configs (JSON strings are valid TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def render_config(
    watches: list[dict[str, object]],
    monitor: dict[str, object] | None = None,
    notify: dict[str, object] | None = None,
) -> str:
    # No surge window and no release instant unless a test asks for them: the defaults
    # (Monday 07:58-08:30 and 08:00 Paris) would otherwise change the schedule of any
    # test that happens to run then.
    monitor = {"surge": [], "releases": [], **(monitor or {})}
    lines = ["[monitor]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in monitor.items()]
    lines += ["", "[notify]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in (notify or {"urls": []}).items()]
    for watch in watches:
        lines += ["", "[[watch]]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in watch.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config file (mode 600, as the README says) and return its path."""

    def write(
        watches: list[dict[str, object]],
        monitor: dict[str, object] | None = None,
        notify: dict[str, object] | None = None,
        name: str = "config.toml",
    ) -> Path:
        path = tmp_path / name
        path.write_text(render_config(watches, monitor, notify), encoding="utf-8")
        os.chmod(path, 0o600)
        return path

    return write


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``rdv-monitor ARGS`` in-process and capture what a user would see."""

    def run(*args: str) -> CliResult:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
