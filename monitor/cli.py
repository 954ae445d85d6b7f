"""The ``rdv-monitor`` command line.

Each sub-command is a small function registered with :func:`command`. Errors
a user can fix (config, arguments) print one paragraph and exit with status
2; nothing ever prints a traceback unless ``RDV_MONITOR_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from monitor import __version__
from monitor.errors import MonitorError, UsageError
from monitor.lang import LANGUAGES
from monitor.lean import leave_out_unused_modules

if TYPE_CHECKING:
    from monitor.config import CalendarRef, Config, Watch
    from monitor.report import Since
    from monitor.store import Store

__all__ = ["build_parser", "command_names", "main"]


# Before any command imports httpx or apprise: see monitor.lean.
leave_out_unused_modules()

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = []


def command(
    name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
) -> Callable[[Handler], Handler]:
    """Register ``rdv-monitor NAME``: ``arguments`` adds its options, the function runs it."""

    def register(func: Handler) -> Handler:
        _COMMANDS.append((name, help, arguments, func))
        return func

    return register


def command_names() -> list[str]:
    """The sub-commands, in the order ``--help`` lists them (the docs test runs each shown)."""
    return [name for name, *_ in _COMMANDS]


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        required=True,
        metavar="FILE",
        help="the configuration file (see config.example.toml)",
    )


def _print_warning(text: str) -> None:
    print(f"rdv-monitor: warning: {text}", file=sys.stderr)


def _load(path: str, warn: Callable[[str], None] = _print_warning) -> Config:
    from monitor.config import load_config
    from monitor.sites.registry import adapter_for

    config = load_config(path)
    _install_redaction(config)
    _ZonedFormatter.tz = config.tz
    for warning in config.warnings:
        warn(warning)
    for watch in config.watches:
        try:
            adapter_for(watch.url)
        except UsageError as exc:
            raise UsageError(f"{path}: [[watch]] {watch.name!r} url: {exc}") from None
    return config


def _install_redaction(config: Config) -> None:
    """Hide every notification secret of ``config`` from the log from now on (tokens in
    apprise URLs; third-party libraries may log them)."""
    from monitor.notify import load_targets
    from monitor.secrets import Redactor, install

    targets = load_targets(config.notify)
    secrets = [secret for target in targets for secret in target.secrets()]
    install(Redactor([*secrets, *config.proxy_secrets]))


# ── check ───────────────────────────────────────────────────────────────────


def _check_args(parser: argparse.ArgumentParser) -> None:
    _config_arg(parser)
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
    from monitor.http import HostGate
    from monitor.render import Progress, TableLayout, json_line, table_header, table_row
    from monitor.secrets import mask_url

    config = _load(args.config)
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
    colour = _colour()

    def asking(watch: Watch, calendar: CalendarRef | None) -> None:
        if progress is not None:
            progress.asking(watch.name, calendar.display if calendar else None)

    for proxy in sorted({p for w in watches if (p := config.proxy_for(w))}):
        print(f"through proxy {mask_url(proxy)}", file=sys.stderr)

    async def run() -> None:
        if not args.json:
            print(table_header(layout), flush=True)
        async for obs in check_stream(config, watches, gate=gate, asking=asking):
            if progress is not None:
                progress.clear()
            line = json_line(obs, tz) if args.json else table_row(obs, tz, layout, colour=colour)
            print(line, flush=True)

    asyncio.run(run())
    return 0


# ── run ─────────────────────────────────────────────────────────────────────


@command("run", "watch the calendars until stopped (the daemon that systemd runs)", _config_arg)
def cmd_run(args: argparse.Namespace) -> int:
    from monitor.config import resolve_state_dir
    from monitor.daemon import Daemon
    from monitor.lock import StateLock

    # A daemon's log is its output: transitions at INFO by default, checks with -v.
    logging.getLogger("monitor").setLevel(logging.DEBUG if args.verbose else logging.INFO)

    def load(path: str) -> Config:
        # The same checks at start and on SIGHUP: what `run` refuses, a reload refuses.
        return _load(path, warn=logging.getLogger("monitor").warning)

    config = load(args.config)

    async def run() -> int:
        return await Daemon(args.config, config, loader=load).run()

    # Before the daemon opens the store: a second `run` must not touch the state at all.
    with StateLock(resolve_state_dir(config)):
        return asyncio.run(run())


# ── notify-test ─────────────────────────────────────────────────────────────


def _notify_test_args(parser: argparse.ArgumentParser) -> None:
    _config_arg(parser)
    parser.add_argument(
        "--tag",
        action="append",
        metavar="TAG",
        help="only the targets with this tag (repeatable); default: every target",
    )


@command("notify-test", "send a test message to every notification target", _notify_test_args)
def cmd_notify_test(args: argparse.Namespace) -> int:

    from monitor.notify import load_targets, send_all, targets_for, test_message

    config = _load(args.config)
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


# ── status / history / stats: read-only views of the state database ────────


def _open_state(config: Config, path: str) -> Store | None:
    """The state database, read-only: never a write lock, so these commands work while the
    daemon runs. ``None``, after printing a sentence saying so, when the monitor never ran."""
    from monitor.config import resolve_state_dir
    from monitor.report import no_state_sentence
    from monitor.store import DB_NAME, Store

    state_dir = resolve_state_dir(config)
    if not state_dir.exists() or (state_dir.is_dir() and not (state_dir / DB_NAME).exists()):
        print(no_state_sentence(state_dir, path))
        return None
    return Store.open_readonly(state_dir)  # anything else unusable: StateError, exit 2


def _colour() -> bool:
    """ANSI colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _report_args(default_since: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(parser: argparse.ArgumentParser) -> None:
        _config_arg(parser)
        parser.add_argument(
            "--since",
            default=default_since,
            metavar="WHEN",
            help='start of the period: "7d", "12h", a date "2026-11-01" or "all" '
            f"(default {default_since})",
        )
        parser.add_argument("--watch", metavar="NAME", help="only this watch")
        parser.add_argument("--calendar", metavar="CAL", help='only this calendar, e.g. "3.2"')

    return add


def _since(args: argparse.Namespace, config: Config) -> Since:
    """The ``--since`` option as a period start; a value it cannot read is a usage error."""
    from datetime import UTC

    from monitor.report import parse_since

    try:
        return parse_since(args.since, datetime.now(UTC), config.tz)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@command("status", "what each calendar looks like now, and pending notifications", _config_arg)
def cmd_status(args: argparse.Namespace) -> int:
    from datetime import UTC

    from monitor.report import status_text

    config = _load(args.config)
    store = _open_state(config, args.config)
    if store is None:
        return 0
    with store:
        unsent = [d for d in store.deliveries() if d.state != "sent"]
        events = {d.event_id: store.event(d.event_id) for d in unsent}
        text = status_text(
            config,
            store.calendar_states(),
            unsent,
            {i: e for i, e in events.items() if e is not None},
            counts=store.delivery_counts(),
            now=datetime.now(UTC),
            state_dir=store.state_dir,
            colour=_colour(),
            size=store.retention.size(),
        )
    print(text)
    return 0


def _history_args(parser: argparse.ArgumentParser) -> None:
    _report_args("30d")(parser)
    parser.add_argument(
        "--csv", action="store_true", help="CSV with a header row and ISO times, for spreadsheets"
    )


@command("history", "episodes of open slots and of site trouble, newest first", _history_args)
def cmd_history(args: argparse.Namespace) -> int:
    from datetime import UTC

    from monitor.report import filter_episodes, history_csv, history_text

    config = _load(args.config)
    since = _since(args, config)
    store = _open_state(config, args.config)
    if store is None:
        return 0
    with store:
        episodes = filter_episodes(
            store.episodes(since=since.at), watch=args.watch, calendar=args.calendar
        )
    if args.csv:
        sys.stdout.write(history_csv(episodes, config.tz))
    else:
        print(history_text(episodes, now=datetime.now(UTC), tz=config.tz, since=since))
    return 0


@command(
    "stats",
    "when slots appear (weekday × hour), how long they last, checks per day",
    _report_args("28d"),
)
def cmd_stats(args: argparse.Namespace) -> int:
    from datetime import UTC

    from monitor.report import filter_episodes, matches, stats_text

    config = _load(args.config)
    since = _since(args, config)
    store = _open_state(config, args.config)
    if store is None:
        return 0
    with store:
        episodes = filter_episodes(
            store.episodes(since=since.at), watch=args.watch, calendar=args.calendar
        )
        checks = [
            (o.checked_at, o.status)
            for o in store.observations(since=since.at)
            if matches(o.watch, args.watch) and matches(o.calendar, args.calendar)
        ]
        pruned = store.retention.daily_counts(
            since.at.astimezone(config.tz).date() if since.at else None,
            keep=lambda w, c: matches(w, args.watch) and matches(c, args.calendar),
        )
    print(
        stats_text(
            episodes,
            checks,
            now=datetime.now(UTC),
            tz=config.tz,
            since=since,
            colour=_colour(),
            pruned=pruned,
        )
    )
    return 0


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
    _config_arg(parser)
    parser.add_argument(
        "--online",
        action="store_true",
        help="also ask each booking (once, politely) whether it offers the calendars named",
    )


@command("validate", "check a configuration file and summarise it", _validate_args)
def cmd_validate(args: argparse.Namespace) -> int:
    from monitor.report import describe_config

    # describe_config lists the warnings itself: printing them here too said each twice.
    config = _load(args.config, warn=lambda _: None)
    print(describe_config(config))
    if args.online:
        from monitor.online import offered_problems

        mistakes, notes = asyncio.run(offered_problems(config))
        for note in notes:
            _print_warning(note)
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
    "demo", "see rdv-monitor at work against a simulated prefecture (offline, about 10 s)", _demo_args
)
def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    return run_demo(args.notify)


# ── entry point ─────────────────────────────────────────────────────────────


_VERBOSE_HELP = "more log output: -v our debug lines, -vv also the libraries' (secrets masked)"


def build_parser(words: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser. With ``words`` (the command line), a sub-command's own
    options are added only if its name is among them: adding them may import its module
    (the simulator's is a web server) and the daemon must not carry what it never runs.
    ``rdv-monitor --help`` needs only the sub-commands' names and help lines."""
    parser = argparse.ArgumentParser(
        prog="rdv-monitor",
        description="Watch French prefecture appointment calendars and get told when a slot "
        "opens. It never books: you do.",
    )
    parser.add_argument("--version", action="version", version=f"rdv-monitor {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=_VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text, arguments, func in _COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if words is None or name in words:
            arguments(p)
        # Also after the command (`run -c FILE -v`, as people type it); its own dest, or
        # the sub-command's default would overwrite a -v given before the command.
        p.add_argument(
            "-v", "--verbose", action="count", default=0, dest="verbose_after", help=_VERBOSE_HELP
        )
        p.set_defaults(func=func)
    return parser


class _ZonedFormatter(logging.Formatter):
    """Log times in the config's ``timezone``, ISO 8601 with its offset
    (``2026-12-07T08:00:14.250+01:00``): the zone people read every other time in."""

    tz: tzinfo | None = None
    """Set once the config is loaded (:func:`_load`); the machine's zone until then."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        when = datetime.fromtimestamp(record.created, _ZonedFormatter.tz).astimezone(
            _ZonedFormatter.tz
        )
        return when.isoformat(timespec="milliseconds")


_LIBRARIES = ("apprise", "urllib3", "httpx", "httpcore", "apscheduler", "asyncio")


def _setup_logging(verbosity: int) -> None:
    """Warnings only by default; -v: our own debug lines; -vv: the libraries' too.

    Libraries stay at WARNING below -vv: httpx and httpcore log every request,
    APScheduler every job, and apprise logs request URLs (with tokens) at
    DEBUG and INFO, as does urllib3 (under apprise's requests). At -vv those
    tokens are still masked: the redaction installed with the config covers
    every log record (:mod:`monitor.redact`).
    """
    # Under systemd (JOURNAL_STREAM set) the journal timestamps every line itself.
    journal = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(message)s" if journal else "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.WARNING, format=fmt, stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_ZonedFormatter(fmt))
    logging.getLogger().setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    logging.getLogger("monitor").setLevel(logging.DEBUG if verbosity >= 1 else logging.NOTSET)
    for library in _LIBRARIES:
        quiet = verbosity < 2 or library == "asyncio"  # asyncio's debug is about itself
        logging.getLogger(library).setLevel(logging.WARNING if quiet else logging.NOTSET)


def _quiet_broken_pipe() -> int:
    """Exit as ``cat`` does when the reader of its output has gone (``| head``, ``| true``).

    Further output goes nowhere: without this, Python's final flush of stdout
    would hit the closed pipe again and print an error. 141 is what a shell
    reports for a program ended by SIGPIPE.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _main(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(words).parse_args(words)
    args.verbose += args.verbose_after
    _setup_logging(args.verbose)
    from monitor.secrets import active

    try:
        return int(args.func(args))
    except BrokenPipeError:
        raise
    except UsageError as exc:
        print(active()(f"rdv-monitor: {exc}"), file=sys.stderr)
        return 2
    except MonitorError as exc:
        print(active()(f"rdv-monitor: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("RDV_MONITOR_DEBUG"):
            raise
        print(
            active()(
                f"rdv-monitor: unexpected error ({type(exc).__name__}: {exc}). This is a bug "
                "in rdv-monitor; run again with RDV_MONITOR_DEBUG=1 to see where, and report it."
            ),
            file=sys.stderr,
        )
        return 1
