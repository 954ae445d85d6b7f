"""``heartbeat``: the daily "still watching" message (created by the notifier, never by
the store), opt-in: how many checks were made, and when the last slot was seen."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from monitor.durations import say_period
from monitor.events.base import Event, EventKind, register
from monitor.events.writing import Message, Words, Written, body, payload_int, payload_text
from monitor.events.writing import payload_time as _time

_STATUS_ORDER = ("full", "available", "down", "blocked", "captcha", "unknown")
"""Ties in the count of checks are listed in this order."""


def _checks(counts: object, words: Words) -> tuple[int, str]:
    """Total checks and « complet : 280, en panne : 3 » / "280 full, 3 down"."""
    if not isinstance(counts, Mapping):
        return 0, ""
    numbers = {str(k): n for k, v in counts.items() if (n := payload_int(v)) is not None and n > 0}
    order = {status: i for i, status in enumerate(_STATUS_ORDER)}
    ranked = sorted(numbers.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99), kv[0]))
    names, each = words.phrases.status_short, words.phrases.count_by_status
    parts = [each.format(status=names.get(k, k), count=n) for k, n in ranked]
    return sum(numbers.values()), ", ".join(parts)


def _write(event: Event, words: Words, gone_at: datetime | None) -> Written:
    p = event.payload
    since = _time(p, "since")
    until = _time(p, "until") or event.created_at
    seconds = (until - since).total_seconds() if since else 86400.0
    period = say_period(seconds, words.language)
    total, detail = _checks(p.get("checks"), words)
    raw_watches = p.get("watches")
    watches = (
        ", ".join(payload_text(w) for w in raw_watches if payload_text(w))
        if isinstance(raw_watches, list)
        else ""
    )
    last = _time(p, "last_slot_seen")
    last_calendar = payload_text(p.get("last_slot_calendar"))
    last_watch = payload_text(p.get("last_slot_watch"))
    place = last_calendar or last_watch
    if last_calendar and last_watch and isinstance(raw_watches, list) and len(raw_watches) > 1:
        place = f"{last_calendar} ({last_watch})"
    url = payload_text(p.get("url"))
    if total:
        first = words.say("first", checks=total, period=period, detail=detail)
        warn = None
    else:
        first = words.say("idle", period=period)
        warn = words.say("idle_advice")
    if last is not None:
        last_text = words.say("last_when", date=words.date(last))
        if place:
            last_text = words.say("last_where", when=last_text, place=place)
        last_line = words.say("last_line", last=last_text)
    else:
        last_text = words.say("last_none")
        last_line = words.say("no_slot")
    watch_line = words.say("watching", watches=watches) if watches else None
    values: dict[str, object] = {
        "since": words.stamp(since),
        "until": words.stamp(until),
        "period": period,
        "checks": total,
        "checks_detail": detail or "?",
        "watches": watches or "?",
        "last_slot": last_text,
        "last_slot_seen": words.date(last) if last is not None else "?",
        "last_slot_calendar": last_calendar or "?",
        "last_slot_watch": last_watch or "?",
        "url": url,
    }
    message = Message(words.say("title"), body(first, warn, last_line, watch_line, url))
    return Written(message, values)


HEARTBEAT = register(
    EventKind(
        "heartbeat",
        "The daily 'still watching' message (created by the notifier).",
        _write,
        placeholders={
            "since": "the start of the period reported on",
            "until": "the end of the period reported on",
            "period": 'the period\'s length, e.g. "24 h"',
            "checks": "how many checks were made in the period",
            "checks_detail": 'the checks by status: "complet : 280, en panne : 3"',
            "watches": "the watches checked, comma-separated",
            "last_slot": "when and where the last slot was seen, in words (or none)",
            "last_slot_seen": 'when the last slot was seen, or "?"',
            "last_slot_calendar": 'the calendar of the last slot seen, or "?"',
            "last_slot_watch": 'the watch of the last slot seen, or "?"',
            "url": "a booking link (empty when there is none)",
        },
    )
)
