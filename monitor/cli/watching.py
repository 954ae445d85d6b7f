"""``rdv-monitor check``, ``run`` and ``notify-test``: the commands that ask the sites and
send messages. Their libraries (httpx, apprise, the scheduler) are imported inside each
handler: ``--help`` and the report commands never load them."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.cli.base import colour, command, config_arg, load
from monitor.errors import UsageError

if TYPE_CHECKING:
    from monitor.config import CalendarRef, Config, Watch

__all__ = ["cmd_check", "cmd_notify_test", "cmd_run"]


# ── check ───────────────────────────────────────────────────────────────────


def _check_args(parser: argparse.ArgumentParser) -> None:
    config_arg(parser)
    parser.add_argument(
        "--watch",
        action="append",
        metavar="NAME",
        help="check only this watch (repeatable); default: every enabled watch",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per calendar per line"
    )


@command("check", "check every calendar once and print what was seen", _check_args)
def cmd_check(args: argparse.Namespace) -> int:
    from monitor.check import check_stream
    from monitor.config import resolve_state_dir
    from monitor.http import HostGate
    from monitor.render import Progress, TableLayout, json_line, table_header, table_row
    from monitor.secrets import mask_url
    from monitor.site_memory import memory_for_check

    config = load(args.config)
    watches = [w for w in config.watches if w.enabled]
    if args.watch:
        by_name = {w.name: w for w in config.watches}
        unknown = [n for n in args.watch if n not in by_name]
        if unknown:
            names = ", ".join(repr(n) for n in by_name)
            raise UsageError(
                f"{args.config}: no watch named {unknown[0]!r}; the watches are: {names}."
            )
        watches = [by_name[n] for n in args.watch]
    tz = config.tz
    # The progress line and log lines share stderr: with -v the log tells the same, in full.
    progress = Progress(sys.stderr) if sys.stderr.isatty() and not args.verbose else None
    gate = HostGate(config.monitor.min_spacing, on_wait=progress.waiting if progress else None)
    layout = TableLayout.of(
        (w.name for w in watches), (c.display for w in watches for c in w.calendars)
    )
    use_colour = colour()

    def asking(watch: Watch, calendar: CalendarRef | None) -> None:
        if progress is not None:
            progress.asking(watch.name, calendar.display if calendar else None)

    for proxy in sorted({p for w in watches if (p := config.proxy_for(w))}):
        print(f"through proxy {mask_url(proxy)}", file=sys.stderr)

    async def run() -> None:
        if not args.json:
            print(table_header(layout), flush=True)
        with memory_for_check(resolve_state_dir(config)) as memory:
            stream = check_stream(config, watches, gate=gate, asking=asking, memory=memory)
            async for obs in stream:
                if progress is not None:
                    progress.clear()
                if args.json:
                    line = json_line(obs, tz)
                else:
                    line = table_row(obs, tz, layout, colour=use_colour)
                print(line, flush=True)

    asyncio.run(run())
    return 0


# ── run ─────────────────────────────────────────────────────────────────────


@command("run", "watch the calendars until stopped (the daemon that systemd runs)", config_arg)
def cmd_run(args: argparse.Namespace) -> int:
    from monitor.config import resolve_state_dir
    from monitor.daemon import Daemon
    from monitor.lock import StateLock

    # systemd may stop us while we start (a timeout, a quick restart): until the daemon
    # installs its own handlers, a SIGTERM is remembered instead of killing us mid-way.
    early_stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: early_stop.set())

    # A daemon's log is its output: transitions at INFO by default, checks with -v.
    logging.getLogger("monitor").setLevel(logging.DEBUG if args.verbose else logging.INFO)

    def reload(path: str) -> Config:
        # The same checks at start and on SIGHUP: what `run` refuses, a reload refuses.
        return load(path, warn=logging.getLogger("monitor").warning)

    config = reload(args.config)

    async def run() -> int:
        daemon = Daemon(args.config, config, loader=reload, stop_requested=early_stop)
        return await daemon.run()

    # Before the daemon opens the store: a second `run` must not touch the state at all.
    with StateLock(resolve_state_dir(config)):
        return asyncio.run(run())


# ── notify-test ─────────────────────────────────────────────────────────────


def _notify_test_args(parser: argparse.ArgumentParser) -> None:
    config_arg(parser)
    parser.add_argument(
        "--tag",
        action="append",
        metavar="TAG",
        help="only the targets with this tag (repeatable); default: every target",
    )


@command("notify-test", "send a test message to every notification target", _notify_test_args)
def cmd_notify_test(args: argparse.Namespace) -> int:

    from monitor.notify import load_targets, send_all, targets_for, test_message

    config = load(args.config)
    targets = load_targets(config.notify)
    if not targets:
        raise UsageError(
            f'{args.config}: no notification target: add urls = ["…"] (or config = "…") '
            "to [notify]."
        )
    if args.tag:
        known = sorted({tag for target in targets for tag in target.tags})
        unknown = [t for t in args.tag if t.lower() not in known]
        if unknown:
            tags = ", ".join(known) if known else "none (no target has tags)"
            raise UsageError(f"{args.config}: no target has the tag {unknown[0]!r}; tags: {tags}.")
        targets = targets_for(targets, args.tag)
    message = test_message(
        config.notify.language,
        now=datetime.now(config.tz),
        tz=config.tz,
        templates=config.notify.templates,
    )
    failed = 0
    for target, result in send_all(targets, message.title, message.body):
        if result.ok:
            print(f"✓ sent   {target.masked}", flush=True)
        else:
            failed += 1
            print(f"✗ failed {target.masked} — {result.reason}", flush=True)
    return 1 if failed else 0
