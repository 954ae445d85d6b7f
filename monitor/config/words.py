"""How the config speaks to its user: quoting what they wrote, examples, suggestions.

Every config message quotes the user's value as TOML (:func:`quoted`), says
what kind of thing they wrote (:func:`kind_of`), ends with an example of the key
(:data:`EXAMPLES`) and, for a near miss, "did you mean" (:func:`suggest`).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import time

__all__ = ["EXAMPLES", "POLITENESS", "kind_of", "quoted", "suggest"]

POLITENESS = (
    "to stay polite to the prefecture, which throttles clients that poll faster "
    "(it answers them with errors, and may block them)"
)

# Examples shown after "e.g." in messages, by key name.
EXAMPLES = {
    "timezone": 'timezone = "Europe/Paris"',
    "interval": 'interval = "5m"',
    "jitter": 'jitter = "30s"',
    "state_dir": 'state_dir = "/var/lib/rdv-monitor"',
    "releases": 'releases = ["mon 08:00"]',
    "trouble_after": 'trouble_after = "15m"',
    "keep": 'keep = "180d"',
    "user_agent": 'user_agent = "rdv-monitor (contact: me@example.org)"',
    "timeout": 'timeout = "20s"',
    "connect_timeout": 'connect_timeout = "10s"',
    "max_page_size": 'max_page_size = "2MiB"',
    "min_spacing": 'min_spacing = "2s"',
    "metrics": 'metrics = "127.0.0.1:9108"',
    "surge": '[[monitor.surge]] with days = ["mon"], start = "07:58", end = "08:30"',
    "days": 'days = ["mon"]',
    "start": 'start = "07:58"',
    "end": 'end = "08:30"',
    "urls": 'urls = ["tgram://123456789:AAbot-token/987654321"]',
    "url": 'url = "https://www.haute-savoie.gouv.fr/booking/create/29396"',
    "config": 'config = "apprise.yml"',
    "events": 'events = ["slot_opened", "trouble", "recovered"]',
    "language": 'language = "fr"',
    "heartbeat": 'heartbeat = "09:00"',
    "templates": '[notify.templates.slot_opened] with title = "…"',
    "title": 'title = "Rendez-vous disponible"',
    "body": 'body = "Réservez vite."',
    "name": 'name = "Renouvellement titre de séjour"',
    "calendars": 'calendars = ["3.1", "3.2"]',
    "notify": 'notify = ["phone"]',
    "enabled": "enabled = true",
    "prefecture": 'prefecture = "haute-savoie"',
    "procedure": 'procedure = "renewal"',
    "planning": "{ planning = 24980 }",
    "tags": 'tags = ["phone"]',
    "watch": '[[watch]] with name = "…" and url = "https://…/booking/create/…"',
    "monitor": '[monitor] with interval = "5m"',
}


def quoted(value: object) -> str:
    """A value as the user wrote it in TOML (text quoted, long text shortened)."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return '"' + text.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table { " + ", ".join(f"{k} = …" for k in value) + " }"
    if isinstance(value, list | tuple):
        return "a list [" + ", ".join(quoted(v) for v in list(value)[:4]) + "]"
    return str(value)


def kind_of(value: object) -> str:
    """What the user wrote, in words: "text", "a number", "a list"…"""
    if isinstance(value, bool):
        return f"true/false ({quoted(value)})"
    if isinstance(value, str):
        return f"text ({quoted(value)})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, time):
        return f"a time ({value.isoformat()})"
    return "a date or time"


def suggest(word: str, choices: Sequence[str]) -> str | None:
    """The closest of ``choices`` to ``word``, if one is close enough to be a typo."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None
