"""Site adapters, chosen by booking URL (see :func:`adapter_for`).

Importing this package registers every adapter module listed here.
"""

from monitor.sites import ezbooking
from monitor.sites.base import CalendarInfo, CalendarSpec, SiteAdapter, adapter_for, register

__all__ = ["CalendarInfo", "CalendarSpec", "SiteAdapter", "adapter_for", "ezbooking", "register"]
