"""Every ``rdv-monitor`` command the README and config.example.toml show runs (issue 10,
item 6), so the documentation cannot drift from the program.

Commands are taken from the shell code blocks and from inline `rdv-monitor …` spans,
with their optional parts (``[--since 30d]``) included, and run as a user would:
``FILE`` (or ``config.toml``, or the service's path) is a config watching the local
simulator, ``URL`` its booking page, notification addresses a local receiver. ``run``
and ``sim`` would run until stopped: they get ``--help`` after the rest of the command,
so argparse still rejects options they do not take. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.cli import command_names
from monitor.sites.ezbooking.sim import SimPrefecture
from tests.conftest import RENEWAL, render_config
from tests.receiver import LocalTarget

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "README.md", ROOT / "config.example.toml")
FOREVER = {"run", "sim"}
"""Commands that run until stopped: checked with ``--help``."""
PROGRAM = re.compile(r"(?:^|^\$ |^sudo |bin/|^#\s.*?\s)rdv-monitor\s+(.*)$")
INLINE = re.compile(r"`(rdv-monitor\s[^`]*)`")


def _clean(rest: str) -> str:
    """The arguments of one shown command: no trailing comment, no chained command."""
    rest = re.split(r"\s+#\s|\s&&\s|\s\|\s", rest)[0]
    return rest.replace("[", " ").replace("]", " ").strip()


def shown_commands() -> dict[str, list[str]]:
    """The arguments of every command the docs show, each with where it is shown."""
    names = set(command_names())
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        fence: str | None = None  # the language of the code block we are in
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("```"):
                fence = None if fence is not None else stripped[3:] or "text"
                continue
            candidates = []
            # config.example.toml shows its commands in comments; the README, in sh blocks.
            if doc.suffix == ".toml" or fence in ("sh", "text"):
                match = PROGRAM.search(stripped)
                if match:
                    candidates.append(match.group(1))
            candidates += [m[len("rdv-monitor") :] for m in INLINE.findall(line)]
            for rest in candidates:
                args = " ".join(_clean(rest).split())
                first = args.split()[0] if args else ""
                if first in names or first.startswith("-"):
                    found.setdefault(args, []).append(f"{doc.name}:{number}")
    return found


FOUND = shown_commands()
SHOWN = [(wheres[0], args) for args, wheres in FOUND.items()]
NEEDS_CONFIG = {"run", "check", "validate", "status", "history", "stats", "notify-test"}
"""Shown alone in a sentence (`rdv-monitor check`), these name the command: ``--help``."""


def test_the_docs_show_the_commands_users_need() -> None:
    """The extraction itself must find them: an empty list would test nothing."""
    shown = {args.split()[0] for _, args in SHOWN}
    assert {"demo", "run", "check", "validate", "status", "history", "discover", "sim"} <= shown
    example = [args for args, wheres in FOUND.items() if any("example" in w for w in wheres)]
    assert "validate -c config.toml" in example and "procedures" in example


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("docs")
    with SimPrefecture() as sim, LocalTarget() as phone:
        config = tmp / "config.toml"
        config.write_text(
            render_config(
                [
                    {
                        "name": "Renouvellement",
                        "url": sim.booking_url(RENEWAL),
                        "calendars": ["3.1", "3.2", "3.3", "3.4"],
                    }
                ],
                monitor={"state_dir": str(tmp / "state"), "min_spacing": "1s"},
                notify={"urls": [{"url": phone.url, "tags": ["t"]}]},
            ),
            encoding="utf-8",
        )
        config.chmod(0o600)
        yield {"config": str(config), "url": sim.booking_url(RENEWAL), "notify": phone.url}


def concrete(args: str, world: dict[str, str]) -> list[str]:
    """The shown arguments with their placeholders replaced by local things."""
    words = []
    for word in shlex.split(args):
        if word in ("FILE", "config.toml") or word.endswith("/config.toml"):
            word = world["config"]
        elif word == "URL" or word.startswith("https://"):
            word = world["url"]
        elif word.startswith("tgram://"):
            word = world["notify"]
        elif word == "NAME":
            word = "Renouvellement"
        elif word == "T":
            word = "t"
        words.append(word)
    if words and words[0] == "demo":
        words = [world["notify"] if w == world["url"] else w for w in words]
    if words and (words[0] in FOREVER or (words == [words[0]] and words[0] in NEEDS_CONFIG)):
        words.append("--help")
    return words


@pytest.mark.parametrize(("where", "args"), SHOWN, ids=[f"{w} {a}" for w, a in SHOWN])
def test_every_command_shown_runs(where: str, args: str, world: dict[str, str]) -> None:
    argv = concrete(args, world)
    result = subprocess.run(
        [sys.executable, "-m", "monitor", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, (
        f"{where}: `rdv-monitor {args}` ended with status {result.returncode}:\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr
