"""Keep optional modules the daemon never uses out of its memory (issue 12).

Some libraries import an optional module whenever it happens to be installed: httpx its
command-line client, requests an encoding detector. Each treats an ImportError as "not
installed" and carries on; :func:`leave_out_unused_modules`, called by :mod:`monitor.cli`
before any command imports them, makes those imports fail that way. About 3.3 MiB of
resident memory for a daemon that would never call them
(``bench/bench_footprint.py`` measures it; ``tests/test_footprint_imports.py`` checks
that fetching and sending still work).
"""

from __future__ import annotations

import importlib.abc
import sys
import warnings
from collections.abc import Sequence
from datetime import tzinfo
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

__all__ = ["OnDemandScheduler", "give_back_free_memory", "leave_out_unused_modules"]


class _LeftOut(importlib.abc.MetaPathFinder):
    """Makes ``import NAME`` fail as if NAME were not installed, for optional modules that
    libraries import when present and that the daemon never uses (their memory is pure
    cost: issue 12). Each library below treats the ImportError as "not installed"."""

    NAMES = frozenset(
        {
            # httpx imports its optional command-line client (click and pygments, about
            # 1.3 MiB resident) whenever those happen to be installed, and apprise installs
            # click; rdv-monitor never runs it (httpx.main then says it is not installed).
            "httpx._main",
            # requests (apprise's HTTP library) imports charset_normalizer (~2 MiB: a
            # compiled detector and its tables) to guess the encoding of answers that do not
            # declare one; without it requests decodes them as UTF-8, its documented
            # fallback, which is all apprise needs (a status code, an error text to log).
            "charset_normalizer",
        }
    )

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname in self.NAMES:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def leave_out_unused_modules() -> None:
    """Install :class:`_LeftOut` (once) ahead of every other importer; call it before
    httpx or apprise is first imported."""
    if not any(isinstance(finder, _LeftOut) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LeftOut())
    # requests warns once at import that it has no encoding detector: that is the point.
    warnings.filterwarnings(
        "ignore", message="Unable to find acceptable character detection", module="requests"
    )


def give_back_free_memory() -> bool:
    """Hand the C heap's free pages back to the system; False where that is not possible.

    Why: glibc's malloc keeps the memory that start-up and each run freed (import-time
    garbage, config checks, parsed pages, SQLite scratch) resident inside its heap, and
    gives back only a free top of the heap by itself. ``malloc_trim(0)`` releases every
    free page: measured 54.7 -> 53.7 MiB for a daemon idle with 10 calendars after its
    first run (``bench/bench_footprint.py``), for about 0.5 ms; the daemon calls it after
    each run so that the figure stays flat. ctypes is loaded anyway (apprise imports it).
    A no-op on a C library without ``malloc_trim`` (musl, macOS).
    """
    import ctypes  # here: the other commands have no use for it

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    trim(0)
    return True


class OnDemandScheduler:
    """An APScheduler ``AsyncIOScheduler`` created, and APScheduler imported, on first use.

    Why: the daemon needs APScheduler for the daily heartbeat only, and APScheduler
    brings multiprocessing and concurrent.futures' process pool with it: about 1.3 MiB
    resident (``bench/bench_footprint.py``) that a daemon without ``"heartbeat"`` in
    ``[notify] events`` would carry for nothing (issue 12).
    """

    def __init__(self, timezone: tzinfo) -> None:
        self._timezone = timezone
        self._scheduler: AsyncIOScheduler | None = None
        self._running = False

    def get(self) -> AsyncIOScheduler:
        """The scheduler, created now if needed; started at once if :meth:`start` ran."""
        if self._scheduler is None:
            from apscheduler.schedulers.asyncio import AsyncIOScheduler

            self._scheduler = AsyncIOScheduler(timezone=self._timezone)
            if self._running:
                self._scheduler.start()
        return self._scheduler

    def start(self) -> None:
        """Run its jobs from now on (call it in the event loop), if and once it exists."""
        self._running = True
        if self._scheduler is not None:
            self._scheduler.start()

    def shutdown(self) -> None:
        self._running = False
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def remove_job(self, job_id: str) -> None:
        """Remove job ``job_id`` if it is there; creates nothing."""
        if self._scheduler is not None and self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)
