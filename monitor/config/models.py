"""The validated configuration: frozen dataclasses, one per table of the file.

Each model is a :func:`~monitor.config.tables.table`: its fields are the keys a
user may write, each with the parser of :mod:`monitor.config.values` that reads
it and its default; unknown keys are refused (a typo is never silently ignored).
Rules that need several tables at once are in :mod:`monitor.config.checks`. How a
calendar may be named is the booking plugin's rule, asked through
:func:`monitor.sites.registry.naming_for`.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any

from monitor import USER_AGENT
from monitor.config.tables import (
    Invalid,
    Mismatch,
    Table,
    dict_of,
    key,
    model,
    optional,
    table,
    tuple_of,
)
from monitor.config.values import (
    DEFAULT_EVENTS,
    WEEKDAY_WORDS,
    WEEKDAYS,
    AppriseUrl,
    ConfigPath,
    Event,
    Interval,
    Jitter,
    Keep,
    ListenAddress,
    ListenOn,
    PageSize,
    ProxyUrl,
    Spacing,
    SurgeInterval,
    Tags,
    Text,
    TimeOfDay,
    Timeout,
    TimeZoneName,
    TroubleAfter,
    UserAgent,
    WebUrl,
    Weekdays,
    check_text,
    choice,
    parse_time,
    parse_weekday,
    url_host,
)
from monitor.config.words import EXAMPLES, kind_of, quoted, suggest
from monitor.durations import format_duration
from monitor.events import KINDS
from monitor.http import is_loopback_host
from monitor.lang import DEFAULT_LANGUAGE, LANGUAGES
from monitor.secrets import mask_url, secrets_of
from monitor.sites.registry import naming_for
from monitor.text import normalize_space

__all__ = [
    "DEFAULT_SURGE",
    "CalendarRef",
    "Config",
    "MonitorSettings",
    "NotifySettings",
    "NotifyTarget",
    "Release",
    "SurgeWindow",
    "Template",
    "Watch",
    "WatchIn",
    "name_key",
]


def _label(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f'expected a calendar name such as "3.1", got {kind_of(value)}.')
    if not value.split():
        raise Invalid('a calendar name is empty; write e.g. "3.1".')
    try:
        return naming_for().parse_label(value)
    except ValueError as exc:
        raise Invalid(f"{quoted(value)} is not a calendar name; {exc}") from None


def _planning(value: object) -> int:
    try:
        return naming_for().parse_planning(value)
    except ValueError as exc:
        raise Invalid(f"{quoted(value)} is not a planning id; {exc}.") from None


@table
class CalendarRef(Table):
    """One calendar of a booking: by the label the site prints ("3.1"), or by planning id.

    In the config a calendar is either a label token, ``"3.1"``, or a table
    ``{ planning = 24980 }`` (the ``value`` of its radio button), optionally
    with a display ``name``. Exactly one of ``label`` and ``planning`` is set.
    """

    label: str | None = key(optional(_label), default=None)
    planning: int | None = key(optional(_planning), default=None)
    name: str | None = key(optional(check_text), default=None)

    @classmethod
    def _before(cls, value: object) -> object:
        if isinstance(value, CalendarRef):
            return value
        if isinstance(value, str):
            return {"label": value}
        if isinstance(value, bool | float):
            raise Invalid(
                f"{quoted(value)}: write calendar names in double quotes, e.g. "
                f'"{value}" — without quotes 3.10 would read as 3.1.'
            )
        if isinstance(value, int):
            raise Invalid(
                f'{value}: write a calendar name in double quotes ("{value}"); a planning id '
                f"is written {{ planning = {value} }}."
            )
        if not isinstance(value, dict):
            raise Invalid(
                f'expected a calendar name such as "3.1" or a table {{ planning = 24980 }}, '
                f"got {kind_of(value)}."
            )
        return value

    def _after(self) -> None:
        if (self.label is None) == (self.planning is None):
            raise Invalid(
                'give a calendar either as a name, "3.1", or as a planning id, '
                "{ planning = 24980 } — one of the two."
            )

    @property
    def display(self) -> str:
        """How messages name this calendar: "3.1", "planning 24980" or the given name."""
        if self.name:
            return self.name
        return self.label if self.label is not None else f"planning {self.planning}"

    @property
    def key(self) -> str:
        """A stable identity ("3.1" or "planning:24980"), for state and duplicate checks."""
        return self.label.lower() if self.label is not None else f"planning:{self.planning}"

    def __str__(self) -> str:
        return self.display

    def matches(self, label: str) -> bool:
        """True if the site's calendar ``label`` is this calendar, by the booking's naming
        rules (:meth:`monitor.sites.base.CalendarNaming.label_matches`: "3.1" is found in
        "Calendrier 3.1 - Renouvellement" but never in "3.10" or "13.1"). A planning-id
        ref matches no label (use :meth:`matches_option`).
        """
        if self.label is None:
            return False
        return naming_for().label_matches(self.label, label)

    def matches_option(self, label: str, planning_id: str | int | None) -> bool:
        """True if a step-1 radio (its label and ``value``) is this calendar."""
        if self.planning is not None:
            return naming_for().planning_matches(self.planning, planning_id)
        return self.matches(label)


def _v_unique_calendars(refs: tuple[CalendarRef, ...]) -> None:
    seen: set[str] = set()
    for ref in refs:
        if ref.key in seen:
            raise Invalid(f'calendar "{ref.display}" is listed twice; list each calendar once.')
        seen.add(ref.key)


Calendars = tuple_of(model(CalendarRef), after=_v_unique_calendars)


def _weekday_number(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    raise Invalid(f"{quoted(value)} is not a weekday number; write 0 (Monday) to 6 (Sunday).")


@table
class Release(Table):
    """When a prefecture publishes new slots each week: weekday (Monday = 0) and time."""

    weekday: int = key(_weekday_number)
    time: time = key(parse_time)

    @classmethod
    def _before(cls, value: object) -> object:
        if not isinstance(value, str):
            if isinstance(value, dict | Release):
                return value
            raise Invalid(f'expected text such as "mon 08:00", got {kind_of(value)}.')
        parts = value.split()
        try:
            if len(parts) != 2:
                raise ValueError
            return {"weekday": parse_weekday(parts[0]), "time": parse_time(parts[1])}
        except ValueError:
            guess = _guess_release(parts)
            hint = f' Did you mean "{guess}"?' if guess else ""
            raise Invalid(
                f'{quoted(value)} is not a release time; write "<day> HH:MM" with a day '
                f'mon…sun and a 24-hour time, e.g. "mon 08:00".{hint}'
            ) from None

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.time.strftime('%H:%M')}"


def _guess_release(parts: list[str]) -> str | None:
    """ "lundi 8h" → "mon 08:00": the intended day and time, if both can be guessed."""
    if len(parts) != 2:
        return None
    word = parts[0].lower().rstrip(".")
    day = WEEKDAY_WORDS.get(word)
    if day is None and (close := suggest(word, list(WEEKDAY_WORDS))):
        day = WEEKDAY_WORDS[close]
    m = re.fullmatch(r"(\d{1,2})\s*[hH:]\s*(\d{2})?", parts[1])
    if day is None or not m or int(m.group(1)) > 23 or int(m.group(2) or 0) > 59:
        return None
    return f"{WEEKDAYS[day]} {int(m.group(1)):02d}:{int(m.group(2) or 0):02d}"


def _after_start(end: time, earlier: Mapping[str, Any]) -> None:
    start = earlier.get("start")
    if isinstance(start, time) and end <= start:
        raise Invalid(
            f"the window must end after it starts ({start.strftime('%H:%M')}); a window "
            "cannot cross midnight: split it into two windows."
        )


@table
class SurgeWindow(Table):
    """A weekly time window in which to poll faster (around a release of new slots)."""

    days: tuple[int, ...] = key(Weekdays)
    """Weekdays, Monday = 0."""
    start: time = key(TimeOfDay)
    end: time = key(TimeOfDay, check=_after_start)
    interval: float = key(SurgeInterval, default=30.0)

    def __str__(self) -> str:
        days = ",".join(WEEKDAYS[d] for d in self.days)
        return (
            f"{days} {self.start.strftime('%H:%M')}–{self.end.strftime('%H:%M')} "
            f"every {format_duration(self.interval)}"
        )


DEFAULT_SURGE = (
    SurgeWindow.model_validate(
        {"days": ["mon"], "start": "07:58", "end": "08:30", "interval": "30s"}
    ),
)


def _within_timeout(value: float, earlier: Mapping[str, Any]) -> None:
    total = earlier.get("timeout")
    if isinstance(total, float) and value > total:
        raise Invalid(
            f"{format_duration(value)} is longer than timeout ({format_duration(total)}), "
            "the limit for the whole request; make it shorter or equal."
        )


@table
class MonitorSettings(Table):
    """The ``[monitor]`` table: when and how politely to poll. Durations are seconds."""

    timezone: str = key(TimeZoneName, default="Europe/Paris")
    interval: float = key(Interval, default=300.0)
    jitter: float = key(Jitter, default=30.0)
    state_dir: Path | None = key(ConfigPath, default=None)
    """As written (``~`` expanded, relative paths made relative to the config file);
    ``None`` = decide at run time, see :func:`resolve_state_dir`."""
    releases: tuple[Release, ...] = key(
        tuple_of(model(Release)), default=(Release(weekday=0, time=time(8, 0)),)
    )
    trouble_after: float = key(TroubleAfter, default=900.0)
    user_agent: str | None = key(UserAgent, default=None)
    """``None`` = the package's ``USER_AGENT``; see :attr:`http_user_agent`."""
    timeout: float = key(Timeout, default=20.0)
    connect_timeout: float = key(Timeout, default=10.0, check=_within_timeout)
    max_page_size: int = key(PageSize, default=2 * 1024 * 1024)
    """Bytes."""
    min_spacing: float = key(Spacing, default=2.0)
    metrics: ListenAddress | None = key(ListenOn, default=None)
    surge: tuple[SurgeWindow, ...] = key(tuple_of(model(SurgeWindow)), default=DEFAULT_SURGE)
    proxy: str | None = key(ProxyUrl, default=None, repr=False)
    """Where requests to the prefectures go through (``http://``, ``socks5://``), or
    ``None`` = directly. Never used for notifications. May hold a password: masked
    when shown, see :meth:`Config.proxy_for`."""
    keep: float = key(Keep, default=180 * 86400.0)
    """How long raw observations are kept; older ones are pruned off the hot path."""

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The time zone for schedules (releases, surge windows, heartbeat) and display."""
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def http_user_agent(self) -> str:
        """The User-Agent header to send: the override, else the package's own."""
        return self.user_agent or USER_AGENT


@table
class NotifyTarget(Table):
    """One apprise notification URL and the tags that select it.

    In the config an entry of ``urls`` is a URL string, or a table
    ``{ url = "…", tags = ["phone"] }`` so that a ``[[watch]]`` can send to only
    some targets (``notify = ["phone"]``). ``repr`` and ``str`` show the URL masked.
    """

    # Secret: a value of the wrong kind under [notify] urls is not shown in messages.
    url: str = key(AppriseUrl, secret=True, repr=False)
    tags: tuple[str, ...] = key(Tags, default=(), secret=True)

    @classmethod
    def _before(cls, value: object) -> object:
        if isinstance(value, str):
            return {"url": value}
        if isinstance(value, dict | NotifyTarget):
            return value
        raise Invalid(
            f"expected a notification address in double quotes, got {kind_of(value)}; "
            f"e.g. {EXAMPLES['urls']}."
        )

    @property
    def masked(self) -> str:
        """The URL with its secrets hidden; safe for logs and messages."""
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"NotifyTarget(url={self.masked!r}, tags={self.tags!r})"

    def __str__(self) -> str:
        return self.masked


@table
class Template(Table):
    """Overrides of one event's notification text. Their ``{placeholders}`` are checked
    against :data:`monitor.events.PLACEHOLDERS` once the whole ``[notify]`` table is read."""

    title: str | None = key(optional(Text), default=None)
    body: str | None = key(optional(Text), default=None)


_template_tables = dict_of(model(Template))


def _v_templates(value: object) -> dict[str, Template]:
    if isinstance(value, dict):
        for key in value:
            if key not in KINDS:
                guess = suggest(str(key), tuple(KINDS))
                hint = f' Did you mean "{guess}"?' if guess else ""
                raise Invalid(
                    f'"{key}" is not an event; templates exist for {", ".join(KINDS)}, '
                    f"written [notify.templates.slot_opened].{hint}"
                )
    return _template_tables(value)


def _v_unique_events(events: tuple[str, ...]) -> None:
    if len(set(events)) != len(events):
        raise Invalid("an event is listed twice; list each event once.")


@table
class NotifySettings(Table):
    """The ``[notify]`` table: where to send alerts, for which events, in which language."""

    urls: tuple[NotifyTarget, ...] = key(tuple_of(model(NotifyTarget)), default=(), secret=True)
    config: Path | None = key(ConfigPath, default=None)
    """An apprise config file (YAML or text), relative to the config file's folder."""
    events: tuple[str, ...] = key(tuple_of(Event, after=_v_unique_events), default=DEFAULT_EVENTS)
    language: str = key(choice(LANGUAGES, "a language"), default=DEFAULT_LANGUAGE)
    heartbeat: time = key(TimeOfDay, default=time(9, 0))
    """When the daily "still running" message goes out, if ``"heartbeat"`` is in ``events``."""
    templates: dict[str, Template] = key(_v_templates, default_factory=dict)

    @property
    def tags(self) -> frozenset[str]:
        """Every tag given to a URL of ``urls``."""
        return frozenset(t for target in self.urls for t in target.tags)


def _boolean(value: object) -> bool:
    """Strict: ``"yes"`` in quotes is refused like ``"maybe"``, never read as true."""
    if isinstance(value, bool):
        return value
    raise Mismatch("true or false (without quotes)", value, example=False)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    raise Mismatch("text in double quotes", value)


@table
class WatchIn(Table):
    """A ``[[watch]]`` table as written: a URL, or a catalogue shortcut."""

    name: str = key(Text)
    url: str | None = key(optional(WebUrl), default=None)
    prefecture: str | None = key(optional(Text), default=None)
    procedure: str | None = key(optional(Text), default=None)
    calendars: tuple[CalendarRef, ...] | None = key(optional(Calendars), default=None)
    interval: float | None = key(optional(Interval), default=None)
    notify: tuple[str, ...] = key(Tags, default=())
    enabled: bool = key(_boolean, default=True)
    proxy: str | None = key(ProxyUrl, default=None, repr=False)


@table
class Watch(Table):
    """One booking page to check, and which of its calendars (primary first).

    ``calendars`` empty means "the booking's only calendar" (a booking with a
    single counter has no calendar choice page). ``prefecture`` and
    ``procedure`` record the catalogue entry the watch was expanded from, if any.
    ``notify`` lists apprise tags; empty = every notification target.
    """

    name: str = key(Text)
    url: str = key(WebUrl)
    calendars: tuple[CalendarRef, ...] = key(Calendars, default=())
    interval: float | None = key(optional(Interval), default=None)
    """Override of ``[monitor] interval``; see :meth:`Config.interval_for`."""
    notify: tuple[str, ...] = key(Tags, default=())
    enabled: bool = key(_boolean, default=True)
    prefecture: str | None = key(optional(_text), default=None)
    procedure: str | None = key(optional(_text), default=None)
    proxy: str | None = key(ProxyUrl, default=None, repr=False)
    """Override of ``[monitor] proxy`` for this booking; see :meth:`Config.proxy_for`."""

    @property
    def host(self) -> str:
        """The booking site's host name (lower case)."""
        return url_host(self.url)

    @property
    def is_loopback(self) -> bool:
        """True when the booking is on this machine (the simulator): no politeness floor."""
        return is_loopback_host(self.host)

    @property
    def primary(self) -> CalendarRef | None:
        """The first calendar listed (the one the prefecture says to try first), if any."""
        return self.calendars[0] if self.calendars else None


@table
class Config(Table):
    """The whole validated configuration. Immutable; secrets are masked in ``repr``."""

    monitor: MonitorSettings = key(model(MonitorSettings), default=MonitorSettings())
    notify: NotifySettings = key(model(NotifySettings), default=NotifySettings())
    watches: tuple[Watch, ...] = key(tuple_of(model(Watch)))
    source: str = key(_text, default="<config>")
    """The config file as the user named it (messages quote it)."""
    warnings: tuple[str, ...] = key(tuple_of(_text), default=())
    """Things that work but are probably not what the user wants (show them at start-up)."""

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """Shortcut for ``monitor.tz``."""
        return self.monitor.tz

    @property
    def enabled_watches(self) -> tuple[Watch, ...]:
        """The watches to check (``enabled = true``), in file order."""
        return tuple(w for w in self.watches if w.enabled)

    def interval_for(self, watch: Watch) -> float:
        """Seconds between two checks of ``watch`` outside surge windows."""
        return watch.interval if watch.interval is not None else self.monitor.interval

    def proxy_for(self, watch: Watch) -> str | None:
        """The proxy requests to ``watch``'s booking go through (``None``: directly).
        Holds its password: show it with :func:`monitor.secrets.mask_url`."""
        return watch.proxy or self.monitor.proxy

    @property
    def proxy_secrets(self) -> list[str]:
        """The secret parts of every proxy address, for a log :class:`~monitor.secrets.Redactor`."""
        proxies = {p for w in self.watches if (p := self.proxy_for(w))}
        if self.monitor.proxy:
            proxies.add(self.monitor.proxy)
        return [s for p in sorted(proxies) for s in secrets_of(p)]

    def watch(self, name: str) -> Watch | None:
        """The watch called ``name`` (case and surrounding spaces ignored), or ``None``.

        ``None`` is an ordinary answer: the state and the outbox keep the names
        of watches that a later config renamed or removed.
        """
        key = name_key(name)
        return next((w for w in self.watches if name_key(w.name) == key), None)


def name_key(name: str) -> str:
    return normalize_space(name).casefold()
