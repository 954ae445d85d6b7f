"""``rdv-monitor demo``: see what rdv-monitor does, offline, in under a minute.

It starts the simulated prefecture on 127.0.0.1, writes a demo config that
watches its renewal calendars 3.1–3.4, and narrates real checks over real
HTTP while the simulator opens a slot on 3.2 and then gives it away again.
Nothing here talks to a real prefecture.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from monitor.check import Checker
from monitor.config import load_config
from monitor.observation import Observation, Status
from monitor.render import format_slot
from monitor.sim import PARIS, SimPrefecture

__all__ = ["run_demo"]

BOOKING = 29396
CALENDARS = ("3.1", "3.2", "3.3", "3.4")


def demo_config(url: str) -> str:
    cals = ", ".join(f'"{c}"' for c in CALENDARS)
    return (
        '[monitor]\ninterval = "5s"\njitter = "0s"\n\n[notify]\nurls = []\n\n'
        f'[[watch]]\nname = "Renouvellement titre de séjour (démo)"\nurl = "{url}"\n'
        f"calendars = [{cals}]\n"
    )


def _line(obs: Observation) -> str:
    mark = {Status.AVAILABLE: "★", Status.FULL: "·"}.get(obs.status, "!")
    text = f"   {mark} calendar {obs.calendar}: {obs.status.value}"
    if obs.status is Status.AVAILABLE and obs.slots:
        text += f" — first slot {format_slot(obs.slots[0], PARIS)}, {obs.slot_count} slots"
    return text


def run_demo(say: Callable[[str], None] = print, pause: float = 1.0) -> int:
    """Run the narrated demo; returns the exit status."""
    with SimPrefecture() as sim, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.toml"
        path.write_text(demo_config(sim.booking_url(BOOKING)), encoding="utf-8")
        path.chmod(0o600)
        config = load_config(path)
        watch = config.watches[0]
        say(f"Simulated prefecture running at {sim.base_url} (nothing leaves this machine).")
        say(f"Watching « {watch.name} », calendars {', '.join(CALENDARS)}, primary first.")

        async def round_(checker: Checker, title: str) -> list[Observation]:
            say(f"\n{title}")
            seen = [obs async for obs in checker.check_watch(watch)]
            for obs in seen:
                say(_line(obs))
            return seen

        async def story() -> None:
            async with Checker(config) as checker:
                await round_(checker, "1. First check: every calendar is full, as on most days.")
                await asyncio.sleep(pause)
                first = (datetime.now(PARIS) + timedelta(days=12)).replace(
                    hour=9, minute=30, second=0, microsecond=0
                )
                slots = [first, first + timedelta(minutes=30), first + timedelta(days=1)]
                sim.set_state(BOOKING, "3.2", "available", slots=slots)
                say("\n   (someone cancels: the prefecture frees 3 slots on calendar 3.2)")
                seen = await round_(checker, "2. Next check:")
                opened = next(o for o in seen if o.status is Status.AVAILABLE)
                say(
                    f"\n   → this is when you would be told: « Créneau disponible — "
                    f"{opened.calendar}, {format_slot(opened.slots[0], PARIS)} — "
                    f"{opened.url} »"
                )
                await asyncio.sleep(pause)
                sim.set_state(BOOKING, "3.2", "full")
                say("\n   (a few minutes later the slots are taken again)")
                await round_(checker, "3. Next check:")
                say(
                    f"\n{checker.requests_made} requests in all; rdv-monitor never followed a "
                    f"slot link (booking attempts seen by the site: {sim.booking_attempts})."
                )

        asyncio.run(story())
    say("Done. Write your own config from config.example.toml and run `rdv-monitor check -c`.")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
