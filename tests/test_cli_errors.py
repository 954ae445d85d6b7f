"""Exit status of errors in the environment the user set up: the state folder and the
metrics address.

The rule (monitor/errors.py): what only the user can fix exits with status 2 and one
paragraph naming the path or address and what to do, never a traceback. The systemd
unit does not restart on status 2 (RestartPreventExitStatus=2), so a corrupt state.db
or a taken port is reported once instead of retried every 30 s. What may pass by itself
(a full disk, a lock held too long) stays exit 1, which systemd retries.

These tests run as root in CI, where ``chmod 000`` denies nothing. So permission
problems are also provoked in ways that fail for root too: a state folder below a
regular file (ENOTDIR from mkdir), a ``state.db`` that is a folder (SQLite's
SQLITE_CANTOPEN, the code a permission denial gives too), and a PermissionError
raised where the folder is created.
"""

from __future__ import annotations

import errno
import logging
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.store import DB_NAME, Store
from monitor.store import database as store_database
from tests.conftest import CliResult

WATCH = {"name": "Renouvellement", "url": "http://127.0.0.1:9/booking/create/29396"}


@pytest.fixture(autouse=True)
def _keep_root_log_level() -> Iterator[None]:
    """``rdv-monitor run`` sets the root logger's level; give it back to the other tests."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


def one_paragraph(result: CliResult) -> str:
    """The error of a failed command, checked to be one line without a traceback."""
    errors = [e for e in result.err.splitlines() if "warning" not in e.lower()]
    assert len(errors) == 1, result.err
    assert "Traceback" not in result.err and "is a bug" not in result.err, result.err
    return errors[0]


@pytest.fixture
def config_for(write_config: Callable[..., Path]) -> Callable[..., str]:
    """A config whose state is in ``state_dir`` (and metrics, if given, at ``metrics``)."""

    def make(state_dir: Path, **monitor: object) -> str:
        return str(write_config([WATCH], monitor={"state_dir": str(state_dir), **monitor}))

    return make


def test_a_corrupt_state_database_is_a_usage_error(tmp_path: Path, config_for, cli) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    db = state_dir / DB_NAME
    db.write_bytes(b"not sqlite at all " * 300)
    config = config_for(state_dir)
    for command in ("run", "status", "history", "stats"):
        result = cli(command, "-c", config)
        assert result.code == 2, (command, result.err)
        message = one_paragraph(result)
        assert str(db) in message and "file is not a database" in message
        assert f"mv {db} {db}.broken" in message


def test_a_state_folder_below_a_regular_file_is_a_usage_error(
    tmp_path: Path, config_for, cli
) -> None:
    """mkdir fails with ENOTDIR, for root as for anyone."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    result = cli("run", "-c", config_for(blocker / "state"))
    assert result.code == 2, result.err
    message = one_paragraph(result)
    assert f"Cannot create the state folder {blocker / 'state'}" in message
    assert "is a file, not a folder" in message and "[monitor] state_dir" in message


def test_a_state_dir_that_is_a_file_is_a_usage_error(tmp_path: Path, config_for, cli) -> None:
    state_file = tmp_path / "state"
    state_file.write_text("my notes, not a folder\n" * 20, encoding="utf-8")
    for command in ("run", "status", "history", "stats"):
        result = cli(command, "-c", config_for(state_file))
        assert result.code == 2, (command, result.err)
        message = one_paragraph(result)
        assert f"{state_file} is a file, not a folder" in message, command
        assert "[monitor] state_dir" in message
    assert state_file.read_text(encoding="utf-8").startswith("my notes"), "left untouched"


def test_a_database_path_sqlite_cannot_open_is_a_usage_error(
    tmp_path: Path, config_for, cli
) -> None:
    """``state.db`` is a folder: SQLITE_CANTOPEN, the code an unreadable file gives too."""
    state_dir = tmp_path / "state"
    (state_dir / DB_NAME).mkdir(parents=True)
    result = cli("run", "-c", config_for(state_dir))
    assert result.code == 2, result.err
    message = one_paragraph(result)
    assert f"Cannot open the state database {state_dir / DB_NAME}" in message
    assert f"read and write the folder {state_dir}" in message and "chmod" in message


def test_permission_denied_creating_the_state_folder_is_a_usage_error(
    tmp_path: Path, config_for, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root-proof stand-in for a parent folder without write permission: the same
    PermissionError, raised where the folder is made."""
    state_dir = tmp_path / "state"

    def denied(folder: Path) -> bool:
        raise PermissionError(errno.EACCES, "Permission denied", str(folder))

    monkeypatch.setattr(store_database, "make_private_dir", denied)
    result = cli("run", "-c", config_for(state_dir))
    assert result.code == 2, result.err
    message = one_paragraph(result)
    assert f"Cannot create the state folder {state_dir}: Permission denied" in message
    assert "[monitor] state_dir" in message


def test_a_state_database_from_a_newer_version_is_a_usage_error(
    tmp_path: Path, config_for, cli
) -> None:
    state_dir = tmp_path / "state"
    Store.open(state_dir).close()
    db = sqlite3.connect(state_dir / DB_NAME)
    db.execute("PRAGMA user_version = 99")
    db.close()
    config = config_for(state_dir)
    for command in ("run", "status"):
        result = cli(command, "-c", config)
        assert result.code == 2, (command, result.err)
        assert "written by a newer rdv-monitor" in one_paragraph(result)


def test_a_taken_metrics_port_is_a_usage_error(tmp_path: Path, config_for, cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("run", "-c", config_for(tmp_path / "state", metrics=f"127.0.0.1:{port}"))
    assert result.code == 2, result.err
    message = one_paragraph(result)
    assert f"Cannot serve metrics on 127.0.0.1:{port}" in message
    assert "already listens" in message and "[monitor] metrics" in message
