"""The prefecture booking module (eZ Publish ``/booking/create/<id>``).

The adapter behaves like a careful person with a browser. It opens the
booking, ticks the conditions, picks the calendar on step 1 by its label, and
reads what the site answers. It does not assume step numbers: it follows the
forms' ``action`` and the ``Location`` headers, and submits each page's own
form with every field, hidden ones included. When slots are open it goes one
step further, to the week table, only to *read* the slot dates. It never
follows a slot link (``/5/<timestamp>``): that would start a booking.

Requests per check: the first check of a session walks landing → conditions →
step 1 → result (5 requests); later checks start at step 1 (3 requests). An
expired session shows up as the landing page again and is re-established on
the spot.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, replace

import httpx

from monitor.classify import classify_page
from monitor.errors import FetchError
from monitor.http import Response, retry_after_seconds
from monitor.observation import Observation, Status, Verdict
from monitor.page import Page, parse_page, squash
from monitor.sites.base import CalendarInfo, CalendarSpec, SiteAdapter, register
from monitor.sites.forms import Choice, Form, find_booking_form

__all__ = ["EzBookingAdapter"]

log = logging.getLogger(__name__)

_BOOKING_PATH = re.compile(r"^(?P<prefix>.*?)/booking/create/(?P<id>\d+)(?:/\d+)*/?$")
_STEP3 = squash("Description de la nature du rendez-vous")
WEEKS_AHEAD = 4
"""Weeks of the planning table read, at most, to find the first free slot's date."""
MAX_PAGES = 8
"""Pages one check may walk through; more means the site is sending us in circles."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """Where a walk through the booking ended."""

    response: Response | None
    page: Page | None
    verdict: Verdict
    choice: Choice | None = None
    note: str = ""


@register
class EzBookingAdapter(SiteAdapter):
    """Reads prefecture bookings of the eZ Publish booking module."""

    kind = "ezbooking"

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
        self._prefix = match["prefix"]
        self._choice_url: str | None = None
        self._calendars: tuple[CalendarInfo, ...] = ()

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
        checked_at = self.clock()
        started = time.monotonic()
        try:
            outcome = await self._walk(calendar)
            if outcome.verdict.status is Status.AVAILABLE and not outcome.verdict.slots:
                outcome = await self._read_slot_dates(outcome)
        except FetchError as exc:
            status = Status.UNKNOWN if exc.kind == "redirect" else Status.DOWN
            outcome = _Outcome(None, None, Verdict(status, str(exc)))
        verdict = outcome.verdict
        response = outcome.response
        detail = f"{verdict.detail} {outcome.note}".strip()
        return Observation(
            watch=watch,
            calendar=calendar.display if calendar is not None else "",
            status=verdict.status,
            url=self.url,
            detail=detail,
            checked_at=checked_at,
            elapsed_ms=round((time.monotonic() - started) * 1000),
            http_status=response.status if response else None,
            planning_id=outcome.choice.value if outcome.choice else None,
            label=outcome.choice.label if outcome.choice else None,
            slots=verdict.slots,
            slot_count=verdict.slot_count,
            retry_after=retry_after_seconds(response.headers) if response else None,
            page=response.body if response and verdict.status is Status.UNKNOWN else None,
        )

    async def _walk(
        self, calendar: CalendarSpec | None, *, stop_at_choice: bool = False
    ) -> _Outcome:
        """Walk from the last known entry point to the page that answers for ``calendar``."""
        response = await self.fetcher.get(self._choice_url or self.url)
        choice: Choice | None = None
        conditions_sent = 0
        saw_choice = False
        for _ in range(MAX_PAGES):
            page = parse_page(response.headers, response.body)
            verdict = classify_page(response.status, response.headers, page)
            form = find_booking_form(page, response.url)
            if verdict.status is not Status.UNKNOWN or response.status != 200 or form is None:
                note = ""
                if (
                    not saw_choice
                    and calendar is not None
                    and verdict.status
                    in (
                        Status.FULL,
                        Status.AVAILABLE,
                    )
                ):
                    note = "(This booking has a single calendar; it answered for it.)"
                return _Outcome(response, page, verdict, choice, note)

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
                    )
                if choice is not None:
                    log.info("%s: session expired mid-check; starting a new one", self.url)
                conditions_sent += 1
                choice = None
                response = await self._submit(form, tick=("condition",))
                continue

            radios = form.radios("planning")
            if radios:
                self._remember(radios, response.url)
                if saw_choice:
                    return _Outcome(
                        response,
                        page,
                        Verdict(
                            Status.UNKNOWN,
                            "The site showed the calendar choice again after we chose one "
                            "(it refused the choice).",
                            verdict.step,
                        ),
                    )
                saw_choice = True
                if stop_at_choice:
                    return _Outcome(response, page, verdict)
                choice = _pick(calendar, radios)
                if choice is None:
                    return _Outcome(response, page, _no_such_calendar(calendar, radios))
                response = await self._submit(form, choose={"planning": choice.value})
                continue

            return _Outcome(response, page, verdict, choice)
        return _Outcome(
            response,
            None,
            Verdict(Status.UNKNOWN, f"The booking took more than {MAX_PAGES} pages to answer."),
            choice,
        )

    async def _read_slot_dates(self, found: _Outcome) -> _Outcome:
        """From a "slots exist" page, go on to the week table to read the dates. Never books.

        Step 3 leads to step 4 by its own "Etape suivante" button; failing
        that, the planning's week table is read from the ezjscore endpoint the
        booking page itself uses.
        """
        if (
            found.page is not None
            and found.response is not None
            and _STEP3 in squash(found.verdict.step or "")
        ):
            form = find_booking_form(found.page, found.response.url)
            if form is not None and form.has_button("nextButton"):
                step4 = await self._submit(form)
                verdict = _classify(step4)
                if verdict.status is Status.FULL:
                    return replace(found, response=step4, verdict=verdict)  # gone meanwhile
                if verdict.status is Status.AVAILABLE and verdict.slots:
                    return _with_slots(found, verdict)
        if found.choice is not None:
            for week in range(WEEKS_AHEAD):
                verdict = _classify(
                    await self.fetcher.get(self._week_url(found.choice.value, week))
                )
                if verdict.status is Status.AVAILABLE and verdict.slots:
                    return _with_slots(found, verdict)
                if verdict.status not in (Status.FULL, Status.AVAILABLE):
                    break  # an error page: stop asking
        return replace(found, note="(The slot dates could not be read.)")

    def _week_url(self, planning_id: str, week: int = 0) -> str:
        call = f"bookingserver::planning::assign::{self.booking_id}::{planning_id}::{7 * week}"
        return f"{self._origin}{self._prefix}/ezjscore/call/{call}"

    async def _submit(
        self,
        form: Form,
        *,
        tick: tuple[str, ...] = (),
        choose: dict[str, str] | None = None,
    ) -> Response:
        data = form.submission(button="nextButton", tick=tick, choose=choose)
        if form.method == "POST":
            return await self.fetcher.post(form.action, data)
        return await self.fetcher.get(str(httpx.URL(form.action, params=data)))

    def _remember(self, radios: tuple[Choice, ...], url: str) -> None:
        self._choice_url = url
        calendars = tuple(CalendarInfo(c.value, c.label) for c in radios)
        if self._calendars and calendars != self._calendars:
            log.info("%s: the calendar list on step 1 changed; using the new one", self.url)
        self._calendars = calendars


def _classify(response: Response) -> Verdict:
    page = parse_page(response.headers, response.body)
    return classify_page(response.status, response.headers, page)


def _with_slots(found: _Outcome, week: Verdict) -> _Outcome:
    verdict = replace(
        found.verdict, slots=week.slots, slot_count=week.slot_count, detail=week.detail
    )
    return replace(found, verdict=verdict)


def _pick(calendar: CalendarSpec | None, radios: tuple[Choice, ...]) -> Choice | None:
    if calendar is None:
        return None
    if calendar.planning is not None:
        wanted = str(calendar.planning)
        return next((c for c in radios if c.value == wanted), None)
    return next((c for c in radios if calendar.matches(c.label)), None)


def _no_such_calendar(calendar: CalendarSpec | None, radios: tuple[Choice, ...]) -> Verdict:
    offered = "; ".join(f"{c.label} (planning {c.value})" for c in radios)
    if calendar is None:
        detail = (
            f"This booking offers {len(radios)} calendars; name the ones to watch in the "
            f"watch's calendars. It offers: {offered}."
        )
    else:
        detail = (
            f"The booking offers no calendar matching {calendar.display!r}. It offers: "
            f"{offered}. Fix the watch's calendars (rdv-monitor discover URL lists them)."
        )
    return Verdict(Status.UNKNOWN, detail, "Choix de la nature du rendez-vous")
