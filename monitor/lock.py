"""One daemon per state folder: an exclusive lock held for the life of ``rdv-monitor run``.

Two daemons on one state folder would double the requests to the prefecture
and send every alert twice. ``run`` therefore takes an ``flock`` on a lock file
in the state folder and keeps it until the process ends. The kernel releases
it when the process dies, however it dies (``kill -9`` included), so a lock is
never left stale. The holder writes its PID into the file so that a second
``run`` can say which process to stop.

Read-only commands (``status``, ``history``, ``stats``) never take it: they
only read the database and work beside the daemon.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from monitor.errors import UsageError
from monitor.store.database import db_path
from monitor.store.errors import folder_failure
from monitor.store.pages import make_private_dir

__all__ = ["LOCK_NAME", "StateLock", "lock_holder"]

LOCK_NAME = "rdv-monitor.lock"
"""The lock file's name inside the state folder (beside ``state.db``)."""


def _lock_file(state: str | os.PathLike[str]) -> Path:
    """The lock file of a state folder (or of the folder of a ``.db`` file)."""
    return db_path(state).parent / LOCK_NAME


def lock_holder(state: str | os.PathLike[str]) -> int | None:
    """The PID written by the process that holds (or last held) the lock, if readable."""
    try:
        text = _lock_file(state).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class StateLock:
    """The exclusive lock of a state folder; use as a context manager.

    Entering creates the folder if needed (mode 0700), takes the lock without
    waiting and writes this process's PID into the lock file. If another
    process holds it, raises :class:`UsageError` (exit status 2) naming that
    process's PID. Leaving releases it; so does the end of the process.
    """

    def __init__(self, state: str | os.PathLike[str]) -> None:
        self.path = _lock_file(state)
        self._fd: int | None = None

    def acquire(self) -> None:
        folder = self.path.parent
        try:
            make_private_dir(folder)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise folder_failure(folder, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(self._busy_sentence()) from None
        except BaseException:
            os.close(fd)
            raise
        # Written only once the lock is ours: the PID in the file is always the holder's.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd

    def _busy_sentence(self) -> str:
        pid = lock_holder(self.path.parent)
        if pid is None:  # it has the lock but has not written its PID yet
            who, kill = "another process", ""
        else:
            who, kill = f"PID {pid}", f"`kill {pid}`, or "
        return (
            f"another `rdv-monitor run` ({who}) is already watching with the state folder "
            f"{self.path.parent}: two would double the requests to the prefecture and send "
            f"every alert twice. Stop it first ({kill}`systemctl stop rdv-monitor` if systemd "
            "runs it), "
            "or give this one its own [monitor] state_dir. `status`, `history` and `stats` "
            "work beside it."
        )

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # The file stays: deleting it would let a third process lock a new file while a
        # second one still waits on the old one.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor releases the flock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
