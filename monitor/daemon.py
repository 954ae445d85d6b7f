"""``rdv-monitor run``: the long-running monitor.

The schedule decides *when*; everything else is the same one-way flow as a
one-shot check::

    one monotonic timer per watch ─▶ Checker (adapter, classifier)
        ─▶ Store.record (observation, state, episodes, outbox events)
        ─▶ plan_after_run ─▶ the watch's next timer
    outbox ─▶ DeliveryWorker (its own task) ─▶ apprise, per target

Each watch has exactly one pending timer at a time and a lock, so a watch never
runs twice at once and a late wake-up (suspended machine, clock jump) gives
one run, not a burst of catch-up runs. The next run is planned only when the
previous one has finished, from the time it finished.

Runs are planned as wall-clock instants (a release is "Monday 08:00") but
waited for on the monotonic clock (:mod:`monitor.timers`): a wall clock that
steps back an hour never delays a check by an hour. Every few seconds the
daemon compares the two clocks; on a step it logs one line and plans every
watch again from the corrected wall time, so a step forward cannot make it
miss a release instant either. APScheduler keeps the daily heartbeat, a cron
at a local wall time.

Signals: SIGTERM/SIGINT stop cleanly (in-flight requests are cancelled);
SIGHUP re-reads the config and applies it if valid, else logs why and keeps
the old one. Under systemd it speaks the notify protocol (READY, STATUS,
WATCHDOG, STOPPING).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import signal
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.check import Checker
from monitor.config import Config, Watch, load_config, resolve_state_dir
from monitor.errors import MonitorError
from monitor.events import GROUPED, TROUBLE, state_trouble_event
from monitor.http import HostGate
from monitor.lean import OnDemandScheduler, give_back_free_memory
from monitor.metrics import metrics_for
from monitor.notify import Target, load_targets
from monitor.notify.delivery import DeliveryWorker, Sender, heartbeat_draft
from monitor.observation import Observation
from monitor.schedule import (
    Backoff,
    Planned,
    Policy,
    backoff_after,
    plan_after_run,
    resume,
    watch_fingerprint,
)
from monitor.sdnotify import Notifier, watchdog_interval
from monitor.site_memory import SiteMemory
from monitor.store import Store, StoreError
from monitor.store.keeper import Keeper
from monitor.store.retention import PRUNE_BATCH
from monitor.timers import STEP_CHECK_EVERY, Step, StepDetector, Timers, watch_steps

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

__all__ = ["Daemon"]

log = logging.getLogger("monitor.daemon")

STOP_TIMEOUT = 5.0
"""Seconds given to in-flight checks and sends at shutdown (well within systemd's stop timeout)."""
MAX_RETRY_AFTER = 24 * 3600.0
"""A longer ``Retry-After`` is taken as this: a typo on the site must not mute a watch for years."""

PRUNE_EVERY = 3600.0
"""Seconds between two prunings of old observations (each in small batches)."""
PRUNE_FIRST = 60.0
"""Seconds after start-up before the first pruning: the first checks go first."""

Loader = Callable[[str], Config]


@dataclass
class _WatchState:
    """What the daemon knows about one watch between runs."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    backoff: Backoff = field(default_factory=Backoff)
    planned: Planned | None = None
    last_start: datetime | None = None
    """When the latest run started (wall time, moved along with a step back)."""
    task: asyncio.Task[None] | None = None


class Daemon:
    """Watches the configured calendars until stopped."""

    def __init__(
        self,
        config_path: str | Path,
        config: Config,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        loader: Loader = load_config,
        store: Store | None = None,
        step_check_every: float = STEP_CHECK_EVERY,
        stop_requested: threading.Event | None = None,
    ) -> None:
        self.config_path = str(config_path)
        self.loader = loader
        """Reads and checks the config on SIGHUP: the same one the command used at start."""
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock
        self.rng = rng or random.Random()
        self.state_dir = resolve_state_dir(config, self.environ)
        self.store = store if store is not None else Store.open(self.state_dir)
        """Given: e.g. a store on a slow disk in a test. Closed by the daemon either way."""
        self.keeper = Keeper(self.store, on_unwritable=self._state_unwritable)
        """Every write goes through it: off the loop, and held in memory if the disk refuses."""
        self.metrics = metrics_for(config, self.store)  # no-op unless [monitor] metrics
        self.gate = HostGate(config.monitor.min_spacing)
        memory = SiteMemory.through(self.keeper, clock=clock)
        self.checker = Checker(config, clock=clock, gate=self.gate, memory=memory)
        self.delivery = DeliveryWorker(self.store, config, clock=clock, rng=self.rng)
        self.systemd = Notifier(self.environ)
        self._scheduler = OnDemandScheduler(UTC)
        self.timers = Timers(clock)
        self._steps = StepDetector(clock)
        self.step_check_every = step_check_every
        # A SIGTERM caught before run() installs its handlers (see cli's `run`).
        self.stop_requested = stop_requested
        """Seconds between two comparisons of the wall and monotonic clocks."""
        self._watches: dict[str, _WatchState] = {}
        self._stopping = asyncio.Event()
        self._background: set[asyncio.Task[object]] = set()
        self.runs = 0

    # ── life cycle ──────────────────────────────────────────────────────────

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (or :meth:`stop`); returns the exit status."""
        self.metrics.start()  # first: a taken port stops the start with a sentence
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        if self.stop_requested is not None and self.stop_requested.is_set():
            self.stop()
        self._scheduler.start()
        self._spawn(self.delivery.run())
        self._spawn(self.keeper.run())
        self._schedule_heartbeat()
        self._spawn(self._prune_every())
        self._spawn(watch_steps(self._steps, self._clock_stepped, every=self.step_check_every))
        now = self.clock()
        for watch in self.config.enabled_watches:
            self._schedule(watch.name, self._first_plan(watch, now))
        log.info(
            "watching %d calendar(s) in %d watch(es); state in %s",
            sum(max(1, len(w.calendars)) for w in self.config.enabled_watches),
            len(self.config.enabled_watches),
            self.state_dir,
        )
        self.systemd.ready(self._summary())
        ping = watchdog_interval(self.environ)
        if ping:
            self._spawn(self._watchdog(ping))
        try:
            await self._stopping.wait()
        finally:
            await self._shutdown()
        return 0

    def stop(self) -> None:
        """Ask the daemon to stop (signal-safe)."""
        if not self._stopping.is_set():
            log.info("stopping")
            self.systemd.stopping()
            self._stopping.set()

    async def _shutdown(self) -> None:
        self._scheduler.shutdown()
        self.timers.cancel_all()
        tasks: list[asyncio.Task[Any]] = [
            s.task for s in self._watches.values() if s.task and not s.task.done()
        ]
        tasks += self._background
        for task in tasks:
            task.cancel()
        # Sends under way are not cancelled: one that reached the target must be
        # recorded as sent, or the target would get it again after the restart.
        sending = self.delivery.in_flight()
        if tasks or sending:
            await asyncio.wait([*tasks, *sending], timeout=STOP_TIMEOUT)
        if self.keeper.holding and not await self.keeper.flush():
            log.error(
                "stopping with %d write(s) held in memory that the state database %s "
                "still refuses: they are lost (the next checks see the calendars again)",
                self.keeper.holding,
                self.store.path,
            )
        self.delivery.close()
        await self.checker.aclose()
        self.metrics.close()
        self.store.close()  # after the writes already submitted are done
        self.systemd.close()
        log.info("stopped")

    async def _watchdog(self, every: float) -> None:
        while True:
            self.systemd.watchdog()
            await asyncio.sleep(every)

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ── scheduling ──────────────────────────────────────────────────────────

    def _policy(self, watch: Watch) -> Policy:
        return Policy.for_watch(self.config, watch)

    def _first_plan(self, watch: Watch, now: datetime) -> Planned:
        """The first check after start-up: the saved plan, never later.

        The backoff saved by the previous process still applies (a site that
        blocked us is not asked again because systemd restarted us), and so does
        the floor since the last check; but a watch whose config is unchanged
        runs at its saved next check at the latest, so a restart during a
        backoff does not wait a whole new one (see :func:`monitor.schedule.resume`).
        """
        state = self._watches.setdefault(watch.name, _WatchState())
        state.backoff = self.store.backoffs.load(watch.name)
        policy = self._policy(watch)
        saved = self.store.plans.load(watch.name)
        if saved is not None and saved.fingerprint != watch_fingerprint(policy, watch):
            log.info("%s: its config changed since the last run: planned afresh", watch.name)
            saved = None
        checks = [
            row.last_check
            for row in self.store.calendar_states()
            if row.watch == watch.name and row.last_check is not None
        ]
        return resume(
            policy,
            now,
            self.rng,
            saved=saved.planned if saved is not None else None,
            backoff=state.backoff,
            last_check=max(checks, default=None),
        )

    def _schedule(self, name: str, planned: Planned) -> None:
        state = self._watches.setdefault(name, _WatchState())
        state.planned = planned
        # The delay is fixed now, on the monotonic clock: a later wall-clock step
        # back cannot postpone it; a step forward is handled by _clock_stepped.
        delay = self.timers.arm(name, planned.at, functools.partial(self._fire, name))
        watch = self.config.watch(name)
        if watch is not None:
            self.keeper.defer(
                f"save the next check of {name}",
                functools.partial(
                    _save_plan,
                    name,
                    [c.display for c in watch.calendars] or [""],
                    planned,
                    watch_fingerprint(self._policy(watch), watch),
                ),
                key=("next_check", name),
                droppable=True,
            )
        log.debug(
            "%s: next check at %s, in %.1f s (%s)",
            name,
            planned.at.isoformat(),
            delay,
            planned.reason,
        )

    def _fire(self, name: str) -> None:
        # Runs on the event loop; the check itself is a tracked task so that
        # shutdown can cancel it and the timer callback returns at once.
        if self._stopping.is_set():
            return
        state = self._watches.setdefault(name, _WatchState())
        if state.task is None or state.task.done():
            state.task = asyncio.create_task(self._run_watch(name), name=f"run {name}")

    def _look_at_clock(self) -> datetime:
        """The wall time, once a step since the last look is handled: the times a plan
        is made from are all on the same side of a step."""
        step = self._steps.sample()
        if step is not None:
            self._clock_stepped(step)
        return self.clock()

    def _clock_stepped(self, step: Step) -> None:
        """The wall clock stepped: plan every idle watch again from the corrected time.

        A step back means the wall times read before it were ahead: they are moved
        back with it, so a watch keeps its pace (its timer was right already) and a
        release instant now ahead on the wall clock is planned again. A step forward
        (NTP setting a late clock right, or a resume from suspend) is that much
        time gone by: times read before it stay, so a run now due happens once, at
        once, and a release instant the timer would now overshoot is hit on time.
        A watch being checked is planned when its run ends, as always.
        """
        log.warning("the system clock stepped %s: every watch is planned again", step.describe())
        shift = timedelta(seconds=min(step.seconds, 0.0))
        now = self.clock()
        for name, state in list(self._watches.items()):
            watch = self.config.watch(name)
            if watch is None:
                continue
            if state.last_start is not None:
                state.last_start += shift
            backoff = state.backoff
            if shift and backoff.not_before is not None:
                state.backoff = Backoff(backoff.failures, backoff.cause, backoff.not_before + shift)
            if state.task is not None and not state.task.done():
                continue  # _after_run plans it from the shifted start
            policy = self._policy(watch)
            if state.last_start is not None:
                planned = plan_after_run(
                    policy, now, state.backoff, self.rng, last_start=state.last_start
                )
            else:  # not run yet: its first plan, moved along, unless a fresh one comes first
                saved = state.planned
                if saved is not None:
                    saved = Planned(saved.at + shift, saved.reason)
                planned = resume(policy, now, self.rng, saved=saved, backoff=state.backoff)
            self._schedule(name, planned)

    async def _run_watch(self, name: str) -> None:
        state = self._watches[name]
        async with state.lock:
            watch = self.config.watch(name)
            if watch is None or not watch.enabled:
                return  # removed by a reload while it was pending
            observations: list[Observation] = []
            state.last_start = self._look_at_clock()
            try:
                observations = await self._check(watch)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end the monitoring of every watch
                log.exception("%s: the check failed unexpectedly", name)
            finally:
                # A reload may have removed the watch while it was being checked.
                if not self._stopping.is_set() and self.config.watch(name) is not None:
                    self._after_run(watch, state, observations)

    async def _check(self, watch: Watch) -> list[Observation]:
        seen: list[Observation] = []
        # check_watch stops at a `blocked` answer; the backoff decides when to come back.
        async for obs in self.checker.check_watch(watch):
            seen.append(obs)
            await self._record(obs)
        self.runs += 1
        give_back_free_memory()  # what the run freed: see monitor.lean
        return seen

    async def _record(self, obs: Observation) -> None:
        # Awaited on the writer thread: a slow fsync holds this watch, never the loop.
        events = await self.keeper.record(obs, trouble_after=self.config.monitor.trouble_after)
        self.metrics.observe(obs, events)
        where = f"{obs.watch} / {obs.calendar}" if obs.calendar else obs.watch
        log.debug(
            "%s: %s (HTTP %s, %d ms) %s",
            where,
            obs.status.value,
            obs.http_status if obs.http_status is not None else "-",
            obs.elapsed_ms,
            obs.detail,
        )
        for event in events:
            # A site outage hits every calendar: the delivery worker logs it once per watch.
            level = logging.DEBUG if event.kind in GROUPED else logging.INFO
            log.log(level, "%s: %s — %s", where, event.kind, obs.detail)
        if events:
            self.delivery.wake()

    def _after_run(self, watch: Watch, state: _WatchState, seen: list[Observation]) -> None:
        now = self._look_at_clock()
        try:
            retry_after = max((o.retry_after for o in seen if o.retry_after), default=None)
            if retry_after is not None:
                retry_after = min(retry_after, MAX_RETRY_AFTER)
            statuses = [o.status for o in seen]
            previous = state.backoff
            state.backoff = backoff_after(previous, statuses, retry_after, now)
            if state.backoff != previous:
                backoff = state.backoff
                self.keeper.defer(
                    f"save the backoff of {watch.name}",
                    lambda store: store.backoffs.save(watch.name, backoff),
                    key=("backoff", watch.name),
                )
            policy = self._policy(watch)
            planned = plan_after_run(
                policy, now, state.backoff, self.rng, last_start=state.last_start
            )
        except Exception:
            # Whatever went wrong, the watch must not silently stop being watched.
            log.exception(
                "%s: planning the next check failed; retrying at the base interval", watch.name
            )
            planned = Planned(now + timedelta(seconds=self.config.interval_for(watch)), "interval")
        self._schedule(watch.name, planned)
        self.systemd.status(self._summary())

    def _summary(self) -> str:
        """One line for ``systemctl status``: what each calendar looks like now."""
        parts = []
        for row in self.store.calendar_states():
            if self.config.watch(row.watch) is None:
                continue
            name = row.calendar or row.watch
            parts.append(f"{name} {row.status}")
        head = f"{self.runs} runs"
        return f"{head}; " + ", ".join(parts) if parts else f"{head}; waiting for the first check"

    # ── the state folder ────────────────────────────────────────────────────

    def _state_unwritable(self, line: str, reason: str) -> None:
        """Writes started failing: tell every target once, from memory (the outbox may be
        unwritable too). The keeper has logged ``line`` already."""
        if TROUBLE.name not in self.config.notify.events:
            return
        worker = self.delivery
        message = worker.message(state_trouble_event(self.state_dir, self.clock(), reason))
        for target in worker.targets.values():
            threading.Thread(
                target=_send_logged,
                args=(worker.sender, target, message.title, message.body),
                name=f"send {target.masked}",
                daemon=True,  # a hung target must not hold up the stop
            ).start()

    # ── heartbeat ───────────────────────────────────────────────────────────

    @property
    def scheduler(self) -> AsyncIOScheduler:
        """For the daily heartbeat only (the checks wait on :attr:`timers`); created on
        first use, see :class:`~monitor.lean.OnDemandScheduler`."""
        return self._scheduler.get()

    def _schedule_heartbeat(self) -> None:
        """A daily job at ``[notify] heartbeat`` when ``heartbeat`` is among the events."""
        self._scheduler.remove_job("heartbeat")
        notify = self.config.notify
        if "heartbeat" not in notify.events:
            return
        self.scheduler.add_job(
            self._heartbeat,
            "cron",
            hour=notify.heartbeat.hour,
            minute=notify.heartbeat.minute,
            timezone=self.config.tz,
            id="heartbeat",
            name="daily heartbeat",
            misfire_grace_time=3600,
            coalesce=True,
        )

    async def _heartbeat(self) -> None:
        draft = heartbeat_draft(self.store, self.config, self.clock())
        event = await self.keeper.write("write the heartbeat", lambda store: store.add_event(draft))
        if event is not None:
            log.info("heartbeat: %s", event.payload.get("checks"))
            self.delivery.wake()

    # ── retention ───────────────────────────────────────────────────────────

    async def _prune_every(self) -> None:
        """Prune old observations soon after start, then every :data:`PRUNE_EVERY`
        (monotonic waits: a clock step neither skips nor repeats a round)."""
        await asyncio.sleep(PRUNE_FIRST)
        while True:
            try:
                await self._prune()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end pruning for good
                log.exception("pruning old observations failed unexpectedly")
            await asyncio.sleep(PRUNE_EVERY)

    async def _prune(self) -> int:
        """Delete observations older than ``[monitor] keep``, one short transaction at a
        time, letting checks and deliveries run in between. Returns how many went."""
        before = self.clock() - timedelta(seconds=self.config.monitor.keep)
        total = 0
        # Not while writes are held for a failing disk: they must go first, in order.
        while not self._stopping.is_set() and not self.keeper.holding:
            try:
                # On the writer thread, after the writes already submitted: an fsync on a
                # slow SD card must not hold up a check.
                pruned = await self.store.write(
                    self.store.retention.prune_batch, before, self.config.tz
                )
            except StoreError as exc:  # a full disk, say: try again at the next round
                log.warning("pruning old observations failed, will retry: %s", exc)
                break
            total += pruned
            if pruned < PRUNE_BATCH:
                break
            await asyncio.sleep(0)  # let checks and deliveries in between batches
        if total:
            log.info("pruned %d observation(s) checked before %s", total, before.isoformat())
        return total

    # ── reload ──────────────────────────────────────────────────────────────

    def request_reload(self) -> None:
        """SIGHUP: re-read the config (signal-safe; the work happens on the loop)."""
        self._spawn(self.reload())

    async def reload(self) -> bool:
        """Apply the config file again if it is valid; keep the old one otherwise."""
        self.systemd.reloading()
        try:
            new = self.loader(self.config_path)
            load_targets(new.notify)  # an unreadable apprise file refuses the reload too
        except MonitorError as exc:
            log.error("reload refused, still running the previous config: %s", exc)
            self.systemd.status(f"reload refused: {self.config_path} is invalid")
            return False
        finally:
            self.systemd.ready()
        for what, old_value, new_value in (
            (
                "state_dir",
                resolve_state_dir(self.config, self.environ),
                resolve_state_dir(new, self.environ),
            ),
            ("metrics", self.config.monitor.metrics, new.monitor.metrics),
        ):
            if old_value != new_value:
                log.warning("[monitor] %s changed: that takes a restart to apply", what)
        old_checker = self.checker
        idle_states = list(self._watches.values())  # before removed watches are dropped
        self.config = new
        self.gate.min_spacing = new.monitor.min_spacing
        self.delivery.reconfigure(new)
        self._schedule_heartbeat()
        memory = old_checker.hand_over_memory()
        self.checker = Checker(new, clock=self.clock, gate=self.gate, memory=memory)
        self._spawn(self._close_when_idle(old_checker, idle_states))
        now = self.clock()
        wanted = {w.name for w in new.enabled_watches}
        for name in list(self._watches):
            if name not in wanted:
                self.timers.cancel(name)
                self._watches.pop(name, None)
        for watch in new.enabled_watches:
            state = self._watches.get(watch.name)
            planned = (
                plan_after_run(self._policy(watch), now, state.backoff, self.rng)
                if state is not None
                else self._first_plan(watch, now)
            )
            self._schedule(watch.name, planned)
        log.info("configuration reloaded: %d watch(es)", len(wanted))
        self.systemd.status(self._summary())
        return True

    async def _close_when_idle(self, checker: Checker, states: list[_WatchState]) -> None:
        """Close the previous checker once no check started before the reload still uses it."""
        for state in states:
            async with state.lock:
                pass
        await checker.aclose()


def _save_plan(
    watch: str, calendars: list[str], planned: Planned, fingerprint: str, store: Store
) -> None:
    store.plans.save(watch, calendars, planned, fingerprint)


def _send_logged(sender: Sender, target: Target, title: str, body: str) -> None:
    result = sender(target, title, body)
    if result.ok:
        log.info("the state folder trouble was sent to %s", target.masked)
    else:
        log.warning("could not tell %s about the state folder: %s", target.masked, result.reason)
