"""Run the fault soak of ``tests/soak.py`` for as long as asked and print its figures.

A seeded random scenario against the simulated prefecture: slots opening and
closing on three calendars (one opening longer than ``see_within`` in each
healthy stretch, so that most must be alerted), 502/503/slow/429/403 episodes
each followed by its backoff, a notification target answering 500 for a while
every ~2 min, and the daemon killed with SIGKILL and restarted every ~40 s
(sometimes during a backoff). The oracle (see ``tests/soak.py``) compares
what was delivered with what the simulator really showed.

Run: ``.venv/bin/python bench/bench_soak.py --seconds 600 --seed 7``. It prints
figures; it asserts nothing (exit status 0 even when it finds a miss).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.soak

from tests.soak import Timing, make_scenario, run_soak
from tests.soak_oracle import judge


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="scenario length")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-every", type=float, default=40.0)
    parser.add_argument("--fault-every", type=float, default=40.0)
    parser.add_argument("--verbose", action="store_true", help="list each finding")
    args = parser.parse_args()
    scenario = make_scenario(
        args.seed,
        args.seconds,
        timing=Timing(),
        kill_every=args.kill_every,
        fault_every=args.fault_every,
    )
    with tempfile.TemporaryDirectory(prefix="rdv-soak-") as tmp:
        record = run_soak(scenario, Path(tmp), drain_timeout=90.0)
    verdict = judge(record)
    print(f"rdv-monitor fault soak: seed {args.seed}, {args.seconds:g} s")
    print(f"see_within              {scenario.timing.see_within:.1f} s")
    for line in verdict.lines():
        print(line)
    print(f"fault episodes          {len(record.episodes)}")
    print(f"target failures         {len(record.target_down)}")
    print(f"simulator errors        {record.sim_errors}")
    if args.verbose:
        for name in (
            "false",
            "missed",
            "duplicates",
            "crash_duplicates",
            "lost",
            "seen_before_open",
        ):
            for item in getattr(verdict, name):
                print(f"  {name}: {item}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
