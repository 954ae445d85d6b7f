"""Precise exceptions. Each carries a message fit to show a user as is.

Anything a user can fix (config, command line, the environment they control:
the state folder, the metrics address) is a :class:`UsageError` and ends the
program with exit status 2 and one paragraph, never a traceback. The systemd
unit does not restart on status 2 (``RestartPreventExitStatus=2``): retrying
such an error every 30 s would only fill the journal. Everything else that
may pass by itself (a full disk, a site that is down) exits with status 1, and
systemd retries it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "FetchError",
    "MonitorError",
    "ResponseTooLarge",
    "UsageError",
]


class MonitorError(Exception):
    """Base class for every error rdv-monitor raises on purpose."""


class UsageError(MonitorError):
    """The command line, the config or the environment the user set up is wrong (exit
    status 2): trying again unchanged cannot help, so the message says what to change."""


class ConfigError(UsageError):
    """The configuration file is missing, unreadable or invalid.

    ``path`` names the file and the message names the key path and what is expected.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class FetchError(MonitorError):
    """An HTTP exchange failed before a complete response could be read.

    ``kind`` is a short machine word; the message is a sentence for a human.
    The site is *down* for ``timeout``, ``connect``, ``protocol`` and
    ``too_large``; the page is *unknown* for ``redirect`` (to another site, or
    unusable), ``off_site`` (a request that would leave the booking's site) and
    ``bad_url`` (an address that is not http(s) or cannot be parsed).
    """

    def __init__(self, message: str, *, kind: str, url: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.url = url


class ResponseTooLarge(FetchError):
    """The body exceeded the size cap; it was cut, not loaded."""

    def __init__(self, message: str, *, url: str, limit: int) -> None:
        super().__init__(message, kind="too_large", url=url)
        self.limit = limit
