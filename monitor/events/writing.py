"""The tools every event kind writes its message with: words in the reader's language,
and the shape of a message that fits a phone's lock screen.

A slot goes within minutes, so every message puts the important part first and
stays short: the title names what happened and where (« Créneau libre : 3.2 –
Renouvellement titre de séjour »), the body's first line says the essentials,
then the direct link, then the rest. Titles stay within :data:`TITLE_LIMIT`
characters and first lines within :data:`FIRST_LINE_LIMIT`.

Day and month names come from the language catalogue (:mod:`monitor.lang`), never
from the system locale, so a server running in C or en_US still writes « mar. 8 déc. ».
Pure: no I/O, no clock (``now`` is given).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from monitor.durations import say_duration
from monitor.lang import DEFAULT_LANGUAGE, Phrases, phrases_for

__all__ = [
    "FIRST_LINE_LIMIT",
    "TITLE_LIMIT",
    "Message",
    "Words",
    "Written",
    "body",
    "clip",
    "format_date",
    "payload_int",
    "payload_text",
    "payload_time",
    "title",
]

TITLE_LIMIT = 65
"""Longest built-in title (characters): what a phone's lock screen shows on one line."""

FIRST_LINE_LIMIT = 120
"""Longest first line of a built-in body (characters): what a notification preview shows."""

_FAR = timedelta(days=300)
"""Dates further than this from now also show their year."""


@dataclass(frozen=True, slots=True)
class Message:
    """A notification as apprise sends it: a short title and a body of a few lines."""

    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Written:
    """A kind's built-in message and the values its templates may use."""

    message: Message
    values: dict[str, object]


def format_date(
    when: datetime,
    language: str,
    tz: tzinfo,
    *,
    seconds: bool = False,
    now: datetime | None = None,
) -> str:
    """``when`` as a date and time in ``language``'s words, in ``tz``: « mar. 8 déc. à 09:00 »
    / "Tue 8 Dec 09:00". The year is added when ``now`` is given and the date is more than
    about ten months away from it. Independent of the system locale.
    """
    words = phrases_for(language)
    local = when.astimezone(tz)
    clock = f"{local.hour:02d}:{local.minute:02d}" + (f":{local.second:02d}" if seconds else "")
    year = f" {local.year}" if now is not None and abs(when - now) > _FAR else ""
    return words.date.format(
        weekday=words.days[local.weekday()],
        day=local.day,
        month=words.months[local.month - 1],
        year=year,
        clock=clock,
    )


@dataclass(frozen=True, slots=True)
class Words:
    """The language, time zone and "now" of one message, and the phrases built from them.

    ``own`` are the phrases of the kind being written (see :meth:`for_kind`).
    """

    phrases: Phrases
    tz: tzinfo
    now: datetime
    own: Mapping[str, str]

    @classmethod
    def for_kind(
        cls,
        language: str,
        tz: tzinfo,
        now: datetime,
        kind: str,
        own_words: Mapping[str, Mapping[str, str]],
    ) -> Words:
        """The words of a ``kind`` message: the catalogue's phrases for the kind, else
        the kind's own (``own_words``, by language), else the kind's own default-language
        ones."""
        phrases = phrases_for(language)
        own = {
            **own_words.get(DEFAULT_LANGUAGE, {}),
            **own_words.get(language, {}),
            **phrases.messages.get(kind, {}),
        }
        return cls(phrases, tz, now, own)

    @property
    def language(self) -> str:
        return self.phrases.code

    def say(self, name: str, /, **fields: object) -> str:
        """The kind's phrase ``name`` with its ``{fields}`` filled."""
        return self.own[name].format(**fields)

    def shared(self, section: str, name: str, /, **fields: object) -> str:
        """A phrase several kinds share (``slots``), with its ``{fields}`` filled."""
        return self.phrases.messages[section][name].format(**fields)

    def date(self, when: datetime, *, seconds: bool = False) -> str:
        return format_date(when, self.language, self.tz, seconds=seconds, now=self.now)

    def today(self, when: datetime) -> bool:
        return when.astimezone(self.tz).date() == self.now.astimezone(self.tz).date()

    def stamp(self, when: datetime | None, *, seconds: bool = False) -> str:
        """The time alone when ``when`` is today, else the date and time; "?" when unknown."""
        if when is None:
            return "?"
        if self.today(when):
            local = when.astimezone(self.tz)
            fmt = "%H:%M:%S" if seconds else "%H:%M"
            return local.strftime(fmt)  # digits only: locale-independent
        return self.date(when, seconds=seconds)

    def at(self, when: datetime | None, *, seconds: bool = False) -> str:
        """« à 08:00:14 » / « le lun. 7 déc. à 08:00:14 »; "at 08:00:14" / "on Mon 7 Dec …"."""
        if when is None:
            return self.phrases.at_unknown
        if self.today(when):
            return self.phrases.at_today.format(time=self.stamp(when, seconds=seconds))
        return self.phrases.at_day.format(date=self.date(when, seconds=seconds))

    def since(self, when: datetime | None) -> str:
        """« depuis 07:42 » / « depuis le lun. 7 déc. à 07:42 »; "since 07:42"."""
        if when is None:
            return self.phrases.since_unknown
        if self.today(when):
            return self.phrases.since_today.format(time=self.stamp(when))
        return self.phrases.since_day.format(date=self.date(when))

    def duration(self, seconds: float | None) -> str:
        """« 3 min 26 s », « 47 min », « 1 h 5 min », « 2 j 3 h » ("2 d 3 h")."""
        return say_duration(seconds, self.language)

    def status(self, status: object) -> str:
        return self.phrases.status.get(str(status), str(status or "?"))

    def size(self, size: int | None) -> str:
        """A file size: « 48 Kio » / "48 KiB"; "?" when unknown."""
        if size is None:
            return "?"
        unit = self.phrases.sizes
        if size < 1024:
            return f"{size} {unit[0]}"
        if size < 1024 * 1024:
            return f"{round(size / 1024)} {unit[1]}"
        return f"{size / 1024 / 1024:.1f} {unit[2]}"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def title(prefix: str, calendar: str, watch: str) -> str:
    """``prefix`` then "calendar – watch", the watch name shortened with "…" to fit
    :data:`TITLE_LIMIT` (the calendar number is what tells two alerts apart)."""
    head = f"{prefix}{calendar} – " if calendar else prefix
    if len(head) + len(watch) <= TITLE_LIMIT:
        return head + watch
    room = TITLE_LIMIT - len(head)
    if room >= 2:
        return head + clip(watch, room)
    return clip(head + watch, TITLE_LIMIT)


def body(*lines: str | None) -> str:
    """Non-empty lines joined; the first one kept within :data:`FIRST_LINE_LIMIT`."""
    kept = [line for line in lines if line]
    if kept:
        kept[0] = clip(kept[0], FIRST_LINE_LIMIT)
    return "\n".join(kept)


def payload_time(payload: Mapping[str, Any], key: str) -> datetime | None:
    """The aware time at ``key`` (ISO text or datetime); ``None`` when absent or unreadable."""
    value = payload.get(key)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return value if isinstance(value, datetime) and value.tzinfo is not None else None


def payload_int(value: object) -> int | None:
    """``value`` if it is an integer (not a boolean), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def payload_text(value: object) -> str:
    """``value`` trimmed if it is text, else ``""``."""
    return value.strip() if isinstance(value, str) else ""
