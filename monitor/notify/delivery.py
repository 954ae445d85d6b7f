"""Deliver outbox events to notification targets: at least once, and once per target.

The store's outbox holds events; this worker turns each into one *delivery*
per target it is routed to (``[notify] events`` says which kinds are sent, a
watch's ``notify`` tags say to whom), then sends them through apprise:

* one target at a time per target, in order, but targets in parallel: a slow
  or failing Telegram never delays the email, nor the checks;
* apprise's per-target result decides: a target that failed is retried alone,
  with exponential backoff and jitter capped at 10 min, for up to 24 h, then
  the delivery is marked failed and the log says why;
* retry instants are read from a clock that never goes back
  (:class:`~monitor.timers.SteadyClock`): a wall clock stepping back an hour
  does not hold a retry "in 60 s" for an hour;
* deliveries live in the state database, so they survive restarts and
  ``kill -9``. The one case that can repeat a message is a crash between a
  target accepting it and the result being saved (at-least-once).

A ``slot_opened`` whose episode has ended before it could be sent is still
delivered, worded as "seen at …, gone at …", since the link may work again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from monitor.config import Config
from monitor.events import GROUPED, HEARTBEAT, SLOT_OPENED, Event, EventDraft, dedup_key
from monitor.events.trouble import trouble_site
from monitor.notify import Message, SendResult, Target, load_targets, render, send, targets_for
from monitor.store import DeliveryRow, Store, StoreError
from monitor.store.outbox import Backlog, DeliveryPlan, PlannedDelivery
from monitor.timers import SteadyClock
from monitor.transitions import iso

__all__ = ["DeliveryWorker", "heartbeat_draft", "retry_delay"]

log = logging.getLogger("monitor.notify.delivery")

FIRST_RETRY = 15.0
MAX_RETRY = 600.0
GIVE_UP_AFTER = timedelta(hours=24)
GROUP_WINDOW = timedelta(minutes=30)
"""A site outage hits every calendar of a watch at once: one message says it."""
IDLE_WAKE = 60.0
"""Seconds between looks at the outbox when nothing wakes the worker earlier."""
PLAN_BATCH = 500
"""Events planned per transaction: a long backlog is planned in steps, each durable."""

Sender = Callable[[Target, str, str], SendResult]


def retry_delay(attempts: int, rng: random.Random) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from 15 s, capped at 10 min, ±25 %."""
    base = min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1))
    return min(MAX_RETRY, base * rng.uniform(0.75, 1.25))


class DeliveryWorker:
    """Runs beside the checks in the daemon; see the module docstring."""

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        sender: Sender = send,
    ) -> None:
        self.store = store
        self.clock = clock
        """Wall time for people: messages, when a delivery was done."""
        self.queue_clock = SteadyClock(clock)
        """When deliveries are due: never back, so a clock step cannot delay a retry."""
        self.rng = rng or random.Random()
        self.sender = sender
        self._wake = asyncio.Event()
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self._passes = 0
        self.reconfigure(config)

    def reconfigure(self, config: Config) -> None:
        """Use a new config's targets, routing and texts from now on (SIGHUP)."""
        self.config = config
        self.targets = {t.id: t for t in load_targets(config.notify)}
        self.wake()

    def wake(self) -> None:
        """New events were written: look at the outbox now."""
        self._wake.set()

    @property
    def passes(self) -> int:
        """How many times :meth:`run` has looked at its queue: a worker that waits for a
        retry looks once, not in a loop (what tests and diagnostics can check)."""
        return self._passes

    def route(
        self, event: Event, last_routed: Mapping[tuple[str, str], datetime]
    ) -> list[tuple[str, str]]:
        """The targets ``(id, masked)`` an event goes to, by kind and the watch's tags.

        Site-wide trouble is one message, not one per calendar: a ``trouble``,
        ``recovered`` or ``layout_changed`` is not sent when the same watch
        had one of that kind sent within :data:`GROUP_WINDOW` (the events stay
        in the store, so ``history`` still shows every calendar). ``last_routed``
        says when the latest earlier event of each ``(kind, watch)`` was sent.
        Pure: reads only the config and its arguments.
        """
        if event.kind not in self.config.notify.events:
            return []
        if event.kind in GROUPED:
            last = last_routed.get((event.kind, event.watch))
            if last is not None and last >= event.created_at - GROUP_WINDOW:
                log.debug(
                    "%s / %s: %s already told for this watch; not sent again",
                    event.watch,
                    event.calendar,
                    event.kind,
                )
                return []
        watch = self.config.watch(event.watch) if event.watch else None
        tags = watch.notify if watch is not None else ()
        return [(t.id, t.masked) for t in targets_for(list(self.targets.values()), tags)]

    def plan(self, backlog: Backlog) -> DeliveryPlan:
        """The deliveries of a backlog's events, in order (pure: no store access).

        An event routed to someone counts for the grouping of the events after
        it, as it would once written.
        """
        routed = dict(backlog.last_routed)
        told = dict(backlog.last_routed)
        planned: list[PlannedDelivery] = []
        for event in backlog.events:
            assert event.id is not None  # events read from the store have ids
            if event.kind in GROUPED:
                _log_once_per_watch(event, told)
            targets = self.route(event, routed)
            if targets:
                key = (event.kind, event.watch)
                routed[key] = max(event.created_at, routed.get(key, event.created_at))
            planned += [PlannedDelivery(event.id, target, masked) for target, masked in targets]
        return DeliveryPlan(backlog.cursor, backlog.through, tuple(planned))

    def enqueue(self, now: datetime) -> int:
        """Plan the deliveries of every event not yet handed to delivery; returns how many.

        Read, decide, write: the store is read, routes are computed from that
        data alone, and the store writes the deliveries and moves its cursor in
        one transaction (nothing runs inside it but the write).
        """
        created = 0
        while True:
            backlog = self.store.backlog(GROUP_WINDOW, limit=PLAN_BATCH)
            if not backlog.events:
                return created
            created += self.store.plan_deliveries(self.plan(backlog), now)
            if len(backlog.events) < PLAN_BATCH:
                return created

    async def run(self) -> None:
        """Deliver until cancelled."""
        failures = 0
        while True:
            self._passes += 1
            try:
                # Planning writes: on the store's writer thread, never on the loop.
                await self.store.write(self.enqueue, self.queue_clock())
                self.dispatch()
                failures = 0
            except StoreError as exc:  # the disk is full: the store's keeper says it once
                failures += 1
                log.debug("the notification worker could not use its queue: %s", exc)
            except Exception:  # a bug: keep the daemon up, try again later
                failures += 1
                log.exception("the notification worker could not read its queue")
            if failures:
                await self._sleep(min(IDLE_WAKE, 5.0 * 2 ** (failures - 1)))
            else:
                await self._sleep()

    def in_flight(self) -> list[asyncio.Task[None]]:
        """The sends under way (the daemon lets them finish before it stops)."""
        return [t for t in self._busy.values() if not t.done()]

    def close(self) -> None:
        """Stop recording results: the store is about to close. Unsent work stays pending."""
        self._closed = True

    def dispatch(self) -> int:
        """Plan new deliveries and start every target that has work due; returns how many."""
        now = self.queue_clock()
        self.enqueue(now)
        started = 0
        due: dict[str, list[DeliveryRow]] = {}
        for row in self.store.due_deliveries(now, limit=500):
            due.setdefault(row.target, []).append(row)
        for target_id, rows in due.items():
            running = self._busy.get(target_id)
            if running is not None and not running.done():
                continue
            self._busy[target_id] = asyncio.create_task(
                self._deliver(target_id, rows), name=f"notify {rows[0].target_masked}"
            )
            started += 1
        return started

    async def _sleep(self, at_most: float = IDLE_WAKE) -> None:
        """Wait for a wake-up, or until the next send this worker could start is due."""
        self._wake.clear()
        timeout = at_most
        busy = [target for target, task in self._busy.items() if not task.done()]
        next_at = self.store.next_sendable_at(busy)
        if next_at is not None:
            timeout = min(timeout, max(0.0, (next_at - self.queue_clock()).total_seconds()))
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
        # comes together with a wake-up, and the worker would outlive the stop.
        with contextlib.suppress(TimeoutError):  # a timeout is just the next look
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _deliver(self, target_id: str, rows: list[DeliveryRow]) -> None:
        try:
            await self._deliver_rows(target_id, rows)
        except StoreError as exc:  # a result not saved: the delivery stays pending, sent again
            log.debug("could not save a notification result: %s", exc)
        finally:
            if not self._closed:
                self.wake()  # re-plan: new work may have arrived for this target meanwhile

    async def _deliver_rows(self, target_id: str, rows: list[DeliveryRow]) -> None:
        for row in rows:
            target = self.targets.get(target_id)
            if target is None:
                await self.store.write(
                    self.store.delivery_done,
                    row.event_id,
                    target_id,
                    sent=False,
                    at=self.clock(),
                    error="this target is no longer in the configuration",
                )
                continue
            if not await self._attempt(target, row):
                break  # keep this target's messages in order: retry the first one first

    async def _attempt(self, target: Target, row: DeliveryRow) -> bool:
        event = self.store.event(row.event_id)
        if event is None:  # cannot happen with foreign keys; do not loop on it
            await self.store.write(
                self.store.delivery_done,
                row.event_id,
                target.id,
                sent=False,
                at=self.clock(),
                error="event missing",
            )
            return True
        message = self.message(event)
        result = await _in_thread(self.sender, target, message.title, message.body)
        if self._closed:
            return False  # shutting down: the delivery stays pending and is retried later
        now = self.clock()
        queued = self.queue_clock()
        where = f"{event.watch} / {event.calendar}" if event.calendar else event.watch or "-"
        if result.ok:
            await self.store.write(
                self.store.delivery_done, row.event_id, target.id, sent=True, at=now
            )
            log.info("%s: %s sent to %s", where, event.kind, target.masked)
            return True
        reason = result.reason or "the target did not accept the message"
        if queued - row.created_at >= GIVE_UP_AFTER:
            await self.store.write(
                self.store.delivery_done, row.event_id, target.id, sent=False, at=now, error=reason
            )
            log.error(
                "%s: gave up sending %s to %s after 24 h of failures: %s",
                where,
                event.kind,
                target.masked,
                reason,
            )
            return True
        delay = retry_delay(row.attempts + 1, self.rng)
        await self.store.write(
            self.store.delivery_retry,
            row.event_id,
            target.id,
            next_attempt=queued + timedelta(seconds=delay),
            error=reason,
        )
        log.warning(
            "%s: %s not delivered to %s (%s); next try in %.0f s",
            where,
            event.kind,
            target.masked,
            reason,
            delay,
        )
        return False

    def message(self, event: Event) -> Message:
        """The text of ``event`` as configured (language, templates, time zone)."""
        gone_at = None
        if event.kind == SLOT_OPENED.name and event.episode_id is not None:
            episode = self.store.episode(event.episode_id)
            gone_at = episode.closed_at if episode is not None else None
        notify = self.config.notify
        return render(
            event,
            language=notify.language,
            templates=notify.templates,
            tz=self.config.tz,
            now=self.clock(),
            gone_at=gone_at,
        )


def _log_once_per_watch(event: Event, told: dict[tuple[str, str], datetime]) -> None:
    """The one log line of a grouped event (a site outage, its end): at INFO for the first
    of its kind and watch within :data:`GROUP_WINDOW`, at DEBUG for the other calendars.

    The daemon logs grouped events at DEBUG only, so an outage of a watch with four
    calendars is one line, not four. ``told`` is updated in place.
    """
    key = (event.kind, event.watch)
    last = told.get(key)
    told[key] = max(event.created_at, last or event.created_at)
    detail = str(event.payload.get("detail") or "")
    site = trouble_site(event)
    if site:
        where = f"{event.watch} (the whole site {site})"
    else:
        where = f"{event.watch} / {event.calendar}" if event.calendar else event.watch
    first = last is None or last < event.created_at - GROUP_WINDOW
    log.log(logging.INFO if first else logging.DEBUG, "%s: %s — %s", where, event.kind, detail)


async def _in_thread(sender: Sender, target: Target, title: str, body: str) -> SendResult:
    """Run a blocking apprise send in a daemon thread.

    Not the default executor: its threads are joined at shutdown, so one hung
    target would hold up ``systemctl stop``. An abandoned send stays pending
    in the database and is retried after the restart.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[SendResult] = loop.create_future()

    def work() -> None:
        try:
            result = sender(target, title, body)
        except Exception as exc:  # send() must not raise; a bug must not lose the message
            result = SendResult(False, f"internal error: {type(exc).__name__}")
        loop.call_soon_threadsafe(_settle, future, result)

    threading.Thread(target=work, name=f"send {target.masked}", daemon=True).start()
    return await future


def _settle(future: asyncio.Future[SendResult], result: SendResult) -> None:
    if not future.done():
        future.set_result(result)


def heartbeat_draft(store: Store, config: Config, now: datetime) -> EventDraft:
    """The daily "still watching" event: checks of the last 24 h by status, last slot seen.

    Its dedup key is the local date, so a restart around the heartbeat time
    never sends two on one day.
    """
    since = now - timedelta(hours=24)
    checks: dict[str, int] = {}
    for per_status in store.counts_by_status(since).values():
        for status, count in per_status.items():
            checks[status.value] = checks.get(status.value, 0) + count
    watched = {w.name for w in config.enabled_watches}
    last = max(
        (r for r in store.calendar_states() if r.watch in watched and r.last_available),
        key=lambda r: r.last_available or now,
        default=None,
    )
    watch = config.watch(last.watch) if last is not None else None
    payload: dict[str, Any] = {
        "since": iso(since),
        "until": iso(now),
        "checks": checks,
        "watches": sorted(watched),
        "last_slot_seen": iso(last.last_available) if last and last.last_available else None,
        "last_slot_calendar": last.calendar if last else None,
        "last_slot_watch": last.watch if last else None,
        "url": watch.url if watch is not None else None,
    }
    day = now.astimezone(config.tz).date().isoformat()
    return EventDraft(
        kind=HEARTBEAT.name,
        watch="",
        calendar="",
        created_at=now,
        dedup_key=dedup_key(HEARTBEAT.name, "", "", day),
        episode=None,
        payload=payload,
    )
