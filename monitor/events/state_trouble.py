"""``state_trouble``: rdv-monitor cannot write its state folder (disk full, read-only
file system, folder removed).

Checking goes on and what could not be written is kept in memory, in order, until
the disk is back; the person must know, since a restart in that state would lose
it. The store cannot record this event (that is the trouble), so the daemon sends
it once from memory, to every target, when ``trouble`` is among the events, with
the same language and templates as any other kind.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from monitor.events.base import Event, EventKind, dedup_key, register
from monitor.events.writing import Message, Words, Written, body, payload_time

_WORDS = {
    "fr": {
        "title": "rdv-monitor ne peut plus écrire son état",
        "first": "Le dossier {state_dir} refuse les écritures depuis {since} : {reason}",
        "advice": "La surveillance continue et rien n'est perdu tant que rdv-monitor tourne : "
        "libérez de la place ou rendez le dossier accessible en écriture, sans le redémarrer.",
    },
    "en": {
        "title": "rdv-monitor cannot write its state",
        "first": "The folder {state_dir} has refused writes since {since}: {reason}",
        "advice": "Checking goes on and nothing is lost while rdv-monitor runs: free some "
        "space or make the folder writable, without restarting it.",
    },
}


def _write(event: Event, words: Words, gone_at: datetime | None) -> Written:
    values: dict[str, object] = {
        "state_dir": str(event.payload.get("state_dir", "?")),
        "since": words.stamp(payload_time(event.payload, "since"), seconds=True),
        "reason": str(event.payload.get("reason", "?")),
    }
    first = words.say("first", **values)
    message = Message(words.say("title"), body(first, words.say("advice")))
    return Written(message, values)


STATE_TROUBLE = register(
    EventKind(
        "state_trouble",
        "rdv-monitor cannot write its state folder; it keeps checking from memory.",
        _write,
        fields=("state_dir", "since", "reason"),
        placeholders={
            "state_dir": "the state folder that refuses writes",
            "since": "when writing started to fail",
            "reason": "what the system said (disk full, read-only, folder removed)",
        },
        words=_WORDS,
        # Goes with ``trouble`` (whoever wants to hear of a site in trouble wants to hear
        # of rdv-monitor's own), so it is not a separate choice in ``[notify] events``.
        selectable=False,
    )
)


def state_trouble_event(state_dir: Path, now: datetime, reason: str) -> Event:
    """The alert about ``state_dir``, made at ``now``; never stored."""
    stamp = now.isoformat()
    key = dedup_key(STATE_TROUBLE.name, "", str(state_dir), stamp)
    payload = {"state_dir": str(state_dir), "since": stamp, "reason": reason}
    return Event(None, STATE_TROUBLE.name, "", "", now, None, key, payload)
