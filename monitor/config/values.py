"""The config's value types: each parses what a person writes into one typed value.

Durations with their bounds, sizes, times of day, weekdays, time zones, tags,
web and notification addresses, listen addresses. Each refuses a wrong value
with one sentence in user words (:class:`~monitor.config.tables.Invalid`),
which :mod:`monitor.config.tables` places after the key path.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Sequence
from datetime import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from monitor.config.placeholders import placeholder_in
from monitor.config.tables import Invalid, optional, tuple_of
from monitor.config.words import EXAMPLES, kind_of, quoted, suggest
from monitor.durations import (
    DURATION_HELP,
    MAX_DURATION,
    DurationTooLongError,
    format_duration,
    parse_duration,
)
from monitor.events import default_kinds, selectable_kinds
from monitor.secrets import apprise_instance, apprise_schemes, mask_url

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

WEEKDAY_WORDS: dict[str, int] = {}
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
        WEEKDAY_WORDS[_name] = _i

EVENTS = selectable_kinds()
"""Every event a notification can be sent for (asked from the event-kind registry)."""

DEFAULT_EVENTS = default_kinds()

_MIN_PAGE_SIZE = 16 * 1024
_MAX_PAGE_SIZE = 256 * 1024 * 1024


def _v_duration(value: object) -> float:
    """Seconds; infinity for a duration too long to be any (``"100000000d"``), which every
    field's bound then refuses with that field's own maximum (see :func:`_bounded`)."""
    if isinstance(value, float | int | str) and not isinstance(value, bool):
        try:
            return parse_duration(value)
        except DurationTooLongError:
            return math.inf
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    raise Invalid(f"expected a duration, got {kind_of(value)}; {DURATION_HELP}.")


def _v_positive(seconds: float) -> float:
    if seconds <= 0:
        raise Invalid(f"must be more than zero; {DURATION_HELP}.")
    return seconds


def _bounded(limit: float, why: str, *, positive: bool = False) -> Callable[[object], float]:
    """A duration field's validator: parse, refuse zero if ``positive``, and refuse more
    than ``limit`` seconds with a sentence giving the bound and ``why`` (also for a value
    too long to be any duration, so that the user learns this field's bound at once)."""

    def parse(value: object) -> float:
        seconds = _v_duration(value)
        if positive:
            _v_positive(seconds)
        if seconds > limit:
            shown = format_duration(seconds) if math.isfinite(seconds) else quoted(value)
            raise Invalid(f'{shown} is too long: the maximum is "{format_duration(limit)}"; {why}')
        return seconds

    return parse


# The duration fields, each with its upper bound (see MAX_INTERVAL and the others).
Interval = _bounded(
    MAX_INTERVAL,
    'slots are often gone within hours, so check at least once a day ("5m" suits most bookings).',
    positive=True,
)
SurgeInterval = _bounded(
    MAX_SURGE_INTERVAL,
    "a surge window is for checking faster than usual; for slower checks, set "
    "[monitor] interval instead.",
    positive=True,
)
Jitter = _bounded(
    MAX_JITTER,
    'it only spreads checks over a few seconds or minutes; "30s" is plenty, "0" turns it off.',
)
TroubleAfter = _bounded(
    MAX_TROUBLE_AFTER, 'a site failing for longer must be reported; "15m" suits most bookings.'
)
Keep = _bounded(
    MAX_DURATION,
    '"180d" keeps half a year of checks; episodes, events and daily counts are kept anyway.',
    positive=True,
)
"""``[monitor] keep``: how long raw observations are kept (older ones are pruned)."""
Timeout = _bounded(
    MAX_TIMEOUT,
    'a request that takes longer is hung, not slow (the defaults are timeout = "20s" and '
    'connect_timeout = "10s").',
    positive=True,
)
Spacing = _bounded(
    MAX_MIN_SPACING,
    "a check makes several requests to the site, so a longer gap would stretch one check "
    'over an hour; "2s" is polite enough.',
)

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


def parse_size(value: object) -> int:
    """A byte count from ``2097152``, ``"512KiB"``, ``"2MiB"``, ``"1.5MB"`` (units any case).

    Raises :class:`ValueError` saying what is accepted.
    """
    help_text = 'write e.g. "512KiB", "2MiB" or a number of bytes'
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected a size, got {kind_of(value)}; {help_text}.")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative; {help_text}.")
        return value
    m = _SIZE_RE.match(value.strip())
    if not m:
        raise ValueError(f"{quoted(value)} is not a size; {help_text}.")
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
        size = parse_size(value)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if not _MIN_PAGE_SIZE <= size <= _MAX_PAGE_SIZE:
        raise Invalid(
            f"{format_size(size)} is out of range; a booking page is about 50KiB, so give a cap "
            f'between {format_size(_MIN_PAGE_SIZE)} and {format_size(_MAX_PAGE_SIZE)}, e.g. "2MiB".'
        )
    return size


_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_time(value: object) -> time:
    """A time of day from "HH:MM" (24-hour clock) or a TOML local time."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise Invalid(f'expected a time of day such as "08:00", got {kind_of(value)}.')
    text = value.strip()
    m = _TIME_RE.match(text)
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        return time(int(m.group(1)), int(m.group(2)))
    hint = ""
    if fr := re.fullmatch(r"(\d{1,2})\s*[hH:]\s*(\d{2})?", text):
        hour, minute = int(fr.group(1)), int(fr.group(2) or 0)
        if hour < 24 and minute < 60:
            hint = f' Did you mean "{hour:02d}:{minute:02d}"?'
    raise Invalid(
        f'{quoted(value)} is not a time of day; write "HH:MM" on the 24-hour clock, '
        f'e.g. "08:00" or "17:30".{hint}'
    )


def parse_weekday(value: object) -> int:
    if isinstance(value, str):
        key = value.strip().lower().rstrip(".")
        if key in WEEKDAY_WORDS:
            return WEEKDAY_WORDS[key]
        guess = suggest(key, list(WEEKDAY_WORDS))
        hint = f' Did you mean "{guess}"?' if guess else ""
    else:
        hint = ""
    raise Invalid(
        f"{quoted(value)} is not a day of the week; write mon, tue, wed, thu, fri, sat or sun "
        f"(full English names and French lun…dim / lundi…dimanche also work).{hint}"
    )


def _v_weekdays(value: object) -> tuple[int, ...]:
    if isinstance(value, str):
        raise Invalid(f'expected a list of days in square brackets, e.g. days = ["{value}"].')
    if not isinstance(value, list | tuple):
        raise Invalid(f'expected a list of days, e.g. days = ["mon"], got {kind_of(value)}.')
    if not value:
        raise Invalid('the list of days is empty; write e.g. days = ["mon"].')
    days = tuple(parse_weekday(v) for v in value)
    if len(set(days)) != len(days):
        raise Invalid(f"a day is listed twice in {quoted(list(value))}; list each day once.")
    return days


Weekdays = _v_weekdays
TimeOfDay = parse_time


def _v_timezone(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f'expected a time zone name such as "Europe/Paris", got {kind_of(value)}.')
    name = value.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        guess = _suggest_zone(name)
        hint = f' Did you mean "{guess}"?' if guess else ""
        raise Invalid(
            f"{quoted(value)} is not a time zone this system knows; write an IANA name such as "
            f'"Europe/Paris" (mainland France), "Indian/Reunion" or "America/Cayenne".{hint}'
        ) from None
    return name


def _suggest_zone(name: str) -> str | None:
    zones = sorted(zoneinfo.available_timezones())
    by_city = {z.rsplit("/", 1)[-1].lower(): z for z in zones}
    if name.lower() in by_city:
        return by_city[name.lower()]
    return suggest(name, zones)


def check_text(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected text in double quotes, got {kind_of(value)}.")
    if not value.strip():
        raise Invalid("must not be empty.")
    return value.strip()


Text = check_text

_TAG_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def _v_tag(value: object) -> str:
    if not isinstance(value, str) or not _TAG_RE.match(value.strip()):
        raise Invalid(
            f"{quoted(value)} is not a tag; a tag is one word of letters, digits, '-' or '_', "
            'e.g. "phone".'
        )
    return value.strip().lower()


Tag = _v_tag


def _v_unique_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(tags)) != len(tags):
        raise Invalid("a tag is listed twice; list each tag once.")
    return tags


Tags = tuple_of(Tag, after=_v_unique_tags)


def choice(allowed: Sequence[str], what: str) -> Callable[[object], str]:
    """A validator accepting one of ``allowed`` (exact), suggesting the closest otherwise."""

    def validate(value: object) -> str:
        if isinstance(value, str) and value.strip() in allowed:
            return value.strip()
        guess = suggest(value.strip(), allowed) if isinstance(value, str) else None
        hint = f' Did you mean "{guess}"?' if guess else ""
        listing = ", ".join(f'"{a}"' for a in allowed)
        raise Invalid(f"{quoted(value)} is not {what}; write one of {listing}.{hint}")

    return validate


Event = choice(EVENTS, "an event")

# --------------------------------------------------------------------------- hosts & URLs


def _v_web_url(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected a web address in double quotes, got {kind_of(value)}.")
    url = value.strip()
    example = "e.g. " + EXAMPLES["url"]
    if not url:
        raise Invalid(f"the address is empty; copy the booking page's address, {example}.")
    if re.search(r"\s", url):
        raise Invalid(f"{quoted(url)} contains spaces; copy the address exactly, {example}.")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise Invalid(f"{quoted(url)} is not a valid web address; {example}.") from None
    if parts.scheme.lower() not in ("http", "https"):
        hint = "" if "://" in url else f' Did you mean "https://{url}"?'
        raise Invalid(
            f"{quoted(url)} is not a web address: it must start with https:// "
            f"(or http:// for a local test server); {example}.{hint}"
        )
    if not parts.hostname:
        raise Invalid(f"{quoted(url)} has no host name after https://; {example}.")
    return url


WebUrl = _v_web_url


def url_host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


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


def check_apprise_url(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(
            f"expected a notification address in double quotes, got {kind_of(value)}; "
            f"e.g. {EXAMPLES['urls']}."
        )
    url = value.strip()
    if not url:
        raise Invalid(f"the address is empty; remove it or write one, e.g. {EXAMPLES['urls']}.")
    masked = mask_url(url)
    wiki = "https://github.com/caronc/apprise/wiki"
    if "://" not in url:
        raise Invalid(
            f'"{masked}" is not a notification address: it must start with the service '
            f'name and "://", e.g. tgram:// for Telegram or mailtos:// for e-mail (see {wiki}).'
        )
    scheme = url.split("://", 1)[0].lower()
    accepted = apprise_instance(url) is not None
    # The full scheme table loads all ~190 plugins (~12 MiB kept for life): refusals only.
    schemas = {} if accepted else apprise_schemes()
    known = accepted or scheme in schemas or (not schemas and scheme not in ("http", "https"))
    if not known:
        raise Invalid(_unknown_service(masked, scheme, schemas, wiki))
    # After the service is known (a placeholder in an unknown scheme is the lesser
    # mistake), before completeness: "BOT_TOKEN" is clearer than "not complete".
    if (placeholder := placeholder_in(url)) is not None:
        how = "the token BotFather gave you and your chat id, " if scheme == "tgram" else ""
        raise Invalid(
            f'"{masked}" still holds a placeholder ({quoted(placeholder)}), so no alert would '
            f"ever arrive; replace it with your own values ({how}see {wiki}), or remove this "
            "address."
        )
    if accepted:
        return url
    service, setup = schemas.get(scheme, (scheme, None))
    raise Invalid(
        f'"{masked}" is not a complete {service} address: apprise does not accept it. '
        f"Check each part (tokens, IDs, user and host) against {setup or wiki}."
    )


def _unknown_service(
    masked: str, scheme: str, schemas: dict[str, tuple[str, str | None]], wiki: str
) -> str:
    if scheme in ("http", "https"):
        hint = (
            " A web address is not a notification service: for ntfy write "
            '"ntfys://ntfy.sh/<your topic>", for a web hook "json://" or "jsons://".'
        )
    else:
        guess = _SCHEME_ALIASES.get(scheme) or suggest(scheme, list(schemas))
        hint = f' Did you mean "{guess}://"?' if guess else ""
    return (
        f'"{masked}": "{scheme}://" is not a notification service apprise knows; '
        f"see {wiki} for the list.{hint}"
    )


# ------------------------------------------------------------- names, listen addresses, paths


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
            raise Invalid(f"{quoted(value)} is not an address to listen on; {help_text}.")
    else:
        raise Invalid(f"expected an address to listen on, got {kind_of(value)}; {help_text}.")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise Invalid(f"port {port} is out of range (1 to 65535); {help_text}.")
    return ListenAddress(host, port)


def _v_user_agent(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"expected text in double quotes, got {kind_of(value)}.")
    text = value.strip()
    if not text:
        return None
    if any(unicodedata.category(c).startswith("C") for c in text) or len(text) > 200:
        raise Invalid("must be one line of at most 200 printable characters.")
    if "rdv-monitor" not in text.lower():
        raise Invalid(
            f'{quoted(value)} must contain "rdv-monitor": the prefecture should be able to tell '
            "which program is calling; you may add a contact, e.g. "
            f"{EXAMPLES['user_agent']}."
        )
    return text


def _v_path(value: object) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a folder or file path in double quotes, got {kind_of(value)}.")
    return Path(value.strip()).expanduser()


ConfigPath = optional(_v_path)


PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
"""Proxies httpx can use (``socks5`` needs the ``socksio`` package, a dependency)."""


def _v_proxy(value: object) -> str | None:
    """A proxy address, ``scheme://[user:password@]host:port``; shown masked in messages."""
    if value is None:
        return None
    example = '"http://proxy.example.net:3128" or "socks5://user:password@10.0.0.2:1080"'
    if not isinstance(value, str):
        raise Invalid(
            f"expected a proxy address in double quotes, got {kind_of(value)}; e.g. {example}."
        )
    url = value.strip()
    if not url:
        return None
    masked = mask_url(url)
    if "://" not in url:
        raise Invalid(
            f'"{masked}" is not a proxy address: it must start with http://, https:// or '
            f'socks5://, e.g. {example}. Did you mean "http://{masked}"?'
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid(
            f'"{masked}" is not a valid proxy address (its port?); e.g. {example}.'
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise Invalid(
            f'"{masked}": {scheme}:// is not a proxy rdv-monitor can use; write http://, '
            f"https:// or socks5://, e.g. {example}."
        )
    if not parts.hostname:
        raise Invalid(f'"{masked}" has no host name after {scheme}://; e.g. {example}.')
    if port is None:
        raise Invalid(
            f'"{masked}" has no port: a proxy listens on one, e.g. :3128 or :1080; e.g. {example}.'
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise Invalid(
            f'"{masked}" has a path or query after the port; a proxy address ends with '
            f"host:port, e.g. {example}."
        )
    return url


# The remaining parsers, named as value types so that the models read as a list of typed keys.
TimeZoneName = _v_timezone
PageSize = _v_size
ListenOn = _v_listen
UserAgent = _v_user_agent
AppriseUrl = check_apprise_url
ProxyUrl = _v_proxy
