"""Files written next to the database, durably: the state folder and saved unknown pages.

A page is written to a temp file, fsynced, renamed, and the folder fsynced,
*before* the transaction that names it commits: after a crash either the
event and its file exist, or only a harmless orphan file does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from monitor.events import LAYOUT_CHANGED, EventDraft

__all__ = ["PAGES_DIR", "fsync_dir", "make_private_dir", "save_page", "write_durably"]

log = logging.getLogger("monitor.store")

PAGES_DIR = "pages"
"""The folder, inside the state folder, where unknown pages are saved."""


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_private_dir(folder: Path) -> bool:
    """Create ``folder`` (and parents) with mode 0700 if missing; True if it was created."""
    if folder.is_dir():
        return False
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    fsync_dir(folder.parent)
    return True


def write_durably(folder: Path, name: str, data: bytes) -> None:
    """Write ``folder/name`` so that it is either absent or complete after a crash."""
    if "/" in name or name.startswith("."):
        raise ValueError(f"not a plain file name: {name!r}")
    make_private_dir(folder)
    temp = folder / f".{name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, folder / name)
    fsync_dir(folder)


def save_page(
    folder: Path, name: str, page: bytes, drafts: Sequence[EventDraft]
) -> list[EventDraft]:
    """Save an unknown page; on failure (disk full), say so in the ``layout_changed`` draft.

    The record goes on either way: losing the page must not lose the observation.
    """
    try:
        write_durably(folder, name, page)
    except OSError as exc:
        reason = f"{exc.strerror or exc} ({folder / name})"
        log.warning("could not save the unknown page: %s", reason)
        return [
            replace(d, payload={**d.payload, "page_file": None, "page_error": reason})
            if d.kind == LAYOUT_CHANGED.name
            else d
            for d in drafts
        ]
    return list(drafts)
