"""The optional Prometheus endpoint: unit tests of :class:`monitor.prometheus.Metrics`, and the
real daemon scraped over HTTP while it watches the simulated prefecture."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.errors import MonitorError, UsageError
from monitor.events import Event
from monitor.metrics import NoMetrics
from monitor.observation import Observation, Status
from monitor.prometheus import Metrics, MetricsAddressError
from monitor.sites.ezbooking.sim import SimPrefecture
from monitor.store import StoreError
from tests.conftest import RENEWAL
from tests.daemon_harness import DaemonProcess, wait_for
from tests.test_check_e2e import future_slots

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition text, by name and label set."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _obs(calendar: str, status: Status, at: datetime) -> Observation:
    return Observation(
        watch="Renouvellement",
        calendar=calendar,
        status=status,
        url="http://127.0.0.1:9/booking/create/29396",
        detail="",
        checked_at=at,
        elapsed_ms=10,
    )


def test_observe_counts_checks_status_last_success_and_openings() -> None:
    metrics = Metrics(deliveries_source=lambda: {"pending": 2, "sent": 5, "failed": 1})
    at = datetime(2026, 12, 7, 7, 0, 14, tzinfo=UTC)
    opened = Event(
        id=1,
        kind="slot_opened",
        watch="Renouvellement",
        calendar="3.2",
        created_at=at,
        episode_id=1,
        dedup_key="k",
        payload={},
    )
    metrics.observe(_obs("3.1", Status.FULL, at))
    metrics.observe(_obs("3.1", Status.FULL, at))
    metrics.observe(_obs("3.2", Status.AVAILABLE, at), [opened])
    metrics.observe(_obs("3.2", Status.DOWN, at.replace(second=30)))
    found = samples(metrics.render().decode())
    cal31 = {"watch": "Renouvellement", "calendar": "3.1"}
    cal32 = {"watch": "Renouvellement", "calendar": "3.2"}
    assert value(found, "rdv_monitor_checks_total", **cal31, status="full") == 2
    assert value(found, "rdv_monitor_checks_total", **cal32, status="down") == 1
    assert value(found, "rdv_monitor_calendar_status", **cal32, status="down") == 1
    assert value(found, "rdv_monitor_calendar_status", **cal32, status="available") == 0
    assert value(found, "rdv_monitor_last_success_timestamp_seconds", **cal32) == at.timestamp()
    assert value(found, "rdv_monitor_slot_opened_total", **cal32) == 1
    assert value(found, "rdv_monitor_deliveries", state="pending") == 2
    assert value(found, "rdv_monitor_deliveries", state="failed") == 1


def test_deliveries_keep_their_last_values_when_the_source_fails() -> None:
    answers: list[dict[str, int]] = [{"pending": 3}]

    def source() -> dict[str, int]:
        if not answers:
            raise StoreError("Cannot read: the state database is closed.")
        return answers.pop()

    metrics = Metrics(deliveries_source=source)
    metrics.render()
    found = samples(metrics.render().decode())
    assert value(found, "rdv_monitor_deliveries", state="pending") == 3
    plain = Metrics()
    plain.deliveries({"sent": 9})
    assert value(samples(plain.render().decode()), "rdv_monitor_deliveries", state="sent") == 9


def test_no_metrics_does_nothing() -> None:
    metrics = NoMetrics()
    metrics.observe(_obs("3.1", Status.FULL, datetime.now(UTC)))
    metrics.deliveries({"pending": 1})
    metrics.start()
    metrics.close()
    assert metrics.port is None


def test_a_taken_port_is_a_sentence_and_close_releases_the_port() -> None:
    port = free_port()
    first = Metrics()
    first.serve("127.0.0.1", port)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
        with pytest.raises(MonitorError, match=f"Cannot serve metrics on 127.0.0.1:{port}") as info:
            Metrics().serve("127.0.0.1", port)
        # The user's to fix (another port, or stop the other program): exit 2, which
        # systemd does not retry every 30 s.
        assert isinstance(info.value, MetricsAddressError | UsageError)
        assert "already listens on port" in str(info.value)
    finally:
        first.close()
    assert port_is_free(port)
    first.close()  # idempotent


def test_an_address_this_machine_does_not_have_says_so() -> None:
    """192.0.2.1 is reserved for documentation (RFC 5737): no machine has it, and binding
    to it sends nothing over the network."""
    with pytest.raises(MetricsAddressError, match=r"this machine has no address 192\.0\.2\.1"):
        Metrics().serve("192.0.2.1", free_port())


def test_daemon_serves_metrics_and_releases_the_port_on_stop(
    sim: SimPrefecture, write_config, tmp_path: Path
) -> None:
    port = free_port()
    state_dir = tmp_path / "state"
    config = write_config(
        [
            {
                "name": "Renouvellement",
                "url": sim.booking_url(RENEWAL),
                "calendars": ["3.1", "3.2", "3.3", "3.4"],
            }
        ],
        monitor={
            "interval": "1s",
            "jitter": "0s",
            "state_dir": str(state_dir),
            "metrics": f"127.0.0.1:{port}",
        },
    )
    sim.set_state(RENEWAL, "3.2", "available", slots=future_slots(0, 1))
    daemon = DaemonProcess(config, state_dir).start()
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        cal = {"watch": "Renouvellement"}

        def scraped() -> Samples | None:
            # Wait on what the scrape itself shows: the database may be a step ahead
            # of the scrape that was taken just before it.
            found = samples(httpx.get(url, timeout=2).text)
            full = value(found, "rdv_monitor_checks_total", **cal, calendar="3.1", status="full")
            seen = value(found, "rdv_monitor_slot_opened_total", **cal, calendar="3.2")
            now = value(
                found, "rdv_monitor_calendar_status", **cal, calendar="3.2", status="available"
            )
            return found if full and full >= 1 and seen == 1 and now == 1 else None

        found = wait_for(scraped, what="a scrape after the first round")
        assert value(found, "rdv_monitor_checks_total", **cal, calendar="3.1", status="full") >= 1
        assert value(found, "rdv_monitor_checks_total", **cal, calendar="3.1", status="down") == 0
        status = {
            s: value(found, "rdv_monitor_calendar_status", **cal, calendar="3.2", status=s)
            for s in ("available", "full", "down", "blocked", "captcha", "unknown")
        }
        assert status == {
            "available": 1,
            "full": 0,
            "down": 0,
            "blocked": 0,
            "captcha": 0,
            "unknown": 0,
        }
        assert value(found, "rdv_monitor_slot_opened_total", **cal, calendar="3.2") == 1
        assert value(found, "rdv_monitor_slot_opened_total", **cal, calendar="3.1") == 0
        last = value(found, "rdv_monitor_last_success_timestamp_seconds", **cal, calendar="3.1")
        assert last is not None and abs(last - time.time()) < 60
        assert value(found, "rdv_monitor_deliveries", state="pending") == 0
    finally:
        code = daemon.stop()
    assert code == 0
    assert port_is_free(port), "the port is released when the daemon stops"
    assert "metrics on http://127.0.0.1:" in daemon.log
