"""``rdv-monitor demo``: see rdv-monitor at work, offline, in about ten seconds.

It starts the simulated prefecture and a local notification inbox on
127.0.0.1, then the real daemon with a demo config watching calendars
3.1–3.4. It narrates what happens while the simulator opens a slot on 3.2 and
gives it away again, and shows the notification as it arrives. With
``--notify URL`` the same notifications also go to your own apprise targets.
Nothing here talks to a real prefecture.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from monitor.config import Config, load_config
from monitor.config.tables import Invalid
from monitor.config.values import check_apprise_url
from monitor.daemon import Daemon
from monitor.errors import ConfigError, UsageError
from monitor.secrets import mask_url
from monitor.sites.ezbooking.sim import PARIS, SimPrefecture
from monitor.store import Store

__all__ = ["Inbox", "check_notify_urls", "run_demo"]

BOOKING = 29396
CALENDARS = ("3.1", "3.2", "3.3", "3.4")
DEADLINE = 50.0
"""Seconds after which the demo gives up waiting, so it always ends by itself."""


class Inbox:
    """A local apprise ``json://`` target that keeps what it receives (the demo's phone)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []
        self.arrival_times: list[float] = []
        """``time.perf_counter()`` at each message's arrival (for bench/bench_notify.py)."""
        self.arrived = threading.Condition()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    message = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    message = {}
                with inbox.arrived:
                    inbox.arrival_times.append(time.perf_counter())
                    inbox.messages.append(message)
                    inbox.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self._server.server_address[1]}/demo-phone"

    def __enter__(self) -> Inbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def demo_config(url: str, state_dir: Path, notify_urls: Sequence[str]) -> str:
    cals = ", ".join(f'"{c}"' for c in CALENDARS)
    urls = ", ".join(json.dumps(u) for u in notify_urls)
    return (
        f'[monitor]\ninterval = "2s"\njitter = "0s"\nstate_dir = {json.dumps(str(state_dir))}\n\n'
        f'[notify]\nurls = [{urls}]\nlanguage = "fr"\n'
        'events = ["slot_opened", "slot_gone", "trouble", "recovered", "layout_changed"]\n\n'
        f'[[watch]]\nname = "Renouvellement titre de séjour (démo)"\nurl = "{url}"\n'
        f"calendars = [{cals}]\n"
    )


def check_notify_urls(notify: Sequence[str]) -> None:
    """Refuse a ``--notify`` URL apprise cannot use, naming it (masked) as the user typed it.

    Checked before the demo's config file is written: an error about that temporary
    file and its "item 2" would point the user at a file they never wrote.
    """
    for url in notify:
        try:
            check_apprise_url(url)
        except Invalid as exc:
            raise UsageError(f"--notify: {exc.message}") from None


def _as_notify_error(message: str, path: Path, notify: Sequence[str]) -> str:
    """A config error about the demo's own file, reworded to name the ``--notify`` URL."""
    text = message.replace(f"{path}: ", "")

    def option(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 2  # item 1 is the demo's own inbox
        if 0 <= index < len(notify):
            return f"--notify {mask_url(notify[index])}"
        return "--notify"

    return _URLS_ITEM.sub(option, text)


_URLS_ITEM = re.compile(r"\[notify\] urls, item (\d+)")


def _boxed(title: str, body: str) -> str:
    lines = [title, "─" * min(60, max(len(title), 10)), *body.splitlines()]
    width = max(len(line) for line in lines)
    top = "   ┌" + "─" * (width + 2) + "┐"
    bottom = "   └" + "─" * (width + 2) + "┘"
    return "\n".join([top, *[f"   │ {line.ljust(width)} │" for line in lines], bottom])


def run_demo(notify: Sequence[str] = (), say: Callable[[str], None] = print) -> int:
    """Run the narrated demo; returns the exit status."""
    check_notify_urls(notify)
    with SimPrefecture() as sim, Inbox() as inbox, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.toml"
        state_dir = Path(tmp) / "state"
        urls = [inbox.url, *notify]
        path.write_text(demo_config(sim.booking_url(BOOKING), state_dir, urls), encoding="utf-8")
        path.chmod(0o600)
        try:
            config = load_config(path)
        except ConfigError as exc:
            raise UsageError(_as_notify_error(str(exc), path, notify)) from None
        say(f"A simulated prefecture runs at {sim.base_url}; nothing leaves this machine.")
        if notify:
            say(f"Notifications also go to {len(notify)} target(s) of yours (--notify).")
        return asyncio.run(_story(sim, inbox, path, config, state_dir, say))


async def _story(
    sim: SimPrefecture,
    inbox: Inbox,
    path: Path,
    config: Config,
    state_dir: Path,
    say: Callable[[str], None],
) -> int:
    daemon = Daemon(path, config)
    running = asyncio.create_task(daemon.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE

    async def until(predicate: Callable[[], object], what: str) -> None:
        while not predicate():
            if running.done() or loop.time() > deadline:
                raise TimeoutError(what)
            await asyncio.sleep(0.2)

    def statuses() -> dict[str, str]:
        with Store.open_readonly(state_dir) as store:
            return {r.calendar: r.status.value for r in store.calendar_states() if r.status}

    def events(kind: str) -> int:
        with Store.open_readonly(state_dir) as store:
            return sum(1 for e in store.events_after(0, limit=1000) if e.kind == kind)

    try:
        say(
            f"\nThe monitor (rdv-monitor run) watches calendars {', '.join(CALENDARS)}, "
            "primary first, every 2 s for the demo (5 min by default)."
        )
        await until(lambda: len(statuses()) == len(CALENDARS), "the first round of checks")
        say("   " + ", ".join(f"{cal}: {status}" for cal, status in statuses().items()))
        say("   Every calendar is full, as on most days. The monitor stays quiet.")
        await asyncio.sleep(2)

        first = (datetime.now(PARIS) + timedelta(days=12)).replace(
            hour=9, minute=30, second=0, microsecond=0
        )
        sim.set_state(
            BOOKING,
            "3.2",
            "available",
            slots=[first, first + timedelta(minutes=30), first + timedelta(days=1)],
        )
        say(
            "\nSomeone cancels: the prefecture frees 3 slots on calendar 3.2 (a supplementary one)."
        )
        await until(lambda: inbox.messages, "the notification")
        message = inbox.messages[0]
        say("The monitor saw it at its next check, and your phone gets:\n")
        say(_boxed(str(message.get("title", "")), str(message.get("message", ""))))

        await asyncio.sleep(2)
        sim.set_state(BOOKING, "3.2", "full")
        say("\nA few minutes later somebody books them: calendar 3.2 is full again.")
        await until(lambda: events("slot_gone"), "the slot to be seen gone")
        await until(lambda: len(inbox.messages) >= 2, "the 'slot gone' message")
        say(
            f"   « {inbox.messages[1].get('title')} » (that message is opt-in: "
            'events = ["slot_gone", …])'
        )
        say(
            f"\n{sim.requests} requests to the prefecture in all; none booked anything "
            f"(slot links followed: {sim.booking_attempts})."
        )
        say(
            "Now write your own config from config.example.toml, then "
            "`rdv-monitor validate -c FILE` and `rdv-monitor run -c FILE`."
        )
        return 0
    except TimeoutError as exc:
        say(f"\nThe demo did not see {exc} in time; this is a bug, please report it.")
        return 1
    finally:
        daemon.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, timeout=10)
