""":class:`SimPrefecture`, the handle of the simulated prefecture: life cycle, states, counters.

It owns the site (:class:`~monitor.sites.ezbooking.sim.flow.Prefecture`) and the
HTTP server (:mod:`~monitor.sites.ezbooking.sim.httpd`), and answers the control
endpoint (:mod:`~monitor.sites.ezbooking.sim.control`).

Thread safety: one lock guards the site's state (bookings, sessions) and the
counters; it is held while a request is turned into a reply, never while a
reply is written or delayed.
"""

from __future__ import annotations

import copy
import logging
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import date
from types import TracebackType
from typing import Final, Unpack

import monitor.sites.ezbooking.sim.control as control
from monitor.sites.ezbooking.sim.defaults import default_bookings
from monitor.sites.ezbooking.sim.flow import Prefecture, Reply, Request
from monitor.sites.ezbooking.sim.httpd import Server
from monitor.sites.ezbooking.sim.model import SITE_STATES, Booking, State, StateOptions

__all__ = ["CONTROL_PREFIX", "SimPrefecture"]

log = logging.getLogger("monitor.sites.ezbooking.sim")

CONTROL_PREFIX: Final = control.CONTROL_PREFIX


class SimPrefecture:
    """A simulated prefecture site on a loopback address, driven from Python.

    >>> with SimPrefecture() as sim:                       # doctest: +SKIP
    ...     sim.set_state(29396, "3.2", "available", slots=[...])
    ...     url = sim.booking_url(29396)

    ``bookings`` defaults to :func:`~monitor.sites.ezbooking.sim.model.default_bookings`; they
    are copied, so the objects passed in are never changed. ``port=0`` takes
    a free port. ``session_ttl`` is PHP's session lifetime (1440 s).
    ``throttle`` answers 502 to a client IP that made more than
    ``throttle_limit`` requests in ``throttle_window`` seconds (the real
    sites' reaction to polling about once a second). ``today`` fixes the day
    the ezjscore week offsets count from (default: today in Paris). ``clock``
    (seconds, monotonic) is what session lifetimes are measured with: a test
    passes its own to let sessions expire without waiting.
    """

    def __init__(
        self,
        bookings: Iterable[Booking] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        session_ttl: float = 1440.0,
        throttle: bool = False,
        throttle_limit: int = 10,
        throttle_window: float = 10.0,
        today: date | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        chosen = default_bookings() if bookings is None else copy.deepcopy(list(bookings))
        self._lock = threading.RLock()
        self._site = Prefecture(chosen, session_ttl=session_ttl, today=today, clock=clock)
        self._site.throttle = throttle
        self._site.throttle_limit = throttle_limit
        self._site.throttle_window = throttle_window
        self.host = host
        self._wanted_port = port
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._requests = 0
        self._log: list[tuple[str, str, int]] = []
        self._errors: list[str] = []

    # ── life cycle ───────────────────────────────────────────────────────────

    def start(self) -> SimPrefecture:
        """Bind and serve in a background thread. Raises :class:`OSError` if the port is taken."""
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError("the simulator is already running")
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            server = Server((self.host, self._wanted_port), self, family)
            thread = threading.Thread(
                target=server.serve,
                name=f"sim-prefecture:{server.server_port}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            thread.start()
        log.info("simulated prefecture listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving now: pending slow answers are dropped, streams cut, connections shut."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            if server is None:
                return
            server.stopping.set()
            server.wake()
            if thread is not None:
                thread.join(timeout=5)
            server.server_close()
            server.close_connections()
            self._server = self._thread = None

    def __enter__(self) -> SimPrefecture:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running (call start() or use 'with')")
        return self._server.server_port

    @property
    def host_port(self) -> str:
        """``host:port`` as it appears in URLs (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host_port}"

    @property
    def control_url(self) -> str:
        return self.base_url + CONTROL_PREFIX

    def booking_url(self, booking_id: int) -> str:
        """The landing URL of a booking, as a person would paste it."""
        with self._lock:
            return self.base_url + self._booking(booking_id).landing_path

    def url(self, path: str) -> str:
        return self.base_url + path

    # ── bookings and states ──────────────────────────────────────────────────

    def _booking(self, booking_id: int) -> Booking:
        booking = self._site.bookings.get(booking_id)
        if booking is None:
            known = ", ".join(str(b) for b in self._site.bookings)
            raise ValueError(f"no booking {booking_id} (bookings: {known})")
        return booking

    @property
    def bookings(self) -> list[Booking]:
        """Copies of the bookings with their current states."""
        with self._lock:
            return copy.deepcopy(list(self._site.bookings.values()))

    def planning_id(self, booking_id: int, calendar: str | int | None) -> int:
        """The planning id behind a calendar token ("3.1"), as step 1 would show it."""
        with self._lock:
            return self._booking(booking_id).resolve(calendar).id

    def state(self, booking_id: int, calendar: str | int | None) -> State:
        with self._lock:
            return self._booking(booking_id).resolve(calendar).state

    def set_state(
        self,
        booking_id: int,
        calendar: str | int | None,
        state: str,
        **options: Unpack[StateOptions],
    ) -> None:
        """Set what one planning answers from now on.

        ``calendar`` is a label token ("3.2"), a planning id (``int``) or
        ``None`` for a single-counter booking. See ``model.STATES`` for the
        states and their variants; :meth:`State.make` for the options
        (``variant``, ``slots``, ``delay``, ``retry_after``, ``apostrophe``,
        ``typo``, ``size``) and their defaults.
        """
        new = State.make(state, **options)
        with self._lock:
            self._booking(booking_id).resolve(calendar).state = new

    def set_booking_state(
        self, booking_id: int, state: str, **options: Unpack[StateOptions]
    ) -> None:
        """:meth:`set_state` for every planning of a booking, all at once."""
        new = State.make(state, **options)
        with self._lock:
            for planning in self._booking(booking_id).plannings:
                planning.state = new

    def set_site_state(
        self,
        state: str | None,
        *,
        variant: str | None = None,
        delay: float | None = None,
        retry_after: int | None = None,
        size: int | None = None,
    ) -> None:
        """Make EVERY request answer ``state`` (site down, blocking us…); ``None`` ends it.

        ``slow`` delays every answer, ``truncated`` cuts every body; the others
        replace every answer. States: ``model.SITE_STATES``.
        """
        new = None
        if state is not None:
            if state not in SITE_STATES:
                raise ValueError(
                    f"{state!r} cannot apply to the whole site; use one of "
                    f"{', '.join(sorted(SITE_STATES))}"
                )
            new = State.make(
                state, variant=variant, delay=delay, retry_after=retry_after, size=size
            )
        with self._lock:
            self._site.site_state = new

    @property
    def site_state(self) -> State | None:
        with self._lock:
            return self._site.site_state

    def expire_sessions(self) -> None:
        """Invalidate every ``eZSESSID`` (as after the server's session garbage collection)."""
        with self._lock:
            self._site.sessions.expire_all()

    def refuse_form_tokens(self, count: int = 1) -> None:
        """Refuse the next ``count`` form POSTs as a site that rotates its form token does.

        Each refused POST (landing, step 1 or step 3) gets the page again with
        eZ's "session expired or form no longer valid" error and a new token;
        the session itself lives on. ``0`` ends refusals still pending.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count is {count!r}; it must be a whole number >= 0")
        with self._lock:
            self._site.refuse_tokens = count

    @property
    def tokens_refused(self) -> int:
        """Form POSTs refused by :meth:`refuse_form_tokens` since the last reset."""
        with self._lock:
            return self._site.tokens_refused

    @property
    def session_ttl(self) -> float:
        """Seconds of inactivity after which a session expires (PHP's default: 1440)."""
        with self._lock:
            return self._site.session_ttl

    @session_ttl.setter
    def session_ttl(self, seconds: float) -> None:
        with self._lock:
            self._site.session_ttl = float(seconds)

    @property
    def throttle(self) -> bool:
        with self._lock:
            return self._site.throttle

    @throttle.setter
    def throttle(self, on: bool) -> None:
        with self._lock:
            self._site.throttle = bool(on)
            self._site.reset_throttle()

    @property
    def today(self) -> date:
        """The day ezjscore week offsets count from."""
        with self._lock:
            return self._site.current_date()

    @today.setter
    def today(self, day: date | None) -> None:
        with self._lock:
            self._site.today = day

    # ── counters ─────────────────────────────────────────────────────────────

    @property
    def requests(self) -> int:
        """HTTP requests received (control endpoint excluded), counted on arrival."""
        with self._lock:
            return self._requests

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of each request, in the order answers started.

        ``status`` is 0 for a request dropped unanswered (``slow`` during stop).
        """
        with self._lock:
            return list(self._log)

    @property
    def booking_attempts(self) -> int:
        """Requests that would start a booking (``/5/<ts>``, a captcha answer): must stay 0."""
        with self._lock:
            return self._site.booking_attempts

    @property
    def errors(self) -> list[str]:
        """Tracebacks of simulator bugs (each also answered 500): tests assert it stays empty."""
        with self._lock:
            return list(self._errors)

    @property
    def sessions(self) -> int:
        """Live sessions (expired ones are dropped when next seen)."""
        with self._lock:
            return len(self._site.sessions)

    def reset_counters(self) -> None:
        """Zero the counters (requests, log, booking attempts, tokens refused) and the throttle."""
        with self._lock:
            self._requests = 0
            self._log.clear()
            self._site.booking_attempts = 0
            self._site.tokens_refused = 0
            self._site.reset_throttle()

    def stats(self) -> dict[str, object]:
        """What ``GET /__sim__/stats`` answers."""
        with self._lock:
            site = self._site.site_state
            return {
                "requests": self._requests,
                "booking_attempts": self._site.booking_attempts,
                "sessions": len(self._site.sessions),
                "errors": len(self._errors),
                "tokens_refused": self._site.tokens_refused,
                "tokens_to_refuse": self._site.refuse_tokens,
                "site_state": None if site is None else site.describe(),
            }

    def describe(self) -> dict[str, object]:
        """What ``GET /__sim__/state`` answers: every booking, planning and state."""
        with self._lock:
            return {
                "site_state": None
                if self._site.site_state is None
                else self._site.site_state.to_json(),
                "bookings": [
                    {
                        "id": b.id,
                        "title": b.title,
                        "url": self.base_url + b.landing_path if self.running else b.landing_path,
                        "plannings": [
                            {
                                "id": p.id,
                                "calendar": p.calendar,
                                "label": p.label,
                                **p.state.to_json(),
                            }
                            for p in b.plannings
                        ],
                    }
                    for b in self._site.bookings.values()
                ],
            }

    # ── called by the HTTP handler (httpd.Backend) ──────────────────────────

    def answer(self, request: Request) -> Reply:
        """The site's reply to one request; a simulator bug is logged and answered 500."""
        with self._lock:
            self._requests += 1
            try:
                return self._site.handle(request)
            except Exception:
                trace = traceback.format_exc()
                self._errors.append(trace)
                log.error("simulator bug on %s %s:\n%s", request.method, request.path, trace)
                body = b"<html><body><h1>500</h1><p>rdv-monitor simulator bug</p></body></html>"
                return Reply(500, body, [("Content-Type", "text/html; charset=utf-8")], close=True)

    def record(self, method: str, target: str, status: int) -> None:
        with self._lock:
            self._log.append((method, target, status))

    def control(self, method: str, action: str, body: bytes) -> Reply:
        """Answer ``method /__sim__/<action>`` (see ``control.ENDPOINTS``)."""
        read = method in ("GET", "HEAD")
        try:
            if read and action in ("", "index", "index.html"):
                html = control.index_page(self.base_url, self.describe())
                headers = [("Content-Type", "text/html; charset=utf-8")]
                return Reply(200, html.encode("utf-8"), headers, server="rdv-monitor-sim")
            if read and action == "stats":
                return control.json_reply(200, self.stats())
            if read and action == "state":
                return control.json_reply(200, self.describe())
            if method == "POST" and action == "state":
                wanted = control.state_request(control.parse_json(body), self.today)
                if wanted.calendar == "*":
                    self.set_booking_state(wanted.booking, wanted.state, **wanted.options)
                else:
                    self.set_state(wanted.booking, wanted.calendar, wanted.state, **wanted.options)
            elif method == "POST" and action == "site":
                site = control.site_request(control.parse_json(body))
                self.set_site_state(site.state, **site.options)
            elif method == "POST" and action == "refuse-tokens":
                self.refuse_form_tokens(control.refusal_count(control.parse_json(body)))
            elif method == "POST" and action == "expire-sessions":
                self.expire_sessions()
            elif method == "POST" and action == "reset":
                self.reset_counters()
            else:
                known = "; ".join(f"{m} {CONTROL_PREFIX}{a}" for m, a, _ in control.ENDPOINTS)
                return control.json_reply(
                    404, {"error": f"no {method} {CONTROL_PREFIX}{action}; endpoints: {known}"}
                )
        except ValueError as exc:
            return control.json_reply(400, {"error": str(exc)})
        return Reply(204, b"", [], server="rdv-monitor-sim")
