"""How long the site keeps an idle session, as learned by one adapter. No I/O.

A kept step-1 form sent into a session the site has forgotten bounces to the
landing page, and the check then walks landing → conditions → step 1 answer:
one request more than starting at the landing page would have cost. So the
adapter remembers the idle time after which a kept form bounced, and after
that long starts at the landing page (4 requests) instead of trying the kept
form first (5).

Not every bounce is idleness: a server restart or a session clean-up forgets
a session after any idle time, and learning from that would make every later
check start over. So a bounce is only taken as the site's idle limit when the
idle time was at least :data:`SHORTEST_LIMIT` and more than
:data:`SURVIVAL_MARGIN` times the longest idle time a session was seen to
survive. And when a check that started over because of the limit finds the
session still alive (the landing page shows the kept form's own token, which
is the session's), the limit is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["SHORTEST_LIMIT", "SURVIVAL_MARGIN", "SessionLife"]

SURVIVAL_MARGIN = 2.0
"""A bounce says "expired by idleness" only after this many times the longest idle survived."""
SHORTEST_LIMIT = 10.0
"""Seconds: a session forgotten after less idle time than this was wiped (a restart of the
site, or a session replaced by another process), not timed out: no site times sessions out
that fast (PHP's default is 1440 s), and learning it would start every later check over."""


@dataclass(slots=True)
class SessionLife:
    """The idle times a session survived and the one after which it was forgotten."""

    last_contact: datetime | None = None
    """When the booking module last answered us (the session's clock restarts there)."""
    survived: float = 0.0
    """Longest idle time (s) after which the kept form was accepted."""
    limit: float | None = None
    """Shortest idle time (s) after which the kept form bounced for idleness, if any."""

    def idle(self, now: datetime) -> float:
        """Seconds since the site last answered us (0 if never, or if the clock stepped back)."""
        if self.last_contact is None:
            return 0.0
        return max(0.0, (now - self.last_contact).total_seconds())

    def expired(self, idle: float) -> bool:
        """True if a session idle that long is known to be forgotten by the site."""
        return self.limit is not None and idle >= self.limit

    def kept_accepted(self, idle: float) -> None:
        self.survived = max(self.survived, idle)

    def kept_bounced(self, idle: float) -> bool:
        """Learn from a kept form that bounced to the landing page; True if taken as the limit."""
        if idle < SHORTEST_LIMIT or idle <= SURVIVAL_MARGIN * self.survived:
            return False
        self.limit = idle if self.limit is None else min(self.limit, idle)
        return True

    def alive_after(self, idle: float) -> None:
        """The session outlived ``idle`` although the limit said otherwise: forget the limit."""
        self.survived = max(self.survived, idle)
        self.limit = None
