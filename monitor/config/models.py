"""The validated configuration: frozen pydantic models, one per table of the file.

Each model forbids unknown keys (a typo is never silently ignored) and uses the
value types of :mod:`monitor.config.values`, so its fields read as the keys a
user may write. Rules that need several tables at once are in
:mod:`monitor.config.checks`. How a calendar may be named is the booking
plugin's rule, asked through :func:`monitor.sites.registry.naming_for`.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator
from datetime import time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from monitor import USER_AGENT
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
    normalize_space,
    parse_time,
    parse_weekday,
    url_host,
)
from monitor.config.words import EXAMPLES, fail, kind_of, quoted, suggest
from monitor.durations import format_duration
from monitor.events import KINDS
from monitor.http import is_loopback_host
from monitor.lang import DEFAULT_LANGUAGE, LANGUAGES
from monitor.secrets import mask_url, secrets_of
from monitor.sites.registry import naming_for

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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarRef(_Model):
    """One calendar of a booking: by the label the site prints ("3.1"), or by planning id.

    In the config a calendar is either a label token, ``"3.1"``, or a table
    ``{ planning = 24980 }`` (the ``value`` of its radio button), optionally
    with a display ``name``. Exactly one of ``label`` and ``planning`` is set.
    """

    label: str | None = None
    planning: int | None = None
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_config(cls, value: object) -> object:
        if isinstance(value, CalendarRef):
            return value
        if isinstance(value, str):
            return {"label": value}
        if isinstance(value, bool | float):
            raise fail(
                f"{quoted(value)}: write calendar names in double quotes, e.g. "
                f'"{value}" — without quotes 3.10 would read as 3.1.'
            )
        if isinstance(value, int):
            raise fail(
                f'{value}: write a calendar name in double quotes ("{value}"); a planning id '
                f"is written {{ planning = {value} }}."
            )
        if not isinstance(value, dict):
            raise fail(
                f'expected a calendar name such as "3.1" or a table {{ planning = 24980 }}, '
                f"got {kind_of(value)}."
            )
        return value

    @field_validator("label", mode="before")
    @classmethod
    def _check_label(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, str):
            raise fail(f'expected a calendar name such as "3.1", got {kind_of(value)}.')
        if not value.split():
            raise fail('a calendar name is empty; write e.g. "3.1".')
        try:
            return naming_for().parse_label(value)
        except ValueError as exc:
            raise fail(f"{quoted(value)} is not a calendar name; {exc}") from None

    @field_validator("planning", mode="before")
    @classmethod
    def _check_planning(cls, value: object) -> object:
        if value is None:
            return None
        try:
            return naming_for().parse_planning(value)
        except ValueError as exc:
            raise fail(f"{quoted(value)} is not a planning id; {exc}.") from None

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: object) -> object:
        return None if value is None else check_text(value)

    @model_validator(mode="after")
    def _one_of(self) -> CalendarRef:
        if (self.label is None) == (self.planning is None):
            raise fail(
                'give a calendar either as a name, "3.1", or as a planning id, '
                "{ planning = 24980 } — one of the two."
            )
        return self

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


def _v_unique_calendars(refs: tuple[CalendarRef, ...]) -> tuple[CalendarRef, ...]:
    seen: set[str] = set()
    for ref in refs:
        if ref.key in seen:
            raise fail(f'calendar "{ref.display}" is listed twice; list each calendar once.')
        seen.add(ref.key)
    return refs


Calendars = Annotated[tuple[CalendarRef, ...], AfterValidator(_v_unique_calendars)]


class Release(_Model):
    """When a prefecture publishes new slots each week: weekday (Monday = 0) and time."""

    weekday: Annotated[int, Field(ge=0, le=6)]
    time: time

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if not isinstance(value, str):
            if isinstance(value, dict | Release):
                return value
            raise fail(f'expected text such as "mon 08:00", got {kind_of(value)}.')
        parts = value.split()
        try:
            if len(parts) != 2:
                raise ValueError
            return {"weekday": parse_weekday(parts[0]), "time": parse_time(parts[1])}
        except (ValueError, PydanticCustomError):
            guess = _guess_release(parts)
            hint = f' Did you mean "{guess}"?' if guess else ""
            raise fail(
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


class SurgeWindow(_Model):
    """A weekly time window in which to poll faster (around a release of new slots)."""

    days: Weekdays
    """Weekdays, Monday = 0."""
    start: TimeOfDay
    end: TimeOfDay
    interval: SurgeInterval = 30.0

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: time, info: ValidationInfo) -> time:
        start = info.data.get("start")
        if isinstance(start, time) and end <= start:
            raise fail(
                f"the window must end after it starts ({start.strftime('%H:%M')}); a window "
                "cannot cross midnight: split it into two windows."
            )
        return end

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


class MonitorSettings(_Model):
    """The ``[monitor]`` table: when and how politely to poll. Durations are seconds."""

    timezone: TimeZoneName = "Europe/Paris"
    interval: Interval = 300.0
    jitter: Jitter = 30.0
    state_dir: ConfigPath | None = None
    """As written (``~`` expanded, relative paths made relative to the config file);
    ``None`` = decide at run time, see :func:`resolve_state_dir`."""
    releases: tuple[Release, ...] = (Release(weekday=0, time=time(8, 0)),)
    trouble_after: TroubleAfter = 900.0
    user_agent: UserAgent = None
    """``None`` = the package's ``USER_AGENT``; see :attr:`http_user_agent`."""
    timeout: Timeout = 20.0
    connect_timeout: Timeout = 10.0
    max_page_size: PageSize = 2 * 1024 * 1024
    """Bytes."""
    min_spacing: Spacing = 2.0
    metrics: ListenOn = None
    surge: tuple[SurgeWindow, ...] = DEFAULT_SURGE
    proxy: ProxyUrl = Field(default=None, repr=False)
    """Where requests to the prefectures go through (``http://``, ``socks5://``), or
    ``None`` = directly. Never used for notifications. May hold a password: masked
    when shown, see :meth:`Config.proxy_for`."""
    keep: Keep = 180 * 86400.0
    """How long raw observations are kept; older ones are pruned off the hot path."""

    @field_validator("connect_timeout")
    @classmethod
    def _within_timeout(cls, value: float, info: ValidationInfo) -> float:
        total = info.data.get("timeout")
        if isinstance(total, float) and value > total:
            raise fail(
                f"{format_duration(value)} is longer than timeout ({format_duration(total)}), "
                "the limit for the whole request; make it shorter or equal."
            )
        return value

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The time zone for schedules (releases, surge windows, heartbeat) and display."""
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def http_user_agent(self) -> str:
        """The User-Agent header to send: the override, else the package's own."""
        return self.user_agent or USER_AGENT


class NotifyTarget(_Model):
    """One apprise notification URL and the tags that select it.

    In the config an entry of ``urls`` is a URL string, or a table
    ``{ url = "…", tags = ["phone"] }`` so that a ``[[watch]]`` can send to only
    some targets (``notify = ["phone"]``). ``repr`` and ``str`` show the URL masked.
    """

    url: AppriseUrl = Field(repr=False)
    tags: Tags = ()

    @model_validator(mode="before")
    @classmethod
    def _from_config(cls, value: object) -> object:
        if isinstance(value, str):
            return {"url": value}
        if isinstance(value, dict | NotifyTarget):
            return value
        raise fail(
            f"expected a notification address in double quotes, got {kind_of(value)}; "
            f"e.g. {EXAMPLES['urls']}."
        )

    @property
    def masked(self) -> str:
        """The URL with its secrets hidden; safe for logs and messages."""
        return mask_url(self.url)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "url", self.masked
        yield "tags", self.tags

    def __str__(self) -> str:
        return self.masked


class Template(_Model):
    """Overrides of one event's notification text. Their ``{placeholders}`` are checked
    against :data:`monitor.events.PLACEHOLDERS` once the whole ``[notify]`` table is read."""

    title: Text | None = None
    body: Text | None = None


def _v_templates(value: object) -> object:
    if isinstance(value, dict):
        for key in value:
            if key not in KINDS:
                guess = suggest(str(key), tuple(KINDS))
                hint = f' Did you mean "{guess}"?' if guess else ""
                raise fail(
                    f'"{key}" is not an event; templates exist for {", ".join(KINDS)}, '
                    f"written [notify.templates.slot_opened].{hint}"
                )
    return value


class NotifySettings(_Model):
    """The ``[notify]`` table: where to send alerts, for which events, in which language."""

    urls: tuple[NotifyTarget, ...] = ()
    config: ConfigPath | None = None
    """An apprise config file (YAML or text), relative to the config file's folder."""
    events: tuple[Event, ...] = DEFAULT_EVENTS
    language: Annotated[str, BeforeValidator(choice(LANGUAGES, "a language"))] = DEFAULT_LANGUAGE
    heartbeat: TimeOfDay = time(9, 0)
    """When the daily "still running" message goes out, if ``"heartbeat"`` is in ``events``."""
    templates: Annotated[dict[str, Template], BeforeValidator(_v_templates)] = Field(
        default_factory=dict
    )

    @field_validator("events")
    @classmethod
    def _unique_events(cls, events: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(events)) != len(events):
            raise fail("an event is listed twice; list each event once.")
        return events

    @property
    def tags(self) -> frozenset[str]:
        """Every tag given to a URL of ``urls``."""
        return frozenset(t for target in self.urls for t in target.tags)


class WatchIn(_Model):
    """A ``[[watch]]`` table as written: a URL, or a catalogue shortcut."""

    name: Text
    url: WebUrl | None = None
    prefecture: Text | None = None
    procedure: Text | None = None
    calendars: Calendars | None = None
    interval: Interval | None = None
    notify: Tags = ()
    enabled: Annotated[bool, Field(strict=True)] = True
    """Strict: ``"yes"`` in quotes is refused like ``"maybe"``, never read as true."""
    proxy: ProxyUrl = Field(default=None, repr=False)


class Watch(_Model):
    """One booking page to check, and which of its calendars (primary first).

    ``calendars`` empty means "the booking's only calendar" (a booking with a
    single counter has no calendar choice page). ``prefecture`` and
    ``procedure`` record the catalogue entry the watch was expanded from, if any.
    ``notify`` lists apprise tags; empty = every notification target.
    """

    name: Text
    url: WebUrl
    calendars: Calendars = ()
    interval: Interval | None = None
    """Override of ``[monitor] interval``; see :meth:`Config.interval_for`."""
    notify: Tags = ()
    enabled: bool = True
    prefecture: str | None = None
    procedure: str | None = None
    proxy: ProxyUrl = Field(default=None, repr=False)
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


class Config(_Model):
    """The whole validated configuration. Immutable; secrets are masked in ``repr``."""

    monitor: MonitorSettings = MonitorSettings()
    notify: NotifySettings = NotifySettings()
    watches: tuple[Watch, ...]
    source: str = "<config>"
    """The config file as the user named it (messages quote it)."""
    warnings: tuple[str, ...] = ()
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
