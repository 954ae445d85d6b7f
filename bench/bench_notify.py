"""Benchmark: delay from an observation being recorded to its delivery at a local target.

The real store and delivery worker, real apprise ``json://`` sends over HTTP
to an inbox on 127.0.0.1, as in the daemon: record the observation (which
writes the slot_opened event), wake the worker, wait for the message.

Run: ``.venv/bin/python bench/bench_notify.py``. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import parse_config
from monitor.demo import Inbox
from monitor.notify.delivery import DeliveryWorker
from monitor.observation import Observation, Status
from monitor.store import Store

ROUNDS = 100
URL = "http://127.0.0.1:9/booking/create/29396"


def observation(status: Status) -> Observation:
    when = datetime.now(UTC)
    return Observation(
        watch="bench",
        calendar="3.2",
        status=status,
        url=URL,
        detail="bench",
        checked_at=when,
        elapsed_ms=10,
        http_status=200,
        slots=(when + timedelta(days=9),) if status is Status.AVAILABLE else (),
        slot_count=1 if status is Status.AVAILABLE else None,
    )


async def measure(directory: Path, inbox: Inbox) -> list[float]:
    data = {
        "monitor": {"state_dir": str(directory)},
        "notify": {"urls": [inbox.url]},
        "watch": [{"name": "bench", "url": URL, "calendars": ["3.2"]}],
    }
    config = parse_config(data, source=str(directory / "bench.toml"), base_dir=directory)
    delays: list[float] = []
    with Store.open(directory) as store:
        worker = DeliveryWorker(store, config, clock=lambda: datetime.now(UTC))
        running = asyncio.create_task(worker.run())
        for _ in range(ROUNDS):
            expected = len(inbox.messages) + 1
            started = time.perf_counter()
            store.record(observation(Status.AVAILABLE), trouble_after=900)
            worker.wake()  # what the daemon does after recording events
            while len(inbox.arrival_times) < expected:
                await asyncio.sleep(0.0005)
            delays.append((inbox.arrival_times[expected - 1] - started) * 1000)
            store.record(observation(Status.FULL), trouble_after=900)
            await asyncio.sleep(0.01)
        running.cancel()
    return delays


def main() -> None:
    with Inbox() as inbox, tempfile.TemporaryDirectory() as tmp:
        delays = asyncio.run(measure(Path(tmp), inbox))
    p95 = statistics.quantiles(delays, n=20)[-1]
    print("bench_notify (observation recorded → message at a local json:// target)")
    print(f"  deliveries : {len(delays)}")
    print(f"  median     : {statistics.median(delays):.1f} ms")
    print(f"  p95        : {p95:.1f} ms")
    print(f"  max        : {max(delays):.1f} ms")


if __name__ == "__main__":
    main()
