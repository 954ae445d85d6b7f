"""``validate --online``: ask each booking which calendars it offers, and compare.

Opt-in (it makes requests), and polite: one walk to the calendar choice per
booking, through the same :class:`~monitor.check.Checker` (fetcher, proxy and
:class:`~monitor.http.HostGate` spacing) as ``check``. A calendar the booking
does not offer would otherwise be found only by the daemon, as ``not_offered``.
"""

from __future__ import annotations

from monitor.check import Checker
from monitor.config import Config, Watch
from monitor.errors import FetchError
from monitor.sites.base import CalendarInfo

__all__ = ["offered_problems"]


async def offered_problems(config: Config) -> tuple[list[str], list[str]]:
    """(mistakes, notes): one line per calendar of ``config`` that its booking does not
    offer, naming what it offers; and one note per booking that could not be asked."""
    mistakes: list[str] = []
    notes: list[str] = []
    asked: dict[str, list[CalendarInfo] | None] = {}
    async with Checker(config) as checker:
        for n, watch in enumerate(config.watches):
            if not watch.enabled or not watch.calendars:
                continue
            if watch.url not in asked:  # one walk per booking, however many watches use it
                try:
                    asked[watch.url] = await (await checker.adapter(watch)).discover()
                except FetchError as exc:
                    asked[watch.url] = None
                    notes.append(f'[[watch]] #{n + 1} ("{watch.name}"): could not ask: {exc}')
            offered = asked[watch.url]
            if offered:
                mistakes.extend(_unknown(config, n, watch, offered))
    return mistakes, notes


def _unknown(config: Config, n: int, watch: Watch, offered: list[CalendarInfo]) -> list[str]:
    listed = ", ".join(c.label for c in offered[:20]) + (" …" if len(offered) > 20 else "")
    lines = []
    for ref in watch.calendars:
        if not any(ref.matches_option(c.label, c.planning_id) for c in offered):
            lines.append(
                f'[[watch]] #{n + 1} ("{watch.name}") calendars: {ref.display} is not offered '
                f"by this booking; it offers {listed}; fix `calendars` in {config.source}."
            )
    return lines
