"""What every ``rdv-monitor`` sub-command shares: the registry that :func:`command` fills
(read by :func:`monitor.cli.build_parser`), loading the config with its checks and
redaction, and the log formatter whose zone the config sets.

Each sub-command module (:mod:`monitor.cli.watching`, :mod:`monitor.cli.reports`,
:mod:`monitor.cli.tools`) registers its commands here when imported; nothing here
imports a heavy library at module level, so the daemon carries only what ``run`` needs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from monitor.errors import UsageError

if TYPE_CHECKING:
    from monitor.config import Config

__all__ = [
    "Command",
    "Handler",
    "ZonedFormatter",
    "colour",
    "command",
    "commands_of",
    "config_arg",
    "load",
    "print_warning",
]

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """One ``rdv-monitor NAME``: its help line, what adds its options, what runs it."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Handler


_COMMANDS: list[Command] = []


def command(
    name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
) -> Callable[[Handler], Handler]:
    """Register ``rdv-monitor NAME``: ``arguments`` adds its options, the function runs it."""

    def register(func: Handler) -> Handler:
        _COMMANDS.append(Command(name, help, arguments, func))
        return func

    return register


def commands_of(module: str) -> list[Command]:
    """The commands registered by ``module`` (its ``__name__``), in definition order."""
    return [entry for entry in _COMMANDS if entry.handler.__module__ == module]


def config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        required=True,
        metavar="FILE",
        help="the configuration file (see config.example.toml)",
    )


def print_warning(text: str) -> None:
    print(f"rdv-monitor: warning: {text}", file=sys.stderr)


def load(path: str, warn: Callable[[str], None] = print_warning) -> Config:
    from monitor.config import load_config
    from monitor.sites.registry import adapter_for

    config = load_config(path)
    _install_redaction(config)
    ZonedFormatter.tz = config.tz
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


def colour() -> bool:
    """ANSI colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


class ZonedFormatter(logging.Formatter):
    """Log times in the config's ``timezone``, ISO 8601 with its offset
    (``2026-12-07T08:00:14.250+01:00``): the zone people read every other time in."""

    tz: tzinfo | None = None
    """Set once the config is loaded (:func:`load`); the machine's zone until then."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        when = datetime.fromtimestamp(record.created, ZonedFormatter.tz).astimezone(
            ZonedFormatter.tz
        )
        return when.isoformat(timespec="milliseconds")
