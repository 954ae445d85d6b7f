"""The site adapters rdv-monitor knows, and how one is chosen for a URL.

Like apprise picks a notification service by URL scheme, rdv-monitor picks a
site adapter by booking URL: the first adapter in :data:`ADAPTERS` whose
:meth:`~monitor.sites.base.SiteAdapter.accepts` says yes. Adding a platform
is adding its plugin folder beside ``ezbooking/`` and one line here; config,
``check`` and the daemon all ask this module.
"""

from __future__ import annotations

import httpx

from monitor.errors import UsageError
from monitor.sites.base import SiteAdapter
from monitor.sites.ezbooking import EzBookingAdapter

__all__ = ["ADAPTERS", "adapter_for"]

ADAPTERS: tuple[type[SiteAdapter], ...] = (EzBookingAdapter,)


def adapter_for(url: str) -> type[SiteAdapter]:
    """The adapter class for ``url``; :class:`UsageError` when none knows it."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UsageError(f"{url!r} is not a valid URL ({exc}).") from None
    for cls in ADAPTERS:
        if cls.accepts(parsed):
            return cls
    known = ", ".join(sorted(cls.kind for cls in ADAPTERS))
    raise UsageError(
        f"No site adapter knows the URL {url}. rdv-monitor reads the prefecture booking "
        f"module (URLs containing /booking/create/<number>); known adapters: {known}. "
        "Open the booking in a browser and copy the address of its first page."
    )
