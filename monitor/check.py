"""Check the configured calendars once: the one-shot core shared by ``check`` and the daemon.

A :class:`Checker` owns one site adapter per watch (each with its own cookie
jar, i.e. its own site session) and one :class:`~monitor.http.HostGate`
shared by all of them, so two watches on one prefecture never hit it at once.
A ``blocked`` answer ends the watch's run: asking the site for its other
calendars while it refuses us would only make the refusal last.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import httpx

from monitor.http import Fetcher, HostGate
from monitor.observation import Observation, Status
from monitor.sites.base import Clock, SiteAdapter, utc_now
from monitor.sites.registry import adapter_for

if TYPE_CHECKING:
    from monitor.config import CalendarRef, Config, Watch
    from monitor.site_memory import SiteMemory

__all__ = ["Asking", "Checker", "check_once", "check_stream"]

log = logging.getLogger(__name__)

Asking = Callable[["Watch", "CalendarRef | None"], None]
"""Told which calendar is about to be asked (``check`` shows it on a terminal)."""


class Checker:
    """Runs checks for the watches of a config, politely and in priority order."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = utc_now,
        gate: HostGate | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        memory: SiteMemory | None = None,
    ) -> None:
        self.config = config
        self.memory = memory
        """Where adapters' knowledge outlives the process (recalled at birth, saved on change)."""
        self.clock = clock
        self.gate = gate or HostGate(config.monitor.min_spacing)
        self._transport = transport
        self._adapters: dict[str, SiteAdapter] = {}
        self._retired_requests = 0

    async def adapter(self, watch: Watch) -> SiteAdapter:
        """The adapter (and so the site session) of ``watch``, created on first use.

        A watch whose URL changed (a config reload) gets a new adapter; the old
        one's HTTP client is closed here, so its connections do not linger.
        """
        adapter = self._adapters.get(watch.name)
        if adapter is not None and adapter.url != watch.url:
            del self._adapters[watch.name]
            self._retired_requests += adapter.fetcher.requests_made
            await adapter.fetcher.aclose()
            adapter = None
        if adapter is None:
            settings = self.config.monitor
            fetcher = Fetcher(
                gate=self.gate,
                user_agent=settings.http_user_agent,
                timeout=settings.timeout,
                connect_timeout=settings.connect_timeout,
                max_bytes=settings.max_page_size,
                transport=self._transport,
                proxy=self.config.proxy_for(watch),
            )
            adapter = adapter_for(watch.url)(watch.url, fetcher, clock=self.clock)
            self._adapters[watch.name] = adapter
            if self.memory is not None:
                self.memory.recall(watch.name, adapter)
        return adapter

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far, all watches together."""
        live = sum(a.fetcher.requests_made for a in self._adapters.values())
        return self._retired_requests + live

    async def check_watch(
        self, watch: Watch, *, asking: Asking | None = None
    ) -> AsyncIterator[Observation]:
        """Check each calendar of ``watch`` in order, primary first, one at a time.

        Stops after a ``blocked`` observation: the site refuses us, and asking
        for the next calendars would only prolong the block (the caller's
        backoff decides when to come back). The calendars after it are then
        not checked this time. ``asking`` is told each calendar before it is asked.
        """
        adapter = await self.adapter(watch)
        for calendar in watch.calendars or (None,):
            if asking is not None:
                asking(watch, calendar)
            shown = f"{watch.name} / {calendar.display}" if calendar else watch.name
            log.debug("%s: asking %s", shown, watch.url)
            obs = _name_the_file(await adapter.check(calendar, watch=watch.name), self.config)
            log.debug("%s: %s in %d ms: %s", shown, obs.status.value, obs.elapsed_ms, obs.detail)
            yield obs
            if obs.status is Status.BLOCKED:
                break
        if self.memory is not None:
            await self.memory.save(watch.name, adapter)

    def hand_over_memory(self) -> SiteMemory | None:
        """Give the site memory to the checker that replaces this one (a config reload).

        From then on this one saves nothing: its adapters check no more, and a
        late save of theirs would put back older knowledge over their successors'.
        """
        memory, self.memory = self.memory, None
        return memory

    async def aclose(self) -> None:
        for name, adapter in self._adapters.items():
            if self.memory is not None:
                await self.memory.save(name, adapter, closing=True)
            await adapter.fetcher.aclose()
        self._adapters.clear()

    async def __aenter__(self) -> Checker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def check_stream(
    config: Config,
    watches: Iterable[Watch] | None = None,
    *,
    gate: HostGate | None = None,
    asking: Asking | None = None,
    memory: SiteMemory | None = None,
) -> AsyncIterator[Observation]:
    """Check every calendar of ``watches`` (default: all enabled ones) once, yielding each
    observation as soon as it is known (``check`` prints it then, not at the end)."""
    selected = list(watches) if watches is not None else [w for w in config.watches if w.enabled]
    async with Checker(config, gate=gate, memory=memory) as checker:
        for watch in selected:
            checked = 0
            async for obs in checker.check_watch(watch, asking=asking):
                checked += 1
                yield _say_what_was_skipped(watch, checked, obs)


async def check_once(config: Config, watches: Iterable[Watch] | None = None) -> list[Observation]:
    """Check every calendar of ``watches`` (default: all enabled ones) once."""
    return [obs async for obs in check_stream(config, watches)]


def _say_what_was_skipped(watch: Watch, checked: int, obs: Observation) -> Observation:
    """Tell, in the detail of a ``blocked`` answer, which calendars it left unchecked.

    ``check`` prints observations only (one row per calendar checked); without
    this a person would read three missing rows as three calendars forgotten.
    """
    skipped = [c.display for c in watch.calendars[checked:]]
    if obs.status is not Status.BLOCKED or not skipped:
        return obs
    names = ", ".join(skipped)
    note = (
        f"Stopped: the site is refusing us, so {names} "
        f"{'was' if len(skipped) == 1 else 'were'} not checked (asking would prolong the block)."
    )
    return replace(obs, detail=f"{obs.detail} {note}")


def _name_the_file(obs: Observation, config: Config) -> Observation:
    """Say which file to fix in a ``not_offered`` detail (the adapter does not know it)."""
    if obs.status is not Status.NOT_OFFERED:
        return obs
    return replace(obs, detail=f"{obs.detail} The config file is {config.source}.")
