"""The adapter and the fetcher against pages written by someone hostile (or careless).

A booking page is someone else's HTML: its form may post to another site, its
``Location`` may point anywhere, its addresses may not even parse, and it may
list thousands of calendars. Whatever it does, a check ends in one
observation of bounded size, nothing is sent off the booking's site, and a
wait in our own politeness queue never looks like a site that is down.

The site is the simulator's booking module (:class:`monitor.sites.ezbooking.sim.flow.Prefecture`)
behind an :class:`httpx.MockTransport`, so pages can be altered on the way
out. Every address is 127.0.0.x, and none is ever connected to.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from monitor.config import CalendarRef
from monitor.errors import FetchError
from monitor.http import Fetcher, HostGate, Origin, checked_url
from monitor.observation import Observation, Status
from monitor.sites.ezbooking import adapter as ezbooking
from monitor.sites.ezbooking.adapter import MAX_DETAIL, EzBookingAdapter
from monitor.sites.ezbooking.sim.defaults import default_bookings
from monitor.sites.ezbooking.sim.flow import Prefecture, Request
from monitor.sites.ezbooking.sim.model import PARIS, State
from tests.conftest import RENEWAL

BASE = "http://127.0.0.1:8080"
STEP1 = f"/booking/create/{RENEWAL}/1"
LANDING = f"/booking/create/{RENEWAL}"

Handler = Callable[[httpx.Request], httpx.Response | None]


class FakePrefecture:
    """The simulated booking module as an httpx transport, with hooks to make it misbehave.

    ``answer`` may answer a request instead of the site; ``path_for`` may
    serve another path than the one asked; ``tamper`` may rewrite a body.
    Every request is kept in ``seen``, whatever its host.
    """

    def __init__(self, base: str = BASE) -> None:
        self.base = base
        self.site = Prefecture(default_bookings())
        self.seen: list[httpx.Request] = []
        self.answer: Handler = lambda request: None
        self.path_for: Callable[[httpx.Request], str | None] = lambda request: None
        self.tamper: Callable[[httpx.Request, bytes], bytes] = lambda request, body: body
        self.transport = httpx.MockTransport(self._handle)

    @property
    def url(self) -> str:
        return self.base + LANDING

    def set_state(self, calendar: str, kind: str, **options: object) -> None:
        booking = self.site.bookings[RENEWAL]
        booking.resolve(calendar).state = State.make(kind, **options)  # type: ignore[arg-type]

    def planning_id(self, calendar: str) -> str:
        return str(self.site.bookings[RENEWAL].resolve(calendar).id)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        own = self.answer(request)
        if own is not None:
            return own
        body = request.content.decode("latin-1")
        cookies = dict(
            part.strip().partition("=")[::2]
            for part in request.headers.get("cookie", "").split(";")
            if "=" in part
        )
        reply = self.site.handle(
            Request(
                method=request.method,
                path=self.path_for(request) or request.url.path,
                form=parse_qs(body, keep_blank_values=True),
                cookies=cookies,
                host=request.headers["host"],
                client_ip="127.0.0.1",
            )
        )
        headers = reply.headers
        if self.base.startswith("https:"):  # the simulator builds absolute URLs as http://
            headers = [(k, v.replace("http://", "https://", 1)) for k, v in headers]
        return httpx.Response(
            reply.status, headers=headers, content=self.tamper(request, reply.body)
        )

    def form_action(self, path: str, action: str) -> None:
        """From now on, the booking form of the page at ``path`` posts to ``action``."""

        def tamper(request: httpx.Request, body: bytes) -> bytes:
            if request.method != "GET" or request.url.path != path:
                return body
            form = rb'(<form\b[^>]*id="FormBookingCreate"[^>]*action=")[^"]*'
            return re.sub(form, lambda m: m[1] + action.encode(), body, count=1)

        self.tamper = tamper

    def foreign(self) -> list[httpx.Request]:
        """Requests that went anywhere but the booking's own origin."""
        site = Origin.of(checked_url(self.base))
        return [r for r in self.seen if Origin.of(r.url) != site]


def adapter(fake: FakePrefecture, *, timeout: float = 5.0) -> EzBookingAdapter:
    fetcher = Fetcher(gate=HostGate(0.0), transport=fake.transport, timeout=timeout)
    return EzBookingAdapter(fake.url, fetcher)


def check(site: EzBookingAdapter, calendar: str | None = "3.1", **ref: object) -> Observation:
    spec = CalendarRef.model_validate(ref or calendar) if (ref or calendar) else None

    async def run() -> Observation:
        try:
            return await site.check(spec, watch="w")
        finally:
            await site.fetcher.aclose()

    return asyncio.run(run())


def check_twice(site: EzBookingAdapter, first: str, then: str, between: Callable[[], None]):
    async def run() -> tuple[Observation, Observation]:
        try:
            one = await site.check(CalendarRef.model_validate(first), watch="w")
            between()
            return one, await site.check(CalendarRef.model_validate(then), watch="w")
        finally:
            await site.fetcher.aclose()

    return asyncio.run(run())


def future_slots(*hours: int) -> list[datetime]:
    base = (datetime.now(PARIS) + timedelta(days=9)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    return [base + timedelta(hours=h) for h in hours]


def test_the_fake_prefecture_reads_like_the_simulator() -> None:
    fake = FakePrefecture()
    fake.set_state("3.1", "available", slots=future_slots(0, 1))
    obs = check(adapter(fake))
    assert obs.status is Status.AVAILABLE, obs.detail
    assert len(obs.slots) == 2
    assert obs.planning_id == fake.planning_id("3.1")


# ── 1. Forms and redirects stay on the booking's site ────────────────────────

OTHER_SITES = [
    pytest.param(BASE, "http://127.0.0.2:8080", id="other-host"),
    pytest.param(BASE, "http://127.0.0.1:9090", id="other-port"),
    pytest.param(BASE, "https://127.0.0.1:8443", id="https-other-port"),
    pytest.param("https://127.0.0.1:8443", "http://127.0.0.1:9090", id="downgrade-other-port"),
]


@pytest.mark.parametrize(("base", "other"), OTHER_SITES)
@pytest.mark.parametrize("page", [LANDING, STEP1], ids=["conditions", "calendar-choice"])
def test_a_form_posting_to_another_site_is_not_submitted(base: str, other: str, page: str) -> None:
    fake = FakePrefecture(base)
    fake.form_action(page, f"{other}/collect")
    seen_by_first: list[int] = []
    # The next check starts from what the adapter kept of this one: it too must start
    # on the booking's site (a kept foreign address would be refused as off-site).
    obs, again = check_twice(
        adapter(fake), "3.1", "3.1", between=lambda: seen_by_first.append(len(fake.seen))
    )
    for each in (obs, again):
        assert each.status is Status.UNKNOWN
        assert each.detail.startswith(f"The booking form posts to another site ({other})"), (
            each.detail
        )
        assert each.page is not None, "the altered page is kept for diagnosis"
    assert fake.foreign() == [], "nothing sent off the site, so no form token either"
    second = fake.seen[seen_by_first[0] :]
    assert second, "the second check asked the site again"
    assert str(second[0].url).startswith(base), second[0].url


def test_an_https_form_on_the_same_host_is_an_upgrade_and_is_followed() -> None:
    fake = FakePrefecture("http://127.0.0.1")
    fake.form_action(LANDING, f"https://127.0.0.1{LANDING}")
    obs = check(adapter(fake))
    assert obs.status is Status.FULL, obs.detail
    upgraded = [(r.method, str(r.url)) for r in fake.seen if r.url.scheme == "https"]
    assert upgraded == [("POST", f"https://127.0.0.1{LANDING}")]


def test_the_fetcher_is_the_second_guard() -> None:
    """Even if an adapter forgot to look, a confined fetcher sends nothing elsewhere."""
    seen: list[httpx.Request] = []
    fetcher = Fetcher(
        gate=HostGate(0.0),
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200)),
    )
    fetcher.confine_to(BASE + LANDING)
    others = ["http://127.0.0.2:8080", "http://127.0.0.1:9090", "https://127.0.0.1:8443"]

    async def run() -> list[FetchError]:
        errors = []
        async with fetcher:
            for other in others:
                with pytest.raises(FetchError) as caught:
                    await fetcher.post(f"{other}/collect", {"ezxform_token": "secret"})
                errors.append(caught.value)
        return errors

    for other, error in zip(others, asyncio.run(run()), strict=True):
        assert error.kind == "off_site"
        assert other in str(error)
    assert seen == []
    assert fetcher.requests_made == 0


def _redirecting(location: str) -> tuple[Fetcher, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, text="arrived")

    return Fetcher(gate=HostGate(0.0), transport=httpx.MockTransport(handle)), seen


@pytest.mark.parametrize(
    ("start", "location"),
    [
        pytest.param("https://127.0.0.1/start", "http://127.0.0.1:8080/end", id="http-other-port"),
        pytest.param("http://127.0.0.1:8080/start", "http://127.0.0.1:9090/end", id="port"),
        pytest.param("http://127.0.0.1/start", "http://127.0.0.2/end", id="host"),
    ],
)
def test_redirects_to_another_origin_are_not_followed(start: str, location: str) -> None:
    fetcher, seen = _redirecting(location)

    async def run() -> None:
        async with fetcher:
            await fetcher.get(start)

    with pytest.raises(FetchError) as caught:
        asyncio.run(run())
    assert caught.value.kind == "redirect"
    assert "another site" in str(caught.value)
    assert [str(r.url) for r in seen] == [start]


def test_an_http_redirect_on_an_https_site_is_followed_over_https() -> None:
    """What HSTS makes a browser do; never a downgrade that would expose the session."""
    fetcher, seen = _redirecting("http://127.0.0.1/end")
    fetcher.confine_to("https://127.0.0.1/start")

    async def run() -> str:
        async with fetcher:
            return (await fetcher.get("https://127.0.0.1/start")).url

    assert asyncio.run(run()) == "https://127.0.0.1/end"
    assert [str(r.url) for r in seen] == ["https://127.0.0.1/start", "https://127.0.0.1/end"]


def test_an_http_form_action_on_an_https_site_is_posted_over_https() -> None:
    fake = FakePrefecture("https://127.0.0.1:8443")
    fake.form_action(LANDING, f"http://127.0.0.1:8443{LANDING}")
    obs = check(adapter(fake))
    assert obs.status is Status.FULL, obs.detail
    assert all(r.url.scheme == "https" for r in fake.seen)


def test_a_redirect_upgrading_to_https_on_the_same_host_is_followed() -> None:
    fetcher, seen = _redirecting("https://127.0.0.1/end")
    fetcher.confine_to("http://127.0.0.1/start")

    async def run() -> int:
        async with fetcher:
            return (await fetcher.get("http://127.0.0.1/start")).status

    assert asyncio.run(run()) == 200
    assert [str(r.url) for r in seen] == ["http://127.0.0.1/start", "https://127.0.0.1/end"]


def test_origins() -> None:
    def origin(url: str) -> Origin:
        return Origin.of(checked_url(url))

    site = origin("http://127.0.0.1/booking/create/1")
    assert site.admits(origin("HTTP://127.0.0.1:80/x"))
    assert site.admits(origin("https://127.0.0.1/x"))
    assert not site.admits(origin("https://127.0.0.1:8443/x"))
    assert not origin("https://127.0.0.1/").admits(origin("http://127.0.0.1/"))
    assert str(origin("https://[::1]:8443/x")) == "https://[::1]:8443"
    assert str(site) == "http://127.0.0.1"


# ── 2. Hostile addresses end as ``unknown``, never as an exception ───────────

HOSTILE_ACTIONS = [
    "http://[::1",
    "http://127.0.0.1:99999/booking/create/29396/1",
    "http://127.0.0.1:0/x",
    "javascript:alert(1)",
    "mailto:someone@example.org",
    "ftp://127.0.0.1/booking",
]


@pytest.mark.parametrize("action", HOSTILE_ACTIONS)
def test_hostile_form_actions_are_unknown_not_errors(action: str) -> None:
    fake = FakePrefecture()
    fake.form_action(STEP1, action)
    obs = check(adapter(fake))
    assert obs.status is Status.UNKNOWN, obs.detail
    assert "booking form" in obs.detail
    assert all(r.url.path != STEP1 or r.method == "GET" for r in fake.seen)


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:99999/x",
        "http://[::1",
        "javascript:alert(1)",
        "http://:8080/x",
        "http://127.0.0.1/\x00",
        "https://xn--zz/",
    ],
)
def test_hostile_locations_are_unknown_not_errors(location: str) -> None:
    fake = FakePrefecture()
    fake.answer = lambda r: (
        httpx.Response(302, headers={"Location": location}) if r.url.path == STEP1 else None
    )
    obs = check(adapter(fake))
    assert obs.status is Status.UNKNOWN, obs.detail
    assert "redirected to" in obs.detail


def test_fetcher_refuses_unusable_urls_before_sending() -> None:
    fetcher = Fetcher(
        gate=HostGate(0.0), transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )

    async def run() -> None:
        async with fetcher:
            for url in ("http://127.0.0.1:99999/", "mailto:a@b.fr", "http://[::1", "//127.0.0.1/"):
                with pytest.raises(FetchError) as caught:
                    await fetcher.get(url)
                assert caught.value.kind == "bad_url", url

    asyncio.run(run())
    assert fetcher.requests_made == 0


def test_any_unexpected_error_becomes_unknown_and_is_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise ExceptionGroup("from the depths of a library", [OverflowError("port too big")])

    monkeypatch.setattr(ezbooking, "find_booking_form", broken)
    site = adapter(FakePrefecture())

    async def run() -> list[Observation]:
        async with site.fetcher:
            return [await site.check(CalendarRef.model_validate("3.1"), watch="w") for _ in "ab"]

    with caplog.at_level(logging.DEBUG, logger="monitor.sites.ezbooking.adapter"):
        observations = asyncio.run(run())
    for obs in observations:
        assert obs.status is Status.UNKNOWN
        assert "ExceptionGroup" in obs.detail
        assert obs.calendar == "3.1"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one traceback, not one per check"
    assert warnings[0].exc_info is not None


def test_a_transport_that_raises_anything_is_unknown() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise OverflowError("getsockaddrarg: port must be 0-65535.")

    fetcher = Fetcher(gate=HostGate(0.0), transport=httpx.MockTransport(handle))
    obs = check(EzBookingAdapter(BASE + LANDING, fetcher))
    assert obs.status is Status.UNKNOWN
    assert "OverflowError" in obs.detail


def test_cancellation_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def cancelled(*args: object) -> None:
        raise asyncio.CancelledError

    monkeypatch.setattr(ezbooking, "find_booking_form", cancelled)
    with pytest.raises(asyncio.CancelledError):
        check(adapter(FakePrefecture()))


# ── 3. Waiting for our turn is not the site being slow ───────────────────────


def test_waiting_for_the_gate_does_not_count_against_the_time_out() -> None:
    """Two watches on one slow prefecture: the second one waits, it does not time out."""

    in_flight = 0
    most_in_flight = 0
    spans: list[tuple[float, float]] = []  # (start, end) of each answer, on the loop's clock

    async def slow(request: httpx.Request) -> httpx.Response:
        # A sleep here IS the slow site; what the test checks is counted, not timed.
        nonlocal in_flight, most_in_flight
        loop = asyncio.get_running_loop()
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        start = loop.time()
        await asyncio.sleep(0.6)
        spans.append((start, loop.time()))
        in_flight -= 1
        return httpx.Response(200, text="ok")

    gate = HostGate(0.0)
    transport = httpx.MockTransport(slow)

    async def run() -> list[float]:
        async with (
            Fetcher(gate=gate, transport=transport, timeout=1.0) as one,
            Fetcher(gate=gate, transport=transport, timeout=1.0) as two,
        ):
            answers = await asyncio.gather(one.get(BASE + "/a"), two.get(BASE + "/b"))
            return [a.elapsed for a in answers]

    elapsed = asyncio.run(run())
    assert most_in_flight == 1, "one at a time: the gate held"
    (first, second) = sorted(spans)
    assert second[0] >= first[1], "the second request was sent once the first was answered"
    assert all(0.5 < e < 1.0 for e in elapsed), elapsed


def test_the_time_out_still_applies_once_the_turn_is_held() -> None:
    async def stuck(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    async def run() -> None:
        async with Fetcher(
            gate=HostGate(0.0), transport=httpx.MockTransport(stuck), timeout=0.3
        ) as fetcher:
            await fetcher.get(BASE + "/a")

    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        asyncio.run(run())
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 2


# ── 4. One calendar's answer is never reported for another ───────────────────


def _step1_without(fake: FakePrefecture, calendar: str) -> None:
    """Until told otherwise, step 1 does not offer ``calendar`` (the next check walks to it)."""
    radio = rf'<input type="radio" name="planning" id="planning{fake.planning_id(calendar)}"'

    def tamper(request: httpx.Request, body: bytes) -> bytes:
        if request.url.path != STEP1:
            return body
        return re.sub(radio.encode() + rb"[^>]*>", b"", body)

    fake.tamper = tamper


def _jump_from_step1(fake: FakePrefecture, jump: Callable[[httpx.Request], str | None]) -> None:
    fake.tamper = lambda request, body: body
    fake.path_for = jump


def test_a_result_without_the_calendar_choice_starts_over() -> None:
    """The session jumps from step 1 to the last calendar's result: start again.

    The kept step-1 form lacks 3.2 (it was not offered then), so the second
    check walks from step 1, which is where the site jumps.
    """
    fake = FakePrefecture()
    fake.set_state("3.2", "available", slots=future_slots(0))
    jumped: list[str] = []

    def jump_once(request: httpx.Request) -> str | None:
        if request.method == "GET" and request.url.path == STEP1 and not jumped:
            jumped.append(STEP1)
            return f"/booking/create/{RENEWAL}/2"  # the session still holds 3.1's choice
        return None

    site = adapter(fake)
    _step1_without(fake, "3.2")
    first, second = check_twice(site, "3.1", "3.2", lambda: _jump_from_step1(fake, jump_once))
    assert first.status is Status.FULL
    assert jumped, "the site did jump"
    assert second.status is Status.AVAILABLE, second.detail
    assert second.planning_id == fake.planning_id("3.2")
    assert "single calendar" not in second.detail


def test_a_site_that_never_asks_which_calendar_is_unknown() -> None:
    fake = FakePrefecture()
    result = f"/booking/create/{RENEWAL}/2"

    def always_jump(request: httpx.Request) -> str | None:
        if request.method == "GET" and request.url.path in (STEP1, LANDING):
            return result
        return None

    site = adapter(fake)
    _step1_without(fake, "3.2")
    first, second = check_twice(site, "3.1", "3.2", lambda: _jump_from_step1(fake, always_jump))
    assert first.status is Status.FULL
    assert second.status is Status.UNKNOWN
    assert "answered without asking which calendar" in second.detail
    assert second.planning_id is None


# ── 5. Details have a size ───────────────────────────────────────────────────


def _many_calendars(count: int, label_size: int) -> bytes:
    radios = "\n".join(
        f'<p><input type="radio" name="planning" id="p{i}" value="{i}" />'
        f'<label for="p{i}">Calendrier 9.{i} - {"x" * label_size}</label></p>'
        for i in range(count)
    )
    return f"""<!DOCTYPE html><html><head><title>Prise de rendez-vous</title></head><body>
<div id="inner_Booking"><h2>Choix de la nature du rendez-vous</h2>
<form id="FormBookingCreate" name="create" method="post" action="{STEP1}">
<input type="hidden" name="ezxform_token" value="t" />
{radios}
<input type="submit" name="nextButton" value="Etape suivante" />
</form></div></body></html>""".encode()


def test_thousands_of_calendars_make_a_short_detail() -> None:
    fake = FakePrefecture()
    page = _many_calendars(5000, 300)
    fake.answer = lambda r: (
        httpx.Response(200, content=page, headers={"Content-Type": "text/html; charset=utf-8"})
        if r.url.path == STEP1
        else None
    )
    obs = check(adapter(fake))
    assert obs.status is Status.NOT_OFFERED
    assert len(obs.detail) <= MAX_DETAIL
    assert "… and " in obs.detail and " more" in obs.detail
    assert "Calendrier 9.0 - xxx" in obs.detail
    assert "rdv-monitor discover" in obs.detail, "the advice survives the list"


def test_any_detail_is_capped() -> None:
    obs = check(adapter(FakePrefecture()), None, planning=1, name="n" * 5000)
    assert obs.status is Status.NOT_OFFERED
    assert obs.calendar == "n" * 5000
    assert len(obs.detail) <= MAX_DETAIL
    assert obs.detail.endswith("…")
