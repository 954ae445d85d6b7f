"""Where an answer of the booking leads, and whose session it belongs to. Pure functions.

The adapter follows some redirects by hand (to skip a page it already knows),
so it reads ``Location`` itself; and it tells a page of its own session from a
new one by the form token the page carries.
"""

from __future__ import annotations

from urllib.parse import urljoin

import httpx

from monitor.http import Response
from monitor.sites.ezbooking.forms import Form

__all__ = ["cookie_for", "location", "redirects_to", "same_session"]


def cookie_for(host: str, domain: str) -> bool:
    """True if a cookie of ``domain`` is one the booking's ``host`` would have set."""
    bare = domain.lstrip(".").lower()
    return bool(bare) and (host == bare or host.endswith("." + bare))


def location(response: Response) -> str | None:
    """Where a redirect not followed points, made absolute (the fetcher checks it when asked)."""
    location = response.headers.get("location", "").strip()
    if response.status not in (301, 302, 303, 307, 308) or not location:
        return None
    try:
        return urljoin(response.url, location)
    except ValueError:
        return location  # the fetcher refuses it with a clear message


def same_session(kept: Form, landing: Form) -> bool:
    """True if the landing page carries the kept form's hidden values (its session's token)."""
    ours, theirs = dict(kept.fields), dict(landing.fields)
    shared = ours.keys() & theirs.keys()
    return bool(shared) and all(ours[name] == theirs[name] for name in shared)


def redirects_to(response: Response, url: str | None) -> bool:
    """True if ``response`` is a redirect to the page at ``url`` (http or https alike)."""
    target = location(response)
    if target is None or url is None:
        return False
    try:
        there, wanted = httpx.URL(target), httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return (there.host, there.port or 0, there.path) == (wanted.host, wanted.port or 0, wanted.path)
