"""Peak memory and time of ``rdv-monitor check`` against the hostile set (127.0.0.1 only).

The hostile set (``tests/hostile_server.py``): a 60 MB body, an endless
stream, a gzip bomb and a deflate bomb (1 MB inflating to 1 GiB), a redirect
loop, an off-site redirect, corrupt gzip, random bytes, a drip and a reset.
For each case, one ``rdv-monitor check --json`` in a fresh process; then the
whole set as one config in one process. Prints, per run, the status seen,
the wall time of the process, the time of the check itself (``elapsed_ms``)
and the peak RSS of that process (``wait4``'s ``ru_maxrss``).

Targets (issue 11): peak under 100 MB for the whole set, the gzip bomb well
under a second. Run: ``.venv/bin/python bench/bench_hostile.py``. It prints
figures; it asserts nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile_server import CASES, HostileSite, bomb  # noqa: E402

TIMEOUT = "3s"
"""The exchange time-out of the bench config: the drip ends by it."""


def write_config(directory: Path, site: HostileSite, cases: list[str]) -> Path:
    lines = [f'[monitor]\ntimeout = "{TIMEOUT}"\n\n[notify]\nurls = []\n']
    for case in cases:
        lines.append(f'[[watch]]\nname = "{case}"\nurl = "{site.url(case)}"\n')
    path = directory / f"hostile-{len(cases)}.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def command() -> list[str]:
    script = shutil.which("rdv-monitor", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "monitor"]


def run_check(config: Path, directory: Path) -> tuple[list[dict[str, object]], float, float, int]:
    """Rows printed, seconds, peak RSS in MB and exit status of one ``check --json``.

    The child is reaped with ``wait4`` (not ``communicate``) to read its own peak RSS.
    """
    out_path, err_path = directory / "out", directory / "err"
    started = time.perf_counter()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = subprocess.Popen(
            [*command(), "check", "-c", str(config), "--json"], stdout=out, stderr=err
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    errors = err_path.read_text(errors="replace")
    if "Traceback" in errors or "unexpected error" in errors:
        print(errors, file=sys.stderr)
    text = out_path.read_text(errors="replace")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return rows, seconds, usage.ru_maxrss / 1024, child.returncode


def main() -> None:
    for encoding in ("gzip", "deflate"):
        bomb(encoding)  # built before timing starts
    print(f"rdv-monitor check against the hostile set (time-out {TIMEOUT}), one process each:")
    print(
        f"  {'case':<14} {'status':<8} {'exit':>4} {'process s':>9} {'check ms':>8} "
        f"{'peak RSS':>9}  detail"
    )
    with HostileSite() as site, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        worst = 0.0
        for case in CASES:
            config = write_config(directory, site, [case])
            rows, seconds, peak, code = run_check(config, directory)
            worst = max(worst, peak)
            row = rows[0] if rows else {"status": "-", "detail": "", "elapsed_ms": "-"}
            print(
                f"  {case:<14} {row['status']!s:<8} {code:>4} {seconds:>9.2f} "
                f"{row['elapsed_ms']!s:>8} {peak:>6.1f} MB  {str(row['detail'])[:56]}"
            )
        print(f"  worst peak RSS of one case: {worst:.1f} MB")
        config = write_config(directory, site, list(CASES))
        rows, seconds, peak, code = run_check(config, directory)
        print(
            f"whole set in one process: {len(rows)} rows, exit {code}, "
            f"{seconds:.2f} s, peak RSS {peak:.1f} MB"
        )


if __name__ == "__main__":
    main()
