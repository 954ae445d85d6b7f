"""The writer thread: every write of the daemon runs here, one at a time, in order.

A committed write is fsynced (``synchronous=FULL``); on an SD card that can
take a second or more. Done on the asyncio loop, it would delay the checks
planned at a release instant and the sends. So the daemon hands each write
to this single thread and awaits its result: the loop keeps running, and
writes still happen one after the other, in the order they were submitted
(an observation before the events of the next one, a delivery result before
the next plan). Reads stay on the caller's thread, on their own connection
(WAL readers never wait for the writer).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["Writer"]

log = logging.getLogger("monitor.store")

T = TypeVar("T")

_Job = tuple[Callable[[], Any], Future[Any]]


class Writer:
    """A dedicated thread that runs submitted callables one at a time, in submission order.

    Started on the first :meth:`submit`; :meth:`close` finishes what was submitted, then
    stops the thread. A daemon thread, so a hung disk never keeps the process alive after
    ``close`` gave up waiting.
    """

    def __init__(self, name: str = "state writer") -> None:
        self.name = name
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Queue ``fn(*args, **kwargs)``; the future holds its result or its exception."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} is closed")
            if threading.current_thread() is self._thread:
                # Called from a job already on this thread: waiting in the queue would
                # wait for itself, and running it now keeps the order.
                _run(lambda: fn(*args, **kwargs), future)
                return future
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._queue.put((lambda: fn(*args, **kwargs), future))
        return future

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the writer thread, after every write submitted before it; await it.

        Cancelling the awaiting task does not cancel the write: once submitted it
        happens (a half-known outcome would be worse).
        """
        return await asyncio.shield(asyncio.wrap_future(self.submit(fn, *args, **kwargs)))

    def close(self, timeout: float | None = 30.0) -> None:
        """Finish the writes already submitted (up to ``timeout`` s), then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.error("the %s did not finish within %s s; leaving it", self.name, timeout)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            _run(*job)


def _run(fn: Callable[[], Any], future: Future[Any]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn()
    except BaseException as exc:  # handed to the awaiting caller, who decides
        future.set_exception(exc)
    else:
        future.set_result(result)
