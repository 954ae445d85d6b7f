"""What the simulated prefecture knows: bookings, their plannings, states and sessions.

Vocabulary (the booking module's own):

* a **booking** (``/booking/create/<id>``) is one procedure of one prefecture,
  e.g. 29396 "Accueil des étrangers";
* a **planning** is one counter/calendar of a booking, a radio button of
  step 1 whose label carries the calendar's public name ("Calendrier 3.1 - …");
  its numeric id is not public;
* the **state** of a planning says what the site answers when someone asks
  that planning for slots: the FULL page, slots, a captcha, a proxy error…

Everything here is plain data. The lock that makes it thread-safe belongs to
:class:`monitor.sites.ezbooking.sim.server.SimPrefecture`; nothing in this module is shared
without it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Final, TypedDict

__all__ = [
    "CONTENT_STATES",
    "DEFAULT_VARIANTS",
    "PARIS",
    "SITE_STATES",
    "STATES",
    "TRANSPORT_STATES",
    "Booking",
    "Planning",
    "Progress",
    "Session",
    "SessionStore",
    "State",
    "StateOptions",
    "monday_of",
    "parse_slot",
]

# ── states ───────────────────────────────────────────────────────────────────

STATES: Final[dict[str, tuple[str, ...]]] = {
    "full": ("typo", "typographic"),
    "available": (),
    "captcha": ("ezhuman", "recaptcha"),
    "blocked": ("haproxy_403", "forbidden", "429"),
    "down": (
        "haproxy_503",
        "haproxy_502",
        "haproxy_504",
        "haproxy_504_timeout",
        "surcharge",
        "surcharge_entity",
        "bad_gateway",
        "gateway_timeout",
        "500",
    ),
    "closed": (),
    "maintenance": ("200", "503"),
    "slow": (),
    "truncated": (),
    "oversized": (),
    "unknown": ("redesign", "blank"),
}
"""Every state a planning can be in, with its variants (empty: the state has none).

``full``: the FULL page; ``typo`` has « pour votre a demande », ``typographic`` « n’existe ».
``down``: ``haproxy_503`` (« No server is available to handle this request. »),
``haproxy_502`` (« The server returned an invalid or incomplete response. »),
``haproxy_504`` (« 504 Gateway Time-out ») and ``haproxy_504_timeout`` (« 504 Gateway
Timeout »), ``surcharge`` / ``surcharge_entity`` (the real « Service surchargé » page,
200, with ``é`` or ``&eacute;``), nginx ``bad_gateway`` / ``gateway_timeout``, eZ's
PHP fatal error ``500``. ``blocked``: HAProxy ``haproxy_403``, Apache ``forbidden``,
``429``. ``closed``: « Attention : Cette page n'est pas disponible pour le moment ! ».
"""

DEFAULT_VARIANTS: Final[dict[str, str]] = {
    "captcha": "ezhuman",
    "blocked": "haproxy_403",
    "down": "haproxy_503",
    "maintenance": "200",
    "unknown": "redesign",
}

TRANSPORT_STATES: Final[frozenset[str]] = frozenset(
    {"blocked", "down", "slow", "truncated", "oversized"}
)
"""States produced in front of the application (proxy, network): they hit the request
that asks for the planning's availability instead of changing the page it leads to."""

CONTENT_STATES: Final[frozenset[str]] = frozenset(STATES) - TRANSPORT_STATES
"""States that are pages the application itself renders."""

SITE_STATES: Final[frozenset[str]] = frozenset(
    {"blocked", "down", "slow", "truncated", "oversized", "closed", "maintenance", "unknown"}
)
"""States that can apply to the whole site (every request), see ``set_site_state``."""

_DEFAULT_DELAY: Final = 30.0
_DEFAULT_429_RETRY_AFTER: Final = 120


class StateOptions(TypedDict, total=False):
    """The keyword options of :meth:`State.make`, as ``SimPrefecture.set_state`` and
    ``set_booking_state`` take them and pass them on; the defaults are ``make``'s."""

    variant: str | None
    slots: Iterable[datetime]
    apostrophe: str
    typo: bool
    delay: float | None
    retry_after: int | None
    size: int | None


@dataclass(frozen=True, slots=True)
class State:
    """What one planning (or the whole site) answers. Build it with :meth:`make`.

    ``slots`` (aware datetimes, sorted) are the free slots of an ``available``
    planning. ``slow``, ``truncated`` and ``oversized`` wrap a real answer:
    the available page when ``slots`` are given, the FULL page otherwise.
    """

    kind: str = "full"
    variant: str | None = None
    slots: tuple[datetime, ...] = ()
    apostrophe: str = "'"
    """The FULL message's apostrophe: ``'`` (as real pages write it) or the typographic ``’``."""
    typo: bool = False
    """Render the FULL message with the typo one site had: "pour votre a demande"."""
    delay: float = _DEFAULT_DELAY
    """``slow``: seconds before the answer starts."""
    retry_after: int | None = None
    """``Retry-After`` header value in seconds (429 always has one: 120 by default)."""
    size: int | None = None
    """``oversized``: total body bytes (sent with a Content-Length); ``None``: endless, chunked."""

    @classmethod
    def make(
        cls,
        kind: str,
        *,
        variant: str | None = None,
        slots: Iterable[datetime] = (),
        apostrophe: str = "'",
        typo: bool = False,
        delay: float | None = None,
        retry_after: int | None = None,
        size: int | None = None,
    ) -> State:
        """Validate and build a state; raises :class:`ValueError` naming what is wrong."""
        if kind not in STATES:
            raise ValueError(f"unknown state {kind!r}; known states: {', '.join(STATES)}")
        variants = STATES[kind]
        if variant is None:
            variant = DEFAULT_VARIANTS.get(kind)
        elif variant not in variants:
            known = ", ".join(variants) if variants else "none"
            raise ValueError(f"state {kind!r} has no variant {variant!r} (variants: {known})")
        if kind == "full" and variant == "typo":
            typo = True
        elif kind == "full" and variant == "typographic":
            apostrophe = "’"
        elif kind == "full":
            variant = "typo" if typo else ("typographic" if apostrophe == "’" else None)
        ordered = tuple(sorted(slots))
        for slot in ordered:
            if not isinstance(slot, datetime) or slot.utcoffset() is None:
                raise ValueError(f"slots must be timezone-aware datetimes, got {slot!r}")
        if kind == "available" and not ordered:
            raise ValueError("state 'available' needs at least one slot (slots=[…])")
        if ordered and kind not in ("available", "slow", "truncated", "oversized"):
            raise ValueError(f"state {kind!r} takes no slots")
        if apostrophe not in ("'", "’"):
            raise ValueError('apostrophe must be "\'" or "’"')
        if delay is not None and delay < 0:
            raise ValueError("delay must be >= 0")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        if kind == "blocked" and variant == "429" and retry_after is None:
            retry_after = _DEFAULT_429_RETRY_AFTER
        if size is not None and size <= 0:
            raise ValueError("size must be a positive number of bytes (or None: endless)")
        return cls(
            kind=kind,
            variant=variant,
            slots=ordered,
            apostrophe=apostrophe,
            typo=typo,
            delay=_DEFAULT_DELAY if delay is None else float(delay),
            retry_after=retry_after,
            size=size,
        )

    @property
    def is_transport(self) -> bool:
        return self.kind in TRANSPORT_STATES

    @property
    def has_slots(self) -> bool:
        """True when the page behind this state is the available one (steps 3 and 4)."""
        return self.kind == "available" or (self.kind in TRANSPORT_STATES and bool(self.slots))

    def describe(self) -> str:
        """Short human text for logs and the CLI ("available, 3 slots", "down/haproxy_503")."""
        text = self.kind if self.variant is None else f"{self.kind}/{self.variant}"
        if self.slots:
            text += f", {len(self.slots)} slot{'s' if len(self.slots) > 1 else ''}"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.kind,
            "variant": self.variant,
            "slots": [s.isoformat() for s in self.slots],
            "delay": self.delay if self.kind == "slow" else None,
            "retry_after": self.retry_after,
        }


FULL: Final = State()


# ── bookings and plannings ───────────────────────────────────────────────────

_TOKEN_AFTER_WORD = re.compile(r"(?:calendrier|guichet)\s+(\d+(?:\.\d+)*)", re.IGNORECASE)
_ANY_TOKEN = re.compile(r"(?<![\d.])(\d+(?:\.\d+)*)(?![\d])")


def _label_token(label: str) -> str | None:
    match = _TOKEN_AFTER_WORD.search(label) or _ANY_TOKEN.search(label)
    return match.group(1) if match else None


@dataclass(slots=True)
class Planning:
    """One counter of a booking: a radio of step 1 (``id`` is its value, ``label`` its text).

    ``calendar`` is the public name used to address it ("3.1"); when omitted
    it is read from the label ("Calendrier 3.1 - …" gives "3.1").
    ``description`` is the text of step 3 (what to bring).
    """

    id: int
    label: str
    calendar: str | None = None
    description: str = ""
    state: State = FULL

    def __post_init__(self) -> None:
        if self.id <= 0:
            raise ValueError(f"planning id must be positive, got {self.id}")
        if self.calendar is None:
            self.calendar = _label_token(self.label)


@dataclass(slots=True)
class Booking:
    """One booking, landing at ``{path_prefix}/booking/create/{id}{landing_suffix}``.

    ``encoding`` is the charset the pages are served in ("utf-8" or
    "iso-8859-1"; the latter is written as windows-1252 bytes, as real
    Windows-authored Latin-1 sites do, so ’ becomes 0x92). A booking with a
    single planning has no step 1.
    """

    id: int
    title: str
    plannings: list[Planning]
    path_prefix: str = ""
    landing_suffix: str = ""
    encoding: str = "utf-8"
    site_name: str = "Préfecture de la Haute-Savoie"
    intro: str = ""
    """HTML shown above the conditions checkbox of the landing page."""

    def __post_init__(self) -> None:
        if self.id <= 0:
            raise ValueError(f"booking id must be positive, got {self.id}")
        if not self.plannings:
            raise ValueError(f"booking {self.id} needs at least one planning")
        ids = [p.id for p in self.plannings]
        if len(set(ids)) != len(ids):
            raise ValueError(f"booking {self.id} has duplicate planning ids")
        if self.path_prefix and (
            not self.path_prefix.startswith("/") or self.path_prefix.endswith("/")
        ):
            raise ValueError("path_prefix must look like '/index.php' (leading, no trailing /)")
        if self.landing_suffix not in ("", "/0"):
            raise ValueError("landing_suffix must be '' or '/0'")
        encoding = self.encoding.lower().replace("_", "-")
        if encoding not in ("utf-8", "utf8", "iso-8859-1", "latin-1", "latin1"):
            raise ValueError("encoding must be 'utf-8' or 'iso-8859-1'")
        self.encoding = "utf-8" if encoding.startswith("utf") else "iso-8859-1"

    @property
    def single_counter(self) -> bool:
        """A booking with one planning skips step 1: the landing POST answers directly."""
        return len(self.plannings) == 1

    @property
    def base_path(self) -> str:
        """``/booking/create/<id>`` with the booking's prefix: steps are ``base_path/N``."""
        return f"{self.path_prefix}/booking/create/{self.id}"

    @property
    def landing_path(self) -> str:
        return self.base_path + self.landing_suffix

    @property
    def charset(self) -> str:
        """The charset label declared in headers and ``<meta>``."""
        return self.encoding

    def step_path(self, step: int | str) -> str:
        return f"{self.base_path}/{step}"

    def planning(self, planning_id: int) -> Planning | None:
        return next((p for p in self.plannings if p.id == planning_id), None)

    def resolve(self, calendar: str | int | None) -> Planning:
        """The planning named by a calendar token ("3.1"), a planning id (int) or ``None``.

        ``None`` names the only planning of a single-counter booking. Tokens
        match whole numbers only: "3.1" never matches "3.10" or "13.1".
        """
        if calendar is None:
            if self.single_counter:
                return self.plannings[0]
            raise ValueError(
                f"booking {self.id} has {len(self.plannings)} plannings; name one "
                f"({', '.join(str(p.calendar) for p in self.plannings)})"
            )
        if isinstance(calendar, int) and not isinstance(calendar, bool):
            found = self.planning(calendar)
            if found is None:
                raise ValueError(f"booking {self.id} has no planning {calendar}")
            return found
        token = str(calendar).strip()
        matches = [p for p in self.plannings if p.calendar == token]
        if not matches:
            pattern = re.compile(rf"(?<![\d.]){re.escape(token)}(?!\d|\.\d)")
            matches = [p for p in self.plannings if pattern.search(p.label)]
        if len(matches) == 1:
            return matches[0]
        offered = ", ".join(f"{p.calendar} ({p.id})" for p in self.plannings)
        what = "several" if matches else "no"
        raise ValueError(f"booking {self.id} has {what} calendar {token!r}; it has: {offered}")


# ── time ─────────────────────────────────────────────────────────────────────


class _ParisFallback(tzinfo):
    """Europe/Paris (CET/CEST, EU rules) for machines without a tz database."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1) + self.dst(dt)

    def dst(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(0)
        year = dt.year
        start = _last_sunday(year, 3).replace(hour=2)  # 01:00 UTC = 02:00 CET
        end = _last_sunday(year, 10).replace(hour=3)  # 01:00 UTC = 03:00 CEST
        naive = dt.replace(tzinfo=None)
        return timedelta(hours=1) if start <= naive < end else timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "CEST" if self.dst(dt) else "CET"


def _last_sunday(year: int, month: int) -> datetime:
    last = datetime(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def _paris() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Paris")
    except Exception:  # no tz database on this machine (zoneinfo raises several kinds)
        return _ParisFallback()


PARIS: Final[tzinfo] = _paris()
"""The prefectures' time zone: slot times are shown and week days computed in it."""


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_slot(text: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is read as Paris time."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        example = "2026-12-01T09:00:00+01:00"
        raise ValueError(f"not an ISO date-time: {text!r} (e.g. {example})") from None
    return value if value.utcoffset() is not None else value.replace(tzinfo=PARIS)


# ── sessions ─────────────────────────────────────────────────────────────────


@dataclass(slots=True)
class Progress:
    """How far one session went in one booking."""

    accepted: bool = False
    """The conditions were accepted (landing POST with condition=on)."""
    planning_id: int | None = None
    """The planning chosen on step 1 (or the only one)."""
    described: bool = False
    """Step 3 was passed: step 4 (the week table) may be shown."""


@dataclass(slots=True)
class Session:
    """A PHP session (``eZSESSID``) with its per-session form token."""

    sid: str
    token: str
    last_seen: float
    progress: dict[int, Progress] = field(default_factory=dict)

    def of(self, booking_id: int) -> Progress:
        return self.progress.setdefault(booking_id, Progress())


class SessionStore:
    """Sessions by id, expiring after ``ttl`` seconds without a request (PHP's gc_maxlifetime).

    Unknown or expired ids are never revived: the client gets a new id, as
    PHP does with ``session.use_strict_mode``.
    """

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}

    def get(self, sid: str | None, now: float, ttl: float) -> Session | None:
        if not sid:
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        if now - session.last_seen > ttl:
            del self._sessions[sid]
            return None
        session.last_seen = now
        return session

    def create(self, now: float) -> Session:
        session = Session(sid=secrets.token_hex(16), token=secrets.token_hex(20), last_seen=now)
        self._sessions[session.sid] = session
        return session

    def expire_all(self) -> None:
        self._sessions.clear()

    def __len__(self) -> int:
        return len(self._sessions)
