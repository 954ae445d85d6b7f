"""The simulator's control endpoint: its routes, the checking of what is posted, its index page.

Everything under :data:`CONTROL_PREFIX` (``/__sim__/``) drives the simulated
prefecture while it runs; it never counts as a request to the site and answers
loopback clients only. :data:`ENDPOINTS` is the one list of routes: the index
page, ``sim --help`` and the "no such endpoint" errors all show it.

Errors name the field that is missing or wrong, e.g. ``missing field "booking"
(the booking id, e.g. 29396)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any, Final

from monitor.sites.ezbooking.sim.defaults import default_slots
from monitor.sites.ezbooking.sim.flow import Reply
from monitor.sites.ezbooking.sim.model import (
    SITE_STATES,
    STATES,
    parse_slot,
)

__all__ = [
    "CONTROL_PREFIX",
    "ENDPOINTS",
    "ControlError",
    "SiteRequest",
    "StateRequest",
    "index_page",
    "json_reply",
    "parse_json",
    "refusal_count",
    "site_request",
    "state_request",
]

CONTROL_PREFIX: Final = "/__sim__/"
"""Paths of the control endpoint (not counted in ``requests``)."""

ENDPOINTS: Final = (
    ("GET", "", "this index page (bookings, calendars, states, endpoints)"),
    (
        "GET",
        "stats",
        "JSON counters: requests, booking_attempts, sessions, errors, tokens_refused, "
        "tokens_to_refuse, site_state",
    ),
    ("GET", "state", "JSON: every booking, calendar (planning) and its state"),
    (
        "POST",
        "state",
        'one calendar: {"booking": 29396, "calendar": "3.2", "state": "available", '
        '"slots": ["2026-12-01T09:00:00+01:00"]}; "calendar": "*" for all of a booking; '
        'optional "variant", "slots" (available: default three slots next week), '
        '"delay" (slow), "retry_after", "size" (oversized), "typo", "apostrophe" (full)',
    ),
    (
        "POST",
        "site",
        'every request: {"state": "down", "variant": "haproxy_504"}; {"state": null} ends it',
    ),
    (
        "POST",
        "refuse-tokens",
        '{"count": 1}: refuse the next form POSTs (landing, step 1, step 3) as a site that '
        "rotates its form token does: the page again, with eZ's token error and a new token; "
        '{"count": 0} ends it',
    ),
    ("POST", "expire-sessions", "invalidate every eZSESSID (as after PHP's session cleanup)"),
    ("POST", "reset", "zero the counters and the throttle window"),
)
"""(method, action under ``/__sim__/``, what it does)."""


class ControlError(ValueError):
    """A control request that cannot be applied; the message names the field."""


@dataclass(frozen=True, slots=True)
class StateRequest:
    """A checked ``POST /__sim__/state``."""

    booking: int
    calendar: str | int | None
    """A label token ("3.2"), ``"*"`` (every calendar of the booking) or ``None`` (single)."""
    state: str
    options: Mapping[str, Any]
    """Keyword arguments of ``SimPrefecture.set_state``."""


@dataclass(frozen=True, slots=True)
class SiteRequest:
    """A checked ``POST /__sim__/site``."""

    state: str | None
    options: Mapping[str, Any]


def json_reply(status: int, payload: object) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8")
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store")]
    return Reply(status, body, headers, server="rdv-monitor-sim")


def parse_json(body: bytes) -> dict[str, Any]:
    """The posted JSON object (an empty body is ``{}``)."""
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ControlError(f"the body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ControlError('the body must be a JSON object, e.g. {"state": "down"}')
    return data


def _state_name(data: Mapping[str, Any], allowed: Sequence[str]) -> str:
    if "state" not in data:
        raise ControlError(f'missing field "state" (one of {", ".join(allowed)})')
    value = data["state"]
    if not isinstance(value, str) or value not in allowed:
        raise ControlError(f'field "state" is {value!r}; use one of {", ".join(allowed)}')
    return value


def _variant(data: Mapping[str, Any], state: str) -> str | None:
    value = data.get("variant")
    if value is None:
        return None
    variants = STATES[state]
    if not isinstance(value, str) or value not in variants:
        known = ", ".join(variants) if variants else "none"
        raise ControlError(f'field "variant" is {value!r}; state {state!r} has: {known}')
    return value


def _number(data: Mapping[str, Any], name: str, *, integer: bool = False) -> Any:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        kind = "a whole number" if integer else "a number"
        raise ControlError(f'field "{name}" is {value!r}; it must be {kind} >= 0')
    if integer and not isinstance(value, int):
        raise ControlError(f'field "{name}" is {value!r}; it must be a whole number')
    return value


def _options(data: Mapping[str, Any], state: str) -> dict[str, Any]:
    size = _number(data, "size", integer=True)
    if size == 0:
        raise ControlError('field "size" must be a positive number of bytes (or null: endless)')
    return {
        "variant": _variant(data, state),
        "delay": _number(data, "delay"),
        "retry_after": _number(data, "retry_after", integer=True),
        "size": size,
    }


def state_request(data: Mapping[str, Any], today: date) -> StateRequest:
    """Check a ``POST /__sim__/state`` body; ``available`` without slots gets the defaults."""
    if "booking" not in data:
        raise ControlError('missing field "booking" (the booking id, e.g. 29396)')
    booking = data["booking"]
    if isinstance(booking, str) and booking.strip().isdigit():
        booking = int(booking)
    if isinstance(booking, bool) or not isinstance(booking, int):
        raise ControlError(f'field "booking" is {booking!r}; it must be a booking id like 29396')
    calendar = data.get("calendar")
    if calendar is not None and (isinstance(calendar, bool) or not isinstance(calendar, str | int)):
        raise ControlError(f'field "calendar" is {calendar!r}; use a label like "3.2" or "*"')
    state = _state_name(data, list(STATES))
    options = _options(data, state)
    raw_slots = data.get("slots") or []
    if not isinstance(raw_slots, list):
        raise ControlError('field "slots" must be a list of ISO date-times')
    try:
        slots: list[datetime] = [parse_slot(str(s)) for s in raw_slots]
    except ValueError as exc:
        raise ControlError(f'field "slots": {exc}') from None
    if state == "available" and not slots:
        slots = default_slots(today)
    apostrophe = data.get("apostrophe") or "'"
    if apostrophe not in ("'", "’"):
        raise ControlError(f'field "apostrophe" is {apostrophe!r}; use "\'" or "’"')
    typo = data.get("typo", False)
    if not isinstance(typo, bool):
        raise ControlError(f'field "typo" is {typo!r}; use true or false')
    options.update(slots=slots, apostrophe=apostrophe, typo=typo)
    return StateRequest(booking, calendar, state, options)


def site_request(data: Mapping[str, Any]) -> SiteRequest:
    """Check a ``POST /__sim__/site`` body (``"state": null`` ends the site-wide state)."""
    if data.get("state", "") is None:
        return SiteRequest(None, {})
    state = _state_name(data, sorted(SITE_STATES))
    return SiteRequest(state, _options(data, state))


def refusal_count(data: Mapping[str, Any]) -> int:
    """Check a ``POST /__sim__/refuse-tokens`` body: how many form POSTs to refuse."""
    if "count" not in data:
        raise ControlError('missing field "count" (form POSTs to refuse, e.g. 1)')
    count: int = _number(data, "count", integer=True)
    if count is None:
        raise ControlError('field "count" is null; it must be a whole number >= 0')
    return count


def index_page(base_url: str, described: Mapping[str, Any]) -> str:
    """The HTML index of ``/__sim__/``: bookings, calendars, states, and the endpoints."""
    rows = []
    for booking in described["bookings"]:
        url = escape(str(booking["url"]))
        rows.append(
            f"<h2>{escape(str(booking['title']))} (booking {booking['id']})</h2>\n"
            f'<p><a href="{url}">{url}</a></p>\n<table>\n'
            "<tr><th>calendar</th><th>planning id</th><th>state</th><th>slots</th>"
            "<th>label</th></tr>"
        )
        for p in booking["plannings"]:
            state = p["state"] + (f"/{p['variant']}" if p["variant"] else "")
            rows.append(
                f"<tr><td>{escape(str(p['calendar'] or '-'))}</td><td>{p['id']}</td>"
                f"<td>{escape(state)}</td><td>{escape(', '.join(p['slots']))}</td>"
                f"<td>{escape(str(p['label']))}</td></tr>"
            )
        rows.append("</table>")
    site = described["site_state"]
    site_text = (
        "none"
        if site is None
        else site["state"] + (f"/{site['variant']}" if site["variant"] else "")
    )
    endpoints = "\n".join(
        f"<tr><td>{method}</td><td>{escape(base_url + CONTROL_PREFIX + action)}</td>"
        f"<td>{escape(what)}</td></tr>"
        for method, action, what in ENDPOINTS
    )
    states = "\n".join(
        f"<li>{name}{': ' + ', '.join(variants) if variants else ''}"
        f"{' (site-wide too)' if name in SITE_STATES else ''}</li>"
        for name, variants in STATES.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8" /><title>rdv-monitor simulator</title></head>
<body>
<h1>rdv-monitor simulated prefecture</h1>
<p>Nothing real is contacted. Site-wide state: {escape(site_text)}.</p>
{chr(10).join(rows)}
<h2>Control endpoints</h2>
<table>
<tr><th>method</th><th>URL</th><th>what</th></tr>
{endpoints}
</table>
<h2>States and variants</h2>
<ul>
{states}
</ul>
</body></html>
"""
