"""The configuration file: read it, check all of it, and explain every mistake in user words.

People who run rdv-monitor are often not programmers, so a wrong config must
produce one message that names the file, the key path (``[monitor] interval``,
``[[watch]] #2 ("Premier titre") calendars, item 1``), what is expected and how
to fix it, for *every* problem at once, and never a traceback.

Validation uses pydantic v2 models (typed fields, ``extra="forbid"`` so a typo
is never silently ignored, and error locations that become key paths). The raw
pydantic messages are never shown: :func:`_explain` rewrites each into words.
Checks that need more than one key (interval floors, unique names, catalogue
look-ups, notification tags) run afterwards on every part that validated, so
they are reported together with the rest.

Public API: :func:`load_config`, :func:`parse_config`, :func:`resolve_state_dir`,
:func:`describe_config`, :func:`mask_url`, :func:`parse_size` and the frozen
models :class:`Config`, :class:`MonitorSettings`, :class:`SurgeWindow`,
:class:`Release`, :class:`NotifySettings`, :class:`NotifyTarget`,
:class:`Template`, :class:`Watch`, :class:`CalendarRef`.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import math
import os
import re
import stat
import tomllib
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from monitor import USER_AGENT
from monitor.catalogue import (
    CALENDAR_LABEL_PATTERN,
    Catalogue,
    UnknownCatalogueEntry,
    load_catalogue,
)
from monitor.durations import (
    DURATION_HELP,
    DurationTooLongError,
    format_duration,
    parse_duration,
)
from monitor.errors import ConfigError
from monitor.http import is_loopback_host
from monitor.messages import template_problem

__all__ = [
    "DEFAULT_EVENTS",
    "DEFAULT_SURGE",
    "EVENTS",
    "POLITE_INTERVAL",
    "POLITE_SPACING",
    "URL_IN_TEXT",
    "WEEKDAYS",
    "CalendarRef",
    "Config",
    "ListenAddress",
    "MonitorSettings",
    "NotifySettings",
    "NotifyTarget",
    "Release",
    "SurgeWindow",
    "Template",
    "Watch",
    "describe_config",
    "format_size",
    "load_config",
    "mask_url",
    "mask_urls_in_text",
    "parse_config",
    "parse_size",
    "resolve_state_dir",
]

# --------------------------------------------------------------------------- constants

POLITE_INTERVAL = 30.0
"""Shortest polling interval (seconds) allowed against a real prefecture host."""

POLITE_SPACING = 1.0
"""Shortest ``min_spacing`` (seconds) between two requests to a real prefecture host."""

# Upper bounds of the durations, in seconds. Each is far beyond any useful value, so
# none limits a real setup; together they refuse typos ("100000000d") with a sentence
# at load time, instead of an overflow of date arithmetic in the running daemon.
MAX_INTERVAL = 86400.0
"""Longest polling interval: slots often go within hours, so check at least daily."""
MAX_SURGE_INTERVAL = 3600.0
"""Longest interval of a surge window, whose point is to check faster than usual."""
MAX_JITTER = 3600.0
"""Longest random delay: it only spreads checks, it must not postpone them for hours."""
MAX_TROUBLE_AFTER = 7 * 86400.0
"""Longest wait before a failing site is reported: a week of silence hides a dead watch."""
MAX_TIMEOUT = 300.0
"""Longest request time-out (also for connecting): a longer request is hung, not slow."""
MAX_MIN_SPACING = 300.0
"""Longest gap between two requests to a site: a check makes several requests, so a
longer gap would stretch one check over an hour."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Canonical weekday names; index = ``datetime.weekday()`` (Monday = 0)."""

_WEEKDAY_WORDS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        ("mon", "monday", "lun", "lundi"),
        ("tue", "tuesday", "mar", "mardi"),
        ("wed", "wednesday", "mer", "mercredi"),
        ("thu", "thursday", "jeu", "jeudi"),
        ("fri", "friday", "ven", "vendredi"),
        ("sat", "saturday", "sam", "samedi"),
        ("sun", "sunday", "dim", "dimanche"),
    )
):
    for _name in _names:
        _WEEKDAY_WORDS[_name] = _i

EVENTS = ("slot_opened", "slot_gone", "trouble", "recovered", "layout_changed", "heartbeat")
"""Every event a notification can be sent for."""

DEFAULT_EVENTS = ("slot_opened", "trouble", "recovered", "layout_changed")

_MIN_PAGE_SIZE = 16 * 1024
_MAX_PAGE_SIZE = 256 * 1024 * 1024

_POLITENESS = (
    "to stay polite to the prefecture, which throttles clients that poll faster "
    "(it answers them with errors, and may block them)"
)

# Examples shown after "e.g." in messages, by key name.
_EXAMPLES = {
    "timezone": 'timezone = "Europe/Paris"',
    "interval": 'interval = "5m"',
    "jitter": 'jitter = "30s"',
    "state_dir": 'state_dir = "/var/lib/rdv-monitor"',
    "releases": 'releases = ["mon 08:00"]',
    "trouble_after": 'trouble_after = "15m"',
    "user_agent": 'user_agent = "rdv-monitor (contact: me@example.org)"',
    "timeout": 'timeout = "20s"',
    "connect_timeout": 'connect_timeout = "10s"',
    "max_page_size": 'max_page_size = "2MiB"',
    "min_spacing": 'min_spacing = "2s"',
    "metrics": 'metrics = "127.0.0.1:9108"',
    "surge": '[[monitor.surge]] with days = ["mon"], start = "07:58", end = "08:30"',
    "days": 'days = ["mon"]',
    "start": 'start = "07:58"',
    "end": 'end = "08:30"',
    "urls": 'urls = ["tgram://123456789:AAbot-token/987654321"]',
    "url": 'url = "https://www.haute-savoie.gouv.fr/booking/create/29396"',
    "config": 'config = "apprise.yml"',
    "events": 'events = ["slot_opened", "trouble", "recovered"]',
    "language": 'language = "fr"',
    "heartbeat": 'heartbeat = "09:00"',
    "templates": '[notify.templates.slot_opened] with title = "…"',
    "title": 'title = "Rendez-vous disponible"',
    "body": 'body = "Réservez vite."',
    "name": 'name = "Renouvellement titre de séjour"',
    "calendars": 'calendars = ["3.1", "3.2"]',
    "notify": 'notify = ["phone"]',
    "enabled": "enabled = true",
    "prefecture": 'prefecture = "haute-savoie"',
    "procedure": 'procedure = "renewal"',
    "planning": "{ planning = 24980 }",
    "tags": 'tags = ["phone"]',
    "watch": '[[watch]] with name = "…" and url = "https://…/booking/create/…"',
    "monitor": '[monitor] with interval = "5m"',
}


def _fail(message: str) -> PydanticCustomError:
    """A validation error whose message is shown to the user exactly as written."""
    return PydanticCustomError("rdv", "{message}", {"message": message})


def _show(value: object) -> str:
    """A value as the user wrote it in TOML (text quoted, long text shortened)."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return '"' + text.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table { " + ", ".join(f"{k} = …" for k in value) + " }"
    if isinstance(value, list | tuple):
        return "a list [" + ", ".join(_show(v) for v in list(value)[:4]) + "]"
    return str(value)


def _kind(value: object) -> str:
    """What the user wrote, in words: "text", "a number", "a list"…"""
    if isinstance(value, bool):
        return f"true/false ({_show(value)})"
    if isinstance(value, str):
        return f"text ({_show(value)})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, time):
        return f"a time ({value.isoformat()})"
    return "a date or time"


def _suggest(word: str, choices: Sequence[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


# --------------------------------------------------------------------------- value parsers


def _v_duration(value: object) -> float:
    """Seconds; infinity for a duration too long to be any (``"100000000d"``), which every
    field's bound then refuses with that field's own maximum (see :func:`_bounded`)."""
    if isinstance(value, float | int | str) and not isinstance(value, bool):
        try:
            return parse_duration(value)
        except DurationTooLongError:
            return math.inf
        except ValueError as exc:
            raise _fail(str(exc)) from None
    raise _fail(f"expected a duration, got {_kind(value)}; {DURATION_HELP}.")


def _v_positive(seconds: float) -> float:
    if seconds <= 0:
        raise _fail(f"must be more than zero; {DURATION_HELP}.")
    return seconds


def _bounded(limit: float, why: str, *, positive: bool = False) -> BeforeValidator:
    """A duration field's validator: parse, refuse zero if ``positive``, and refuse more
    than ``limit`` seconds with a sentence giving the bound and ``why`` (also for a value
    too long to be any duration, so that the user learns this field's bound at once)."""

    def parse(value: object) -> float:
        seconds = _v_duration(value)
        if positive:
            _v_positive(seconds)
        if seconds > limit:
            shown = format_duration(seconds) if math.isfinite(seconds) else _show(value)
            raise _fail(f'{shown} is too long: the maximum is "{format_duration(limit)}"; {why}')
        return seconds

    return BeforeValidator(parse)


# The duration fields, each with its upper bound (see MAX_INTERVAL and the others).
Interval = Annotated[
    float,
    _bounded(
        MAX_INTERVAL,
        'slots are often gone within hours, so check at least once a day ("5m" suits most '
        "bookings).",
        positive=True,
    ),
]
SurgeInterval = Annotated[
    float,
    _bounded(
        MAX_SURGE_INTERVAL,
        "a surge window is for checking faster than usual; for slower checks, set "
        "[monitor] interval instead.",
        positive=True,
    ),
]
Jitter = Annotated[
    float,
    _bounded(
        MAX_JITTER,
        'it only spreads checks over a few seconds or minutes; "30s" is plenty, "0" turns it off.',
    ),
]
TroubleAfter = Annotated[
    float,
    _bounded(
        MAX_TROUBLE_AFTER, 'a site failing for longer must be reported; "15m" suits most bookings.'
    ),
]
Timeout = Annotated[
    float,
    _bounded(
        MAX_TIMEOUT,
        'a request that takes longer is hung, not slow (the defaults are timeout = "20s" and '
        'connect_timeout = "10s").',
        positive=True,
    ),
]
Spacing = Annotated[
    float,
    _bounded(
        MAX_MIN_SPACING,
        "a check makes several requests to the site, so a longer gap would stretch one check "
        'over an hour; "2s" is polite enough.',
    ),
]

_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_size(value: str | int) -> int:
    """A byte count from ``2097152``, ``"512KiB"``, ``"2MiB"``, ``"1.5MB"`` (units any case).

    Raises :class:`ValueError` saying what is accepted.
    """
    help_text = 'write e.g. "512KiB", "2MiB" or a number of bytes'
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected a size, got {_kind(value)}; {help_text}.")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative; {help_text}.")
        return value
    m = _SIZE_RE.match(value.strip())
    if not m:
        raise ValueError(f"{_show(value)} is not a size; {help_text}.")
    number = float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()]
    return int(number)


def format_size(size: int) -> str:
    """``2097152`` → ``"2MiB"``; ``1536`` → ``"1.5KiB"``; ``100`` → ``"100B"``."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.2f}".rstrip("0").rstrip(".") + unit
    return f"{size}B"


def _v_size(value: object) -> int:
    try:
        size = parse_size(value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if not _MIN_PAGE_SIZE <= size <= _MAX_PAGE_SIZE:
        raise _fail(
            f"{format_size(size)} is out of range; a booking page is about 50KiB, so give a cap "
            f'between {format_size(_MIN_PAGE_SIZE)} and {format_size(_MAX_PAGE_SIZE)}, e.g. "2MiB".'
        )
    return size


_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_time(value: object) -> time:
    """A time of day from "HH:MM" (24-hour clock) or a TOML local time."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise _fail(f'expected a time of day such as "08:00", got {_kind(value)}.')
    text = value.strip()
    m = _TIME_RE.match(text)
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        return time(int(m.group(1)), int(m.group(2)))
    hint = ""
    if fr := re.fullmatch(r"(\d{1,2})\s*[hH:]\s*(\d{2})?", text):
        hour, minute = int(fr.group(1)), int(fr.group(2) or 0)
        if hour < 24 and minute < 60:
            hint = f' Did you mean "{hour:02d}:{minute:02d}"?'
    raise _fail(
        f'{_show(value)} is not a time of day; write "HH:MM" on the 24-hour clock, '
        f'e.g. "08:00" or "17:30".{hint}'
    )


def _parse_weekday(value: object) -> int:
    if isinstance(value, str):
        key = value.strip().lower().rstrip(".")
        if key in _WEEKDAY_WORDS:
            return _WEEKDAY_WORDS[key]
        guess = _suggest(key, list(_WEEKDAY_WORDS))
        hint = f' Did you mean "{guess}"?' if guess else ""
    else:
        hint = ""
    raise _fail(
        f"{_show(value)} is not a day of the week; write mon, tue, wed, thu, fri, sat or sun "
        f"(full English names and French lun…dim / lundi…dimanche also work).{hint}"
    )


def _v_weekdays(value: object) -> tuple[int, ...]:
    if isinstance(value, str):
        raise _fail(f'expected a list of days in square brackets, e.g. days = ["{value}"].')
    if not isinstance(value, list | tuple):
        raise _fail(f'expected a list of days, e.g. days = ["mon"], got {_kind(value)}.')
    if not value:
        raise _fail('the list of days is empty; write e.g. days = ["mon"].')
    days = tuple(_parse_weekday(v) for v in value)
    if len(set(days)) != len(days):
        raise _fail(f"a day is listed twice in {_show(list(value))}; list each day once.")
    return days


Weekdays = Annotated[tuple[int, ...], BeforeValidator(_v_weekdays)]
TimeOfDay = Annotated[time, BeforeValidator(_parse_time)]


def _v_timezone(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(f'expected a time zone name such as "Europe/Paris", got {_kind(value)}.')
    name = value.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        guess = _suggest_zone(name)
        hint = f' Did you mean "{guess}"?' if guess else ""
        raise _fail(
            f"{_show(value)} is not a time zone this system knows; write an IANA name such as "
            f'"Europe/Paris" (mainland France), "Indian/Reunion" or "America/Cayenne".{hint}'
        ) from None
    return name


def _suggest_zone(name: str) -> str | None:
    zones = sorted(zoneinfo.available_timezones())
    by_city = {z.rsplit("/", 1)[-1].lower(): z for z in zones}
    if name.lower() in by_city:
        return by_city[name.lower()]
    return _suggest(name, zones)


def _v_text(value: object) -> str:
    if not isinstance(value, str):
        raise _fail(f"expected text in double quotes, got {_kind(value)}.")
    if not value.strip():
        raise _fail("must not be empty.")
    return value.strip()


Text = Annotated[str, BeforeValidator(_v_text)]

_TAG_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def _v_tag(value: object) -> str:
    if not isinstance(value, str) or not _TAG_RE.match(value.strip()):
        raise _fail(
            f"{_show(value)} is not a tag; a tag is one word of letters, digits, '-' or '_', "
            'e.g. "phone".'
        )
    return value.strip().lower()


Tag = Annotated[str, BeforeValidator(_v_tag)]


def _v_unique_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(tags)) != len(tags):
        raise _fail("a tag is listed twice; list each tag once.")
    return tags


Tags = Annotated[tuple[Tag, ...], AfterValidator(_v_unique_tags)]


def _choice(allowed: Sequence[str], what: str) -> Callable[[object], str]:
    """A validator accepting one of ``allowed`` (exact), suggesting the closest otherwise."""

    def validate(value: object) -> str:
        if isinstance(value, str) and value.strip() in allowed:
            return value.strip()
        guess = _suggest(value.strip(), allowed) if isinstance(value, str) else None
        hint = f' Did you mean "{guess}"?' if guess else ""
        listing = ", ".join(f'"{a}"' for a in allowed)
        raise _fail(f"{_show(value)} is not {what}; write one of {listing}.{hint}")

    return validate


Event = Annotated[str, BeforeValidator(_choice(EVENTS, "an event"))]

# --------------------------------------------------------------------------- hosts & URLs


def _v_web_url(value: object) -> str:
    if not isinstance(value, str):
        raise _fail(f"expected a web address in double quotes, got {_kind(value)}.")
    url = value.strip()
    example = "e.g. " + _EXAMPLES["url"]
    if not url:
        raise _fail(f"the address is empty; copy the booking page's address, {example}.")
    if re.search(r"\s", url):
        raise _fail(f"{_show(url)} contains spaces; copy the address exactly, {example}.")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise _fail(f"{_show(url)} is not a valid web address; {example}.") from None
    if parts.scheme.lower() not in ("http", "https"):
        hint = "" if "://" in url else f' Did you mean "https://{url}"?'
        raise _fail(
            f"{_show(url)} is not a web address: it must start with https:// "
            f"(or http:// for a local test server); {example}.{hint}"
        )
    if not parts.hostname:
        raise _fail(f"{_show(url)} has no host name after https://; {example}.")
    return url


WebUrl = Annotated[str, BeforeValidator(_v_web_url)]


def _url_host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


# --------------------------------------------------------------------------- secrets


_SCHEME_ALIASES = {
    "telegram": "tgram",
    "email": "mailtos",
    "mail": "mailtos",
    "smtp": "mailtos",
    "smtps": "mailtos",
    "gmail": "mailtos",
    "signal": "signal",
    "whatsapp": "whatsapp",
}


@contextmanager
def _quiet_apprise() -> Iterator[None]:
    """Silence apprise's logger while it parses URLs: its messages could quote secrets."""
    logger = logging.getLogger("apprise")
    was_disabled = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was_disabled


def _apprise_instance(url: str) -> Any:
    """apprise's plugin object for ``url``, or ``None`` if apprise does not accept it."""
    import apprise

    with _quiet_apprise():
        try:
            return apprise.Apprise.instantiate(url)
        except Exception:  # a plugin bug must not become a traceback at config time
            return None


def _mask_token(text: str) -> str:
    if len(text) <= 6 or "****" in text or "..." in text:
        return text
    return "****" + text[-2:]


def _looks_like_host(text: str) -> bool:
    host = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    host = host.strip("[]")
    if is_loopback_host(host) or "." in host:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _mask_generic(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "****"
    rest = re.split(r"[?#]", rest, maxsplit=1)[0]
    authority, _, path = rest.partition("/")
    masked_auth = authority
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        user, has_pw, _pw = userinfo.partition(":")
        masked_user = _mask_token(user) + (":****" if has_pw else "")
        masked_auth = f"{masked_user}@{host if _looks_like_host(host) else _mask_token(host)}"
    elif not _looks_like_host(authority):
        masked_auth = ":".join(_mask_token(p) for p in authority.split(":"))
    segments = [_mask_token(s) for s in path.split("/")] if path else []
    out = f"{scheme}://{masked_auth}"
    if any(segments):
        out += "/" + "/".join(segments)
    return out.rstrip("/")


def mask_url(url: str) -> str:
    """A notification URL safe to print: scheme and host kept, secrets replaced by ``****``.

    apprise's own privacy form (``url(privacy=True)``, which knows where each
    service keeps its tokens) is used when apprise accepts the URL; then, as for
    any URL, the query string is dropped, passwords become ``****`` and every
    user name, token-like host or path part longer than 6 characters keeps only
    its last 2 characters (``"****89"``), enough to tell two URLs apart.
    ``tgram://123456789:AAExampleToken/987654321`` → ``tgram://1...n/****21``.
    """
    text = url.strip()
    instance = _apprise_instance(text) if "://" in text else None
    if instance is not None:
        try:
            private = instance.url(privacy=True)
        except Exception:
            private = None
        if isinstance(private, str) and private:
            return _mask_generic(private)
    return _mask_generic(text)


URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>,;)\]]+")


def mask_urls_in_text(text: str) -> str:
    """``text`` with every URL-looking part in its :func:`mask_url` form.

    For quoted TOML lines in config errors and for failure reasons from apprise.
    """
    return URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)


@lru_cache(maxsize=1)
def _apprise_schemas() -> dict[str, tuple[str, str | None]]:
    """Scheme → (service name, setup page) for every service apprise supports."""
    try:
        from apprise.manager_plugins import NotificationManager

        manager = NotificationManager()
        out: dict[str, tuple[str, str | None]] = {}
        for scheme in manager.schemas():
            plugin = manager[scheme]
            out[scheme] = (
                str(getattr(plugin, "service_name", scheme)),
                getattr(plugin, "setup_url", None),
            )
        return out
    except Exception:
        return {}


def _v_apprise_url(value: object) -> str:
    if not isinstance(value, str):
        raise _fail(
            f"expected a notification address in double quotes, got {_kind(value)}; "
            f"e.g. {_EXAMPLES['urls']}."
        )
    url = value.strip()
    if not url:
        raise _fail(f"the address is empty; remove it or write one, e.g. {_EXAMPLES['urls']}.")
    masked = mask_url(url)
    wiki = "https://github.com/caronc/apprise/wiki"
    if "://" not in url:
        raise _fail(
            f'"{masked}" is not a notification address: it must start with the service '
            f'name and "://", e.g. tgram:// for Telegram or mailtos:// for e-mail (see {wiki}).'
        )
    if _apprise_instance(url) is not None:
        return url
    scheme = url.split("://", 1)[0].lower()
    schemas = _apprise_schemas()
    if scheme in schemas or (not schemas and scheme):
        service, setup = schemas.get(scheme, (scheme, None))
        raise _fail(
            f'"{masked}" is not a complete {service} address: apprise does not accept it. '
            f"Check each part (tokens, IDs, user and host) against {setup or wiki}."
        )
    if scheme in ("http", "https"):
        hint = (
            " A web address is not a notification service: for ntfy write "
            '"ntfys://ntfy.sh/<your topic>", for a web hook "json://" or "jsons://".'
        )
    else:
        guess = _SCHEME_ALIASES.get(scheme) or _suggest(scheme, list(schemas))
        hint = f' Did you mean "{guess}://"?' if guess else ""
    raise _fail(
        f'"{masked}": "{scheme}://" is not a notification service apprise knows; '
        f"see {wiki} for the list.{hint}"
    )


# --------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _normalize_space(text: str) -> str:
    """NFKC (so no-break and thin spaces become spaces) and collapsed whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


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
            raise _fail(
                f"{_show(value)}: write calendar names in double quotes, e.g. "
                f'"{value}" — without quotes 3.10 would read as 3.1.'
            )
        if isinstance(value, int):
            raise _fail(
                f'{value}: write a calendar name in double quotes ("{value}"); a planning id '
                f"is written {{ planning = {value} }}."
            )
        if not isinstance(value, dict):
            raise _fail(
                f'expected a calendar name such as "3.1" or a table {{ planning = 24980 }}, '
                f"got {_kind(value)}."
            )
        return value

    @field_validator("label", mode="before")
    @classmethod
    def _check_label(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, str):
            raise _fail(f'expected a calendar name such as "3.1", got {_kind(value)}.')
        label = _normalize_space(value)
        if CALENDAR_LABEL_PATTERN.match(label):
            return label
        if not label:
            raise _fail('a calendar name is empty; write e.g. "3.1".')
        tokens = [
            t
            for t in re.findall(r"[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*", label)
            if any(c.isdigit() for c in t)
        ]
        hint = f' Write just "{tokens[0]}".' if len(tokens) == 1 else ""
        raise _fail(
            f"{_show(value)} is not a calendar name; give the short name the booking page "
            f'shows, such as "3.1", "2" or "1.1" (letters, digits and dots, no spaces).{hint}'
        )

    @field_validator("planning", mode="before")
    @classmethod
    def _check_planning(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise _fail(
                f"{_show(value)} is not a planning id; it is the whole number in the calendar's "
                'radio button (value="24980"), written { planning = 24980 }.'
            )
        return value

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: object) -> object:
        return None if value is None else _v_text(value)

    @model_validator(mode="after")
    def _one_of(self) -> CalendarRef:
        if (self.label is None) == (self.planning is None):
            raise _fail(
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
        """True if the site's calendar ``label`` carries this ref's label as a whole token.

        "3.1" matches "Calendrier 3.1 - Renouvellement", "(3.1)", "Calendrier n°3.1",
        "3.1 Renouvellement", but not "3.10", "13.1", "3.1.2" or "23.1": the
        characters around the token may not extend it (a digit next to a digit,
        a letter next to a letter, or a dot followed by more of the token).
        Whitespace, no-break spaces and letter case do not matter. A planning-id
        ref matches no label (use :meth:`matches_option`).
        """
        if self.label is None:
            return False
        return (
            _token_pattern(self.label.lower()).search(_normalize_space(label).lower()) is not None
        )

    def matches_option(self, label: str, planning_id: str | int | None) -> bool:
        """True if a step-1 radio (its label and ``value``) is this calendar."""
        if self.planning is not None:
            return planning_id is not None and str(planning_id).strip() == str(self.planning)
        return self.matches(label)


@lru_cache(maxsize=256)
def _token_pattern(token: str) -> re.Pattern[str]:
    def side(char: str) -> str:
        return "0-9" if char.isdigit() else "a-z" if char.isalpha() else ""

    before = side(token[0])
    after = side(token[-1])
    lead = rf"(?<![{before}])(?<![{before}]\.)" if before else ""
    trail = rf"(?![{after}])(?!\.[0-9a-z])" if after else ""
    return re.compile(lead + re.escape(token) + trail)


def _v_unique_calendars(refs: tuple[CalendarRef, ...]) -> tuple[CalendarRef, ...]:
    seen: set[str] = set()
    for ref in refs:
        if ref.key in seen:
            raise _fail(f'calendar "{ref.display}" is listed twice; list each calendar once.')
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
            raise _fail(f'expected text such as "mon 08:00", got {_kind(value)}.')
        parts = value.split()
        try:
            if len(parts) != 2:
                raise ValueError
            return {"weekday": _parse_weekday(parts[0]), "time": _parse_time(parts[1])}
        except (ValueError, PydanticCustomError):
            guess = _guess_release(parts)
            hint = f' Did you mean "{guess}"?' if guess else ""
            raise _fail(
                f'{_show(value)} is not a release time; write "<day> HH:MM" with a day '
                f'mon…sun and a 24-hour time, e.g. "mon 08:00".{hint}'
            ) from None

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.time.strftime('%H:%M')}"


def _guess_release(parts: list[str]) -> str | None:
    """ "lundi 8h" → "mon 08:00": the intended day and time, if both can be guessed."""
    if len(parts) != 2:
        return None
    word = parts[0].lower().rstrip(".")
    day = _WEEKDAY_WORDS.get(word)
    if day is None and (close := _suggest(word, list(_WEEKDAY_WORDS))):
        day = _WEEKDAY_WORDS[close]
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
            raise _fail(
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
    SurgeWindow(days=("mon",), start="07:58", end="08:30", interval="30s"),  # type: ignore[arg-type]
)


class ListenAddress(NamedTuple):
    """Where the metrics endpoint listens."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_LISTEN_RE = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d+)")


def _v_listen(value: object) -> ListenAddress:
    help_text = 'write "host:port", e.g. "127.0.0.1:9108", or just a port number'
    if isinstance(value, ListenAddress):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        host, port_text = "127.0.0.1", str(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            host, port_text = "127.0.0.1", text
        elif m := _LISTEN_RE.fullmatch(text):
            host, port_text = m.group(1) or m.group(2), m.group(3)
        else:
            raise _fail(f"{_show(value)} is not an address to listen on; {help_text}.")
    else:
        raise _fail(f"expected an address to listen on, got {_kind(value)}; {help_text}.")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise _fail(f"port {port} is out of range (1 to 65535); {help_text}.")
    return ListenAddress(host, port)


def _v_user_agent(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(f"expected text in double quotes, got {_kind(value)}.")
    text = value.strip()
    if not text:
        return None
    if any(unicodedata.category(c).startswith("C") for c in text) or len(text) > 200:
        raise _fail("must be one line of at most 200 printable characters.")
    if "rdv-monitor" not in text.lower():
        raise _fail(
            f'{_show(value)} must contain "rdv-monitor": the prefecture should be able to tell '
            "which program is calling; you may add a contact, e.g. "
            f"{_EXAMPLES['user_agent']}."
        )
    return text


def _v_path(value: object) -> object:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"expected a folder or file path in double quotes, got {_kind(value)}.")
    return Path(value.strip()).expanduser()


ConfigPath = Annotated[Path, BeforeValidator(_v_path)]


class MonitorSettings(_Model):
    """The ``[monitor]`` table: when and how politely to poll. Durations are seconds."""

    timezone: Annotated[str, BeforeValidator(_v_timezone)] = "Europe/Paris"
    interval: Interval = 300.0
    jitter: Jitter = 30.0
    state_dir: ConfigPath | None = None
    """As written (``~`` expanded, relative paths made relative to the config file);
    ``None`` = decide at run time, see :func:`resolve_state_dir`."""
    releases: tuple[Release, ...] = (Release(weekday=0, time=time(8, 0)),)
    trouble_after: TroubleAfter = 900.0
    user_agent: Annotated[str | None, BeforeValidator(_v_user_agent)] = None
    """``None`` = the package's ``USER_AGENT``; see :attr:`http_user_agent`."""
    timeout: Timeout = 20.0
    connect_timeout: Timeout = 10.0
    max_page_size: Annotated[int, BeforeValidator(_v_size)] = 2 * 1024 * 1024
    """Bytes."""
    min_spacing: Spacing = 2.0
    metrics: Annotated[ListenAddress | None, BeforeValidator(_v_listen)] = None
    surge: tuple[SurgeWindow, ...] = DEFAULT_SURGE

    @field_validator("connect_timeout")
    @classmethod
    def _within_timeout(cls, value: float, info: ValidationInfo) -> float:
        total = info.data.get("timeout")
        if isinstance(total, float) and value > total:
            raise _fail(
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

    url: Annotated[str, BeforeValidator(_v_apprise_url)] = Field(repr=False)
    tags: Tags = ()

    @model_validator(mode="before")
    @classmethod
    def _from_config(cls, value: object) -> object:
        if isinstance(value, str):
            return {"url": value}
        if isinstance(value, dict | NotifyTarget):
            return value
        raise _fail(
            f"expected a notification address in double quotes, got {_kind(value)}; "
            f"e.g. {_EXAMPLES['urls']}."
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
    against :data:`monitor.messages.PLACEHOLDERS` once the whole ``[notify]`` table is read."""

    title: Text | None = None
    body: Text | None = None


def _v_templates(value: object) -> object:
    if isinstance(value, dict):
        for key in value:
            if key not in EVENTS:
                guess = _suggest(str(key), EVENTS)
                hint = f' Did you mean "{guess}"?' if guess else ""
                raise _fail(
                    f'"{key}" is not an event; templates exist for {", ".join(EVENTS)}, '
                    f"written [notify.templates.slot_opened].{hint}"
                )
    return value


class NotifySettings(_Model):
    """The ``[notify]`` table: where to send alerts, for which events, in which language."""

    urls: tuple[NotifyTarget, ...] = ()
    config: ConfigPath | None = None
    """An apprise config file (YAML or text), relative to the config file's folder."""
    events: tuple[Event, ...] = DEFAULT_EVENTS
    language: Annotated[
        Literal["fr", "en"], BeforeValidator(_choice(("fr", "en"), "a language"))
    ] = "fr"
    heartbeat: TimeOfDay = time(9, 0)
    """When the daily "still running" message goes out, if ``"heartbeat"`` is in ``events``."""
    templates: Annotated[dict[str, Template], BeforeValidator(_v_templates)] = Field(
        default_factory=dict
    )

    @field_validator("events")
    @classmethod
    def _unique_events(cls, events: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(events)) != len(events):
            raise _fail("an event is listed twice; list each event once.")
        return events

    @property
    def tags(self) -> frozenset[str]:
        """Every tag given to a URL of ``urls``."""
        return frozenset(t for target in self.urls for t in target.tags)


class _WatchIn(_Model):
    """A ``[[watch]]`` table as written: a URL, or a catalogue shortcut."""

    name: Text
    url: WebUrl | None = None
    prefecture: Text | None = None
    procedure: Text | None = None
    calendars: Calendars | None = None
    interval: Interval | None = None
    notify: Tags = ()
    enabled: bool = True


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

    @property
    def host(self) -> str:
        """The booking site's host name (lower case)."""
        return _url_host(self.url)

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

    def watch(self, name: str) -> Watch | None:
        """The watch called ``name`` (case and surrounding spaces ignored), or ``None``.

        ``None`` is an ordinary answer: the state and the outbox keep the names
        of watches that a later config renamed or removed.
        """
        key = _name_key(name)
        return next((w for w in self.watches if _name_key(w.name) == key), None)


def _name_key(name: str) -> str:
    return _normalize_space(name).casefold()


# --------------------------------------------------------------------------- error reporting

Loc = tuple[str | int, ...]


class _Issue(NamedTuple):
    loc: Loc
    message: str


_TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "top": ("monitor", "notify", "watch"),
    "monitor": tuple(MonitorSettings.model_fields),
    "surge": tuple(SurgeWindow.model_fields),
    "notify": tuple(NotifySettings.model_fields),
    "target": tuple(NotifyTarget.model_fields),
    "template": tuple(Template.model_fields),
    "watch": tuple(_WatchIn.model_fields),
    "calendar": ("planning", "name", "label"),
}


def _table_kind(loc: Loc) -> str:
    """Which table a location is in (for listing its valid keys)."""
    match loc:
        case ():
            return "top"
        case ("monitor",):
            return "monitor"
        case ("monitor", "surge", int()):
            return "surge"
        case ("notify",):
            return "notify"
        case ("notify", "urls", int()):
            return "target"
        case ("notify", "templates", str()):
            return "template"
        case ("watch", int()):
            return "watch"
        case ("watch", int(), "calendars", int()):
            return "calendar"
    return ""


def _where(loc: Loc, data: Mapping[str, Any]) -> str:
    """A location as the user sees the file: ``[[watch]] #2 ("Premier titre") interval``."""

    def rest(parts: Loc) -> str:
        return ", ".join(f"item {p + 1}" if isinstance(p, int) else str(p) for p in parts)

    match loc:
        case ():
            return "top level"
        case ("monitor", "surge", int(i), *tail):
            head = f"[[monitor.surge]] #{i + 1}"
            return f"{head} {rest(tuple(tail))}".rstrip()
        case ("notify", "urls", int(i), "url"):
            notify = data.get("notify")
            urls = notify.get("urls") if isinstance(notify, dict) else None
            if isinstance(urls, list) and i < len(urls) and isinstance(urls[i], str):
                return f"[notify] urls, item {i + 1}"
            return f"[notify] urls, item {i + 1}, url"
        case ("notify", "templates", str(event), *tail):
            return f"[notify.templates.{event}] {rest(tuple(tail))}".rstrip()
        case ("watch", int(i), *tail):
            head = f"[[watch]] #{i + 1}"
            watches = data.get("watch")
            if isinstance(watches, list) and i < len(watches) and isinstance(watches[i], dict):
                name = watches[i].get("name")
                if isinstance(name, str) and name.strip():
                    head += f" ({_show(name.strip())})"
            return f"{head} {rest(tuple(tail))}".rstrip()
        case ("watch",):
            return "[[watch]]"
        case (str(section), *tail):
            return f"[{section}] {rest(tuple(tail))}".rstrip()
    return rest(loc)


def _explain(err: Mapping[str, Any], data: Mapping[str, Any]) -> _Issue:
    """Rewrite one pydantic error into user words (never its type names or links)."""
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    key = next((p for p in reversed(loc) if isinstance(p, str)), "")
    example = _EXAMPLES.get(key)
    eg = f"; e.g. {example}" if example else ""
    secret = loc[:2] == ("notify", "urls")
    shown = "(hidden: it may hold a secret)" if secret else _kind(value)
    if kind == "rdv":
        return _Issue(loc, err["msg"])
    if kind == "extra_forbidden":
        where = loc[:-1]
        table = _TABLE_KEYS.get(_table_kind(where), ())
        unknown = str(loc[-1])
        guess = _suggest(unknown, table)
        text = f"key '{unknown}' is not known"
        text += f"; did you mean '{guess}'?" if guess else "."
        if table:
            text += f" The keys allowed here are: {', '.join(table)}."
        return _Issue(where, text)
    if kind == "missing":
        return _Issue(loc, f"this key is required but missing{eg}.")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return _Issue(loc, f"expected a table of keys, got {shown}{eg}.")
    if kind in ("tuple_type", "list_type", "iterable_type"):
        return _Issue(loc, f"expected a list in square brackets, got {shown}{eg}.")
    if kind in ("string_type", "string_too_short"):
        if kind == "string_too_short":
            return _Issue(loc, f"must not be empty{eg}.")
        return _Issue(loc, f"expected text in double quotes, got {shown}{eg}.")
    if kind in ("bool_type", "bool_parsing"):
        return _Issue(loc, f"expected true or false (without quotes), got {shown}.")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return _Issue(loc, f"expected a whole number, got {shown}{eg}.")
    if kind in ("float_type", "float_parsing"):
        return _Issue(loc, f"expected a number, got {shown}{eg}.")
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return _Issue(loc, f"{shown} is not allowed here; write {expected}.")
    message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    if secret:
        message = mask_urls_in_text(message)
    return _Issue(loc, f"{message[:1].lower()}{message[1:]}{eg}.".replace("..", "."))


def _format_issues(source: str, issues: Sequence[_Issue], data: Mapping[str, Any]) -> str:
    lines = []
    for issue in issues:
        where = _where(issue.loc, data)
        lines.append(f"{where}: {issue.message}")
    if len(lines) == 1:
        return f"{source}: {lines[0]}"
    body = "\n".join(f"  - {line}" for line in lines)
    return f"{source}: {len(lines)} problems:\n{body}"


def _sort_key(issue: _Issue, order: Mapping[str, int]) -> tuple[int, int]:
    section = issue.loc[0] if issue.loc else ""
    index = issue.loc[1] if len(issue.loc) > 1 and isinstance(issue.loc[1], int) else -1
    return order.get(str(section), -1), index


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path, *, catalogue: Catalogue | None = None) -> Config:
    """Read, parse and validate the config file at ``path``.

    Raises :class:`~monitor.errors.ConfigError` whose message names the file and,
    for each problem, the key path, what is expected and how to fix it.
    Relative paths inside the file (``state_dir``, ``[notify] config``) are
    relative to the file's folder. A file readable by other users gets a warning.
    """
    file = Path(path).expanduser()
    source = str(path)
    data = _read_toml(file, source)
    config = parse_config(data, source=source, base_dir=file.parent, catalogue=catalogue)
    warning = _permission_warning(file, source, "secrets (notification URLs)")
    if warning:
        config = config.model_copy(update={"warnings": (warning, *config.warnings)})
    return config


def _read_toml(file: Path, source: str) -> dict[str, Any]:
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: there is no such file. Create it from the commented example "
            f"(cp config.example.toml {source}) and edit it, or check the path you gave.",
            path=source,
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{source}: this is a folder, not a file; give the path of the config file itself, "
            f"e.g. {Path(source) / 'config.toml'}.",
            path=source,
        ) from None
    except PermissionError:
        raise ConfigError(
            f"{source}: this file cannot be read (permission denied). Run rdv-monitor as the "
            "user who owns the file, or give that user read access "
            f"(e.g. chown {os.environ.get('USER', 'youruser')} {source} && chmod 600 {source}).",
            path=source,
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{source}: this file cannot be read ({exc.strerror or exc}).", path=source
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}: line {line} is not UTF-8 text. Save the file as UTF-8 "
            '(most editors offer it under "Save as…" / encoding).',
            path=source,
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_message(source, text, str(exc)), path=source) from None


_TOML_HINTS = {
    "invalid value": (
        'text must be in double quotes (interval = "5m", name = "Renouvellement"); '
        "numbers and true/false are written without quotes."
    ),
    "cannot overwrite a value": "a key is given twice; keep only one.",
    "cannot declare": "this section appears twice; merge the two into one.",
    "cannot mutate": "this section appears twice; merge the two into one.",
    "unclosed array": "a list opened with [ is not closed with ].",
    "unclosed inline table": "a table opened with { is not closed with }.",
    "unterminated string": 'a text value is missing its closing double quote ".',
    "illegal character": 'a text value is missing its closing double quote ".',
    "expected '=' after a key": 'each line must be key = value, e.g. interval = "5m".',
    "invalid statement": 'each line must be key = value, e.g. interval = "5m", or a [section].',
    "expected newline or end of document": "put each key = value on its own line.",
    "expected ']' at the end of a table": "a [section] name is missing its closing ].",
}

_UNQUOTED = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*([^\"'\[{\s][^#]*?)\s*(?:#.*)?$")
_TOML_BARE_VALUE = re.compile(
    r"^(true|false|[+-]?(\d[\d_]*)(\.\d+)?([eE][+-]?\d+)?|\d{4}-\d{2}-\d{2}.*|\d{2}:\d{2}.*)$"
)


def _toml_what(what: str) -> str:
    """tomllib's phrase in user words (no Python reprs)."""
    what = what[:1].lower() + what[1:]
    if m := re.match(r"cannot (?:declare|mutate) \((.*)\)", what):
        name = ".".join(re.findall(r"'([^']*)'", m.group(1)))
        return f"the section [{name}] appears twice"
    if what.startswith("illegal character '\\n'"):
        return "the line ends inside a text value"
    return what


def _toml_message(source: str, text: str, raw_message: str) -> str:
    m = re.match(r"^(.*?)\s*\(at line (\d+), column (\d+)\)\s*$", raw_message)
    shown = ""
    if m:
        what, line_no, column = m.group(1), int(m.group(2)), int(m.group(3))
        where = f"line {line_no}, column {column}"
        lines = text.splitlines()
        shown = lines[line_no - 1].strip() if 0 < line_no <= len(lines) else ""
    else:
        what = re.sub(r"\s*\(at end of document\)", "", raw_message)
        where = "at the end of the file" if "end of document" in raw_message else "syntax error"
    hint = next((h for k, h in _TOML_HINTS.items() if what.lower().startswith(k)), "")
    if shown and (bare := _UNQUOTED.match(shown)):
        key, value = bare.group(1), bare.group(2)
        if not _TOML_BARE_VALUE.match(value):
            hint = (
                f'text must be in double quotes: write {key} = "{value}"; numbers and '
                "true/false are written without quotes."
            )
    message = f"{source}: {where}: this is not valid TOML ({_toml_what(what)})."
    if shown:
        message += f" The line reads: {mask_urls_in_text(shown)[:120]}"
    if hint:
        message += f" — {hint[:1].upper()}{hint[1:]}"
    return message


def _permission_warning(file: Path, source: str, what: str) -> str | None:
    if os.name != "posix":
        return None
    try:
        mode = file.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"{source} can be read by other users of this machine and may hold {what}; "
            f"make it private with: chmod 600 {source}"
        )
    return None


def parse_config(
    data: Mapping[str, Any],
    *,
    source: str,
    base_dir: str | Path | None = None,
    catalogue: Catalogue | None = None,
) -> Config:
    """Validate ``data`` (a parsed TOML document) into a :class:`Config`.

    ``source`` names the file in messages. ``base_dir`` is the folder that
    relative paths are relative to (default: the folder of ``source``).
    Raises :class:`~monitor.errors.ConfigError` listing every problem found.
    """
    base = Path(base_dir) if base_dir is not None else Path(source).expanduser().parent
    checker = _Checker(data, source, base, catalogue)
    return checker.run()


class _Checker:
    """One validation run: collects issues and warnings, then builds the Config or raises."""

    def __init__(
        self, data: Mapping[str, Any], source: str, base: Path, catalogue: Catalogue | None
    ) -> None:
        self.data = data
        self.source = source
        self.base = base
        self._catalogue = catalogue
        self.issues: list[_Issue] = []
        self.warnings: list[str] = []

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = load_catalogue()
        return self._catalogue

    def issue(self, loc: Loc, message: str) -> None:
        self.issues.append(_Issue(loc, message))

    def validate(self, model: type[BaseModel], value: object, prefix: Loc) -> Any:
        """``model`` validated from ``value``, or ``None`` after recording its problems."""
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                err = {**err, "loc": (*prefix, *err["loc"])}
                self.issues.append(_explain(err, self.data))
            return None

    # ---- the run

    def run(self) -> Config:
        data = self.data
        if not isinstance(data, Mapping):
            raise ConfigError(f"{self.source}: expected a TOML document.", path=self.source)
        for key in data:
            if key not in _TABLE_KEYS["top"]:
                self.issues.append(
                    _explain({"type": "extra_forbidden", "loc": (key,), "input": data[key]}, data)
                )
        monitor = self._section("monitor", MonitorSettings)
        notify = self._section("notify", NotifySettings)
        raw_watches = self._raw_watches()
        inputs = [
            (i, self.validate(_WatchIn, raw, ("watch", i)) if isinstance(raw, dict) else None)
            for i, raw in enumerate(raw_watches)
        ]
        for i, raw in enumerate(raw_watches):
            if not isinstance(raw, dict):
                self.issue(("watch", i), f"expected a table of keys, got {_kind(raw)}.")
        if monitor is not None:
            monitor = self._resolve_monitor_paths(monitor)
        if notify is not None:
            self._check_templates(notify)
            notify = self._check_notify(notify)
        watches = self._build_watches(inputs, notify)
        all_loopback = self._all_loopback(raw_watches, watches)
        self._check_floors(monitor, all_loopback, watches)
        if self.issues:
            order = {str(k): n for n, k in enumerate(data)}
            self.issues.sort(key=lambda issue: _sort_key(issue, order))
            raise ConfigError(_format_issues(self.source, self.issues, data), path=self.source)
        assert monitor is not None and notify is not None
        final = tuple(w for _, w in sorted(watches.items()))
        self._warn(monitor, notify, final)
        return Config(
            monitor=monitor,
            notify=notify,
            watches=final,
            source=self.source,
            warnings=tuple(self.warnings),
        )

    def _section(self, name: str, model: type[BaseModel]) -> Any:
        raw = self.data.get(name, {})
        if isinstance(raw, list):
            self.issue(
                (name,),
                f"write [{name}] with single brackets: there is only one {name} section.",
            )
            return None
        if not isinstance(raw, dict):
            self.issue((name,), f"expected a section [{name}] (a table of keys), got {_kind(raw)}.")
            return None
        return self.validate(model, raw, (name,))

    def _raw_watches(self) -> list[Any]:
        raw = self.data.get("watch")
        example = (
            'add one, e.g.\n    [[watch]]\n    name = "Renouvellement titre de séjour"\n'
            '    prefecture = "haute-savoie"\n    procedure = "renewal"\n'
            "(rdv-monitor procedures lists the known ones; any booking page works with url = …)"
        )
        if raw is None or raw == []:
            self.issue(("watch",), f"there is no [[watch]]: nothing to check; {example}")
            return []
        if isinstance(raw, dict):
            self.issue(
                ("watch",),
                "write [[watch]] with double brackets (one [[watch]] per booking to check), "
                "not [watch].",
            )
            return []
        if not isinstance(raw, list):
            self.issue(("watch",), f"expected [[watch]] sections, got {_kind(raw)}.")
            return []
        return raw

    # ---- monitor & notify

    def _resolve_monitor_paths(self, monitor: MonitorSettings) -> MonitorSettings:
        if monitor.state_dir is not None and not monitor.state_dir.is_absolute():
            return monitor.model_copy(update={"state_dir": self.base / monitor.state_dir})
        return monitor

    def _check_templates(self, notify: NotifySettings) -> None:
        """Every template may only use the placeholders its event offers (a wrong one would
        otherwise be found only when a slot opens, and the alert sent without it)."""
        for kind, template in notify.templates.items():
            for key in ("title", "body"):
                text = getattr(template, key)
                problem = template_problem(kind, text) if text is not None else None
                if problem:
                    self.issue(("notify", "templates", kind, key), problem)

    def _check_notify(self, notify: NotifySettings) -> NotifySettings:
        if notify.config is None:
            return notify
        path = notify.config if notify.config.is_absolute() else self.base / notify.config
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            self.issue(
                ("notify", "config"),
                f'"{notify.config}" {what} (looked for {path}); give the path of your apprise '
                "config file, relative to this config file's folder, or remove the key.",
            )
            return notify
        warning = _permission_warning(path, str(path), "notification secrets")
        if warning:
            self.warnings.append(warning)
        return notify.model_copy(update={"config": path})

    # ---- watches

    def _build_watches(
        self, inputs: list[tuple[int, _WatchIn | None]], notify: NotifySettings | None
    ) -> dict[int, Watch]:
        built: dict[int, Watch] = {}
        names: dict[str, int] = {}
        for i, spec in inputs:
            if spec is None:
                continue
            key = _name_key(spec.name)
            if key in names:
                self.issue(
                    ("watch", i, "name"),
                    f'the name "{spec.name}" is already used by [[watch]] #{names[key] + 1}; '
                    "give each watch its own name (messages and saved state use it).",
                )
            else:
                names[key] = i
            watch = self._expand(i, spec)
            if watch is None:
                continue
            if (
                watch.interval is not None
                and watch.interval < POLITE_INTERVAL
                and not (watch.is_loopback)
            ):
                self.issue(
                    ("watch", i, "interval"),
                    f"{format_duration(watch.interval)} is too short: the minimum is "
                    f'"{format_duration(POLITE_INTERVAL)}" {_POLITENESS}. Write e.g. '
                    'interval = "2m", or leave it out to use [monitor] interval.',
                )
            if notify is not None and notify.config is None and watch.notify:
                missing = [t for t in watch.notify if t not in notify.tags]
                if missing:
                    known = ", ".join(sorted(notify.tags)) or "none"
                    self.issue(
                        ("watch", i, "notify"),
                        f'tag "{missing[0]}" is not given to any [notify] urls entry (tags in '
                        f'use: {known}); tag a URL with {{ url = "…", tags = '
                        f'["{missing[0]}"] }}, or remove it to notify every target.',
                    )
            built[i] = watch
        return built

    def _expand(self, i: int, spec: _WatchIn) -> Watch | None:
        loc: Loc = ("watch", i)
        uses_catalogue = spec.prefecture is not None or spec.procedure is not None
        if spec.url is not None and uses_catalogue:
            self.issue(
                (*loc, "url"),
                "give either url (with calendars) or prefecture + procedure (from the "
                "catalogue), not both: the catalogue already knows the booking address. "
                "Remove url, or remove prefecture and procedure.",
            )
            return None
        if spec.url is None and not uses_catalogue:
            self.issue(
                loc,
                "says which booking page to check: add url = "
                '"https://…/booking/create/<number>" (with calendars = ["…"]), or '
                'prefecture = "…" and procedure = "…" from the catalogue '
                "(rdv-monitor procedures lists them).",
            )
            return None
        fields: dict[str, Any] = {
            "name": spec.name,
            "interval": spec.interval,
            "notify": spec.notify,
            "enabled": spec.enabled,
        }
        if spec.url is not None:
            fields.update(url=spec.url, calendars=spec.calendars or ())
            return self.validate(Watch, fields, loc)
        if spec.prefecture is None or spec.procedure is None:
            missing = "procedure" if spec.procedure is None else "prefecture"
            self.issue(loc, self._catalogue_hint(spec.prefecture, missing))
            return None
        try:
            procedure = self.catalogue.lookup(spec.prefecture, spec.procedure)
        except UnknownCatalogueEntry as exc:
            self.issue((*loc, exc.kind), f"{exc} Run rdv-monitor procedures to see them all.")
            return None
        calendars = tuple(CalendarRef(label=c) for c in procedure.calendars)
        if spec.calendars is not None:
            known = {c.key for c in calendars}
            for n, ref in enumerate(spec.calendars):
                if ref.label is not None and ref.key not in known:
                    self.issue(
                        (*loc, "calendars", n),
                        f'calendar "{ref.display}" is not one of the calendars of procedure '
                        f'"{procedure.id}" ({", ".join(procedure.calendars)}); list some of '
                        "those (to watch fewer, or in another order), or remove calendars "
                        "to watch them all.",
                    )
            calendars = spec.calendars
        fields.update(
            url=procedure.url,
            calendars=calendars,
            prefecture=procedure.prefecture,
            procedure=procedure.id,
        )
        return self.validate(Watch, fields, loc)

    def _catalogue_hint(self, prefecture: str | None, missing: str) -> str:
        if missing == "procedure":
            try:
                pref = self.catalogue.prefecture(prefecture or "")
                choices = ", ".join(f'"{p.id}"' for p in pref.procedures)
            except UnknownCatalogueEntry:
                choices = "see rdv-monitor procedures"
            return (
                f'prefecture = "{prefecture}" also needs procedure = "…", one of: {choices} '
                "(rdv-monitor procedures explains them)."
            )
        choices = ", ".join(f'"{p}"' for p in self.catalogue.prefectures)
        return f'procedure also needs prefecture = "…", one of: {choices}.'

    # ---- politeness

    def _all_loopback(self, raw_watches: list[Any], watches: dict[int, Watch]) -> bool:
        if not raw_watches:
            return False
        for i, raw in enumerate(raw_watches):
            if i in watches:
                host = watches[i].host
            elif isinstance(raw, dict) and isinstance(raw.get("url"), str):
                host = _url_host(raw["url"].strip())
            else:
                return False
            if not is_loopback_host(host):
                return False
        return True

    def _timings(self, monitor: MonitorSettings | None) -> tuple[Any, list[Any], Any]:
        """Base interval, surge intervals and min_spacing; read from the raw table (where
        readable) when [monitor] has other problems, so floors are reported with them."""
        if monitor is not None:
            surge = [w.interval for w in monitor.surge]
            return monitor.interval, surge, monitor.min_spacing
        raw = self.data.get("monitor")
        raw = raw if isinstance(raw, dict) else {}

        def read(value: object, default: float | None) -> float | None:
            if value is None:
                return default
            try:
                return parse_duration(value)  # type: ignore[arg-type]
            except ValueError:
                return None

        windows = raw.get("surge")
        surge = (
            [read(w.get("interval"), 30.0) if isinstance(w, dict) else None for w in windows]
            if isinstance(windows, list)
            else []
        )
        interval = read(raw.get("interval"), 300.0)
        return interval, surge, read(raw.get("min_spacing"), 2.0)

    def _check_floors(
        self, monitor: MonitorSettings | None, all_loopback: bool, watches: dict[int, Watch]
    ) -> None:
        if all_loopback:
            return
        interval, surge, min_spacing = self._timings(monitor)
        remote = next((w.host for w in watches.values() if not w.is_loopback), None)
        why = f"{_POLITENESS}; at least one watch polls {remote}" if remote else _POLITENESS
        floor = format_duration(POLITE_INTERVAL)
        if interval is not None and 0 < interval < POLITE_INTERVAL:
            self.issue(
                ("monitor", "interval"),
                f'{format_duration(interval)} is too short: the minimum is "{floor}" '
                f'{why}. Write e.g. interval = "5m". (Only a local test server, '
                "127.0.0.1 or localhost, may be polled faster.)",
            )
        for n, value in enumerate(surge):
            if value is not None and 0 < value < POLITE_INTERVAL:
                self.issue(
                    ("monitor", "surge", n, "interval"),
                    f'{format_duration(value)} is too short: the minimum is "{floor}" '
                    f'{why}. Write interval = "{floor}" or more.',
                )
        if min_spacing is not None and min_spacing < POLITE_SPACING:
            self.issue(
                ("monitor", "min_spacing"),
                f"{format_duration(min_spacing)} is too short: two requests to one "
                f'prefecture must be at least "{format_duration(POLITE_SPACING)}" apart '
                f'{_POLITENESS}. Write e.g. min_spacing = "2s".',
            )

    # ---- warnings

    def _warn(
        self, monitor: MonitorSettings, notify: NotifySettings, watches: tuple[Watch, ...]
    ) -> None:
        if not notify.urls and notify.config is None:
            self.warnings.append(
                "[notify] has no urls and no config: when a slot opens, rdv-monitor will only "
                'write it to its log. Add e.g. urls = ["tgram://<bot token>/<chat id>"].'
            )
        default_time = NotifySettings.model_fields["heartbeat"].default
        if notify.heartbeat != default_time and "heartbeat" not in notify.events:
            self.warnings.append(
                '[notify] heartbeat is set but "heartbeat" is not in events, so no daily '
                'message will be sent; add "heartbeat" to events, or remove heartbeat.'
            )
        if watches and not any(w.enabled for w in watches):
            self.warnings.append("every [[watch]] has enabled = false: nothing will be checked.")
        if monitor.metrics is not None and not is_loopback_host(monitor.metrics.host):
            self.warnings.append(
                f"[monitor] metrics listens on {monitor.metrics}, which other machines can "
                'reach; use "127.0.0.1:<port>" unless you mean it.'
            )
        for n, w in enumerate(watches):
            if not w.is_loopback and w.prefecture is None and "/booking/" not in w.url:
                self.warnings.append(
                    f'[[watch]] #{n + 1} ("{w.name}") url does not look like a prefecture '
                    "booking page (those contain /booking/create/<number>); check that you "
                    "copied the address of the booking page itself."
                )
        if monitor.jitter >= self._shortest_interval(monitor, watches):
            self.warnings.append(
                f"[monitor] jitter ({format_duration(monitor.jitter)}) is not shorter than the "
                "polling interval: checks will bunch up irregularly; make it smaller."
            )

    @staticmethod
    def _shortest_interval(monitor: MonitorSettings, watches: tuple[Watch, ...]) -> float:
        values = [monitor.interval] + [w.interval for w in watches if w.interval is not None]
        return min(values) if values else math.inf


# --------------------------------------------------------------------------- run time helpers


def resolve_state_dir(config: Config, environ: Mapping[str, str] | None = None) -> Path:
    """Where to keep state: ``[monitor] state_dir``, else ``$STATE_DIRECTORY`` (systemd's
    ``StateDirectory=``; the first entry if several), else ``$XDG_STATE_HOME/rdv-monitor``,
    else ``~/.local/state/rdv-monitor``. The folder is not created here.
    """
    env = os.environ if environ is None else environ
    if config.monitor.state_dir is not None:
        return config.monitor.state_dir
    systemd = env.get("STATE_DIRECTORY", "").split(":")[0].strip()
    if systemd:
        return Path(systemd)
    xdg = env.get("XDG_STATE_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "rdv-monitor"
    home = env.get("HOME", "").strip()
    home_path = Path(home) if home else Path.home()
    return home_path / ".local" / "state" / "rdv-monitor"


def describe_config(config: Config) -> str:
    """A short human summary for ``rdv-monitor validate``: watches, URLs, calendars in
    order, intervals, schedule and notification targets (masked). Never shows secrets.
    """
    m = config.monitor
    n = config.notify
    lines = [f"Configuration: {config.source}"]
    lines.append(f"  Time zone: {m.timezone}")
    lines.append(
        f"  Checks every {format_duration(m.interval)}"
        f" (+ up to {format_duration(m.jitter)} random delay)"
    )
    if m.surge:
        lines.append("  Faster checks: " + "; ".join(str(s) for s in m.surge))
    if m.releases:
        lines.append("  New slots expected: " + ", ".join(str(r) for r in m.releases))
    if m.state_dir is not None:
        lines.append(f"  State folder: {m.state_dir}")
    lines.append(f"Watches ({len(config.watches)}):")
    for number, w in enumerate(config.watches, 1):
        state = "" if w.enabled else "  [disabled]"
        lines.append(f"  {number}. {w.name}{state}")
        lines.append(f"     {w.url}")
        if w.prefecture:
            lines.append(f"     from the catalogue: {w.prefecture} / {w.procedure}")
        if w.calendars:
            names = [c.display for c in w.calendars]
            text = names[0] + (" (primary)" if len(names) > 1 else "")
            if len(names) > 1:
                text += ", then " + ", ".join(names[1:])
            lines.append(f"     calendars: {text}")
        else:
            lines.append("     calendars: the booking's only calendar")
        own = " (own setting)" if w.interval is not None else ""
        lines.append(f"     every {format_duration(config.interval_for(w))}{own}")
        if w.notify:
            lines.append(f"     notifies: {', '.join(w.notify)}")
    lines.append(f"Notifications (language {n.language}): {', '.join(n.events)}")
    if "heartbeat" in n.events:
        lines.append(f"  daily heartbeat at {n.heartbeat.strftime('%H:%M')}")
    for target in n.urls:
        tags = f"  [tags: {', '.join(target.tags)}]" if target.tags else ""
        lines.append(f"  {target.masked}{tags}")
    if n.config is not None:
        lines.append(f"  apprise config file: {n.config}")
    if not n.urls and n.config is None:
        lines.append("  (none: alerts only go to the log)")
    if config.warnings:
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in config.warnings)
    return "\n".join(lines)
