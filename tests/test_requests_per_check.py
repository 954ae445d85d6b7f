"""What one calendar check asks the prefecture, counted at the site (issue 12).

A warm session costs 2 requests (the kept step-1 form submitted, its answer
read); a new session whose step 1 is known costs at most 4; open slots add
the week tables actually needed to read the first dates, never a step that
books. When the site refuses what we kept, the check still ends right, within
the same check. And an observation is dated when its answer arrived (issue 11).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from monitor.check import Checker
from monitor.config import CalendarRef, load_config
from monitor.http import Fetcher, HostGate
from monitor.observation import Observation, Status
from monitor.sites.ezbooking.adapter import EzBookingAdapter
from monitor.sites.ezbooking.sim import PARIS, SimPrefecture, default_slots
from monitor.sites.ezbooking.sim.flow import Request
from monitor.sites.ezbooking.sim.model import monday_of
from tests.conftest import RENEWAL
from tests.test_hostile_sites import LANDING, STEP1, FakePrefecture

BOOKING = f"/booking/create/{RENEWAL}"


def checks(sim: SimPrefecture, write_config, calendars: list[str], rounds: int) -> list[list]:
    """Check ``calendars`` ``rounds`` times in one session; the site's request log of each round."""
    config = load_config(
        write_config([{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": calendars}])
    )

    async def run() -> list[list]:
        logs = []
        async with Checker(config) as checker:
            for _ in range(rounds):
                sim.reset_counters()
                rows = [o async for o in checker.check_watch(config.watches[0])]
                assert all(r.status in (Status.FULL, Status.AVAILABLE) for r in rows), rows
                logs.append(sim.request_log)
        return logs

    return asyncio.run(run())


def test_a_warm_closed_check_is_one_post_and_its_answer(sim, write_config):
    first, warm = checks(sim, write_config, ["3.1"], 2)
    assert len(first) <= 5
    assert warm == [("POST", f"{BOOKING}/1", 302), ("GET", f"{BOOKING}/2", 200)]


def test_every_calendar_of_a_warm_session_costs_two_requests(sim, write_config):
    _, warm = checks(sim, write_config, ["3.1", "3.2", "3.3", "3.4"], 2)
    assert len(warm) == 8
    assert [p for _, p, _ in warm].count(f"{BOOKING}/1") == 4


def _weeks_until(day: date) -> int:
    return (monday_of(day) - monday_of(datetime.now(PARIS).date())).days // 7


def test_open_slots_read_the_weeks_needed_and_never_book(sim, write_config):
    slot = (datetime.now(PARIS) + timedelta(days=8)).replace(hour=9, minute=0, second=0)
    sim.set_state(RENEWAL, "3.2", "available", slots=[slot])
    first, warm = checks(sim, write_config, ["3.2"], 2)
    weeks = [p for _, p, _ in warm if "/ezjscore/" in p]
    assert warm[:2] == [("POST", f"{BOOKING}/1", 302), ("GET", f"{BOOKING}/3", 200)]
    assert len(weeks) == _weeks_until(slot.date()) + 1, "stops at the first week with a slot"
    assert len(warm) == 2 + len(weeks)
    assert not any(p.startswith(f"{BOOKING}/4") or "/5/" in p for _, p, _ in first + warm)
    assert sim.booking_attempts == 0


def test_an_expired_session_is_reestablished_without_fetching_step_1(sim, write_config, caplog):
    config = load_config(
        write_config([{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}])
    )

    async def run() -> list[Observation]:
        async with Checker(config) as checker:
            _ = [o async for o in checker.check_watch(config.watches[0])]
            sim.expire_sessions()
            sim.reset_counters()
            return [o async for o in checker.check_watch(config.watches[0])]

    with caplog.at_level(logging.DEBUG, logger="monitor.sites.ezbooking.adapter"):
        (obs,) = asyncio.run(run())
    assert obs.status is Status.FULL and obs.planning_id == str(sim.planning_id(RENEWAL, "3.1"))
    log = sim.request_log
    assert ("GET", f"{BOOKING}/1", 200) not in log, "step 1 was not fetched again"
    # The kept form bounced (2), then a new session from the landing page (4).
    assert log[-4:] == [
        ("GET", BOOKING, 200),
        ("POST", BOOKING, 302),
        ("POST", f"{BOOKING}/1", 302),
        ("GET", f"{BOOKING}/2", 200),
    ]
    assert "new session; sending the kept step-1 form" in caplog.text


# ── The site refuses what we kept ────────────────────────────────────────────


def _adapter(fake: FakePrefecture, clock=None) -> EzBookingAdapter:
    fetcher = Fetcher(gate=HostGate(0.0), transport=fake.transport)
    if clock is None:
        return EzBookingAdapter(fake.url, fetcher)
    return EzBookingAdapter(fake.url, fetcher, clock=clock)


def _run(site: EzBookingAdapter, *steps) -> list[Observation]:
    """Check 3.1 once per step, calling each step (if any) before its check."""

    async def run() -> list[Observation]:
        seen = []
        try:
            for step in steps:
                if step is not None:
                    step()
                seen.append(await site.check(CalendarRef.model_validate("3.1"), watch="w"))
        finally:
            await site.fetcher.aclose()
        return seen

    return asyncio.run(run())


def _refuse_the_next_step1_post(fake: FakePrefecture, refused: list[str]) -> None:
    """The next POST of step 1 is answered with step 1 again, as a refused token is."""

    def answer(request: httpx.Request) -> httpx.Response | None:
        if request.method != "POST" or request.url.path != STEP1 or refused:
            return None
        refused.append(request.content.decode())
        reply = fake.site.handle(
            Request(
                method="GET",
                path=STEP1,
                form={},
                cookies=dict(
                    p.strip().partition("=")[::2]
                    for p in request.headers.get("cookie", "").split(";")
                    if "=" in p
                ),
                host=request.headers["host"],
                client_ip="127.0.0.1",
            )
        )
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body)

    fake.answer = answer


def test_a_refused_kept_form_falls_back_to_the_form_shown(caplog):
    """One more POST, not a walk; and the check after it is warm again."""
    fake = FakePrefecture()
    refused: list[str] = []
    asked: list[list[tuple[str, str]]] = []

    def arm() -> None:
        fake.seen.clear()
        _refuse_the_next_step1_post(fake, refused)

    def keep() -> None:
        asked.append([(r.method, r.url.path) for r in fake.seen])
        fake.seen.clear()

    site = _adapter(fake)
    with caplog.at_level(logging.DEBUG, logger="monitor.sites.ezbooking.adapter"):
        first, second, third = _run(site, None, arm, keep)
    assert first.status is Status.FULL
    assert refused, "the site did refuse the kept form"
    assert second.status is Status.FULL, second.detail
    assert "refused the kept step-1 form" in caplog.text
    assert asked[0] == [("POST", STEP1), ("POST", STEP1), ("GET", f"{LANDING}/2")]
    assert third.status is Status.FULL
    assert [(r.method, r.url.path) for r in fake.seen] == [("POST", STEP1), ("GET", f"{LANDING}/2")]


def test_a_site_that_refuses_every_choice_is_unknown_not_a_loop() -> None:
    fake = FakePrefecture()
    site = _adapter(fake)
    refused: list[str] = []

    def refuse_all() -> None:
        refuse_one = _refuse_the_next_step1_post

        def answer(request: httpx.Request) -> httpx.Response | None:
            refused.clear()  # every POST of step 1 is refused, not only the next one
            refuse_one(fake, refused)
            once = fake.answer
            fake.answer = answer
            return once(request)

        fake.answer = answer

    first, second = _run(site, None, refuse_all)
    assert first.status is Status.FULL
    assert second.status is Status.UNKNOWN
    assert "showed the calendar choice again" in second.detail


# ── "Seen at" is when the answer arrived ─────────────────────────────────────


@pytest.mark.parametrize("status", ["full", "available"])
def test_seen_at_is_when_the_deciding_answer_arrived(status: str) -> None:
    """A 9 s slow answer is dated at its arrival, never at the start of the check."""
    fake = FakePrefecture()
    if status == "available":
        slot = (datetime.now(PARIS) + timedelta(days=1)).replace(hour=9, minute=0, second=0)
        fake.set_state("3.1", "available", slots=[slot])
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    now = [start]

    def slow_answer(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path in (f"{LANDING}/2", f"{LANDING}/3"):
            now[0] += timedelta(seconds=9)  # the answer takes 9 s to come
        return None

    fake.answer = slow_answer
    (obs,) = _run(_adapter(fake, clock=lambda: now[0]), None)
    assert obs.status.value == status
    assert obs.checked_at == start + timedelta(seconds=9)


def test_a_site_that_does_not_answer_is_dated_when_we_gave_up() -> None:
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    now = [start]

    def handle(request: httpx.Request) -> httpx.Response:
        now[0] += timedelta(seconds=30)
        raise httpx.ConnectError("refused")

    fetcher = Fetcher(gate=HostGate(0.0), transport=httpx.MockTransport(handle))
    site = EzBookingAdapter(f"http://127.0.0.1:9{LANDING}", fetcher, clock=lambda: now[0])
    (obs,) = _run(site, None)
    assert obs.status is Status.DOWN
    assert obs.checked_at == start + timedelta(seconds=30)


# ── How long the site keeps an idle session ──────────────────────────────────

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CLOSED = [
    ("GET", BOOKING, 200),
    ("POST", BOOKING, 302),
    ("POST", f"{BOOKING}/1", 302),
    ("GET", f"{BOOKING}/2", 200),
]
"""A new session with step 1 known: landing, conditions, the kept choice, its answer."""
BOUNCED = [("POST", f"{BOOKING}/1", 302), *CLOSED]
"""The kept form sent into a forgotten session, then the same new session."""


class Clock:
    """One clock for the site's session lifetimes and the adapter's idle times."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return START + timedelta(seconds=self.seconds)


@pytest.fixture
def timed() -> Iterator[tuple[SimPrefecture, Clock]]:
    clock = Clock()
    with SimPrefecture(clock=clock.monotonic) as prefecture:  # PHP's 1440 s lifetime
        yield prefecture, clock


def _session(
    sim: SimPrefecture, clock: Clock, *steps: float | Callable[[], object]
) -> list[tuple[Observation, list]]:
    """One adapter, one session: a number waits that many seconds then checks 3.1; a
    callable acts on the site before the next check. Each check's observation and the
    site's request log for it."""
    site = EzBookingAdapter(sim.booking_url(RENEWAL), Fetcher(gate=HostGate(0.0)), clock=clock.now)
    calendar = CalendarRef.model_validate("3.1")

    async def run() -> list[tuple[Observation, list]]:
        seen = []
        try:
            for step in steps:
                if callable(step):
                    step()
                    continue
                clock.seconds += step
                sim.reset_counters()
                seen.append((await site.check(calendar, watch="w"), sim.request_log))
        finally:
            await site.fetcher.aclose()
        return seen

    return asyncio.run(run())


def _logs(seen: list[tuple[Observation, list]]) -> list[list]:
    """The request logs of checks that must all have said 3.1 is full."""
    for obs, _ in seen:
        assert obs.status is Status.FULL, obs.detail
        assert obs.label is not None and "3.1" in obs.label
    return [log for _, log in seen]


def test_after_the_site_forgot_an_idle_session_once_later_ones_cost_four(timed, caplog):
    sim, clock = timed
    with caplog.at_level(logging.DEBUG, logger="monitor.sites.ezbooking.adapter"):
        cold, warm, first_expiry, warm_again, later_expiry, warm_last = _logs(
            _session(sim, clock, 0, 30, 3600, 30, 4000, 30)
        )
    assert len(cold) == 5
    assert len(warm) == len(warm_again) == len(warm_last) == 2
    assert first_expiry == BOUNCED, "nothing known yet: the kept form is tried first"
    assert later_expiry == CLOSED, "idle longer than the site keeps a session: 4, no bounce"
    assert "forgot the session after 3600 s idle" in caplog.text
    assert "starting at its first page" in caplog.text


def test_a_session_wiped_at_an_ordinary_idle_time_teaches_nothing(timed):
    """A server restart forgets sessions after any idle time: later checks stay warm."""
    sim, clock = timed
    logs = _logs(_session(sim, clock, 0, 30, 30, sim.expire_sessions, 30, 31, 45))
    assert logs[3] == BOUNCED  # the wipe itself cannot be foreseen
    assert [len(log) for log in logs[4:]] == [2, 2]


def test_a_limit_learned_from_a_wipe_is_dropped_when_the_session_outlives_it(timed, caplog):
    """Wiped before any warm check: taken as the limit once, then proven wrong for free."""
    sim, clock = timed
    with caplog.at_level(logging.DEBUG, logger="monitor.sites.ezbooking.adapter"):
        logs = _logs(_session(sim, clock, 0, sim.expire_sessions, 30, 30, 30))
    assert logs[1] == BOUNCED
    assert logs[2] == CLOSED, "30 s idle now counts as forgotten: the landing page first"
    assert "outlived 30 s idle after all" in caplog.text
    assert len(logs[3]) == 2


# ── The site refuses a reused form token (over the real loopback server) ─────

REFUSED_THEN_SHOWN = [
    ("POST", f"{BOOKING}/1", 200),  # step 1 again, with eZ's token error and a new token
    ("POST", f"{BOOKING}/1", 302),  # the form it showed
]


def test_a_refused_token_on_a_warm_check_costs_one_post_more(timed, caplog):
    sim, clock = timed
    with caplog.at_level(logging.DEBUG, logger="monitor.sites.ezbooking.adapter"):
        logs = _logs(_session(sim, clock, 0, 30, lambda: sim.refuse_form_tokens(1), 30, 30))
    assert logs[2] == [*REFUSED_THEN_SHOWN, ("GET", f"{BOOKING}/2", 200)]
    assert "refused the kept step-1 form" in caplog.text
    assert len(logs[3]) == 2, "warm again with the new token"


def test_a_refused_token_with_open_slots_still_reads_them(timed):
    sim, clock = timed
    slot = (datetime.now(PARIS) + timedelta(days=1)).replace(hour=9, minute=0, second=0)
    sim.set_state(RENEWAL, "3.1", "available", slots=[slot])
    seen = _session(sim, clock, 0, lambda: sim.refuse_form_tokens(1), 30)
    obs, log = seen[-1]
    assert obs.status is Status.AVAILABLE and obs.slots
    assert log[:3] == [*REFUSED_THEN_SHOWN, ("GET", f"{BOOKING}/3", 200)]
    assert len(log) <= 3 + 2, "two week tables at most (this week and the next)"
    assert sim.booking_attempts == 0


def test_a_refused_token_in_a_new_session_falls_back_within_the_check(timed):
    """The landing page's token refused too: still full, within one check, at most 6."""
    sim, clock = timed
    logs = _logs(_session(sim, clock, 0, 30, 3600, 30, lambda: sim.refuse_form_tokens(1), 4000, 30))
    assert logs[4][:2] == [("GET", BOOKING, 200), ("POST", BOOKING, 200)]
    assert len(logs[4]) <= 6
    assert len(logs[5]) == 2


def test_a_site_that_keeps_refusing_is_unknown_never_available(timed):
    sim, clock = timed
    sim.set_state(RENEWAL, "3.1", "available", slots=default_slots(datetime.now(PARIS).date()))
    seen = _session(sim, clock, 0, lambda: sim.refuse_form_tokens(5), 30)
    obs, log = seen[-1]
    assert obs.status is Status.UNKNOWN
    assert "showed the calendar choice again" in obs.detail
    assert len(log) == 2
