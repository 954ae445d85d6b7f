"""``rdv-monitor status``, ``history`` and ``stats``: read-only views of the state
database, safe while the daemon runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor.cli.base import colour, command, config_arg, load
from monitor.errors import UsageError

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.report import Since
    from monitor.store import EpisodeRow, Store

__all__ = ["cmd_history", "cmd_stats", "cmd_status"]


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


def _report_args(default_since: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(parser: argparse.ArgumentParser) -> None:
        config_arg(parser)
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


def _since(args: argparse.Namespace, config: Config, now: datetime) -> Since:
    """The ``--since`` option as a period start; a value it cannot read is a usage error."""
    from monitor.report import parse_since

    try:
        return parse_since(args.since, now, config.tz)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@dataclass(frozen=True)
class _Period:
    """What ``history`` and ``stats`` read: the config, the period asked for (with the
    instant it was read at) and the state database, open read-only."""

    config: Config
    since: Since
    now: datetime
    store: Store


def _open_period(args: argparse.Namespace) -> _Period | None:
    """The config, the ``--since`` period and the state database of a report command;
    ``None`` when the monitor never ran (a sentence saying so is printed). The period is
    read before the database is opened, so a bad ``--since`` is a usage error even then."""
    config = load(args.config)
    now = datetime.now(UTC)
    since = _since(args, config, now)
    store = _open_state(config, args.config)
    if store is None:
        return None
    return _Period(config, since, now, store)


@command("status", "what each calendar looks like now, and pending notifications", config_arg)
def cmd_status(args: argparse.Namespace) -> int:
    from monitor.report import status_text

    config = load(args.config)
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
            colour=colour(),
            size=store.retention.size(),
        )
    print(text)
    return 0


def _history_args(parser: argparse.ArgumentParser) -> None:
    _report_args("30d")(parser)
    parser.add_argument(
        "--csv", action="store_true", help="CSV with a header row and ISO times, for spreadsheets"
    )


def _episodes(store: Store, args: argparse.Namespace, since: Since) -> list[EpisodeRow]:
    """The episodes of the period, filtered by ``--watch`` and ``--calendar``."""
    from monitor.report import filter_episodes

    return filter_episodes(store.episodes(since=since.at), watch=args.watch, calendar=args.calendar)


@command("history", "episodes of open slots and of site trouble, newest first", _history_args)
def cmd_history(args: argparse.Namespace) -> int:
    from monitor.report import history_csv, history_text

    period = _open_period(args)
    if period is None:
        return 0
    with period.store as store:
        episodes = _episodes(store, args, period.since)
    tz = period.config.tz
    if args.csv:
        sys.stdout.write(history_csv(episodes, tz))
    else:
        print(history_text(episodes, now=period.now, tz=tz, since=period.since))
    return 0


@command(
    "stats",
    "when slots appear (weekday × hour), how long they last, checks per day",
    _report_args("28d"),
)
def cmd_stats(args: argparse.Namespace) -> int:
    from monitor.report import matches, stats_text

    period = _open_period(args)
    if period is None:
        return 0
    since, tz = period.since, period.config.tz
    with period.store as store:
        episodes = _episodes(store, args, since)
        checks = [
            (o.checked_at, o.status)
            for o in store.observations(since=since.at)
            if matches(o.watch, args.watch) and matches(o.calendar, args.calendar)
        ]
        pruned = store.retention.daily_counts(
            since.at.astimezone(tz).date() if since.at else None,
            keep=lambda w, c: matches(w, args.watch) and matches(c, args.calendar),
        )
    print(
        stats_text(
            episodes,
            checks,
            now=period.now,
            tz=tz,
            since=since,
            colour=colour(),
            pruned=pruned,
        )
    )
    return 0
