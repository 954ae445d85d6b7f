"""A short fault soak of the real daemon: kill -9, error pages, a failing target.

The harness (scenario, runner, oracle) is in ``tests/soak.py``; see its
docstring for what "long enough to be seen" means. ``bench/bench_soak.py``
runs the same soak for as long as asked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.soak import Opening, Record, Scenario, Timing, make_scenario, run_soak
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


def _record_with(alert_seen: datetime, checked_at: float, opening: Opening) -> Record:
    scenario = Scenario(seed=0, duration=10.0, timing=Timing(calendars=("3.1",)), actions=())
    seen = alert_seen.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%dT%H:%M:%S%z")
    body = f"calendar=3.1 first= seen={seen}"
    return Record(
        scenario=scenario,
        openings=[opening],
        receipts=[(checked_at + 0.2, 200, {"title": "SOAK 3.1", "message": body})],
        observations=[(checked_at, "3.1", "available", ())],
    )


def test_the_oracle_matches_an_alert_without_dates_to_the_opening_its_check_saw() -> None:
    # Step 3 proves slots, but the opening closed before the week tables were read:
    # the alert has no dates, and it is true only if its check fell inside an opening.
    at = datetime(2026, 11, 30, 5, 32, 6, tzinfo=UTC)
    slot = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    during = Opening(1, "3.1", slot, at.timestamp() - 5, at.timestamp() - 4.9, at.timestamp() + 1)
    before = Opening(1, "3.1", slot, at.timestamp() + 60, at.timestamp() + 60.1)

    assert judge(_record_with(at, at.timestamp(), during)).false == []
    assert len(judge(_record_with(at, at.timestamp(), before)).false) == 1
