"""The ``rdv-monitor`` command line: its parser, logging set-up and entry point (:func:`main`).

Each sub-command is a small function registered with :func:`monitor.cli.base.command`
in the module of its job: :mod:`monitor.cli.watching` (check, run, notify-test),
:mod:`monitor.cli.reports` (status, history, stats) and :mod:`monitor.cli.tools`
(discover, validate, procedures, sim, demo). Errors a user can fix (config,
arguments) print one paragraph and exit with status 2; nothing ever prints a
traceback unless ``RDV_MONITOR_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Collection, Sequence

from monitor import __version__
from monitor.lean import leave_out_unused_modules

# Before any command imports httpx or apprise: see monitor.lean.
leave_out_unused_modules()

# The sub-command modules register their commands when imported; they import their
# libraries inside their handlers, so importing them here costs the daemon nothing.
from monitor.cli import reports, tools, watching  # noqa: E402
from monitor.cli.base import Command, ZonedFormatter, commands_of  # noqa: E402
from monitor.errors import MonitorError, UsageError  # noqa: E402

__all__ = ["build_parser", "command_names", "main"]

# The order of ``rdv-monitor --help``: by job, each module's commands as it defines them.
_MODULES = (watching, reports, tools)


def _commands() -> list[Command]:
    return [entry for module in _MODULES for entry in commands_of(module.__name__)]


def command_names() -> list[str]:
    """The sub-commands, in the order ``--help`` lists them (the docs test runs each shown)."""
    return [entry.name for entry in _commands()]


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
    for entry in _commands():
        p = sub.add_parser(entry.name, help=entry.help, description=entry.help)
        if words is None or entry.name in words:
            entry.arguments(p)
        # Also after the command (`run -c FILE -v`, as people type it); its own dest, or
        # the sub-command's default would overwrite a -v given before the command.
        p.add_argument(
            "-v", "--verbose", action="count", default=0, dest="verbose_after", help=_VERBOSE_HELP
        )
        p.set_defaults(func=entry.handler)
    return parser


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
        handler.setFormatter(ZonedFormatter(fmt))
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
