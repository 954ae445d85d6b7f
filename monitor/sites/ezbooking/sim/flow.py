"""The behaviour of the simulated site: one parsed request in, one :class:`Reply` out.

This is the booking module (sessions, form token, steps, redirects) and the
front in front of it (throttling, site-wide errors). It does no I/O: the HTTP
server (:mod:`monitor.sites.ezbooking.sim.server`) parses requests, calls
:meth:`Prefecture.handle` under its lock and writes the reply, including the
transport quirks a reply may ask for (delay, truncation, endless body).

Where planning states apply (see ``model.TRANSPORT_STATES``):

* ``blocked``/``down`` answer the request that asks the planning for slots
  (the POST of step 1, or of the landing page of a single-counter booking),
  any result page of that planning (``/2``, ``/3``, ``/4``) and its ezjscore week;
* ``slow`` delays that POST and the ezjscore week, then answers normally;
* ``truncated``/``oversized`` spoil the body of the result page (``/2`` or
  ``/3``) and of the ezjscore week: the POST itself redirects as usual;
* ``captcha`` leads to ``/6``; ``closed``/``maintenance``/``unknown`` are what
  ``/2`` shows.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Final

import monitor.sites.ezbooking.sim.bad_pages as bad_pages
import monitor.sites.ezbooking.sim.layout as layout
import monitor.sites.ezbooking.sim.steps as steps
import monitor.sites.ezbooking.sim.week as week
from monitor.sites.ezbooking.sim.model import (
    PARIS,
    Booking,
    Planning,
    Progress,
    Session,
    SessionStore,
    State,
)
from monitor.sites.ezbooking.sim.model import monday_of as _monday_of

__all__ = ["Prefecture", "Reply", "Request", "Stream"]

SESSION_COOKIE: Final = "eZSESSID"
ANALYTICS_COOKIE: Final = "xtvrn"

TOKEN_ERROR: Final = (
    "Votre session a expir&eacute; ou le formulaire n&#039;est plus valide. "
    "Veuillez recommencer votre demande."
)
CONDITION_ERROR: Final = (
    "Vous devez accepter les conditions d&#039;utilisation pour poursuivre votre demande."
)
CHOICE_ERROR: Final = "Veuillez choisir la nature de votre rendez-vous."
CAPTCHA_ERROR: Final = (
    "Le code de s&eacute;curit&eacute; saisi est incorrect. Veuillez recommencer."
)

_BOOKING_PATH = re.compile(
    r"^(?P<prefix>(?:/[^/]+)*?)/booking/create/(?P<id>\d+)"
    r"(?:/(?P<step>\d+)(?:/(?P<arg>\d+))?)?/?$"
)
_EZJSCORE_PATH = re.compile(
    r"^(?P<prefix>(?:/[^/]+)*?)/ezjscore/call/bookingserver::planning::assign::"
    r"(?P<booking>\d+)::(?P<planning>\d+)::(?P<offset>-?\d+)/?$"
)
_FILLER: Final = ('<p class="Bligne">&nbsp;</p>\n' * 2048).encode("ascii")


@dataclass(frozen=True, slots=True)
class Request:
    """What the booking module sees of one HTTP request."""

    method: str
    path: str
    """Decoded path, no query string."""
    form: Mapping[str, list[str]]
    cookies: Mapping[str, str]
    host: str
    """The ``Host`` header (absolute ``Location`` URLs are built from it, as PHP does)."""
    client_ip: str

    def field(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class Stream:
    """An endless (or ``total``-byte) body: ``head`` then ``filler`` again and again."""

    head: bytes
    filler: bytes
    total: int | None


@dataclass(slots=True)
class Reply:
    """A response and how to deliver it."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    server: str = "Apache"
    """The ``Server`` header; empty: none (HAProxy's own pages send none)."""
    delay: float = 0.0
    """Seconds to wait before answering (``slow``)."""
    truncate: bool = False
    """Declare the full Content-Length, send half the body, close (``truncated``)."""
    stream: Stream | None = None
    """Send this instead of ``body`` (``oversized``)."""
    close: bool = False
    """``Connection: close`` after this reply."""


@dataclass(slots=True)
class _Ctx:
    """One request being handled: its session and the cookies to set."""

    req: Request
    now: float
    session: Session | None
    cookies: list[str] = field(default_factory=list)


class Prefecture:
    """The site: bookings, sessions, states and the booking module's steps.

    Not thread-safe by itself: :class:`monitor.sites.ezbooking.sim.server.SimPrefecture`
    holds a lock around every call.
    """

    def __init__(
        self,
        bookings: list[Booking],
        *,
        session_ttl: float = 1440.0,
        today: date | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bookings: dict[int, Booking] = {}
        for booking in bookings:
            if booking.id in self.bookings:
                raise ValueError(f"duplicate booking id {booking.id}")
            self.bookings[booking.id] = booking
        self.sessions = SessionStore()
        self.session_ttl = session_ttl
        self.today = today
        self.clock = clock
        self.site_state: State | None = None
        self.throttle = False
        self.throttle_limit = 10
        self.throttle_window = 10.0
        self.booking_attempts = 0
        self.refuse_tokens = 0
        """Form POSTs still to refuse as if their token were stale (see :meth:`_token_ok`)."""
        self.tokens_refused = 0
        self._hits: dict[str, deque[float]] = {}

    @property
    def site_name(self) -> str:
        first = next(iter(self.bookings.values()), None)
        return first.site_name if first else "Préfecture"

    def current_date(self) -> date:
        return self.today or datetime.now(PARIS).date()

    def reset_throttle(self) -> None:
        self._hits.clear()

    # ── entry point ──────────────────────────────────────────────────────────

    def handle(self, req: Request) -> Reply:
        """Answer one request as the front and the booking module would."""
        now = self.clock()
        if self.throttle and self._throttled(req.client_ip, now):
            return self._front_error(State.make("down", variant="haproxy_502"))
        site = self.site_state
        if site is not None:
            if site.kind in ("blocked", "down"):
                return self._front_error(site)
            if site.kind == "oversized":
                return self._oversized(site, "utf-8")
            if site.kind == "maintenance":
                return self._maintenance(site)
            if site.kind == "unknown":
                return self._unknown(site, "utf-8")
            if site.kind == "closed":
                html = steps.closed_page(self.site_name, "Prise de rendez-vous")
                return self._html(_Ctx(req, now, None), 200, html)
        reply = self._route(req, now)
        if site is not None and site.kind == "slow":
            reply.delay = site.delay
        elif site is not None and site.kind == "truncated":
            reply.truncate = True
        return reply

    def _throttled(self, ip: str, now: float) -> bool:
        hits = self._hits.setdefault(ip, deque())
        while hits and now - hits[0] > self.throttle_window:
            hits.popleft()
        hits.append(now)
        return len(hits) > self.throttle_limit

    def _route(self, req: Request, now: float) -> Reply:
        ctx = _Ctx(
            req, now, self.sessions.get(req.cookies.get(SESSION_COOKIE), now, self.session_ttl)
        )
        if match := _BOOKING_PATH.match(req.path):
            booking = self.bookings.get(int(match["id"]))
            if booking is None or match["prefix"] != booking.path_prefix:
                return self._not_found(ctx)
            step = match["step"]
            arg = match["arg"]
            if arg is not None and step != "5":
                return self._not_found(ctx)
            return self._step(ctx, booking, 0 if step is None else int(step), arg)
        if match := _EZJSCORE_PATH.match(req.path):
            return self._ezjscore(
                ctx, int(match["booking"]), int(match["planning"]), int(match["offset"])
            )
        if req.path in ("/", "/index.php", "/index.php/"):
            return self._html(ctx, 200, layout.home(self.site_name, list(self.bookings.values())))
        if req.path == "/robots.txt":
            body = b"User-agent: *\nDisallow: /booking/\nDisallow: /ezjscore/\n"
            return Reply(200, body, [("Content-Type", "text/plain")])
        return self._not_found(ctx)

    # ── steps ────────────────────────────────────────────────────────────────

    def _step(self, ctx: _Ctx, booking: Booking, step: int, arg: str | None) -> Reply:
        post = ctx.req.method == "POST"
        if step == 0:
            return self._landing_post(ctx, booking) if post else self._landing(ctx, booking)
        if step == 5:
            if arg is None:
                return self._not_found(ctx)
            # Choosing a slot starts a booking: the client must never get here.
            self.booking_attempts += 1
            if not self._accepted(ctx, booking):
                return self._bounce(ctx, booking)
            return self._redirect(ctx, booking.step_path(6))
        if step == 6 and post:
            self.booking_attempts += 1  # answering the captcha: booking too
        if step not in (1, 2, 3, 4, 6, 7, 8, 9):
            return self._not_found(ctx)
        if not self._accepted(ctx, booking):
            return self._bounce(ctx, booking)
        assert ctx.session is not None
        progress = ctx.session.of(booking.id)
        if step == 1:
            if booking.single_counter:
                return self._bounce(ctx, booking)
            return self._step1_post(ctx, booking) if post else self._step1(ctx, booking)
        if step == 6:
            return self._captcha(ctx, booking, progress, error=CAPTCHA_ERROR if post else "")
        if step in (7, 8, 9):
            return self._redirect(ctx, booking.step_path(6))
        planning = booking.planning(progress.planning_id) if progress.planning_id else None
        if planning is None:  # conditions accepted, no planning chosen yet
            if booking.single_counter:
                return self._bounce(ctx, booking)
            return self._redirect(ctx, booking.step_path(1))
        if post:
            return self._result_post(ctx, booking, planning, progress, step)
        return self._result(ctx, booking, planning, progress, step)

    def _landing(self, ctx: _Ctx, booking: Booking) -> Reply:
        session = ctx.session or self._new_session(ctx)
        session.progress[booking.id] = Progress()  # opening the booking starts it over
        return self._page(ctx, booking, steps.landing(booking, session.token))

    def _landing_post(self, ctx: _Ctx, booking: Booking) -> Reply:
        session = ctx.session
        if session is None:  # no cookie, or an expired one: the token cannot be right
            session = self._new_session(ctx)
        if not self._token_ok(ctx, session):
            html = steps.landing(booking, session.token, error=TOKEN_ERROR)
            return self._page(ctx, booking, html)
        if ctx.req.field("nextButton") is None:
            return self._page(ctx, booking, steps.landing(booking, session.token))
        if not ctx.req.field("condition"):
            return self._page(
                ctx, booking, steps.landing(booking, session.token, error=CONDITION_ERROR)
            )
        progress = session.progress[booking.id] = Progress(accepted=True)
        if booking.single_counter:
            return self._select(ctx, booking, booking.plannings[0], progress)
        # eZ's redirectTo: an absolute URL built from the Host header.
        return self._redirect(ctx, booking.step_path(1), absolute=True)

    def _step1(self, ctx: _Ctx, booking: Booking, error: str = "") -> Reply:
        assert ctx.session is not None
        return self._page(ctx, booking, steps.step1(booking, ctx.session.token, error=error))

    def _step1_post(self, ctx: _Ctx, booking: Booking) -> Reply:
        assert ctx.session is not None
        if not self._token_ok(ctx, ctx.session):
            return self._step1(ctx, booking, TOKEN_ERROR)
        if ctx.req.field("nextButton") is None:
            return self._step1(ctx, booking)
        raw = (ctx.req.field("planning") or "").strip()
        planning = booking.planning(int(raw)) if raw.isdigit() else None
        if planning is None:
            return self._step1(ctx, booking, CHOICE_ERROR)
        return self._select(ctx, booking, planning, ctx.session.of(booking.id))

    def _select(self, ctx: _Ctx, booking: Booking, planning: Planning, progress: Progress) -> Reply:
        """The POST that asks a planning for slots: where transport states strike."""
        progress.planning_id = planning.id
        progress.described = False
        state = planning.state
        if state.kind in ("blocked", "down"):
            return self._front_error(state)
        if state.kind == "captcha":
            target = 6
        elif state.has_slots:
            target = 3
        else:
            target = 2
        reply = self._redirect(ctx, booking.step_path(target))
        if state.kind == "slow":
            reply.delay = state.delay
        return reply

    def _result(
        self, ctx: _Ctx, booking: Booking, planning: Planning, progress: Progress, step: int
    ) -> Reply:
        """GET of /2, /3 or /4: the page the planning's current state calls for."""
        assert ctx.session is not None
        state = planning.state
        kind = state.kind
        if kind in ("blocked", "down"):
            return self._front_error(state)
        if kind == "captcha":
            return self._redirect(ctx, booking.step_path(6))
        if kind == "closed":
            return self._page(ctx, booking, steps.booking_closed(booking))
        if kind == "maintenance":
            return self._maintenance(state)
        if kind == "unknown":
            return self._unknown(state, booking.charset, ctx)
        token = ctx.session.token
        if step == 2:
            if state.has_slots:
                return self._redirect(ctx, booking.step_path(3))
            reply = self._page(ctx, booking, steps.step2_full(booking, token, state))
        elif not state.has_slots:
            return self._redirect(ctx, booking.step_path(2))
        elif step == 3:
            reply = self._page(ctx, booking, steps.step3(booking, token, planning))
        elif not progress.described:
            return self._redirect(ctx, booking.step_path(3))
        else:
            first = state.slots[0].astimezone(PARIS).date()
            week_start = _monday_of(first)
            offset = (week_start - _monday_of(self.current_date())).days
            html = steps.step4(booking, token, planning, week_start, offset, state.slots)
            reply = self._page(ctx, booking, html)
        return self._spoil(reply, state, booking.charset)

    def _result_post(
        self, ctx: _Ctx, booking: Booking, planning: Planning, progress: Progress, step: int
    ) -> Reply:
        assert ctx.session is not None
        if step == 2:  # "Terminer"
            return self._redirect(ctx, booking.landing_path, absolute=True)
        if step == 4:
            if ctx.req.field("previousButton") is not None:
                return self._redirect(ctx, booking.step_path(3))
            return self._result(ctx, booking, planning, progress, 4)
        # step 3
        if not self._token_ok(ctx, ctx.session):
            html = steps.step3(booking, ctx.session.token, planning, error=TOKEN_ERROR)
            return self._page(ctx, booking, html)
        if ctx.req.field("previousButton") is not None:
            back = booking.landing_path if booking.single_counter else booking.step_path(1)
            return self._redirect(ctx, back)
        if ctx.req.field("nextButton") is None:
            return self._result(ctx, booking, planning, progress, 3)
        state = planning.state
        if state.kind in ("blocked", "down"):
            return self._front_error(state)
        if not state.has_slots:
            return self._redirect(ctx, booking.step_path(2))
        progress.described = True
        return self._redirect(ctx, booking.step_path(4))

    def _captcha(self, ctx: _Ctx, booking: Booking, progress: Progress, error: str) -> Reply:
        assert ctx.session is not None
        planning = booking.planning(progress.planning_id) if progress.planning_id else None
        variant = "ezhuman"
        if planning is not None and planning.state.kind == "captcha":
            variant = planning.state.variant or "ezhuman"
        html = steps.captcha(booking, ctx.session.token, variant, error=error)
        return self._page(ctx, booking, html)

    def _ezjscore(self, ctx: _Ctx, booking_id: int, planning_id: int, offset: int) -> Reply:
        booking = self.bookings.get(booking_id)
        planning = booking.planning(planning_id) if booking else None
        if booking is None or planning is None:
            body = b"Erreur : ce planning n'existe pas."
            return Reply(404, body, [("Content-Type", "text/html; charset=utf-8")])
        if ctx.session is None:
            return self._bounce(ctx, booking)
        state = planning.state
        if state.kind in ("blocked", "down"):
            return self._front_error(state)
        if state.kind == "maintenance":
            return self._maintenance(state)
        if state.kind == "unknown":
            return self._unknown(state, booking.charset, ctx)
        if state.kind == "closed":
            html = steps.CLOSED_MESSAGE
        else:
            week_start = _monday_of(self.current_date() + timedelta(days=offset))
            slots = state.slots if state.has_slots else ()
            html = week.week_fragment(booking, planning, week_start, slots, offset)
        reply = self._html(ctx, 200, html, booking.charset)
        if state.kind == "slow":
            reply.delay = state.delay
        return self._spoil(reply, state, booking.charset)

    # ── building replies ─────────────────────────────────────────────────────

    def _token_ok(self, ctx: _Ctx, session: Session) -> bool:
        """Whether the POSTed form token is the session's current one.

        While :attr:`refuse_tokens` lasts, the site behaves as one that rotates
        its token: it issues a new one first, so the token just sent (reused
        from a page shown earlier) is refused and the page shown again with
        the new token, as eZ does for a stale ``ezxform_token``.
        """
        if self.refuse_tokens > 0:
            self.refuse_tokens -= 1
            self.tokens_refused += 1
            session.token = secrets.token_hex(20)
        return ctx.req.field("ezxform_token") == session.token

    def _accepted(self, ctx: _Ctx, booking: Booking) -> bool:
        return ctx.session is not None and ctx.session.of(booking.id).accepted

    def _new_session(self, ctx: _Ctx) -> Session:
        session = self.sessions.create(ctx.now)
        ctx.session = session
        ctx.cookies.append(f"{SESSION_COOKIE}={session.sid}; path=/; HttpOnly")
        return session

    def _bounce(self, ctx: _Ctx, booking: Booking) -> Reply:
        """No (valid) session for a later step: back to the landing page, as a real expiry looks."""
        return self._redirect(ctx, booking.landing_path, absolute=True)

    def _common_headers(self, ctx: _Ctx) -> list[tuple[str, str]]:
        headers = [
            ("X-Powered-By", "eZ Publish"),
            ("Expires", "Thu, 19 Nov 1981 08:52:00 GMT"),
            ("Cache-Control", "no-store, no-cache, must-revalidate"),
            ("Pragma", "no-cache"),
        ]
        headers += [("Set-Cookie", c) for c in ctx.cookies]
        if ANALYTICS_COOKIE not in ctx.req.cookies:
            expires = format_datetime(datetime.now(UTC) + timedelta(days=395), usegmt=True)
            cookie = f"{ANALYTICS_COOKIE}=$481982$; expires={expires}; path=/"
            headers.append(("Set-Cookie", cookie))
        return headers

    def _html(self, ctx: _Ctx, status: int, html: str, charset: str = "utf-8") -> Reply:
        headers = [("Content-Type", f"text/html; charset={charset}"), ("Content-Language", "fr-FR")]
        return Reply(status, layout.encode(html, charset), headers + self._common_headers(ctx))

    def _page(self, ctx: _Ctx, booking: Booking, html: str) -> Reply:
        return self._html(ctx, 200, html, booking.charset)

    def _redirect(self, ctx: _Ctx, path: str, *, absolute: bool = False) -> Reply:
        location = f"http://{ctx.req.host}{path}" if absolute else path
        headers = [("Location", location), ("Content-Type", "text/html; charset=utf-8")]
        return Reply(302, b"", headers + self._common_headers(ctx))

    def _not_found(self, ctx: _Ctx) -> Reply:
        return self._html(ctx, 404, layout.not_found(self.site_name))

    def _front_error(self, state: State) -> Reply:
        status, body, headers, server = bad_pages.front_error(state.kind, state.variant)
        headers = list(headers)
        if state.retry_after is not None:
            headers.append(("Retry-After", str(state.retry_after)))
        return Reply(status, body.encode("utf-8"), headers, server=server, close=not server)

    def _maintenance(self, state: State) -> Reply:
        status = 503 if state.variant == "503" else 200
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")]
        if state.retry_after is not None:
            headers.append(("Retry-After", str(state.retry_after)))
        return Reply(status, bad_pages.maintenance().encode("utf-8"), headers, server="nginx")

    def _unknown(self, state: State, charset: str, ctx: _Ctx | None = None) -> Reply:
        if state.variant == "blank":
            return Reply(200, b"", [("Content-Type", "text/html; charset=utf-8")])
        body = layout.encode(bad_pages.unknown(self.site_name, charset), charset)
        headers = [("Content-Type", f"text/html; charset={charset}")]
        if ctx is not None:
            headers += self._common_headers(ctx)
        return Reply(200, body, headers)

    def _oversized(self, state: State, charset: str) -> Reply:
        head = layout.encode(layout.oversized_head(self.site_name), charset)
        headers = [
            ("Content-Type", f"text/html; charset={charset}"),
            ("X-Powered-By", "eZ Publish"),
        ]
        return Reply(200, b"", headers, stream=Stream(head, _FILLER, state.size))

    def _spoil(self, reply: Reply, state: State, charset: str) -> Reply:
        """Apply ``truncated``/``oversized`` to a page that would otherwise be sound."""
        if state.kind == "truncated":
            reply.truncate = True
        elif state.kind == "oversized":
            oversized = self._oversized(state, charset)
            oversized.headers = reply.headers
            return oversized
        return reply
