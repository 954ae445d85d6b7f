"""What the daemon keeps in memory: only the apprise plugin its config uses, no metrics
library unless metrics are on, no CLI of httpx, no simulator, and everything still works.

The memory figures themselves are measured by ``bench/bench_footprint.py``; these tests
check the facts behind them (which modules a process loaded), in fresh interpreters so
that what other tests imported does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import apprise
import pytest

from monitor.apprise_plugins import declared_schemes, instantiate, plugin_class
from monitor.sites.ezbooking.sim import SimPrefecture
from tests.conftest import CliResult
from tests.receiver import LocalTarget

# What `rdv-monitor run` does before its first check, then one delivery; prints the
# modules it loaded and whether the message was accepted.
_DAEMON_START = """
import json, sys
from monitor.cli import main  # the console script's module: its start-up hooks run
from monitor.config import load_config
from monitor.metrics import metrics_for
from monitor.notify import load_targets, send
from monitor.store import Store

config = load_config(sys.argv[1])
targets = load_targets(config.notify)
with Store.open(config.monitor.state_dir) as store:
    metrics_for(config, store)
import httpx
with httpx.Client() as client:
    status = client.get(sys.argv[2]).status_code
result = send(targets[0], "title", "body")
loaded = sorted(name for name, module in sys.modules.items() if module is not None)
print(json.dumps({"modules": loaded, "sent": result.ok, "status": status}))
"""


def _start(config: Path, url: str) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-c", _DAEMON_START, str(config), url],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


@pytest.fixture
def sim() -> Iterator[SimPrefecture]:
    with SimPrefecture() as prefecture:
        yield prefecture


def test_daemon_start_loads_only_the_plugin_its_config_uses(
    write_config: Callable[..., Path], sim: SimPrefecture, tmp_path: Path
) -> None:
    with LocalTarget() as target:
        config = write_config(
            [{"name": "w", "url": sim.booking_url(29396), "calendars": ["3.2"]}],
            {"state_dir": str(tmp_path / "state")},
            {"urls": [target.url]},
        )
        facts, stderr = _start(config, sim.booking_url(29396))
        assert target.wait_for(1, timeout=10)
    modules = set(facts["modules"])
    plugins = {m for m in modules if m.startswith("apprise.plugins.")}
    assert plugins == {"apprise.plugins.base", "apprise.plugins.custom_json"}
    # Sending still works through requests (without its encoding detector)...
    assert facts["sent"] is True
    assert target.messages[0]["title"] == "title"
    # ...and httpx still fetches (without its command-line client).
    assert facts["status"] == 200
    for absent in ("prometheus_client", "click", "pygments", "charset_normalizer"):
        assert absent not in modules
    assert not any(m.startswith("monitor.sites.ezbooking.sim") for m in modules)
    assert "Warning" not in stderr


def test_metrics_on_loads_prometheus(
    write_config: Callable[..., Path], sim: SimPrefecture, tmp_path: Path
) -> None:
    with LocalTarget() as target:
        config = write_config(
            [{"name": "w", "url": sim.booking_url(29396), "calendars": ["3.2"]}],
            {"state_dir": str(tmp_path / "state"), "metrics": "127.0.0.1:9108"},  # not served here,
            {"urls": [target.url]},
        )
        facts, _ = _start(config, sim.booking_url(29396))
    assert "prometheus_client" in facts["modules"]


def test_every_scheme_found_maps_to_the_class_apprise_itself_uses() -> None:
    """The source scan is only a hint; this holds it to apprise's own manager."""
    from apprise.manager_plugins import NotificationManager

    manager = NotificationManager()
    known = set(manager.schemas())
    found = declared_schemes()
    assert set(found) <= known
    assert len(found) >= len(known) * 0.9  # the rest falls back to apprise's full load
    for scheme in found:
        assert plugin_class(scheme) is manager[scheme], scheme


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8765/alert",
        "tgram://123456789:AAFakeSecretToken/987654321",
        "mailtos://user:pass@example.com?to=me@example.com",
        "ntfys://ntfy.sh/my-private-topic",
        "kodi://user:pass@host.example",  # declared through a variable: apprise's own path
        "discord://id/tok",
    ],
)
def test_plugin_equals_what_apprise_builds(url: str) -> None:
    ours, theirs = instantiate(url), apprise.Apprise.instantiate(url)
    assert ours is not None and theirs is not None
    assert type(ours) is type(theirs)
    assert ours.url() == theirs.url()
    assert ours.url(privacy=True) == theirs.url(privacy=True)


@pytest.mark.parametrize("url", ["json://", "tgram://not-a-token", "nosuch://x/y"])
def test_urls_apprise_refuses_are_refused(url: str) -> None:
    assert apprise.Apprise.instantiate(url) is None
    assert instantiate(url) is None


def test_the_simulator_command_still_has_its_options(cli: Callable[..., CliResult]) -> None:
    result = cli("sim", "--help")
    assert result.code == 0
    assert "--available" in result.out


# The daemon itself, run until its first check is recorded, then stopped; prints whether
# APScheduler was loaded and the daily heartbeat job it holds, if any.
_DAEMON_RUN = """
import asyncio, json, sys
from monitor.config import load_config
from monitor.daemon import Daemon

config = load_config(sys.argv[1])
daemon = Daemon(sys.argv[1], config)
job = None

async def go():
    global job
    running = asyncio.create_task(daemon.run())
    while not daemon.store.observations():
        await asyncio.sleep(0.05)
    if "apscheduler" in sys.modules:
        found = daemon.scheduler.get_job("heartbeat")
        job = found and [found.name, str(found.trigger)]
    daemon.stop()
    return await running

status = asyncio.run(asyncio.wait_for(go(), 60))
print(json.dumps({"apscheduler": "apscheduler" in sys.modules, "job": job, "status": status}))
"""


@pytest.mark.parametrize(
    ("events", "job"),
    [
        (["slot_opened"], None),
        (["slot_opened", "heartbeat"], ["daily heartbeat", "cron[hour='7', minute='30']"]),
    ],
)
def test_apscheduler_is_loaded_only_for_the_heartbeat(
    write_config: Callable[..., Path],
    sim: SimPrefecture,
    tmp_path: Path,
    events: list[str],
    job: list[str] | None,
) -> None:
    config = write_config(
        [{"name": "w", "url": sim.booking_url(29396), "calendars": ["3.2"]}],
        {"state_dir": str(tmp_path / "state"), "interval": "1h"},
        {"urls": ["json://127.0.0.1:9/"], "events": events, "heartbeat": "07:30"},
    )
    done = subprocess.run(
        [sys.executable, "-c", _DAEMON_RUN, str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts == {"apscheduler": job is not None, "job": job, "status": 0}


# Frees 40 MiB of small C-heap blocks under a block still in use (so that glibc cannot
# shrink the heap's top by itself), then gives the free pages back; prints RSS in MiB.
_TRIM = """
import json
from monitor.lean import give_back_free_memory

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

blocks = [bytes(4000) + bytes([i % 256]) for i in range(10_000)]
keep = bytes(4000) + b"top"
del blocks
before = rss()
done = give_back_free_memory()
print(json.dumps({"done": done, "before": before, "after": rss()}))
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc")
def test_free_memory_goes_back_to_the_system() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _TRIM], capture_output=True, text=True, check=True, timeout=60
    )
    facts = json.loads(done.stdout)
    assert facts["done"] is True  # glibc here
    assert facts["before"] - facts["after"] > 20
