"""Notification messages: an :class:`~monitor.events.Event` in words a person acts on from a
phone lock screen.

A slot goes within minutes, so every message puts the important part first and
stays short: the title names what happened and where (« Créneau libre : 3.2 –
Renouvellement titre de séjour »), the body's first line says the essentials
(« 3 créneaux dès le mar. 8 déc. à 09:00 »), then the direct link, then the rest.
Titles stay within :data:`TITLE_LIMIT` characters and first lines within
:data:`FIRST_LINE_LIMIT`, so a lock screen shows them whole.

Messages are French by default (the people who book are in France), English with
``language="en"``. Times are shown in the configured time zone; day and month
names are written here, never taken from the system locale, so a server running
in C or en_US still writes « mar. 8 déc. ».

A user may replace a kind's title and/or body with a template
(``[notify.templates.<kind>]``) using ``{placeholder}`` names. :data:`PLACEHOLDER_HELP`
documents, per kind, every name a template may use; the config refuses any other
(:func:`template_problem`), and :func:`render` falls back to the built-in text,
with a log warning, rather than ever failing to send an alert because of a template.

This module is pure: no I/O, no clock (``now`` is a parameter), no config import
at run time (``monitor.config`` imports it to validate templates).
"""

from __future__ import annotations

import difflib
import logging
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from monitor.events import Event

if TYPE_CHECKING:
    from monitor.config import Template

__all__ = [
    "FIRST_LINE_LIMIT",
    "LANGUAGES",
    "PLACEHOLDERS",
    "PLACEHOLDER_HELP",
    "TITLE_LIMIT",
    "Message",
    "format_date",
    "render",
    "template_problem",
    "test_message",
    "unknown_placeholders",
]

log = logging.getLogger(__name__)

TITLE_LIMIT = 65
"""Longest built-in title (characters): what a phone's lock screen shows on one line."""

FIRST_LINE_LIMIT = 120
"""Longest first line of a built-in body (characters): what a notification preview shows."""

LANGUAGES = ("fr", "en")


@dataclass(frozen=True, slots=True)
class Message:
    """A notification as apprise sends it: a short title and a body of a few lines."""

    title: str
    body: str


# --------------------------------------------------------------------------- placeholders

_CALENDAR_HELP: dict[str, str] = {
    "watch": "the watch's name, as in [[watch]] name",
    "calendar": 'the calendar, e.g. "3.2" (empty for a booking with a single counter)',
    "label": "the calendar's full label as the site shows it (empty when unknown)",
    "where": 'calendar and watch as titles show them: "3.2 – Renouvellement titre de séjour"',
    "url": "the direct link to the booking page",
    "status": 'what the check saw, in words ("complet", "site en panne" / "full", "site down")',
    "detail": "the check's own one-sentence explanation (in English, as the classifier says it)",
    "http_status": 'the HTTP status code of the answer, or "?" when there was none',
    "seen_at": "when the check was made: the time (08:00:14), with the date if not today",
}

_SLOTS_HELP: dict[str, str] = {
    "first_slot": 'the earliest slot, e.g. "mar. 8 déc. à 09:00", or "?" when not shown',
    "slot_count": 'the number of slots, or "?" when the site does not show it',
    "slots": "the slot dates, earliest first (at most 5, then how many more), or ?",
    "summary": 'the built-in first line: "3 créneaux dès le mar. 8 déc. à 09:00"',
}

_TROUBLE_HELP: dict[str, str] = {
    "since": "when the trouble began: the time, with the date if not today",
    "duration": 'how long it has lasted, e.g. "47 min"',
    "bad_checks": "how many checks failed since then",
}

PLACEHOLDER_HELP: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "slot_opened": MappingProxyType(
            {
                **_CALENDAR_HELP,
                **_SLOTS_HELP,
                "planning_id": 'the calendar\'s planning id on the site, or "?"',
                "gone_at": "when the slots were gone again (empty unless the alert came late)",
            }
        ),
        "slot_gone": MappingProxyType(
            {
                **_CALENDAR_HELP,
                **_SLOTS_HELP,
                "opened_at": "when the slots appeared",
                "last_seen_at": "the last check that still showed them",
                "duration": 'how long they stayed open, e.g. "3 min 26 s"',
            }
        ),
        "trouble": MappingProxyType(
            {
                **_CALENDAR_HELP,
                **_TROUBLE_HELP,
                "first_status": "what the first failed check saw, in words",
                "last_good": 'the last check that could read the calendar, or "?"',
                "problem": "the built-in sentence saying what is wrong and since when",
                "advice": "the built-in sentence saying what you can do",
            }
        ),
        "recovered": MappingProxyType(
            {
                **_CALENDAR_HELP,
                **_TROUBLE_HELP,
                "trouble_status": 'what the trouble was, in words ("le site était en panne")',
            }
        ),
        "layout_changed": MappingProxyType(
            {
                **_CALENDAR_HELP,
                "since": "when the unknown page was first seen",
                "page_file": "where the page was saved: pages/<file> in the state directory",
                "page_size": 'the saved page\'s size, e.g. "48 Kio", or "?"',
                "advice": "the built-in sentence saying what you can do",
            }
        ),
        "heartbeat": MappingProxyType(
            {
                "since": "the start of the period reported on",
                "until": "the end of the period reported on",
                "period": 'the period\'s length, e.g. "24 h"',
                "checks": "how many checks were made in the period",
                "checks_detail": 'the checks by status: "complet : 280, en panne : 3"',
                "watches": "the watches checked, comma-separated",
                "last_slot": "when and where the last slot was seen, in words (or none)",
                "last_slot_seen": 'when the last slot was seen, or "?"',
                "last_slot_calendar": 'the calendar of the last slot seen, or "?"',
                "last_slot_watch": 'the watch of the last slot seen, or "?"',
                "url": "a booking link (empty when there is none)",
            }
        ),
        "test": MappingProxyType({"sent_at": "when the test message was made"}),
    }
)
"""Per event kind: every ``{placeholder}`` a template may use, with what it holds.

Values are already text in the message's language (dates in its words, times in
the configured time zone); ``slot_count`` and ``bad_checks``/``checks`` are numbers.
"""

PLACEHOLDERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {kind: tuple(names) for kind, names in PLACEHOLDER_HELP.items()}
)
"""Per event kind: the placeholder names a template may use (see :data:`PLACEHOLDER_HELP`)."""


def _field_text(name: str, conversion: str | None, spec: str) -> str:
    return name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")


def unknown_placeholders(kind: str, text: str) -> list[str]:
    """The placeholders in ``text`` that a template of ``kind`` may not use, as written
    between the braces, in order, each once (empty list: ``text`` is fine).

    Only plain names of :data:`PLACEHOLDERS` are allowed: positional fields (``{}``,
    ``{0}``), attribute or index access (``{url.__class__}``, ``{slots[0]}``),
    conversions (``{url!r}``) and format specs (``{slot_count:>3}``) are reported too,
    since they could fail or expose internals at send time. ``{{`` and ``}}`` are
    literal braces. Raises :class:`ValueError` when ``text`` is not a valid format
    string (a lone ``{`` or ``}``), and :class:`KeyError` for an unknown ``kind``.
    """
    allowed = _allowed(kind)
    bad: list[str] = []
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        written = _field_text(name, conversion, spec or "")
        if (name not in allowed or conversion or spec) and written not in bad:
            bad.append(written)
    return bad


def _allowed(kind: str) -> tuple[str, ...]:
    try:
        return PLACEHOLDERS[kind]
    except KeyError:
        raise KeyError(f"unknown event kind {kind!r}; known: {', '.join(PLACEHOLDERS)}") from None


def template_problem(kind: str, text: str) -> str | None:
    """Why ``text`` cannot be a template of ``kind``, in the config's words; ``None`` if it can.

    The message names the bad placeholder(s) and every valid one, e.g. ``{lien} is not a
    placeholder of slot_opened; use one of {watch}, {calendar}, …``. It has no key path:
    the config puts it after ``[notify.templates.<kind>] <key>:``.
    """
    if kind not in PLACEHOLDERS:
        return f'"{kind}" is not an event; templates exist for {", ".join(PLACEHOLDERS)}.'
    allowed = PLACEHOLDERS[kind]
    listing = ", ".join("{" + name + "}" for name in allowed)
    try:
        bad = unknown_placeholders(kind, text)
    except ValueError:
        return (
            "has a { or } that does not enclose a placeholder; write {{ or }} for a literal "
            f"brace, and placeholders as {{name}} with name one of {listing}."
        )
    if not bad:
        return None
    shown = ", ".join("{" + b + "}" for b in bad)
    verb = "is not a placeholder" if len(bad) == 1 else "are not placeholders"
    message = f"{shown} {verb} of {kind}; use one of {listing}."
    plain = [b for b in bad if b.split("!")[0].split(":")[0] in allowed]
    if plain:
        message += " Placeholders are plain names: no formatting after ':' or '!'."
    else:
        stem = bad[0].split(".")[0].split("[")[0]
        guess = difflib.get_close_matches(stem, list(allowed), n=1, cutoff=0.6)
        if guess and guess[0] != bad[0]:
            message += f" Did you mean {{{guess[0]}}}?"
    return message


# --------------------------------------------------------------------------- dates and words

_FR_DAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
_FR_MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)
_EN_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_FAR = timedelta(days=300)
"""Dates further than this from now also show their year."""


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
    local = when.astimezone(tz)
    clock = f"{local.hour:02d}:{local.minute:02d}" + (f":{local.second:02d}" if seconds else "")
    year = f" {local.year}" if now is not None and abs(when - now) > _FAR else ""
    weekday, month = local.weekday(), local.month - 1
    if language == "fr":
        return f"{_FR_DAYS[weekday]} {local.day} {_FR_MONTHS[month]}{year} à {clock}"
    return f"{_EN_DAYS[weekday]} {local.day} {_EN_MONTHS[month]}{year} {clock}"


_STATUS_WORDS = {
    "fr": {
        "available": "créneaux ouverts",
        "full": "complet",
        "down": "site en panne",
        "blocked": "requêtes refusées",
        "captcha": "captcha",
        "unknown": "page inconnue",
    },
    "en": {
        "available": "slots open",
        "full": "full",
        "down": "site down",
        "blocked": "requests refused",
        "captcha": "captcha",
        "unknown": "unknown page",
    },
}

_WAS = {
    "fr": {
        "down": "le site était en panne",
        "blocked": "la préfecture refusait nos requêtes",
        "captcha": "un captcha bloquait la consultation",
        "unknown": "la page n'était pas reconnue",
    },
    "en": {
        "down": "site was down",
        "blocked": "the prefecture was refusing our requests",
        "captcha": "a captcha was in the way",
        "unknown": "the page was not recognised",
    },
}

_HEARTBEAT_STATUS = {
    "fr": {
        "full": "complet",
        "available": "créneaux",
        "down": "en panne",
        "blocked": "refusées",
        "captcha": "captcha",
        "unknown": "page inconnue",
    },
    "en": {
        "full": "full",
        "available": "available",
        "down": "down",
        "blocked": "blocked",
        "captcha": "captcha",
        "unknown": "unknown",
    },
}

_STATUS_ORDER = ("full", "available", "down", "blocked", "captcha", "unknown")


@dataclass(frozen=True, slots=True)
class _Words:
    """The language, time zone and "now" of one rendering, and the phrases built from them."""

    language: str
    tz: tzinfo
    now: datetime

    @property
    def fr(self) -> bool:
        return self.language == "fr"

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
            return "à une heure inconnue" if self.fr else "at an unknown time"
        text = self.stamp(when, seconds=seconds)
        if self.today(when):
            return f"à {text}" if self.fr else f"at {text}"
        return f"le {text}" if self.fr else f"on {text}"

    def since(self, when: datetime | None) -> str:
        """« depuis 07:42 » / « depuis le lun. 7 déc. à 07:42 »; "since 07:42"."""
        if when is None:
            return "depuis un moment" if self.fr else "for a while"
        text = self.stamp(when)
        if self.today(when) or not self.fr:
            return f"depuis {text}" if self.fr else f"since {text}"
        return f"depuis le {text}"

    def duration(self, seconds: float | None) -> str:
        """« 3 min 26 s », « 47 min », « 1 h 5 min », « 2 j 3 h » ("2 d 3 h")."""
        if seconds is None:
            return "?"
        total = max(0, round(seconds))
        if total < 60:
            return f"{total} s"
        if total < 3600:
            minutes, secs = divmod(total, 60)
            return f"{minutes} min {secs} s" if secs and minutes < 10 else f"{minutes} min"
        if total < 86400:
            hours, rest = divmod(total, 3600)
            minutes = rest // 60
            return f"{hours} h {minutes} min" if minutes else f"{hours} h"
        days, rest = divmod(total, 86400)
        hours = rest // 3600
        unit = "j" if self.fr else "d"
        return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"

    def status(self, status: object) -> str:
        return _STATUS_WORDS[self.language].get(str(status), str(status or "?"))


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _title(prefix: str, calendar: str, watch: str) -> str:
    """``prefix`` then "calendar – watch", the watch name shortened with "…" to fit
    :data:`TITLE_LIMIT` (the calendar number is what tells two alerts apart)."""
    head = f"{prefix}{calendar} – " if calendar else prefix
    if len(head) + len(watch) <= TITLE_LIMIT:
        return head + watch
    room = TITLE_LIMIT - len(head)
    if room >= 2:
        return head + _clip(watch, room)
    return _clip(head + watch, TITLE_LIMIT)


def _body(*lines: str | None) -> str:
    """Non-empty lines joined; the first one kept within :data:`FIRST_LINE_LIMIT`."""
    kept = [line for line in lines if line]
    if kept:
        kept[0] = _clip(kept[0], FIRST_LINE_LIMIT)
    return "\n".join(kept)


def _time(payload: Mapping[str, Any], key: str) -> datetime | None:
    value = payload.get(key)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return value if isinstance(value, datetime) and value.tzinfo is not None else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


# --------------------------------------------------------------------------- per kind


@dataclass(frozen=True, slots=True)
class _Built:
    """A kind's built-in message and the values its templates may use."""

    message: Message
    values: dict[str, object]


class _Calendar:
    """The payload fields every calendar event shares, read defensively."""

    def __init__(self, event: Event, words: _Words) -> None:
        p = event.payload
        self.payload = p
        self.words = words
        self.watch = _text(p.get("watch")) or event.watch
        calendar = p.get("calendar")
        self.calendar = _text(calendar) if calendar is not None else event.calendar
        self.label = _text(p.get("label"))
        self.url = _text(p.get("url"))
        self.status = _text(p.get("status"))
        self.http_status = _int(p.get("http_status"))
        self.seen_at = _time(p, "seen_at") or event.created_at
        self.where = f"{self.calendar} – {self.watch}" if self.calendar else self.watch
        self.short = self.calendar or self.watch
        """How a first line names the calendar: "3.2", or the watch for a single counter."""

    def title(self, prefix: str) -> str:
        return _title(prefix, self.calendar, self.watch)

    def values(self) -> dict[str, object]:
        return {
            "watch": self.watch,
            "calendar": self.calendar,
            "label": self.label,
            "where": self.where,
            "url": self.url,
            "status": self.words.status(self.status),
            "detail": _text(self.payload.get("detail")),
            "http_status": self.http_status if self.http_status is not None else "?",
            "seen_at": self.words.stamp(self.seen_at, seconds=True),
        }


def _slot_dates(payload: Mapping[str, Any]) -> tuple[datetime | None, list[datetime]]:
    slots = [t for t in (_time({"t": s}, "t") for s in payload.get("slots") or ()) if t]
    first = _time(payload, "first_slot") or (min(slots) if slots else None)
    return first, sorted(slots)


def _slots_summary(words: _Words, count: int | None, first: datetime | None) -> str:
    """« 3 créneaux dès le mar. 8 déc. à 09:00 » / "3 slots from Tue 8 Dec 09:00"."""
    date = words.date(first) if first is not None else None
    if words.fr:
        if count is None:
            return f"des créneaux dès le {date}" if date else "des créneaux sont ouverts"
        if date is None:
            noun = "créneau libre" if count == 1 else "créneaux libres"
            return f"{count} {noun} (dates non affichées)"
        return f"1 créneau le {date}" if count == 1 else f"{count} créneaux dès le {date}"
    if count is None:
        return f"slots from {date}" if date else "slots are open (dates not shown)"
    if date is None:
        return f"{count} slot{'s' if count != 1 else ''} open (dates not shown)"
    return f"1 slot: {date}" if count == 1 else f"{count} slots from {date}"


def _slot_values(words: _Words, payload: Mapping[str, Any]) -> dict[str, object]:
    count = _int(payload.get("slot_count"))
    first, slots = _slot_dates(payload)
    shown = ", ".join(words.date(s) for s in slots[:5])
    if len(slots) > 5:
        shown += f" (+{len(slots) - 5})"
    return {
        "first_slot": words.date(first) if first is not None else "?",
        "slot_count": count if count is not None else "?",
        "slots": shown or "?",
        "summary": _slots_summary(words, count, first),
    }


def _slot_opened(event: Event, words: _Words, gone_at: datetime | None) -> _Built:
    cal = _Calendar(event, words)
    values = {**cal.values(), **_slot_values(words, event.payload)}
    planning = _int(event.payload.get("planning_id"))
    values["planning_id"] = planning if planning is not None else "?"
    values["gone_at"] = words.stamp(gone_at, seconds=True) if gone_at is not None else ""
    summary = str(values["summary"])
    seen = words.at(cal.seen_at, seconds=True)
    if gone_at is None:
        if words.fr:
            title = cal.title("Créneau libre : ")
            reminder = f"Vu {seen}. Réservez vite : ils partent en quelques minutes."
        else:
            title = cal.title("Slot open: ")
            reminder = f"Seen {seen}. Book now: slots go within minutes."
        body = _body(summary[:1].upper() + summary[1:], cal.url, reminder, cal.label)
        return _Built(Message(title, body), values)
    count = _int(event.payload.get("slot_count"))
    plural = count != 1
    gone = words.at(gone_at, seconds=True)
    if words.fr:
        title = cal.title("Créneau (déjà reparti) : ")
        what = "Créneaux vus" if plural else "Créneau vu"
        left = "repartis" if plural else "reparti"
        shown = "dates non affichées" if summary == "des créneaux sont ouverts" else summary
        first = f"{what} {seen}, {left} {gone} — {shown}"
        late = "Cette alerte arrive en retard. D'autres créneaux peuvent réapparaître :"
    else:
        title = cal.title("Slot (already gone): ")
        what = "Slots" if plural else "Slot"
        shown = "dates not shown" if summary.startswith("slots are open") else summary
        first = f"{what} seen {seen}, gone {gone} — {shown}"
        late = "This alert was delayed. Others may reappear:"
    return _Built(Message(title, _body(first, late, cal.url, cal.label)), values)


def _slot_gone(event: Event, words: _Words) -> _Built:
    cal = _Calendar(event, words)
    p = event.payload
    opened_at = _time(p, "opened_at")
    duration_s = _int(p.get("duration_s"))
    if duration_s is None and opened_at is not None:
        duration_s = round((cal.seen_at - opened_at).total_seconds())
    duration = words.duration(duration_s)
    values = {
        **cal.values(),
        **_slot_values(words, p),
        "opened_at": words.stamp(opened_at, seconds=True),
        "last_seen_at": words.stamp(_time(p, "last_seen_at"), seconds=True),
        "duration": duration,
    }
    gone = words.at(cal.seen_at, seconds=True)
    if words.fr:
        title = cal.title("Créneaux repartis : ")
        first = f"{cal.short} : créneaux repartis {gone} (ouverts {duration})"
        tail = "rdv-monitor continue de surveiller."
    else:
        title = cal.title("Slots gone: ")
        first = f"{cal.short}: slots gone {gone} (open {duration})"
        tail = "rdv-monitor keeps watching."
    return _Built(Message(title, _body(first, tail, cal.url)), values)


def _trouble_words(cal: _Calendar, words: _Words, since: datetime | None) -> tuple[str, str, str]:
    """(title prefix, what is wrong and since when, what the person can do), per status."""
    when = words.since(since)
    code = cal.http_status
    status = cal.status
    if words.fr:
        if status == "blocked":
            refused = f" (erreur {code})" if code is not None and code >= 400 else ""
            return (
                "Accès refusé : ",
                f"La préfecture refuse nos requêtes{refused} {when}.",
                "Vérifiez que rien d'autre n'interroge le site depuis cette connexion ; "
                "rdv-monitor ralentit.",
            )
        if status == "captcha":
            return (
                "Captcha : ",
                f"Un captcha bloque la consultation {when}.",
                "Ouvrez le lien et regardez vous-même :",
            )
        if status == "unknown":
            return (
                "Page inconnue : ",
                f"La préfecture affiche une page inconnue {when} : le site a peut-être changé.",
                "Ouvrez le lien ; si la page a changé, mettez rdv-monitor à jour.",
            )
        if code is None:
            problem = f"Le site de la préfecture ne répond pas {when}."
        elif code >= 400:
            problem = f"Le site de la préfecture répond par une erreur {code} {when}."
        else:
            problem = f"Le site de la préfecture est indisponible {when}."
        return ("Site en panne : ", problem, "rdv-monitor continue d'essayer : rien à faire.")
    if status == "blocked":
        refused = f" (error {code})" if code is not None and code >= 400 else ""
        return (
            "Blocked: ",
            f"The prefecture has been refusing our requests{refused} {when}.",
            "Check that nothing else polls the site from this connection; "
            "rdv-monitor is slowing down.",
        )
    if status == "captcha":
        return (
            "Captcha: ",
            f"A captcha has been blocking the calendar {when}.",
            "Open the link and look yourself:",
        )
    if status == "unknown":
        return (
            "Unknown page: ",
            f"The site has been showing an unknown page {when}: it may have changed.",
            "Open the link; if the page has changed, update rdv-monitor.",
        )
    if code is None:
        problem = f"The prefecture's site has not been answering {when}."
    elif code >= 400:
        problem = f"The prefecture's site has been answering with error {code} {when}."
    else:
        problem = f"The prefecture's site has been unavailable {when}."
    return ("Site down: ", problem, "rdv-monitor keeps trying: nothing to do.")


def _trouble_values(cal: _Calendar, words: _Words) -> tuple[datetime | None, dict[str, object]]:
    p = cal.payload
    since = _time(p, "since")
    bad = _int(p.get("bad_checks"))
    duration_s = _int(p.get("duration_s"))
    if duration_s is None and since is not None:
        duration_s = round((cal.seen_at - since).total_seconds())
    return since, {
        "since": words.stamp(since),
        "duration": words.duration(duration_s),
        "bad_checks": bad if bad is not None else "?",
    }


def _trouble(event: Event, words: _Words) -> _Built:
    cal = _Calendar(event, words)
    since, common = _trouble_values(cal, words)
    prefix, problem, advice = _trouble_words(cal, words, since)
    values = {
        **cal.values(),
        **common,
        "first_status": words.status(event.payload.get("first_status")),
        "last_good": words.stamp(_time(event.payload, "last_good")),
        "problem": problem,
        "advice": advice,
    }
    return _Built(Message(cal.title(prefix), _body(problem, advice, cal.url)), values)


def _recovered(event: Event, words: _Words) -> _Built:
    cal = _Calendar(event, words)
    _since, common = _trouble_values(cal, words)
    was_status = _text(event.payload.get("trouble_status"))
    was = _WAS[words.language].get(was_status, words.status(was_status))
    values = {**cal.values(), **common, "trouble_status": was}
    duration = common["duration"]
    if words.fr:
        title = cal.title("Rétabli : ")
        first = f"{cal.short} : retour à la normale après {duration} ({was})."
        now = (
            "Des créneaux sont ouverts en ce moment."
            if cal.status == "available"
            else "Calendrier complet ; rdv-monitor surveille."
        )
    else:
        title = cal.title("Back to normal: ")
        first = f"{cal.short}: back to normal after {duration} ({was})."
        now = (
            "Slots are open right now."
            if cal.status == "available"
            else "Calendar full; rdv-monitor is watching."
        )
    return _Built(Message(title, _body(first, now)), values)


def _size(size: int | None, words: _Words) -> str:
    if size is None:
        return "?"
    unit = ("o", "Kio", "Mio") if words.fr else ("B", "KiB", "MiB")
    if size < 1024:
        return f"{size} {unit[0]}"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} {unit[1]}"
    return f"{size / 1024 / 1024:.1f} {unit[2]}"


def _layout_changed(event: Event, words: _Words) -> _Built:
    cal = _Calendar(event, words)
    p = event.payload
    since = _time(p, "since") or cal.seen_at
    page_file = _text(p.get("page_file"))
    saved = f"pages/{page_file}" if page_file else ""
    error = _text(p.get("page_error"))
    if words.fr:
        title = cal.title("Page changée : ")
        first = f"{cal.short} : la page de réservation est différente {words.since(since)}."
        if saved:
            where = f"Copie enregistrée sous {saved} dans le dossier d'état."
        else:
            where = "La page n'a pas pu être enregistrée" + (f" ({error})." if error else ".")
        advice = (
            "Ouvrez le lien pour voir ; si cela dure, mettez rdv-monitor à jour "
            "ou signalez la page (avec la copie)."
        )
    else:
        title = cal.title("Page changed: ")
        first = f"{cal.short}: the booking page has looked different {words.since(since)}."
        if saved:
            where = f"Saved as {saved} in the state directory."
        else:
            where = "The page could not be saved" + (f" ({error})." if error else ".")
        advice = (
            "Open the link to see it; if it lasts, update rdv-monitor "
            "or report the page (with the copy)."
        )
    values = {
        **cal.values(),
        "since": words.stamp(since),
        "page_file": saved or "?",
        "page_size": _size(_int(p.get("page_size")), words),
        "advice": advice,
    }
    return _Built(Message(title, _body(first, where, advice, cal.url)), values)


def _period(seconds: float, words: _Words) -> str:
    """The heartbeat's period: « 24 h », « 3 h », « 45 min », « 3 j »."""
    hours = seconds / 3600
    if hours < 1:
        return f"{max(0, round(seconds / 60))} min"
    if hours <= 48:
        return f"{round(hours)} h"
    return f"{round(hours / 24)} {'j' if words.fr else 'd'}"


def _checks(counts: object, words: _Words) -> tuple[int, str]:
    """Total checks and « complet : 280, en panne : 3 » / "280 full, 3 down"."""
    if not isinstance(counts, Mapping):
        return 0, ""
    numbers = {str(k): n for k, v in counts.items() if (n := _int(v)) is not None and n > 0}
    order = {status: i for i, status in enumerate(_STATUS_ORDER)}
    ranked = sorted(numbers.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99), kv[0]))
    names = _HEARTBEAT_STATUS[words.language]
    if words.fr:
        parts = [f"{names.get(k, k)} : {n}" for k, n in ranked]
    else:
        parts = [f"{n} {names.get(k, k)}" for k, n in ranked]
    return sum(numbers.values()), ", ".join(parts)


def _heartbeat(event: Event, words: _Words) -> _Built:
    p = event.payload
    since = _time(p, "since")
    until = _time(p, "until") or event.created_at
    period = _period((until - since).total_seconds(), words) if since else "24 h"
    total, detail = _checks(p.get("checks"), words)
    raw_watches = p.get("watches")
    watches = (
        ", ".join(_text(w) for w in raw_watches if _text(w))
        if isinstance(raw_watches, list)
        else ""
    )
    last = _time(p, "last_slot_seen")
    last_calendar = _text(p.get("last_slot_calendar"))
    last_watch = _text(p.get("last_slot_watch"))
    place = last_calendar or last_watch
    if last_calendar and last_watch and isinstance(raw_watches, list) and len(raw_watches) > 1:
        place = f"{last_calendar} ({last_watch})"
    url = _text(p.get("url"))
    if words.fr:
        title = "rdv-monitor tourne (rapport quotidien)"
        if total:
            first = f"rdv-monitor tourne : {total} vérifications en {period} ({detail})"
            warn = None
        else:
            first = f"rdv-monitor tourne mais n'a fait aucune vérification en {period}"
            warn = "Vérifiez la configuration (surveillances désactivées ?) et le journal."
        if last is not None:
            last_text = f"le {words.date(last)}" + (f" sur {place}" if place else "")
            last_line = f"Dernier créneau vu {last_text}"
        else:
            last_text = "aucun"
            last_line = "Aucun créneau vu jusqu'ici."
        watch_line = f"Surveillé : {watches}" if watches else None
    else:
        title = "rdv-monitor is running (daily report)"
        if total:
            first = f"rdv-monitor is running: {total} checks in {period} ({detail})"
            warn = None
        else:
            first = f"rdv-monitor is running but made no check in {period}"
            warn = "Check the config (watches disabled?) and the log."
        if last is not None:
            last_text = words.date(last) + (f" on {place}" if place else "")
            last_line = f"Last slot seen {last_text}"
        else:
            last_text = "none"
            last_line = "No slot seen so far."
        watch_line = f"Watching: {watches}" if watches else None
    values: dict[str, object] = {
        "since": words.stamp(since),
        "until": words.stamp(until),
        "period": period,
        "checks": total,
        "checks_detail": detail or "?",
        "watches": watches or "?",
        "last_slot": last_text,
        "last_slot_seen": words.date(last) if last is not None else "?",
        "last_slot_calendar": last_calendar or "?",
        "last_slot_watch": last_watch or "?",
        "url": url,
    }
    return _Built(Message(title, _body(first, warn, last_line, watch_line, url)), values)


def _test(words: _Words) -> _Built:
    sent = words.stamp(words.now, seconds=True)
    if words.fr:
        message = Message(
            "rdv-monitor : message de test",
            f"Si vous lisez ceci, les notifications fonctionnent (envoyé à {sent}).",
        )
    else:
        message = Message(
            "rdv-monitor: test message",
            f"If you read this, notifications work (sent at {sent}).",
        )
    return _Built(message, {"sent_at": sent})


# --------------------------------------------------------------------------- rendering


def _words(language: str, tz: tzinfo, now: datetime) -> _Words:
    if language not in LANGUAGES:
        log.warning("unknown message language %r; writing French", language)
        language = "fr"
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return _Words(language, tz, now)


def _build(event: Event, words: _Words, gone_at: datetime | None) -> _Built:
    match event.kind:
        case "slot_opened":
            return _slot_opened(event, words, gone_at)
        case "slot_gone":
            return _slot_gone(event, words)
        case "trouble":
            return _trouble(event, words)
        case "recovered":
            return _recovered(event, words)
        case "layout_changed":
            return _layout_changed(event, words)
        case "heartbeat":
            return _heartbeat(event, words)
    raise KeyError(f"no message for event kind {event.kind!r}")


def _fill(kind: str, key: str, text: str | None, values: Mapping[str, object], default: str) -> str:
    """``text`` with its placeholders filled, or ``default`` (and a warning) if it cannot be."""
    if text is None:
        return default
    try:
        bad = unknown_placeholders(kind, text)
        if bad:
            raise KeyError(", ".join("{" + b + "}" for b in bad))
        filled = text.format_map(values).strip()
    except (KeyError, ValueError, IndexError, AttributeError, TypeError) as exc:
        log.warning(
            "template [notify.templates.%s] %s cannot be used (%s); sending the built-in text",
            kind,
            key,
            exc,
        )
        return default
    return filled or default


def _apply(kind: str, built: _Built, templates: Mapping[str, Template] | None) -> Message:
    template = templates.get(kind) if templates else None
    if template is None:
        return built.message
    return Message(
        _fill(kind, "title", template.title, built.values, built.message.title),
        _fill(kind, "body", template.body, built.values, built.message.body),
    )


def _last_resort(event: Event) -> Message:
    """A plain message for a payload the builders could not read: never lose an alert."""
    payload = event.payload if isinstance(event.payload, Mapping) else {}
    where = " ".join(x for x in (event.calendar, event.watch) if x)
    title = _clip(f"rdv-monitor: {event.kind} {where}".strip(), TITLE_LIMIT)
    parts: Iterable[object] = (payload.get("detail"), payload.get("url"), payload.get("seen_at"))
    body = "\n".join(str(x) for x in parts if x) or event.kind
    return Message(title, body)


def render(
    event: Event,
    *,
    language: str = "fr",
    templates: Mapping[str, Template] | None = None,
    tz: tzinfo,
    now: datetime,
    gone_at: datetime | None = None,
) -> Message:
    """The message for ``event`` in ``language`` ("fr" or "en"), times in ``tz``.

    ``now`` (aware) decides whether a time needs its date ("depuis 07:42" today,
    "depuis le lun. 7 déc. à 23:10" otherwise). ``gone_at`` is for a ``slot_opened``
    delivered late, after its slots were already gone: the message then says when the
    slot was seen and when it left, still with the link. ``templates[event.kind]``
    replaces the built-in title and/or body (see :data:`PLACEHOLDER_HELP`); a template
    that cannot be filled falls back to the built-in text with a log warning.

    Never raises for a payload it cannot read: an unreadable payload gives a plain
    message with what it holds (and an error in the log), since a lost alert is worse
    than an ugly one.
    """
    words = _words(language, tz, now)
    try:
        built = _build(event, words, gone_at)
    except Exception:
        log.exception("cannot write the message of event %s (%s)", event.id, event.kind)
        return _last_resort(event)
    return _apply(event.kind, built, templates)


def test_message(
    language: str,
    *,
    now: datetime,
    tz: tzinfo,
    templates: Mapping[str, Template] | None = None,
) -> Message:
    """The message ``rdv-monitor notify-test`` sends: it proves that notifications
    arrive, in the configured language. ``templates["test"]`` may reword it."""
    return _apply("test", _test(_words(language, tz, now)), templates)


test_message.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
