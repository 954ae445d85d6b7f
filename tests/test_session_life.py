"""How long the site keeps an idle session, as the adapter learns it (no I/O)."""

from __future__ import annotations

from monitor.sites.ezbooking.session_life import SHORTEST_LIMIT, SessionLife


def test_a_session_wiped_after_a_moment_teaches_no_idle_limit() -> None:
    # A site restarted (or our session replaced by another process) a second after
    # the last check: that is no timeout, and every later check must stay warm.
    life = SessionLife()
    assert not life.kept_bounced(0.4)
    assert not life.expired(0.5) and not life.expired(SHORTEST_LIMIT * 100)


def test_a_session_forgotten_after_a_long_idle_sets_the_limit() -> None:
    life = SessionLife()
    life.kept_accepted(30.0)
    assert not life.kept_bounced(45.0), "within twice what a session survived: a wipe"
    assert life.kept_bounced(3600.0)
    assert life.expired(3600.0) and not life.expired(600.0)
