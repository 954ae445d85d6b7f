"""``rdv-monitor sim``: run the simulated prefecture until SIGINT/SIGTERM.

For trying the monitor out without ever touching a real prefecture::

    rdv-monitor sim --available 29396:3.2,2026-12-01T09:00:00+01:00

It prints the base URL, every booking URL with its calendars and states, and
the control endpoint (``/__sim__/``), through which states can be changed
while it runs::

    curl -X POST localhost:8080/__sim__/state \\
         -d '{"booking": 29396, "calendar": "3.2", "state": "available",
              "slots": ["2026-12-01T09:00:00+01:00"]}'

Any calendar can be put in any state at start (``--state 29396:3.1=down/surcharge``)
or the whole site (``--site down/haproxy_504``). It listens on loopback addresses
only unless ``--allow-remote`` is given.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import socket
import sys
import textwrap
import threading
from collections.abc import Sequence
from datetime import datetime
from types import FrameType

from monitor.errors import UsageError
from monitor.sites.ezbooking.sim.control import CONTROL_PREFIX, ENDPOINTS
from monitor.sites.ezbooking.sim.defaults import default_slots
from monitor.sites.ezbooking.sim.model import PARIS, SITE_STATES, STATES, parse_slot
from monitor.sites.ezbooking.sim.server import SimPrefecture

__all__ = ["add_arguments", "main", "run"]


def controls_help() -> str:
    """The controls of a running simulator, for ``sim --help`` (states, endpoints)."""
    states = "\n".join(
        textwrap.fill(
            f"{name:<12}{'site-wide too; ' if name in SITE_STATES else ''}"
            f"{'variants: ' + ', '.join(variants) if variants else 'no variants'}",
            86,
            initial_indent="  ",
            subsequent_indent=" " * 14,
        )
        for name, variants in STATES.items()
    )
    endpoints = "\n".join(
        f"  {method:<4} {CONTROL_PREFIX}{action}\n"
        + textwrap.indent(textwrap.fill(what, 78), " " * 8)
        for method, action, what in ENDPOINTS
    )
    return f"""states (per calendar with --state or POST state; site-wide with --site or POST site):
{states}
  Without a variant a state takes its first one (full: the plain FULL page, not
  a variant). "available" without date-times gets three
  slots next week (Tuesday 09:00 and 09:30, Thursday 14:00, Paris time).

control endpoints (loopback only; open {CONTROL_PREFIX} in a browser for the index):
{endpoints}

examples:
  rdv-monitor sim --available 29396:3.2 --state 29396:3.1=down/surcharge
  rdv-monitor sim --site down/haproxy_504_timeout
  curl -X POST localhost:8080{CONTROL_PREFIX}state \\
       -d '{{"booking": 29396, "calendar": "3.2", "state": "full", "variant": "typo"}}'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``rdv-monitor sim``, and the controls in its ``--help``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = controls_help()
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port to listen on; 0 picks a free one (default 8080)",
    )
    parser.add_argument(
        "--available",
        action="append",
        default=[],
        metavar="BOOKING:CALENDAR[,ISO-DATETIME…]",
        help="open slots on a calendar at start, e.g. 29396:3.2,2026-12-01T09:00:00+01:00 "
        "(no date-times: three slots next week; 29400: for a single-counter booking); repeatable",
    )
    parser.add_argument(
        "--state",
        action="append",
        default=[],
        metavar="BOOKING:CALENDAR=STATE[/VARIANT]",
        help="put a calendar in a state at start, e.g. 29396:3.1=down/surcharge, "
        "29396:*=full/typo (every calendar of the booking); repeatable",
    )
    parser.add_argument(
        "--site",
        metavar="STATE[/VARIANT]",
        help="make every request answer a state at start, e.g. down/haproxy_503",
    )
    parser.add_argument(
        "--session-ttl",
        type=float,
        default=1440.0,
        metavar="SECONDS",
        help="session lifetime without requests (default 1440, like PHP)",
    )
    parser.add_argument(
        "--throttle",
        action="store_true",
        help="answer 502 to clients polling faster than about once a second, as real sites do",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow listening on a non-loopback address (never needed for tests or the demo)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; exit status 0. User errors raise :class:`UsageError`."""
    if not args.allow_remote:
        _require_loopback(args.host)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if not args.session_ttl >= 0:  # also refuses NaN
        raise UsageError(
            f"--session-ttl must be a number of seconds >= 0, not {args.session_ttl:g}"
        )
    sim = SimPrefecture(
        host=args.host, port=args.port, session_ttl=args.session_ttl, throttle=args.throttle
    )
    for spec in args.available:
        _open(sim, spec)
    for spec in args.state:
        _set(sim, spec)
    if args.site:
        state, _, variant = args.site.partition("/")
        try:
            sim.set_site_state(state.strip(), variant=variant.strip() or None)
        except ValueError as exc:
            raise UsageError(f"--site {args.site!r}: {exc}") from None
    try:
        sim.start()
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
            "choose another --port"
        ) from None
    try:
        _print_banner(sim)
        _wait_for_signal()
    finally:
        sim.stop()
    print("rdv-monitor sim: stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m monitor.sites.ezbooking.sim``."""
    parser = argparse.ArgumentParser(
        prog="python -m monitor.sites.ezbooking.sim", description="Run the simulated prefecture."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as exc:
        print(f"rdv-monitor sim: {exc}", file=sys.stderr)
        return 2


def _require_loopback(host: str) -> None:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        raise UsageError(f"cannot resolve --host {host!r}") from None
    addresses = {str(info[4][0]).split("%")[0] for info in infos}
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise UsageError(
            f"--host {host} is not a loopback address; the simulator listens on 127.0.0.1 "
            "or ::1 unless you pass --allow-remote"
        )


def _open(sim: SimPrefecture, spec: str) -> None:
    """Apply one ``--available BOOKING:CALENDAR[,ISO…]``."""
    booking_text, _, rest = spec.partition(":")
    try:
        booking = int(booking_text)
    except ValueError:
        raise UsageError(
            f"--available {spec!r}: expected BOOKING:CALENDAR[,ISO-DATETIME…], e.g. 29396:3.2"
        ) from None
    parts = rest.split(",")
    calendar_text = parts[0].strip()
    calendar: str | int | None = calendar_text or None
    try:
        if calendar_text.isdigit():
            ids = {p.id for b in sim.bookings if b.id == booking for p in b.plannings}
            if int(calendar_text) in ids:
                calendar = int(calendar_text)
        slots = [parse_slot(p) for p in parts[1:] if p.strip()]
        slots = slots or default_slots(datetime.now(PARIS).date())
        sim.set_state(booking, calendar, "available", slots=slots)
    except ValueError as exc:
        raise UsageError(f"--available {spec!r}: {exc}") from None


def _set(sim: SimPrefecture, spec: str) -> None:
    """Apply one ``--state BOOKING:CALENDAR=STATE[/VARIANT]``."""
    target, _, wanted = spec.partition("=")
    booking_text, colon, calendar_text = target.partition(":")
    state, _, variant = wanted.partition("/")
    if not (colon and booking_text.strip().isdigit() and state.strip()):
        raise UsageError(
            f"--state {spec!r}: expected BOOKING:CALENDAR=STATE[/VARIANT], "
            "e.g. 29396:3.1=down/surcharge (29400:=full for a single-counter booking)"
        )
    booking = int(booking_text)
    calendar = calendar_text.strip() or None
    name = state.strip()
    slots = default_slots(datetime.now(PARIS).date()) if name == "available" else []
    try:
        if calendar == "*":
            sim.set_booking_state(booking, name, variant=variant.strip() or None, slots=slots)
        else:
            sim.set_state(booking, calendar, name, variant=variant.strip() or None, slots=slots)
    except ValueError as exc:
        raise UsageError(f"--state {spec!r}: {exc}") from None


def _print_banner(sim: SimPrefecture) -> None:
    lines = [
        f"Simulated prefecture at {sim.base_url} (nothing real is contacted)",
        f"Index of bookings, calendars, states and controls: {sim.control_url}",
        "",
    ]
    if sim.site_state is not None:
        lines[-1:-1] = [f"Site-wide state: {sim.site_state.describe()}"]
    for booking in sim.bookings:
        lines.append(f"  {booking.title} (booking {booking.id})")
        lines.append(f"    {sim.booking_url(booking.id)}")
        for p in booking.plannings:
            state = p.state.describe()
            lines.append(f"      {p.id:>6}  {p.calendar or '-':<5} {state:<22} {p.label}")
        lines.append("")
    lines.append(
        f"Control: {sim.control_url}  (GET stats, GET state; "
        "POST state, site, refuse-tokens, expire-sessions, reset; see --help)"
    )
    lines.append("Stop with Ctrl+C.")
    print("\n".join(lines), flush=True)


def _wait_for_signal() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[signal.Signals, object] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
