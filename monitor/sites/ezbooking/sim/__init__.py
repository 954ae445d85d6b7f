"""The simulated prefecture: a faithful stand-in for the eZ Publish booking module.

Tests, benchmarks and the demo run against it on 127.0.0.1 and never touch a
real prefecture. It reproduces the module's flow (landing page and
conditions, step 1 radios, FULL page, steps 3/4 with the week table, captcha),
its sessions (``eZSESSID``, per-session ``ezxform_token``, expiry that bounces
to the landing page) and what the real front does on bad days (HAProxy and
nginx error pages, 403/429, maintenance, slow, truncated and endless
answers)::

    from monitor.sites.ezbooking.sim import SimPrefecture

    with SimPrefecture() as sim:
        sim.set_state(29396, "3.2", "available", slots=[datetime(2026, 12, 1, 9, tzinfo=PARIS)])
        check(sim.booking_url(29396))
        assert sim.booking_attempts == 0

``python -m monitor.sites.ezbooking.sim`` (or ``rdv-monitor sim``) runs it standalone.
"""

from monitor.sites.ezbooking.sim.defaults import default_bookings, default_slots
from monitor.sites.ezbooking.sim.model import (
    PARIS,
    SITE_STATES,
    STATES,
    Booking,
    Planning,
    State,
    parse_slot,
)
from monitor.sites.ezbooking.sim.server import CONTROL_PREFIX, SimPrefecture

__all__ = [
    "CONTROL_PREFIX",
    "PARIS",
    "SITE_STATES",
    "STATES",
    "Booking",
    "Planning",
    "SimPrefecture",
    "State",
    "default_bookings",
    "default_slots",
    "parse_slot",
]
