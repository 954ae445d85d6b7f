"""Optional Prometheus metrics of the daemon: ``[monitor] metrics = "127.0.0.1:9108"``.

Off by default: most users read ``rdv-monitor status``. Those who already run
Prometheus/Grafana get, at ``http://HOST:PORT/metrics``:

* ``rdv_monitor_checks_total{watch,calendar,status}``: checks, by what they
  found (counter);
* ``rdv_monitor_last_success_timestamp_seconds{watch,calendar}``: Unix time of
  the last ``available``/``full`` check; alert when it gets old;
* ``rdv_monitor_calendar_status{watch,calendar,status}``: 1 for the current
  status, 0 for the other five (a state set);
* ``rdv_monitor_slot_opened_total{watch,calendar}``: slots appearing, i.e.
  availability episodes opened (counter);
* ``rdv_monitor_deliveries{state}``: notifications ``pending``, ``sent``,
  ``failed`` (one per event and target).

Design choices:

* its own :class:`~prometheus_client.CollectorRegistry`, not the library's
  global one: nothing else in the process (or in a test run) leaks into it;
* ``slot_opened`` counts the store's ``slot_opened`` *events*, so it agrees
  with the notifications (a ``down`` check between two ``available`` ones is
  not a new slot), rather than re-deriving episodes here;
* ``deliveries`` is read from the state database at each scrape (one small
  ``GROUP BY``), so it is exact even though the delivery worker, not the
  checks, moves deliveries on; if the database cannot be read (the daemon is
  stopping) the last values are served;
* every configured calendar's series exist from start-up (counters at 0, the
  status and last success read back from the state), so ``increase()`` sees the
  very first slot and a restart does not blank the dashboards;
* the HTTP server is prometheus_client's threaded WSGI server on a daemon
  thread: a scrape never blocks the asyncio loop, and :meth:`Metrics.close`
  shuts it down and releases the port at once (``SO_REUSEADDR``).

:class:`NoMetrics` has the same methods and does nothing: the daemon calls
them unconditionally. :class:`~monitor.prometheus.Metrics` lives in
:mod:`monitor.prometheus`, imported only when metrics are on: a daemon without
them does not pay for prometheus_client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from monitor.config import Config
from monitor.events import Event
from monitor.observation import Observation
from monitor.store import CalendarStateRow, Store

if TYPE_CHECKING:
    from monitor.prometheus import Metrics

__all__ = ["NoMetrics", "metrics_for"]


class NoMetrics:
    """Metrics turned off: the same calls as :class:`Metrics`, doing nothing."""

    address = None
    port = None

    def prepare(self, config: Config, rows: Iterable[CalendarStateRow] = ()) -> None:
        """Nothing to prepare."""

    def observe(self, obs: Observation, events: Iterable[Event] = ()) -> None:
        """Nothing to count."""

    def deliveries(self, counts: Mapping[str, int]) -> None:
        """Nothing to set."""

    def start(self) -> None:
        """Nothing to serve."""

    def close(self) -> None:
        """Nothing to stop."""


def metrics_for(config: Config, store: Store) -> Metrics | NoMetrics:
    """The daemon's metrics: :class:`NoMetrics` unless ``[monitor] metrics`` is set, else a
    :class:`Metrics` prepared from the state, not yet serving (call ``start()``)."""
    if config.monitor.metrics is None:
        return NoMetrics()
    from monitor.prometheus import Metrics

    metrics = Metrics(config.monitor.metrics, deliveries_source=store.delivery_counts)
    metrics.prepare(config, store.calendar_states())
    return metrics
