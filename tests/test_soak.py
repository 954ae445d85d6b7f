"""A short fault soak of the real daemon: kill -9, error pages, a failing target.

The harness (scenario, runner, oracle) is in ``tests/soak.py``; see its
docstring for what "long enough to be seen" means. ``bench/bench_soak.py``
runs the same soak for as long as asked.
"""

from __future__ import annotations

from pathlib import Path

from tests.soak import Timing, make_scenario, run_soak
from tests.soak_oracle import judge

SEED = 20261207
DURATION = 45.0


def test_fault_soak_loses_nothing_and_invents_nothing(tmp_path: Path) -> None:
    scenario = make_scenario(
        SEED,
        DURATION,
        timing=Timing(calendars=("3.1", "3.2")),
        kill_every=12.0,  # ~40 s in production, scaled down with the 1 s interval
        fault_every=16.0,
        target_fail_first=1.0,
        fault_length=(0.5, 1.2),
        start_allowance=2.5,
    )
    record = run_soak(scenario, tmp_path, drain_timeout=15.0)
    verdict = judge(record)
    report = "\n".join(verdict.lines()) + "\n--- daemon log (end) ---\n" + record.log_tail

    assert record.sim_errors == 0, report
    assert record.booking_attempts == 0, "the monitor never books"
    assert verdict.restarts >= 2, "the scenario killed and restarted the daemon"
    assert verdict.required >= 3, "the seed makes several openings that must be seen"
    assert verdict.retried >= 1, "the failing target made at least one delivery retry"
    assert verdict.false == [], report
    assert verdict.duplicates == [], report
    assert verdict.lost == [], report
    assert verdict.missed == [], report
    assert verdict.exit_code == 0, report
    # RSS flat: the last life holds no more than the first plus slack for caches.
    assert verdict.rss_last <= verdict.rss_first * 1.25 + 16 * 2**20, report

    # "seen at" is when the answer was read (issue 11 item 3), never before the opening
    assert verdict.seen_before_open == [], report
