"""Retention: a simulated year of 10 calendars checked every 5 minutes, pruned as the
daemon would (``[monitor] keep``), printing the database file's size month by month.

    python bench/bench_retention.py [--keep-days 180] [--months 12]

The file grows while there is less than ``keep`` of history, then stays flat: the
pages freed by pruned observations are reused (SQLite freelist).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.store import Store
from tests.test_retention import fill

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-days", type=int, default=180)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()
    tz = ZoneInfo("Europe/Paris")
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        Store.open(state).close()
        print(f"{'month':>5} {'rows added':>10} {'pruned':>8} {'prune s':>8} {'file MiB':>9}")
        for month in range(args.months):
            start = T0 + timedelta(days=30 * month)
            with Store.open(state) as store:
                added = fill(store.path, start, 30)
                before = start + timedelta(days=30 - args.keep_days)
                began, pruned = time.perf_counter(), 0
                while (n := store.retention.prune_batch(before, tz)) > 0:
                    pruned += n
                took = time.perf_counter() - began
                size = store.retention.size()
            file = (state / "state.db").stat().st_size
            print(f"{month + 1:>5} {added:>10} {pruned:>8} {took:>8.1f} {file / 2**20:>9.1f}")
        print(f"observations kept: {size.observations}; free pages: {size.free_bytes} bytes")


if __name__ == "__main__":
    main()
