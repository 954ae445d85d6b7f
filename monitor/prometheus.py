"""The Prometheus side of :mod:`monitor.metrics`: :class:`Metrics` and its HTTP server.

A module of its own so that prometheus_client (about 1 MiB resident, with its
WSGI server) is imported only by a daemon whose config turns metrics on
(:func:`monitor.metrics.metrics_for`); the design notes are in :mod:`monitor.metrics`.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.config import Config, ListenAddress
from monitor.errors import UsageError
from monitor.events import Event
from monitor.observation import Observation, Status
from monitor.store import CalendarStateRow

__all__ = ["DELIVERY_STATES", "Metrics", "MetricsAddressError"]

log = logging.getLogger("monitor.metrics")

DELIVERY_STATES = ("pending", "sent", "failed")
_GOOD = (Status.AVAILABLE, Status.FULL)


class MetricsAddressError(UsageError):
    """``[monitor] metrics`` names an address this machine cannot listen on (exit status 2).

    A taken port, a privileged port or an address the machine does not have stays so until
    the user changes the config or stops the other program: systemd must not restart the
    daemon every 30 s for it (``RestartPreventExitStatus=2``).
    """


def _bind_advice(host: str, port: int, exc: OSError) -> str:
    """What to do about a failed bind, from its cause."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"another program (or another rdv-monitor) already listens on port {port}; "
            f"`ss -ltnp 'sport = :{port}'` shows which. Choose another port in [monitor] "
            "metrics, or remove that line to turn metrics off."
        )
    if exc.errno == errno.EACCES and port < 1024:
        return (
            "ports below 1024 need privileges rdv-monitor does not have. Choose a port "
            'from 1024 up in [monitor] metrics, e.g. "127.0.0.1:9108".'
        )
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"this machine has no address {host}. Use 127.0.0.1 in [monitor] metrics (this "
            "machine only) or one of this machine's own addresses."
        )
    return "choose another address in [monitor] metrics, or remove that line to turn metrics off."


class _Deliveries(Collector):
    """``rdv_monitor_deliveries{state}``, read from ``source`` at each scrape."""

    def __init__(self, source: Callable[[], Mapping[str, int]] | None) -> None:
        self.source = source
        self.last: dict[str, int] = dict.fromkeys(DELIVERY_STATES, 0)
        self._lock = threading.Lock()

    def describe(self) -> Iterable[Metric]:
        return [self._family({})]

    def collect(self) -> Iterator[Metric]:
        if self.source is not None:
            try:
                self.set(self.source())
            except Exception as exc:  # e.g. the store is closing: serve the last values
                log.debug("deliveries not readable for metrics: %s", exc)
        with self._lock:
            yield self._family(self.last)

    def set(self, counts: Mapping[str, int]) -> None:
        with self._lock:
            self.last = {state: int(counts.get(state, 0)) for state in DELIVERY_STATES}

    @staticmethod
    def _family(counts: Mapping[str, int]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "rdv_monitor_deliveries",
            "Notification deliveries (one per event and target) by state.",
            labels=["state"],
        )
        for state in DELIVERY_STATES if counts else ():
            family.add_metric([state], counts[state])
        return family


class Metrics:
    """The daemon's metrics, in their own registry, optionally served over HTTP.

    ``deliveries_source`` (e.g. ``store.delivery_counts``) is called at each
    scrape; without it, :meth:`deliveries` sets the values.
    """

    def __init__(
        self,
        address: ListenAddress | None = None,
        *,
        deliveries_source: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        self.address = address
        self.registry = CollectorRegistry()
        labels = ("watch", "calendar")
        self.checks = Counter(
            "rdv_monitor_checks",
            "Checks of a calendar, by the status they found.",
            (*labels, "status"),
            registry=self.registry,
        )
        self.last_success = Gauge(
            "rdv_monitor_last_success_timestamp_seconds",
            "Unix time of the last check that could read the calendar (available or full).",
            labels,
            registry=self.registry,
        )
        self.calendar_status = Gauge(
            "rdv_monitor_calendar_status",
            "1 for the calendar's current status, 0 for the others.",
            (*labels, "status"),
            registry=self.registry,
        )
        self.slot_opened = Counter(
            "rdv_monitor_slot_opened",
            "Slots appearing: availability episodes opened (slot_opened events).",
            labels,
            registry=self.registry,
        )
        self._deliveries = _Deliveries(deliveries_source)
        self.registry.register(self._deliveries)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ── updates ─────────────────────────────────────────────────────────────

    def prepare(self, config: Config, rows: Iterable[CalendarStateRow] = ()) -> None:
        """Create every configured calendar's series, and restore status and last success
        from the state's ``rows``, so that a restart shows the current picture at once."""
        by_key = {(r.watch, r.calendar): r for r in rows}
        for watch in config.enabled_watches:
            for calendar in [c.display for c in watch.calendars] or [""]:
                self.slot_opened.labels(watch.name, calendar)
                for status in Status:
                    self.checks.labels(watch.name, calendar, status.value)
                row = by_key.get((watch.name, calendar))
                if row is not None and row.status is not None:
                    self._set_status(watch.name, calendar, row.status)
                if row is not None and row.state is not None and row.state.last_good:
                    self.last_success.labels(watch.name, calendar).set(
                        row.state.last_good.timestamp()
                    )

    def observe(self, obs: Observation, events: Iterable[Event] = ()) -> None:
        """Count one check; ``events`` are those its recording created (for slot openings)."""
        self.checks.labels(obs.watch, obs.calendar, obs.status.value).inc()
        if obs.status in _GOOD:
            self.last_success.labels(obs.watch, obs.calendar).set(obs.checked_at.timestamp())
        self._set_status(obs.watch, obs.calendar, obs.status)
        for event in events:
            if event.kind == "slot_opened":
                self.slot_opened.labels(obs.watch, obs.calendar).inc()

    def deliveries(self, counts: Mapping[str, int]) -> None:
        """Set the delivery counts (``store.delivery_counts()``); a source, if any, overrides
        them at the next scrape."""
        self._deliveries.set(counts)

    def _set_status(self, watch: str, calendar: str, current: Status) -> None:
        for status in Status:
            self.calendar_status.labels(watch, calendar, status.value).set(
                1 if status is current else 0
            )

    def render(self) -> bytes:
        """The exposition text, as a scrape would get it."""
        return generate_latest(self.registry)

    # ── serving ─────────────────────────────────────────────────────────────

    def start(self) -> None:
        """Serve on :attr:`address`, if any (see :meth:`serve`)."""
        if self.address is not None:
            self.serve(self.address.host, self.address.port)

    def serve(self, host: str, port: int) -> None:
        """Serve ``/metrics`` on ``host:port`` from a background thread.

        Raises :class:`MetricsAddressError` (exit status 2) with a sentence naming the
        address and what to do when it cannot be used (port taken, privileged port,
        unknown host).
        """
        try:
            self._server, self._thread = start_http_server(port, host, registry=self.registry)
        except OSError as exc:
            where = ListenAddress(host, port)
            raise MetricsAddressError(
                f"Cannot serve metrics on {where}: {exc.strerror or exc}; "
                + _bind_advice(host, port, exc)
            ) from exc
        log.info("metrics on http://%s/metrics", ListenAddress(host, port))

    @property
    def port(self) -> int | None:
        """The port actually listened on (useful with port 0), ``None`` when not serving."""
        return self._server.server_port if self._server is not None else None

    def close(self) -> None:
        """Stop serving and release the port (idempotent; returns within about 0.5 s)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
