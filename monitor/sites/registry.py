"""The site adapters rdv-monitor knows, and how one is chosen for a URL.

Like apprise picks a notification service by URL scheme, rdv-monitor picks a
site adapter by booking URL: the first adapter in :data:`ADAPTERS` whose
:meth:`~monitor.sites.base.SiteAdapter.accepts` says yes. Adding a platform
is adding its plugin folder beside ``ezbooking/`` and one line here; config,
``check`` and the daemon all ask this module (which URLs are bookings, how
calendars are named), never a plugin directly.
"""

from __future__ import annotations

import httpx

from monitor.errors import UsageError
from monitor.sites.base import CalendarNaming, SiteAdapter
from monitor.sites.ezbooking import EzBookingAdapter

__all__ = ["ADAPTERS", "adapter_for", "find_adapter", "naming_for"]

ADAPTERS: tuple[type[SiteAdapter], ...] = (EzBookingAdapter,)


def find_adapter(url: str) -> type[SiteAdapter] | None:
    """The adapter class that accepts ``url``, or ``None`` (also for an unreadable URL)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    return next((cls for cls in ADAPTERS if cls.accepts(parsed)), None)


def adapter_for(url: str) -> type[SiteAdapter]:
    """The adapter class for ``url``; :class:`UsageError` when none knows it."""
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UsageError(f"{url!r} is not a valid URL ({exc}).") from None
    found = find_adapter(url)
    if found is not None:
        return found
    known = ", ".join(sorted(cls.kind for cls in ADAPTERS))
    raise UsageError(
        f"No site adapter knows the URL {url}. rdv-monitor reads the prefecture booking "
        f"module (URLs containing /booking/create/<number>); known adapters: {known}. "
        "Open the booking in a browser and copy the address of its first page."
    )


def naming_for(url: str | None = None) -> CalendarNaming:
    """The calendar-naming rules of the adapter for ``url``.

    Without a URL, or for one no adapter accepts, the rules of the first adapter
    (the prefecture booking module): a calendar in the config is read before, or
    without, the watch's URL, and the booking module is the platform every
    prefecture uses.
    """
    found = find_adapter(url) if url is not None else None
    return (found or ADAPTERS[0]).naming
