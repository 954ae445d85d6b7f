"""The systemd notify protocol (``sd_notify``), without libsystemd.

A ``Type=notify`` service tells systemd it is ready (``READY=1``), what it is
doing (``STATUS=…``), that it is alive (``WATCHDOG=1``) and that it is
stopping (``STOPPING=1``) by sending datagrams to the ``AF_UNIX`` socket named
in ``$NOTIFY_SOCKET``. A name starting with ``@`` is in the Linux abstract
namespace (a leading NUL byte). Without ``$NOTIFY_SOCKET`` (not under systemd)
every call does nothing, so the daemon runs the same in a terminal.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["Notifier", "watchdog_interval"]

log = logging.getLogger(__name__)


class Notifier:
    """Sends state changes to systemd; silently a no-op outside systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        name = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if name.startswith("@"):
            self._address = b"\0" + name[1:].encode()
        elif name.startswith("/"):
            self._address = name
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, **fields: str | int) -> bool:
        """Send ``KEY=value`` lines (``ready=1`` → ``READY=1``); True if it was delivered."""
        if self._address is None:
            return False
        message = "\n".join(f"{k.upper()}={_one_line(str(v))}" for k, v in fields.items())
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # Never stall the event loop if nobody drains the socket: a
                # dropped STATUS line is better than a stuck monitor.
                self._sock.setblocking(False)
            self._sock.sendto(message.encode(), self._address)
        except OSError as exc:
            # systemd gone or socket unreadable: the service keeps running; only
            # the watchdog would notice, which is the point of a watchdog.
            log.debug("sd_notify failed: %s", exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send(ready=1, status=status) if status else self.send(ready=1)

    def status(self, text: str) -> bool:
        return self.send(status=text)

    def watchdog(self) -> bool:
        return self.send(watchdog=1)

    def stopping(self) -> bool:
        return self.send(stopping=1)

    def reloading(self) -> bool:
        return self.send(reloading=1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings: half of ``$WATCHDOG_USEC``, or None.

    Honours ``$WATCHDOG_PID`` as sd_watchdog_enabled(3) does: the ping is only
    for the named process.
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2_000_000


def _one_line(text: str) -> str:
    return " ".join(text.split())
