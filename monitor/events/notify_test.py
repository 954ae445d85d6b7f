"""``test``: the message ``rdv-monitor notify-test`` sends to prove that notifications
arrive. A kind like the others, so that ``[notify.templates.test]`` may reword it; it
cannot be listed in ``[notify] events`` and is never created by the store."""

from __future__ import annotations

from datetime import datetime

from monitor.events.base import Event, EventKind, dedup_key, register
from monitor.events.writing import Message, Words, Written, payload_time


def _write(event: Event, words: Words, gone_at: datetime | None) -> Written:
    sent = words.stamp(payload_time(event.payload, "sent_at") or event.created_at, seconds=True)
    message = Message(words.say("title"), words.say("body", sent_at=sent))
    return Written(message, {"sent_at": sent})


TEST = register(
    EventKind(
        "test",
        "The message of rdv-monitor notify-test (never stored).",
        _write,
        fields=("sent_at",),
        placeholders={"sent_at": "when the test message was made"},
        selectable=False,
    )
)


def notify_test_event(now: datetime) -> Event:
    """The event ``notify-test`` writes its message from, made at ``now``."""
    stamp = now.isoformat()
    key = dedup_key(TEST.name, "", "", stamp)
    return Event(None, TEST.name, "", "", now, None, key, {"sent_at": stamp})
