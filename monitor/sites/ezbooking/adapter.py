"""The prefecture booking module (eZ Publish ``/booking/create/<id>``).

The adapter behaves like a careful person with a browser. It opens the
booking, ticks the conditions, picks the calendar on step 1 by its label, and
reads what the site answers. It does not assume step numbers: it follows the
forms' ``action`` and the ``Location`` headers, and submits each page's own
form with every field, hidden ones included. When slots are open it goes one
step further, to the week table, only to *read* the slot dates. It never
follows a slot link (``/5/<timestamp>``): that would start a booking.

Requests per check: the first check of a watch walks landing → conditions →
step 1 → result (5 requests, each needed: see the README) and keeps step 1's
form; later checks submit that form straight away (2 requests: the POST and
its redirect's answer). The form token is the session's (eZ's
``ezxform_token``), so an expired session, which shows up as the landing page
again, is re-established on the spot and the kept form sent with the landing
page's fresh fields, without fetching step 1. Once a session was seen to be
forgotten after some idle time (:mod:`~monitor.sites.ezbooking.session_life`),
a check idle that long starts at the landing page: 4 requests, no bounce.
Open slots add the week tables read until the first free one.

What was learnt (:mod:`~monitor.sites.ezbooking.learnt`: step 1's form, the
calendars, the session's idle limit and cookies) outlives the process through
:meth:`EzBookingAdapter.learnt` / :meth:`~EzBookingAdapter.recall`: a new
process checks in 2 requests while the recalled session lives, else in 4
(it starts at the landing page); a session the site wiped meanwhile costs one
bounce (5). The kept form is read from step 1 again once a day old.

Pages are written by someone else, so the adapter trusts none of their
addresses: it submits a form only to the booking's own site (same scheme,
host and port, or the https upgrade of its http address), and any surprise,
even a bug of ours set off by a strange page, ends the check as ``unknown``
with a detail of bounded size instead of an exception.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpx

from monitor.errors import FetchError
from monitor.http import Origin, Response, checked_url, retry_after_seconds
from monitor.observation import Observation, Status, Verdict
from monitor.page import Page, parse_page, squash
from monitor.sites.base import CalendarInfo, CalendarSpec, Memory, SiteAdapter
from monitor.sites.ezbooking.classify import STEP3_TITLE, classify_page
from monitor.sites.ezbooking.forms import Choice, Form, find_booking_form
from monitor.sites.ezbooking.hops import cookie_for, location, redirects_to, same_session
from monitor.sites.ezbooking.learnt import MAX_COOKIES, Cookie, Knowledge
from monitor.sites.ezbooking.naming import NAMING
from monitor.sites.ezbooking.offered import answered_unasked, cut, no_such_calendar, pick
from monitor.sites.ezbooking.session_life import SessionLife

__all__ = ["EzBookingAdapter"]

log = logging.getLogger(__name__)

_BOOKING_PATH = re.compile(r"^(?P<prefix>.*?)/booking/create/(?P<id>\d+)(?:/\d+)*/?$")
_STEP3 = squash(STEP3_TITLE)
WEEKS_AHEAD = 4
"""Weeks of the planning table read, at most, to find the first free slot's date."""
MAX_PAGES = 8
"""Pages one check may walk through; more means the site is sending us in circles."""
MAX_DETAIL = 1000
"""Characters of an observation's detail, at most. It is stored with every check,
put in events and logs, and it may quote a page: a hostile page must not make it huge."""
KEPT_FORM_MAX_AGE = timedelta(days=1)
"""Age after which the kept step-1 form is read from the site again (one request more a day):
the answer pages do not name the calendar, so a planning id that came to name another
calendar could only be noticed on step 1. This bounds how stale that pairing can be."""
ASSUMED_LIFETIME = 1440.0
"""Idle seconds after which a recalled session is assumed gone while no limit was learnt
(PHP's default ``session.gc_maxlifetime``): trying it then would likely cost a bounce."""
_SINGLE_CALENDAR = "(This booking has a single calendar; it answered for it.)"
_UNKNOWN_ON_FETCH_ERROR = frozenset({"redirect", "bad_url", "off_site"})
"""FetchError kinds that say "the site sent us somewhere we will not go", not "it is down"."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """Where a walk through the booking ended."""

    response: Response | None
    page: Page | None
    verdict: Verdict
    choice: Choice | None = None
    note: str = ""
    read_at: datetime | None = None
    """When the answer this outcome rests on arrived (the observation's "seen at")."""


class EzBookingAdapter(SiteAdapter):
    """Reads prefecture bookings of the eZ Publish booking module."""

    kind = "ezbooking"
    naming = NAMING

    @classmethod
    def accepts(cls, url: httpx.URL) -> bool:
        return url.scheme in ("http", "https") and bool(_BOOKING_PATH.match(url.path))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        parsed = httpx.URL(self.url)
        match = _BOOKING_PATH.match(parsed.path)
        if match is None:
            raise ValueError(f"not a booking-module URL: {self.url}")
        self.booking_id = match["id"]
        self._origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
        self._site = Origin.of(parsed)
        self._prefix = match["prefix"]
        self._choice_url: str | None = None
        self._step1: Form | None = None
        """Step 1's form as last shown: the next check submits it without fetching it again."""
        self._step1_seen: datetime | None = None
        self._start_fresh = False
        """Recalled knowledge without a live site session: the next check starts at landing."""
        self._calendars: tuple[CalendarInfo, ...] = ()
        self._life = SessionLife()
        self._reported: set[type[BaseException]] = set()

    @property
    def calendars(self) -> tuple[CalendarInfo, ...]:
        """The calendars seen on step 1 the last time it was shown (empty until then)."""
        return self._calendars

    async def discover(self) -> list[CalendarInfo]:
        outcome = await self._walk(None, stop_at_choice=True)
        if self._calendars:
            return list(self._calendars)
        if outcome.verdict.status in (Status.FULL, Status.AVAILABLE):
            return []  # a single-counter booking: no step 1, straight to the answer
        raise FetchError(
            f"Could not reach the calendar choice of {self.url}: {outcome.verdict.detail}",
            kind="protocol",
            url=self.url,
        )

    async def check(self, calendar: CalendarSpec | None, *, watch: str) -> Observation:
        busy = self.fetcher.busy_seconds
        try:
            outcome = await self._look(calendar)
            response = outcome.response
            retry_after = retry_after_seconds(response.headers) if response else None
        except Exception as exc:  # the last guard: see SiteAdapter.check
            outcome, retry_after = _Outcome(None, None, self._failed(exc, calendar)), None
        checked_at = outcome.read_at or self.clock()
        verdict = outcome.verdict
        response = outcome.response
        return Observation(
            watch=watch,
            calendar=calendar.display if calendar is not None else "",
            status=verdict.status,
            url=self.url,
            detail=_capped(f"{verdict.detail} {outcome.note}".strip()),
            checked_at=checked_at,
            # The site's time, not our politeness: queueing at the gate is not counted.
            elapsed_ms=round((self.fetcher.busy_seconds - busy) * 1000),
            http_status=response.status if response else None,
            planning_id=outcome.choice.value if outcome.choice else None,
            label=outcome.choice.label if outcome.choice else None,
            slots=verdict.slots,
            slot_count=verdict.slot_count,
            offered=verdict.offered,
            retry_after=retry_after,
            page=response.body if response and verdict.status is Status.UNKNOWN else None,
        )

    async def _look(self, calendar: CalendarSpec | None) -> _Outcome:
        """Walk to the answer for ``calendar`` and read its slot dates; HTTP failures included."""
        try:
            outcome = await self._walk(calendar)
            if outcome.verdict.status is Status.AVAILABLE and not outcome.verdict.slots:
                outcome = await self._read_slot_dates(outcome)
        except FetchError as exc:
            status = Status.UNKNOWN if exc.kind in _UNKNOWN_ON_FETCH_ERROR else Status.DOWN
            outcome = _Outcome(None, None, Verdict(status, str(exc)), read_at=self.clock())
        if outcome.response is not None and outcome.response.status < 400:
            # An answer of the booking module itself (not of the front): the session's
            # idle clock restarts here.
            self._life.last_contact = self.clock()
        return outcome

    def _failed(self, exc: Exception, calendar: CalendarSpec | None) -> Verdict:
        """An unexpected exception as an ``unknown`` verdict; its traceback logged once per type.

        Whatever raised, the page that set it off is still there at the next
        check: a traceback every interval would bury the log, one is enough
        to report the bug.
        """
        name = type(exc).__name__
        what = calendar.display if calendar is not None else "its calendar"
        if type(exc) not in self._reported:
            self._reported.add(type(exc))
            log.warning(
                "%s: %s while checking %s; reported as unknown", self.url, name, what, exc_info=exc
            )
        else:
            log.debug("%s: %s again while checking %s", self.url, name, what)
        return Verdict(
            Status.UNKNOWN,
            f"rdv-monitor could not read the site's answer ({name}); nothing is known about "
            "this calendar. This is a bug of rdv-monitor set off by an unusual page: please "
            "report it with the log.",
        )

    async def _walk(
        self, calendar: CalendarSpec | None, *, stop_at_choice: bool = False
    ) -> _Outcome:
        """Walk from the last known entry point to the page that answers for ``calendar``.

        A warm session submits the kept step-1 form straight away (the answer
        comes after one POST and its redirect). What the site does instead is
        followed within the same check, each detour said at DEBUG: the
        landing page (session expired) is passed again and the kept form sent
        with the new session's fields; step 1 shown again (kept form refused)
        is answered with the form it shows; a calendar missing from the kept
        form means walking from step 1.
        """
        kept = None if stop_at_choice else self._kept_choice(calendar)
        idle = self._life.idle(self.clock())
        fresh, self._start_fresh = self._start_fresh, False
        planned = kept is not None and (fresh or self._life.expired(idle))
        """Starting at the landing page because the session is known to be forgotten."""
        first_kept = kept is not None and not planned
        choice: Choice | None = None
        if planned:
            log.debug(
                "%s: idle %.0f s, %s; starting at its first page",
                self.url,
                idle,
                "no live session recalled" if fresh else "longer than the site keeps a session",
            )
            response = await self.fetcher.get(self.url)
        elif kept is not None:
            step1, choice = kept
            log.debug("%s: sending the kept step-1 form (%s)", self.url, choice.label)
            response = await self._submit(step1, choose={"planning": choice.value})
        else:
            response = await self.fetcher.get(self._choice_url or self.url)
        asked = reused = kept is not None  # a choice was sent in this session; the kept form
        shown_choice = False  # step 1 was shown, and answered, in this check
        conditions_sent = 0
        restarted = False
        for _ in range(MAX_PAGES):
            # "Seen at" is when this answer arrived, not when the check began: a slow
            # site must not date a slot before it was there.
            read_at = self.clock()
            page = parse_page(response.headers, response.body)
            verdict = classify_page(response.status, response.headers, page, url=response.url)
            # A full calendar's answer (the usual check) needs no form: the check ends here,
            # and the site did take the kept form (the landing page it bounces to is never
            # "full"). Its block's reading came from the memo; reading the form would parse it.
            form = None if verdict.status is Status.FULL else find_booking_form(page, response.url)
            if first_kept:
                first_kept = False
                self._learn(idle, response, form)
            if verdict.status is not Status.UNKNOWN or response.status != 200 or form is None:
                unasked = (
                    calendar is not None
                    and not asked
                    and verdict.status in (Status.FULL, Status.AVAILABLE)
                )
                if unasked and self._calendars:
                    # The booking has a calendar choice, yet it answered without one: the
                    # session still holds an earlier choice (another calendar's, perhaps).
                    if restarted:
                        return _Outcome(
                            response,
                            page,
                            answered_unasked(len(self._calendars), verdict),
                            None,
                            "",
                            read_at,
                        )
                    log.info("%s: answered without the calendar choice; starting over", self.url)
                    restarted = True
                    self._choice_url = None
                    response = await self.fetcher.get(self.url)
                    continue
                if reused and verdict.status is Status.UNKNOWN:
                    # Whatever the site made of the kept form, the next check walks afresh.
                    log.debug("%s: unclear answer to the kept step-1 form; dropping it", self.url)
                    self._step1 = None
                note = _SINGLE_CALENDAR if unasked else ""
                return _Outcome(response, page, verdict, choice, note, read_at)

            refusal = self._refusal(form.action)
            if refusal is not None:
                return _Outcome(
                    response,
                    page,
                    Verdict(Status.UNKNOWN, refusal, verdict.step),
                    None,
                    "",
                    read_at,
                )

            if form.has_field("condition"):
                if conditions_sent == 2:
                    return _Outcome(
                        response,
                        page,
                        Verdict(
                            Status.UNKNOWN,
                            "The site keeps sending us back to its conditions page "
                            "(it does not keep our session).",
                            verdict.step,
                        ),
                        None,
                        "",
                        read_at,
                    )
                if choice is not None:
                    log.info("%s: session expired mid-check; starting a new one", self.url)
                conditions_sent += 1
                choice = None
                asked = reused = shown_choice = False
                kept = None if stop_at_choice else self._kept_choice(calendar)
                if kept is None:
                    response = await self._submit(form, tick=("condition",))
                    continue
                response = await self._submit(form, tick=("condition",), follow=False)
                step1 = kept[0]
                if planned and same_session(step1, form):
                    log.debug(
                        "%s: the session outlived %.0f s idle after all; forgetting that limit",
                        self.url,
                        idle,
                    )
                    self._life.alive_after(idle)
                planned = False
                if redirects_to(response, self._choice_url):
                    # The token is the session's (eZ's ezxform_token), and the landing page
                    # just showed the new one: step 1 need not be fetched to learn it.
                    log.debug("%s: new session; sending the kept step-1 form with it", self.url)
                    choice = kept[1]
                    asked = reused = True
                    # Kept as refreshed: the next check sends the new session's token.
                    self._step1 = step1.refreshed(form)
                    response = await self._submit(self._step1, choose={"planning": choice.value})
                elif (target := location(response)) is not None:
                    log.debug("%s: the conditions led elsewhere than step 1: %s", self.url, target)
                    response = await self.fetcher.get(target)
                continue

            radios = form.radios("planning")
            if radios:
                self._remember(radios, response.url, form)
                if shown_choice:
                    return _Outcome(
                        response,
                        page,
                        Verdict(
                            Status.UNKNOWN,
                            "The site showed the calendar choice again after we chose one "
                            "(it refused the choice).",
                            verdict.step,
                        ),
                        None,
                        "",
                        read_at,
                    )
                if reused:
                    log.debug(
                        "%s: the site refused the kept step-1 form; sending the one it showed",
                        self.url,
                    )
                    reused = False
                shown_choice = True
                if stop_at_choice:
                    return _Outcome(response, page, verdict, None, "", read_at)
                choice = pick(calendar, radios)
                if choice is None:
                    return _Outcome(
                        response, page, no_such_calendar(calendar, radios), None, "", read_at
                    )
                asked = True
                response = await self._submit(form, choose={"planning": choice.value})
                continue

            return _Outcome(response, page, verdict, choice, "", read_at)
        return _Outcome(
            response,
            None,
            Verdict(Status.UNKNOWN, f"The booking took more than {MAX_PAGES} pages to answer."),
            choice,
            "",
            self.clock(),
        )

    def _learn(self, idle: float, response: Response, form: Form | None) -> None:
        """Learn from the site's answer to the kept form sent after ``idle`` seconds."""
        if form is not None and form.has_field("condition"):
            if self._life.kept_bounced(idle):
                log.debug(
                    "%s: the site forgot the session after %.0f s idle; after that long, "
                    "checks start at its first page",
                    self.url,
                    idle,
                )
        elif response.status < 400:
            self._life.kept_accepted(idle)

    def _kept_choice(self, calendar: CalendarSpec | None) -> tuple[Form, Choice] | None:
        """The kept step-1 form and its radio for ``calendar``, if both are there and fresh."""
        if self._step1 is None or calendar is None:
            return None
        if self._step1_seen is None or self.clock() - self._step1_seen > KEPT_FORM_MAX_AGE:
            log.debug("%s: the kept step-1 form is old; reading step 1 again", self.url)
            return None
        choice = pick(calendar, self._step1.radios("planning"))
        if choice is None:
            log.debug(
                "%s: the kept step-1 form lacks %s; walking from step 1", self.url, calendar.display
            )
        return None if choice is None else (self._step1, choice)

    def learnt(self) -> Memory | None:
        """Step 1's form and address, the calendars, the session's idle limits and cookies."""
        if self._step1 is None and not self._calendars:
            return None
        life = self._life
        cookies = tuple(
            Cookie(c.name, c.value or "", c.domain, c.path) for c in self.fetcher.cookies.jar
        )[:MAX_COOKIES]
        known = Knowledge(
            self._choice_url,
            self._step1,
            self._step1_seen,
            self._calendars,
            life.survived,
            life.limit,
            cookies,
        )
        return Memory(known.to_json(), life.last_contact)

    def recall(self, memory: Memory, *, session: bool = True) -> bool:
        try:
            known = Knowledge.from_json(memory.value)
        except ValueError as exc:
            log.debug("%s: ignoring what was stored about this booking (%s)", self.url, exc)
            return False
        where = [known.choice_url] if known.choice_url else []
        where += [known.step1.action] if known.step1 else []
        if any(self._refusal(url) is not None for url in where):
            log.debug("%s: ignoring stored addresses off the booking's site", self.url)
            return False
        self._choice_url, self._step1 = known.choice_url, known.step1
        self._step1_seen, self._calendars = known.step1_seen, known.calendars
        self._life = SessionLife(memory.last_contact, known.survived, known.limit)
        host = httpx.URL(self.url).host
        cookies = [c for c in known.cookies if session and cookie_for(host, c.domain)]
        for cookie in cookies:
            self.fetcher.cookies.set(cookie.name, cookie.value, cookie.domain, cookie.path)
        idle = self._life.idle(self.clock())
        self._start_fresh = not cookies or (known.limit is None and idle > ASSUMED_LIFETIME)
        log.debug(
            "%s: recalled step 1 (%d calendars) %s",
            self.url,
            len(self._calendars),
            "and the site session" if not self._start_fresh else "without a live site session",
        )
        return True

    def _refusal(self, url: str) -> str | None:
        """Why a form must not be submitted to ``url``, or None if it is on the booking's site.

        The first guard (the fetcher confined to the site is the second): a
        page that points its form elsewhere, by mistake or by tampering, must
        not get our session's form token, and its answer would say nothing
        about this booking's calendars.
        """
        try:
            target = Origin.of(self._site.secure(checked_url(url)))
        except FetchError as exc:
            return f"The booking form points to an address rdv-monitor will not open: {exc}"
        if self._site.admits(target):
            return None
        return (
            f"The booking form posts to another site ({target}): nothing was sent there. "
            f"The page may have been altered or the booking moved; open {self.url} in a browser."
        )

    async def _read_slot_dates(self, found: _Outcome) -> _Outcome:
        """From a "slots exist" page, read the dates in the week table. Never books.

        The calendar is known (step 1 was answered): its weeks are read from
        the ezjscore endpoint the booking page itself loads its table from,
        this week first, and reading stops at the first week with a bookable
        cell. A booking without step 1 does not show its planning id, so
        there step 3 leads to step 4 by its own "Etape suivante" button, and
        step 4's ``a#ezplanning-url`` to the table. Only bookable cells count;
        when none is found the observation stays ``available`` (step 3 proved
        slots exist) and its detail says the dates could not be read.
        """
        first: str | None = None
        if (
            found.choice is None
            and found.page is not None
            and found.response is not None
            and _STEP3 in squash(found.verdict.step or "")
        ):
            form = find_booking_form(found.page, found.response.url)
            if (
                form is not None
                and form.has_button("nextButton")
                and self._refusal(form.action) is None
            ):
                step4 = await self._submit(form)
                page = parse_page(step4.headers, step4.body)
                verdict = classify_page(step4.status, step4.headers, page, url=step4.url)
                if verdict.status is Status.FULL:  # gone meanwhile
                    return replace(found, response=step4, verdict=verdict, read_at=self.clock())
                if verdict.status is Status.AVAILABLE and verdict.slots:
                    return _with_slots(found, verdict)
                table = _planning_url(page, step4.url)
                if table is not None and self._refusal(table) is None:
                    first = table
        weeks = 0
        for week in range(WEEKS_AHEAD):
            if found.choice is not None:
                url = self._week_url(found.choice.value, week)
            elif week == 0 and first is not None:
                url = first
            else:
                break
            verdict = _classify(await self.fetcher.get(url))
            weeks += 1
            if verdict.status is Status.AVAILABLE and verdict.slots:
                return _with_slots(found, verdict)
            if verdict.status.is_trouble and verdict.status is not Status.UNKNOWN:
                break  # an error page: stop asking
        read = f" in the {weeks} week(s) read" if weeks else ""
        return replace(
            found,
            note=f"(The slot dates could not be read: no bookable cell was found{read}.)",
        )

    def _week_url(self, planning_id: str, week: int = 0) -> str:
        call = f"bookingserver::planning::assign::{self.booking_id}::{planning_id}::{7 * week}"
        return f"{self._origin}{self._prefix}/ezjscore/call/{call}"

    async def _submit(
        self,
        form: Form,
        *,
        tick: tuple[str, ...] = (),
        choose: dict[str, str] | None = None,
        follow: bool = True,
    ) -> Response:
        data = form.submission(button="nextButton", tick=tick, choose=choose)
        if form.method == "POST":
            return await self.fetcher.post(form.action, data, follow=follow)
        return await self.fetcher.get(str(httpx.URL(form.action, params=data)))

    def _remember(self, radios: tuple[Choice, ...], url: str, form: Form) -> None:
        """Keep step 1 (its address and form) for the next check, and the calendars it offers."""
        if self._refusal(url) is None:  # never an entry point off the booking's site
            self._choice_url = url
            self._step1 = form  # its action was checked by the caller
            self._step1_seen = self.clock()
        calendars = tuple(CalendarInfo(c.value, c.label) for c in radios)
        if self._calendars and calendars != self._calendars:
            log.info("%s: the calendar list on step 1 changed; using the new one", self.url)
        self._calendars = calendars


def _classify(response: Response) -> Verdict:
    page = parse_page(response.headers, response.body)
    return classify_page(response.status, response.headers, page, url=response.url)


def _planning_url(page: Page, url: str) -> str | None:
    """The absolute URL of step 4's week table (``a#ezplanning-url``), if the page has one."""
    node = page.tree.css_first("a#ezplanning-url")
    href = (node.attributes.get("href") or "").strip() if node is not None else ""
    return str(httpx.URL(url).join(href)) if href else None


def _with_slots(found: _Outcome, week: Verdict) -> _Outcome:
    verdict = replace(
        found.verdict, slots=week.slots, slot_count=week.slot_count, detail=week.detail
    )
    return replace(found, verdict=verdict)


def _capped(detail: str) -> str:
    """An observation's detail, cut to :data:`MAX_DETAIL` characters."""
    return cut(detail, MAX_DETAIL)
