"""rdv-monitor: watch French prefecture appointment calendars and say when a slot opens.

The data flows one way::

    scheduler ──when──▶ site adapter ──page──▶ classifier ──Observation──▶ store
                        (monitor.sites)        (monitor.sites.ezbooking.classify)
    store ──transitions──▶ outbox ──▶ notifier (apprise)

It monitors and notifies. It never books, never fills personal data and never
solves a captcha: a human does that.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rdv-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

USER_AGENT = f"rdv-monitor/{__version__} (+appointment availability monitor; never books)"

__all__ = ["USER_AGENT", "__version__"]
