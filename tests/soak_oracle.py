"""The oracle of the fault soak: what had to be alerted, and what went wrong.

:func:`judge` reads only the ground truth a :class:`~tests.soak.Record` holds
(what the simulator showed and when, when the daemon was up) and the timing
the config promises (:class:`~tests.soak.Timing`); see ``tests/soak.py`` for
what "long enough to be seen" means and why the bounds are sound.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.soak import FAULTS, Opening, Record, Timing

__all__ = ["Verdict", "judge"]

_SLOT_TIME = re.compile(r"first=(?:(?! seen=).)*?(\d{1,2}):(\d{2})")
"""The first slot's HH:MM; ``first=`` is empty when the slot dates could not be read."""
_SEEN_TIME = re.compile(r"seen=.*?(\d{1,2}):(\d{2}):(\d{2})")
_DATELESS = "?"
_ZONE = ZoneInfo("Europe/Paris")
"""The soak config's time zone (the default), in which ``seen`` is written."""

Span = tuple[float, float]


def _intersect(a: list[Span], b: list[Span]) -> list[Span]:
    out = []
    for s1, e1 in a:
        for s2, e2 in b:
            s, e = max(s1, s2), min(e1, e2)
            if e > s:
                out.append((s, e))
    return sorted(out)


def _subtract(spans: list[Span], holes: list[Span]) -> list[Span]:
    out = spans
    for hs, he in holes:
        nxt: list[Span] = []
        for s, e in out:
            if he <= s or hs >= e:
                nxt.append((s, e))
                continue
            if hs > s:
                nxt.append((s, hs))
            if he < e:
                nxt.append((he, e))
        out = nxt
    return out


def _longest(spans: list[Span]) -> float:
    return max((e - s for s, e in spans), default=0.0)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the oracle found. Lists hold opening ids or short descriptions."""

    openings: int
    required: int
    alerted_required: int
    alerted_total: int
    false: list[str]
    missed: list[int]
    duplicates: list[str]
    crash_duplicates: list[str]
    """Second deliveries of an alert received less than a second before a SIGKILL
    (at-least-once: the daemon died before it could record "sent")."""
    lost: list[str]
    retried: int
    restarts: int
    rss_first: int
    rss_last: int
    rss_max: int
    exit_code: int | None
    seen_before_open: list[str]
    details: dict[str, Any]

    def lines(self) -> Iterator[str]:
        yield f"openings                {self.openings}"
        yield f"required / alerted      {self.required} / {self.alerted_required}"
        yield f"alerts delivered        {self.alerted_total}"
        yield f"false                   {len(self.false)}"
        yield f"missed                  {len(self.missed)}"
        yield f"duplicates              {len(self.duplicates)}"
        yield f"duplicates after kill   {len(self.crash_duplicates)}"
        yield f"lost                    {len(self.lost)}"
        yield f"deliveries retried      {self.retried}"
        yield f"restarts                {self.restarts}"
        yield (
            f"RSS first/last/max      {self.rss_first / 2**20:.1f} / "
            f"{self.rss_last / 2**20:.1f} / {self.rss_max / 2**20:.1f} MiB"
        )
        yield f"seen before it opened   {len(self.seen_before_open)}"
        yield f"exit code               {self.exit_code}"


def _fault_chains(record: Record, timing: Timing) -> list[tuple[float, float, float]]:
    """``(streak start, last fault end, shadow end)`` of merged fault episodes."""
    chains: list[tuple[float, float, float]] = []
    for ep in sorted(record.episodes, key=lambda e: e.start):
        retry = float(FAULTS[ep.fault][3] or 0)
        if chains and ep.start <= chains[-1][2]:
            start, _, _ = chains[-1]
            end = max(ep.end, chains[-1][1])
            chains[-1] = (start, end, max(chains[-1][2], timing.shadow(start, end, retry)))
        else:
            chains.append((ep.start, ep.end, timing.shadow(ep.start, ep.end, retry)))
    return chains


def _dateless_opening(record: Record, calendar: str, seen_s: int) -> Opening | None:
    """The opening of ``calendar`` on at a date-less ``available`` check seen at ``seen_s``.

    ``seen_s`` is the alert's "seen at" (seconds of the day, Paris time); the state
    database's observations say when each check was; the opening must span that check.
    """
    for checked_at, cal, status, slots in record.observations:
        if cal != calendar or status != "available" or slots:
            continue
        local = datetime.fromtimestamp(checked_at, _ZONE)
        if local.hour * 3600 + local.minute * 60 + local.second != seen_s:
            continue
        for op in record.openings:
            if op.calendar == calendar and op.on_before - 0.01 <= checked_at <= op.off_after + 0.01:
                return op
    return None


def judge(record: Record) -> Verdict:
    """Compare the ground truth with what the daemon delivered and recorded."""
    timing = record.scenario.timing
    need = timing.see_within
    chains = _fault_chains(record, timing)
    up: list[Span] = [
        (life.ready, life.ended if life.ended is not None else float("inf"))
        for life in record.lives
        if life.ready is not None
    ]
    normal = _subtract(up, [(s, shadow) for s, _, shadow in chains])

    # Alerts actually delivered, by (calendar, HH:MM of the slot).
    alerts: list[tuple[float, str, str, int]] = []  # (arrival, calendar, hh:mm, seen seconds)
    for arrived, status, payload in record.receipts:
        if status >= 300 or not str(payload.get("title", "")).startswith("SOAK "):
            continue
        body = str(payload.get("message", ""))
        cal = str(payload["title"])[5:].strip()
        slot = _SLOT_TIME.search(body)
        seen = _SEEN_TIME.search(body)
        hhmm = f"{int(slot[1]):02d}:{slot[2]}" if slot else _DATELESS
        seen_s = int(seen[1]) * 3600 + int(seen[2]) * 60 + int(seen[3]) if seen else -1
        alerts.append((arrived, cal, hhmm, seen_s))

    by_key: dict[tuple[str, str], Opening] = {}
    for op in record.openings:
        by_key[(op.calendar, op.slot.strftime("%H:%M"))] = op
    kills = [life.ended for life in record.lives if life.killed and life.ended is not None]

    false: list[str] = []
    alerted_ids: dict[int, list[float]] = {}
    for arrived, cal, hhmm, seen_s in alerts:
        if hhmm == _DATELESS:
            # Slots proven (step 3) but their dates unread: the opening is the one that was
            # on when the check behind the alert saw the calendar available.
            found = _dateless_opening(record, cal, seen_s)
        else:
            found = by_key.get((cal, hhmm))
        if found is None:
            false.append(f"alert for {cal} slot {hhmm} at {arrived:.2f}: no such opening")
        else:
            alerted_ids.setdefault(found.id, []).append(arrived)
    duplicates, crash_duplicates = [], []
    for oid, times in alerted_ids.items():
        for first, again in itertools.pairwise(times):
            text = f"opening {oid}: alert received at {first:.2f} and again at {again:.2f}"
            if any(first <= k <= first + 1.0 for k in kills):
                crash_duplicates.append(text)
            else:
                duplicates.append(text)

    required: list[int] = []
    per_cal: dict[str, list[Opening]] = {}
    for op in sorted(record.openings, key=lambda o: o.on_before):
        per_cal.setdefault(op.calendar, []).append(op)
    details: dict[str, Any] = {"see_within": need, "chains": chains, "normal": normal}
    for ops in per_cal.values():
        for i, op in enumerate(ops):
            shown = [(op.on_after, op.off_before)]
            if i > 0:  # the full page in between must have been seeable too
                gap = [(ops[i - 1].off_after, op.on_before)]
                if _longest(_intersect(gap, normal)) <= need:
                    continue
            if _longest(_intersect(shown, normal)) > need:
                required.append(op.id)
    # A restart resumes the saved plan (issue 11 item 3), so the time after it is as
    # normal as any other: an opening missed there is missed.
    missed = [oid for oid in required if oid not in alerted_ids]

    # Every planned delivery delivered: all rows sent, and one receipt per row.
    lost: list[str] = []
    for event_id, state, _ in record.deliveries:
        if state != "sent":
            lost.append(f"event {event_id}: delivery {state}")
    ok_receipts = sum(1 for _, status, _ in record.receipts if status < 300)
    if ok_receipts < len(record.deliveries):
        lost.append(f"{len(record.deliveries)} deliveries planned, {ok_receipts} received")
    if not record.drained:
        lost.append("deliveries still pending when the drain time-out ended")

    # "Seen at" must not precede the opening: compare the state database's checks.
    seen_before: list[str] = []
    openings_by_slot = {(op.calendar, op.slot): op for op in record.openings}
    for checked_at, cal, seen_status, slots in record.observations:
        if seen_status != "available" or not slots:
            continue
        match = openings_by_slot.get((cal, slots[0]))
        if match is not None and checked_at < match.on_before - 0.01:
            seen_before.append(
                f"{cal} opening {match.id}: checked_at {checked_at:.2f} "
                f"< opened at {match.on_before:.2f}"
            )

    # Start-up samples (the interpreter still loading) are not the footprint.
    samples = [
        s
        for life in record.lives
        for s in life.rss
        if life.ready is not None and s[0] >= life.ready
    ]
    return Verdict(
        openings=len(record.openings),
        required=len(required),
        alerted_required=sum(1 for oid in required if oid in alerted_ids),
        alerted_total=len(alerts),
        false=false,
        missed=missed,
        duplicates=duplicates,
        crash_duplicates=crash_duplicates,
        lost=lost,
        retried=sum(1 for _, _, attempts in record.deliveries if attempts > 1),
        restarts=max(0, len(record.lives) - 1),
        rss_first=samples[0][1] if samples else 0,
        rss_last=samples[-1][1] if samples else 0,
        rss_max=max((s[1] for s in samples), default=0),
        exit_code=record.final_exit,
        seen_before_open=seen_before,
        details=details,
    )
