"""The quick benchmarks still run and print their figures (no timing is asserted here).

Benchmarks are not part of the test run otherwise, so an API change could
break them unnoticed; bench_daemon and bench_classify take too long for CI
and share all their code paths with the ones below and the test suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize(
    ("script", "figures"),
    [
        ("bench_check.py", ["requests per calendar check, warm session", "peak RSS"]),
        ("bench_notify.py", ["median", "p95"]),
        ("bench_schedule.py", ["rdv-monitor schedule", "fixed interval", "missed"]),
    ],
)
def test_benchmark_runs_and_prints_its_figures(script: str, figures: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / script)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for figure in figures:
        assert figure in result.stdout
