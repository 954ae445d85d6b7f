"""``rdv-monitor discover``, ``validate``, ``procedures``, ``sim`` and ``demo``: the
commands that help write a config or try the monitor out."""

from __future__ import annotations

import argparse
import asyncio
import sys

from monitor.cli.base import command, config_arg, load, print_warning
from monitor.lang import LANGUAGES

__all__ = ["cmd_demo", "cmd_discover", "cmd_procedures", "cmd_sim", "cmd_validate"]


# ── discover ────────────────────────────────────────────────────────────────


def _discover_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the booking's first page, e.g. https://…/booking/create/29396")


@command("discover", "list the calendars a booking offers, to write a config", _discover_args)
def cmd_discover(args: argparse.Namespace) -> int:
    from monitor.discover import booking_url, discover_text
    from monitor.http import Fetcher, HostGate
    from monitor.sites.base import CalendarInfo
    from monitor.sites.registry import adapter_for

    url = booking_url(args.url)
    adapter_cls = adapter_for(url)

    async def discover() -> list[CalendarInfo]:
        async with Fetcher(gate=HostGate()) as fetcher:
            return await adapter_cls(url, fetcher).discover()

    print(discover_text(url, asyncio.run(discover()), adapter_cls.naming))
    return 0


# ── validate / procedures ───────────────────────────────────────────────────


def _validate_args(parser: argparse.ArgumentParser) -> None:
    config_arg(parser)
    parser.add_argument(
        "--online",
        action="store_true",
        help="also ask each booking (once, politely) whether it offers the calendars named",
    )


@command("validate", "check a configuration file and summarise it", _validate_args)
def cmd_validate(args: argparse.Namespace) -> int:
    from monitor.report import describe_config

    # describe_config lists the warnings itself: printing them here too said each twice.
    config = load(args.config, warn=lambda _: None)
    print(describe_config(config))
    if args.online:
        from monitor.online import offered_problems

        mistakes, notes = asyncio.run(offered_problems(config))
        for note in notes:
            print_warning(note)
        if mistakes:
            listing = "\n".join(f"  - {m}" for m in mistakes)
            head = f"{args.config}: calendars the bookings do not offer"
            print(f"\n{head}:\n{listing}", file=sys.stderr)
            return 2
    print(f"\n{args.config}: OK" + (" (calendars checked online)" if args.online else ""))
    return 0


def _procedures_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=LANGUAGES, default="en", help="language of titles")


@command("procedures", "list the procedures of the built-in catalogue", _procedures_args)
def cmd_procedures(args: argparse.Namespace) -> int:
    from monitor.catalogue import format_catalogue, load_catalogue

    print(format_catalogue(load_catalogue(), language=args.lang))
    return 0


# ── sim ─────────────────────────────────────────────────────────────────────


def _sim_args(parser: argparse.ArgumentParser) -> None:
    from monitor.sites.ezbooking.sim.cli import add_arguments

    add_arguments(parser)


@command("sim", "run the simulated prefecture on 127.0.0.1 (for trying things out)", _sim_args)
def cmd_sim(args: argparse.Namespace) -> int:
    from monitor.sites.ezbooking.sim.cli import run

    return run(args)


# ── demo ────────────────────────────────────────────────────────────────────


def _demo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="URL",
        help="also send the demo's notifications to this apprise URL (repeatable)",
    )


@command(
    "demo",
    "see rdv-monitor at work against a simulated prefecture (offline, about 10 s)",
    _demo_args,
)
def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    return run_demo(args.notify)
