"""The delivery worker against local apprise ``json://`` targets, with an injected clock.

Real apprise sends over real HTTP to receivers on 127.0.0.1; only time is
simulated, so retry schedules (15 s, 30 s, … 24 h) are tested without waiting.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import Config, parse_config
from monitor.notify.delivery import GROUP_WINDOW, DeliveryWorker, heartbeat_draft, retry_delay
from monitor.observation import Observation, Status
from monitor.store import DeliveryPlan, PlannedDelivery, Store
from tests.receiver import LocalTarget

T0 = datetime(2026, 12, 7, 7, 0, 14, tzinfo=UTC)  # Monday 08:00:14 in Paris
URL = "http://127.0.0.1:9/booking/create/29396"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def phone() -> Iterator[LocalTarget]:
    with LocalTarget() as target:
        yield target


@pytest.fixture
def mail() -> Iterator[LocalTarget]:
    with LocalTarget() as target:
        yield target


def make_config(tmp_path: Path, urls: list[object], **notify: object) -> Config:
    data = {
        "monitor": {"state_dir": str(tmp_path / "state")},
        "notify": {"urls": urls, **notify},
        "watch": [{"name": "Renouvellement", "url": URL, "calendars": ["3.1", "3.2"]}],
    }
    return parse_config(data, source=str(tmp_path / "config.toml"), base_dir=tmp_path)


def observe(
    store: Store, minute: float, status: Status, calendar: str = "3.2", slots: int = 0
) -> list:
    first = datetime(2026, 12, 15, 8, 0, tzinfo=UTC)
    obs = Observation(
        watch="Renouvellement",
        calendar=calendar,
        status=status,
        url=URL,
        detail=f"test: {status.value}",
        checked_at=T0 + timedelta(minutes=minute),
        elapsed_ms=12,
        http_status=200,
        label=f"Calendrier {calendar} - Rendez-vous supplémentaires renouvellement",
        slots=tuple(first + timedelta(hours=h) for h in range(slots)),
        slot_count=slots if status is Status.AVAILABLE else None,
    )
    return store.record(obs, trouble_after=900)


async def settle(worker: DeliveryWorker) -> None:
    """Dispatch until every started send has finished and nothing new is due."""
    while True:
        worker.dispatch()
        busy = worker.in_flight()
        if not busy:
            return
        await asyncio.gather(*busy)


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "state") as s:
        yield s


def test_exactly_one_delivery_per_event_and_target(tmp_path, store, phone, mail):
    config = make_config(tmp_path, [phone.url, mail.url])
    clock = Clock()

    async def go() -> None:
        worker = DeliveryWorker(store, config, clock=clock, rng=random.Random(1))
        observe(store, 0, Status.FULL)
        observe(store, 1, Status.AVAILABLE, slots=3)
        observe(store, 2, Status.AVAILABLE, slots=2)  # same episode: no new event
        await settle(worker)
        clock.advance(3600)
        await settle(worker)  # nothing left to send

    run(go())
    for target in (phone, mail):
        (message,) = target.messages
        assert message["title"].startswith("Créneau libre : 3.2")
        assert "3 créneaux dès le mar. 15 déc. à 09:00" in message["message"]
        assert URL in message["message"]
    assert {d.state for d in store.deliveries()} == {"sent"}
    assert store.delivery_counts() == {"pending": 0, "sent": 2, "failed": 0}


def test_a_target_failing_n_times_gets_exactly_one_delivery_after_recovery(tmp_path, store, phone):
    config = make_config(tmp_path, [phone.url])
    clock = Clock()
    phone.fail_next(3, status=503)

    async def go() -> None:
        worker = DeliveryWorker(store, config, clock=clock, rng=random.Random(2))
        observe(store, 0, Status.AVAILABLE, slots=1)
        for _ in range(6):
            await settle(worker)
            (delivery,) = store.deliveries()
            if delivery.state == "sent":
                break
            assert delivery.last_error and "503" in delivery.last_error
            assert delivery.next_attempt > clock.now
            await settle(worker)  # not due yet: nothing is sent early
            clock.now = delivery.next_attempt

    run(go())
    assert len(phone.failed) == 3
    assert len(phone.messages) == 1
    (delivery,) = store.deliveries()
    assert (delivery.state, delivery.attempts) == ("sent", 4)


def test_retries_back_off_up_to_ten_minutes_and_give_up_after_a_day(tmp_path, store, phone, caplog):
    config = make_config(tmp_path, [phone.url])
    clock = Clock()
    phone.fail_next(10_000)
    gaps = []

    async def go() -> None:
        worker = DeliveryWorker(store, config, clock=clock, rng=random.Random(3))
        observe(store, 0, Status.AVAILABLE, slots=1)
        while True:
            await settle(worker)
            (delivery,) = store.deliveries()
            if delivery.state != "pending":
                return
            gaps.append((delivery.next_attempt - clock.now).total_seconds())
            clock.now = delivery.next_attempt

    run(go())
    (delivery,) = store.deliveries()
    assert delivery.state == "failed"
    assert "HTTP 500" in (delivery.last_error or "")
    assert clock.now - T0 >= timedelta(hours=24)
    assert gaps[0] < 20 and gaps[1] > gaps[0]
    assert max(gaps) <= 600
    assert "gave up" in caplog.text


def test_retry_delay_doubles_with_jitter_and_is_capped():
    rng = random.Random(4)
    assert 11 <= retry_delay(1, rng) <= 19
    assert 22 <= retry_delay(2, rng) <= 38
    assert all(retry_delay(n, rng) <= 600 for n in range(1, 40))


def test_a_slow_failing_target_does_not_delay_the_other(tmp_path, store, phone, mail):
    config = make_config(tmp_path, [mail.url, phone.url])
    mail.delay = 3.0
    mail.fail_next(1)

    async def go() -> bool:
        worker = DeliveryWorker(store, config, clock=Clock(), rng=random.Random(5))
        observe(store, 0, Status.AVAILABLE, slots=1)
        worker.dispatch()
        while not phone.messages:
            await asyncio.sleep(0.02)  # polling a fact: the phone got its message
        slow_still_answering = not mail.failed
        await asyncio.gather(*worker.in_flight())
        return slow_still_answering

    assert asyncio.run(go()), "the healthy target waited for the slow one's answer"
    assert mail.failed and not mail.messages
    states = {d.target_masked: d.state for d in store.deliveries()}
    assert sorted(states.values()) == ["pending", "sent"]


def test_messages_to_one_target_keep_their_order(tmp_path, store, phone):
    """A 'gone' must not reach the phone before the 'opened' it follows."""
    config = make_config(tmp_path, [phone.url], events=["slot_opened", "slot_gone"])
    clock = Clock()
    phone.fail_next(1)

    async def go() -> None:
        worker = DeliveryWorker(store, config, clock=clock, rng=random.Random(6))
        observe(store, 0, Status.AVAILABLE, slots=2)
        await settle(worker)  # the slot_opened fails once
        observe(store, 1, Status.FULL)  # slot_gone is now in the outbox
        await settle(worker)
        assert phone.messages == []
        clock.advance(60)
        await settle(worker)

    run(go())
    titles = [m["title"] for m in phone.messages]
    assert len(titles) == 2
    assert titles[0].startswith("Créneau (déjà reparti)")
    assert titles[1].startswith("Créneaux repartis")


def test_a_slot_still_pending_after_its_episode_ended_says_it_is_gone(tmp_path, store, phone):
    config = make_config(tmp_path, [phone.url], language="en")
    clock = Clock()
    phone.fail_next(1)

    async def go() -> None:
        worker = DeliveryWorker(store, config, clock=clock, rng=random.Random(7))
        observe(store, 0, Status.AVAILABLE, slots=1)
        await settle(worker)
        observe(store, 4, Status.FULL)
        clock.advance(600)
        await settle(worker)

    run(go())
    (message,) = phone.messages
    assert message["title"].startswith("Slot (already gone): 3.2")
    assert "Slot seen at 08:00:14, gone at 08:04:14" in message["message"]


def test_routing_by_watch_tags_and_event_kinds(tmp_path, store, phone, mail):
    urls = [{"url": phone.url, "tags": ["phone"]}, {"url": mail.url, "tags": ["mail"]}]
    data = {
        "monitor": {"state_dir": str(tmp_path / "state")},
        "notify": {"urls": urls},
        "watch": [
            {"name": "Renouvellement", "url": URL, "calendars": ["3.2"], "notify": ["phone"]}
        ],
    }
    config = parse_config(data, source=str(tmp_path / "c.toml"), base_dir=tmp_path)

    async def go() -> None:
        worker = DeliveryWorker(store, config, clock=Clock(), rng=random.Random(8))
        observe(store, 0, Status.AVAILABLE, slots=1)
        await settle(worker)
        observe(store, 1, Status.FULL)  # slot_gone: not in the default events
        await settle(worker)

    run(go())
    assert len(phone.messages) == 1 and phone.messages[0]["title"].startswith("Créneau libre")
    assert mail.messages == []


def test_templates_and_english(tmp_path, store, phone):
    templates = {"slot_opened": {"title": "RDV {calendar}!", "body": "{summary} → {url}"}}
    config = make_config(tmp_path, [phone.url], language="en", templates=templates)

    async def go() -> None:
        worker = DeliveryWorker(store, config, clock=Clock(), rng=random.Random(9))
        observe(store, 0, Status.AVAILABLE, slots=2)
        observe(store, 1, Status.DOWN, calendar="3.1")
        await settle(worker)

    run(go())
    (message,) = phone.messages
    assert message["title"] == "RDV 3.2!"
    assert message["message"] == f"2 slots from Tue 15 Dec 09:00 → {URL}"


def test_heartbeat_counts_checks_and_last_slot_once_a_day(tmp_path, store, phone):
    config = make_config(tmp_path, [phone.url], events=["heartbeat"], language="en")
    clock = Clock()
    observe(store, 0, Status.FULL)
    observe(store, 5, Status.AVAILABLE, slots=1)
    observe(store, 10, Status.FULL)
    observe(store, 10, Status.DOWN, calendar="3.1")
    clock.advance(3600)

    first = store.add_event(heartbeat_draft(store, config, clock()))
    assert first is not None
    assert first.payload["checks"] == {"full": 2, "available": 1, "down": 1}
    assert first.payload["last_slot_calendar"] == "3.2"
    clock.advance(60)
    assert store.add_event(heartbeat_draft(store, config, clock())) is None  # same day

    async def go() -> None:
        worker = DeliveryWorker(store, config, clock=clock, rng=random.Random(10))
        await settle(worker)

    run(go())
    (message,) = phone.messages
    assert message["title"] == "rdv-monitor is running (daily report)"
    assert "4 checks in 24 h" in message["message"]
    assert "Last slot seen" in message["message"] and "3.2" in message["message"]


def test_an_event_of_a_watch_removed_since_is_still_delivered(tmp_path, store, phone):
    observe(store, 0, Status.AVAILABLE, slots=1)  # written while "Renouvellement" existed
    data = {
        "monitor": {"state_dir": str(tmp_path / "state")},
        "notify": {"urls": [phone.url]},
        "watch": [{"name": "Premier titre", "url": URL, "calendars": ["1.1"]}],
    }
    config = parse_config(data, source=str(tmp_path / "c.toml"), base_dir=tmp_path)

    async def go() -> None:
        await settle(DeliveryWorker(store, config, clock=Clock(), rng=random.Random(11)))

    run(go())
    (message,) = phone.messages
    assert message["title"].startswith("Créneau libre : 3.2 – Renouvellement")


def test_the_worker_sleeps_while_a_target_waits_for_its_retry(tmp_path, store, phone):
    """A second message queued behind a retry must not make the worker spin.

    Counted, not timed: while the injected clock stands still before the retry, the
    worker is given many turns and must not use them to look at its queue again; once
    the clock reaches the retry, both messages go, in order.
    """
    config = make_config(tmp_path, [phone.url], events=["slot_opened", "slot_gone"])
    phone.fail_next(1)
    clock = Clock()

    async def go() -> tuple[int, list[dict[str, object]]]:
        worker = DeliveryWorker(store, config, clock=clock, rng=random.Random(12))
        observe(store, 0, Status.AVAILABLE, slots=1)
        await settle(worker)  # fails: retry planned ~15 s later (simulated clock)
        observe(store, 1, Status.FULL)  # due now, but waits behind the retry
        (retry,) = [d for d in store.deliveries() if d.attempts == 1]
        assert store.next_sendable_at() == retry.next_attempt
        running = asyncio.create_task(worker.run())
        # Each no-op write waits on the writer thread behind any write a spinning worker
        # submitted before it (one per look at the queue), and each turn of the loop lets
        # such a worker start its next look: 50 rounds would show ~50 looks.
        for _ in range(50):
            await store.write(lambda: None)
            await asyncio.sleep(0)
        looks_while_waiting = worker.passes
        assert phone.messages == []
        clock.now = retry.next_attempt
        worker.wake()
        while len(phone.messages) < 2:
            await asyncio.sleep(0.02)  # polling a fact: the phone got both messages
        await asyncio.gather(*worker.in_flight())  # their results are saved
        while not running.done():
            # Again until it ends: Python 3.11's wait_for drops a cancellation that comes
            # with the wake-up the finished sends gave.
            running.cancel()
            await asyncio.wait([running], timeout=1.0)
        return looks_while_waiting, phone.messages

    looks, messages = asyncio.run(go())
    assert 1 <= looks <= 2, f"the worker looked at its queue {looks} times without cause"
    titles = [str(m["title"]) for m in messages]
    assert titles[0].startswith("Créneau (déjà reparti)"), titles  # the retried one first
    assert len(titles) == 2, titles


def test_busy_targets_do_not_count_for_the_next_wake_up(store):
    observe(store, 0, Status.AVAILABLE, slots=1)
    backlog = store.backlog(GROUP_WINDOW)
    everyone = tuple(
        PlannedDelivery(e.id, target, masked)
        for e in backlog.events
        if e.id is not None
        for target, masked in [("phone", "p"), ("mail", "m")]
    )
    store.plan_deliveries(DeliveryPlan(backlog.cursor, backlog.through, everyone), T0)
    assert store.next_sendable_at() == T0
    assert store.next_sendable_at(busy=["phone"]) == T0
    assert store.next_sendable_at(busy=["phone", "mail"]) is None


def test_a_site_outage_is_one_message_not_one_per_calendar(tmp_path, store, phone):
    config = make_config(tmp_path, [phone.url], language="en")
    clock = Clock()

    async def go() -> None:
        worker = DeliveryWorker(store, config, clock=clock, rng=random.Random(13))
        for minute in (0, 10, 20):  # the whole site is down for 20 min (> trouble_after)
            for calendar in ("3.1", "3.2"):
                observe(store, minute, Status.DOWN, calendar=calendar)
        await settle(worker)
        for calendar in ("3.1", "3.2"):
            observe(store, 25, Status.FULL, calendar=calendar)
        await settle(worker)

    run(go())
    kinds = [e.kind for e in store.events_after(0)]
    assert kinds.count("trouble") == 2 and kinds.count("recovered") == 2, "history keeps both"
    titles = [m["title"] for m in phone.messages]
    assert len(titles) == 2, titles
    # The one message speaks for the whole site, not for the calendar that came first.
    assert titles[0].startswith("Site down: 127.0.0.1 – ")
    assert titles[1].startswith("Back to normal: 127.0.0.1 – ")
    assert not any("3.1" in t or "3.2" in t for t in titles)


def test_planning_reads_decides_then_writes_so_events_arriving_meanwhile_wait_their_turn(
    tmp_path, store, phone
):
    """No callback inside the write: the store is free while routes are decided."""
    config = make_config(tmp_path, [phone.url], events=["slot_opened", "slot_gone"])
    worker = DeliveryWorker(store, config, clock=Clock(), rng=random.Random(14))
    observe(store, 0, Status.AVAILABLE, slots=1)
    backlog = store.backlog(GROUP_WINDOW)
    plan = worker.plan(backlog)  # pure: decided from the backlog's data alone
    assert [d.event_id for d in plan.deliveries] == [e.id for e in backlog.events]
    observe(store, 1, Status.FULL)  # a write between the read and the plan's write
    assert store.plan_deliveries(plan, T0) == 1
    assert store.plan_deliveries(plan, T0) == 0, "the same plan twice must not duplicate"
    assert [d.event_id for d in store.deliveries()] == [1]
    (gone,) = store.backlog(GROUP_WINDOW).events  # the late event was not skipped
    assert gone.kind == "slot_gone"
    assert worker.enqueue(T0) == 1
    assert [d.event_id for d in store.deliveries()] == [1, 2]
    assert store.backlog(GROUP_WINDOW).events == ()


def test_a_plan_is_written_whole_or_not_at_all(tmp_path, store, phone):
    config = make_config(tmp_path, [phone.url])
    worker = DeliveryWorker(store, config, clock=Clock(), rng=random.Random(15))
    observe(store, 0, Status.AVAILABLE, slots=1)
    plan = worker.plan(store.backlog(GROUP_WINDOW))
    stray = PlannedDelivery(plan.through + 1, "phone", "p")  # an event it did not read
    broken = DeliveryPlan(plan.cursor, plan.through, (*plan.deliveries, stray))
    with pytest.raises(ValueError, match="outside the plan"):
        store.plan_deliveries(broken, T0)
    assert store.deliveries() == [] and len(store.backlog(GROUP_WINDOW).events) == 1
    assert store.plan_deliveries(plan, T0) == 1


def test_grouping_holds_across_planning_steps(tmp_path, store, phone):
    """An outage planned in two steps is still one message: the backlog says what was sent."""
    config = make_config(tmp_path, [phone.url], language="en")
    worker = DeliveryWorker(store, config, clock=Clock(), rng=random.Random(16))
    for minute in (0, 10, 20):
        observe(store, minute, Status.DOWN, calendar="3.1")
    assert worker.enqueue(T0) == 1  # the trouble of 3.1
    for minute in (0, 10, 20):
        observe(store, minute, Status.DOWN, calendar="3.2")
    backlog = store.backlog(GROUP_WINDOW)
    assert ("trouble", "Renouvellement") in backlog.last_routed
    assert worker.enqueue(T0) == 0  # the trouble of 3.2, minutes later: already told
    kinds = [(e.kind, e.calendar) for e in store.events_after(0)]
    assert kinds == [("trouble", "3.1"), ("trouble", "3.2")]
    assert [d.event_id for d in store.deliveries()] == [1]
