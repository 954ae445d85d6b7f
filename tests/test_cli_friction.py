"""What a newcomer met at the command line (issue 10, items 4, 5, 9, 10, 12), run as they ran it.

Each test starts the ``rdv-monitor`` console script in a subprocess, with a
pipe, a closed pipe or a pseudo-terminal where the user had one, against the
simulator or the hostile server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.http import HostGate
from monitor.render import Progress
from monitor.sites.ezbooking.sim import SimPrefecture
from tests.conftest import RENEWAL
from tests.hostile_server import HostileSite
from tests.receiver import LocalTarget

ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SCRIPT = Path(sys.executable).parent / "rdv-monitor"


def rdv_monitor(*args: str) -> list[str]:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "monitor"]
    return [*command, *args]


def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        rdv_monitor(*args),
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,  # type: ignore[call-overload]
    )


def with_terminal(
    args: list[str], terminal: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run with ``terminal`` ("stdout" or "stderr") on a pseudo-terminal, the other a pipe.

    Returns the exit status, what the terminal showed and what the pipe got.
    """
    master, slave = pty.openpty()
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, terminal: slave}
    shown = bytearray()

    def read_terminal() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the last writer of the terminal closed it
                return
            if not data:
                return
            shown.extend(data)

    with subprocess.Popen(
        rdv_monitor(*args), env={**os.environ, **(env or {})}, **streams
    ) as child:  # type: ignore[call-overload]
        os.close(slave)
        reader = threading.Thread(target=read_terminal)
        reader.start()
        other = child.stderr if terminal == "stdout" else child.stdout
        piped = other.read().decode()
        code = child.wait(timeout=60)
        reader.join(timeout=10)
    os.close(master)
    return code, shown.decode(errors="replace").replace("\r\n", "\n"), piped


@pytest.fixture
def renewal(sim: SimPrefecture, write_config: Callable[..., Path]) -> Path:
    return write_config(
        [{"name": "Renouvellement", "url": sim.booking_url(RENEWAL), "calendars": ["3.1", "3.2"]}]
    )


# ── 4. `… | head`, `… | true` ───────────────────────────────────────────────


@pytest.mark.parametrize(
    "args",
    [["procedures"], ["procedures", "--help"], ["check", "--json"], ["check"]],
    ids=["procedures", "help", "check-json", "check-table"],
)
def test_a_reader_that_went_away_ends_it_quietly(renewal: Path, args: list[str]) -> None:
    """Like `rdv-monitor … | true`: the reader is gone before the first line is written."""
    if args[0] == "check":
        args = [args[0], "-c", str(renewal), *args[1:]]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            rdv_monitor(*args), stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(write_end)
    assert result.returncode in (0, 141)
    assert "unexpected error" not in result.stderr
    assert "Broken pipe" not in result.stderr and "Traceback" not in result.stderr
    assert not [line for line in result.stderr.splitlines() if "warning" not in line]


def test_head_gets_its_lines_and_nothing_is_said_about_the_rest() -> None:
    result = subprocess.run(
        " ".join(rdv_monitor("procedures")) + " | head -n 3",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 3
    assert result.stderr == ""


# ── 5. -v before or after the command; -vv adds the libraries ───────────────


def test_verbose_is_accepted_after_the_command(renewal: Path) -> None:
    before = run("-v", "check", "-c", str(renewal), "--json")
    after = run("check", "-c", str(renewal), "--json", "-v")
    assert (before.returncode, after.returncode) == (0, 0), after.stderr
    for result in (before, after):
        assert "DEBUG Renouvellement / 3.1: asking" in result.stderr
        assert "DEBUG Renouvellement / 3.2: full in" in result.stderr
    assert [r["calendar"] for r in map(json.loads, after.stdout.splitlines())] == ["3.1", "3.2"]


def test_check_without_v_prints_results_only(renewal: Path) -> None:
    result = run("check", "-c", str(renewal), "--json")
    assert result.returncode == 0
    assert "DEBUG" not in result.stderr and "INFO" not in result.stderr


def test_vv_adds_the_libraries_lines_to_v(renewal: Path) -> None:
    one = run("check", "-c", str(renewal), "-v")
    two = run("check", "-c", str(renewal), "-vv")
    assert "httpcore" not in one.stderr and "HTTP Request" not in one.stderr
    assert "HTTP Request: GET" in two.stderr  # httpx's own line for each request
    ours = {line.split(" ", 3)[-1] for line in one.stderr.splitlines() if "DEBUG" in line}
    assert len(two.stderr.splitlines()) > len(one.stderr.splitlines()) >= len(ours) > 0


def test_vv_still_masks_notification_secrets(write_config: Callable[..., Path]) -> None:
    token = "123456789-AAHiddenFromEveryLog"
    with LocalTarget() as target:
        path = write_config(
            [{"name": "R", "url": "http://127.0.0.1:9/booking/create/29396"}],
            notify={"urls": [target.url_with_secret(token)]},
        )
        result = run("notify-test", "-c", str(path), "-vv")
        assert target.wait_for(1)
    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr, "apprise's debug lines are shown at -vv"
    assert token not in result.stdout + result.stderr
    assert "AAHiddenFromEveryLog" not in result.stderr


# ── 9. `check` streams, with progress on a terminal ─────────────────────────


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "table"])
def test_check_prints_each_calendar_as_soon_as_it_is_known(
    sim: SimPrefecture, write_config: Callable[..., Path], json_output: bool
) -> None:
    """The second watch never finishes answering (a drip, with a long time-out): the first
    watch's lines must be on the screen while the second is still being asked."""
    with HostileSite() as hostile:
        path = write_config(
            [
                {"name": "fast", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]},
                {"name": "stuck", "url": hostile.url("drip")},
            ],
            monitor={"timeout": "60s"},
        )
        args = ["check", "-c", str(path), *(["--json"] if json_output else [])]
        with subprocess.Popen(
            rdv_monitor(*args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        ) as child:
            try:
                assert child.stdout is not None
                first = child.stdout.readline()
                if not json_output:
                    assert first.startswith("WATCH"), first
                    first = child.stdout.readline()
                assert child.poll() is None, "still asking the stuck watch"
            finally:
                child.kill()
    if json_output:
        row = json.loads(first)
        assert (row["watch"], row["calendar"], row["status"]) == ("fast", "3.1", "full")
    else:
        assert first.split()[:3] == ["fast", "3.1", "full"]


def test_on_a_terminal_a_progress_line_names_the_calendar_and_is_erased(renewal: Path) -> None:
    code, terminal, out = with_terminal(["check", "-c", str(renewal)], "stderr")
    assert code == 0
    assert "asking Renouvellement / 3.1…" in terminal
    assert "asking Renouvellement / 3.2…" in terminal
    assert terminal.rstrip("\n").endswith("\x1b[K"), "erased: nothing left behind the results"
    assert "\x1b" not in out, "the results themselves are plain in a pipe"
    assert [line.split()[1] for line in out.splitlines() if line.startswith("Renouv")] == [
        "3.1",
        "3.2",
    ]


def test_no_progress_line_when_stderr_is_not_a_terminal(renewal: Path) -> None:
    result = run("check", "-c", str(renewal))
    assert "asking" not in result.stderr and "\x1b" not in result.stderr


def test_the_politeness_pause_is_told_before_it_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback has no spacing, so the pause is shown with a clock of our own."""
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: the line is not cut
    now = [100.0]
    slept: list[float] = []
    told: list[tuple[str, float]] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    gate = HostGate(5.0, clock=lambda: now[0], sleep=sleep, on_wait=lambda *a: told.append(a))

    async def two_turns() -> None:
        for _ in range(2):
            async with gate.turn("prefecture.example"):
                now[0] += 1.0

    asyncio.run(two_turns())
    # Spacing runs from the end of the previous request: the whole 5 s.
    assert told == [("prefecture.example", 5.0)] and slept == [5.0]

    screen = io.StringIO()
    progress = Progress(screen)
    progress.asking("Renouvellement", "3.2")
    progress.waiting("prefecture.example", 5.0)
    progress.clear()
    shown = screen.getvalue().split("\r\x1b[K")
    assert shown[1:] == [
        "asking Renouvellement / 3.2…",
        "asking Renouvellement / 3.2: pausing 5.0 s between requests to prefecture.example "
        "(polite)…",
        "",
    ]


# ── 10. NO_COLOR ────────────────────────────────────────────────────────────


def test_check_colours_a_terminal_unless_no_color(renewal: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    code, coloured, _ = with_terminal(["check", "-c", str(renewal)], "stdout", env=env)
    assert code == 0 and ESCAPE.search(coloured), "colour on a terminal by default"
    code, plain, _ = with_terminal(["check", "-c", str(renewal)], "stdout", env={"NO_COLOR": "1"})
    assert code == 0 and "full" in plain
    assert not ESCAPE.search(plain)


# ── 12. `procedures --lang fr` prints keys the config accepts ───────────────


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_key_procedures_prints_is_one_the_config_accepts(
    lang: str, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    result = run("procedures", "--lang", lang)
    assert result.returncode == 0
    assignments = [
        line.split(" — ")[-1].strip()
        for line in result.stdout.splitlines()
        if re.search(r"^\s*[\w-]+ = ", line.split(" — ")[-1])
    ]
    assert assignments, result.stdout
    for line in assignments:
        key = next(iter(tomllib.loads(line)))  # valid TOML, or this raises
        assert key in {"name", "prefecture", "procedure"}, line
    # The first block pasted as printed makes a config that validates.
    block = result.stdout.split("[[watch]]", 1)[1].split("\n\n", 1)[0]
    path = write_config([])
    path.write_text(path.read_text() + "\n[[watch]]" + block + "\n")
    validated = run("validate", "-c", str(path))
    assert validated.returncode == 0, validated.stderr
