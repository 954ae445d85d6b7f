"""Notification messages: an :class:`~monitor.events.Event` in words a person acts on from a
phone lock screen.

Each event kind writes its own message (:attr:`~monitor.events.EventKind.write`, in
:mod:`monitor.events`), in the words of a language catalogue (:mod:`monitor.lang`):
French by default (the people who book are in France), English with
``language="en"``. This module picks the kind, applies the user's template
(``[notify.templates.<kind>]``) and makes sure an alert is never lost: a template that
cannot be filled falls back to the built-in text with a log warning, and a payload the
kind cannot read gives a plain message with what it holds.

Pure: no I/O, no clock (``now`` is a parameter).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from monitor.events import (
    PLACEHOLDER_HELP,
    PLACEHOLDERS,
    Event,
    Message,
    Words,
    Written,
    get_kind,
    notify_test_event,
    template_problem,
    unknown_placeholders,
)
from monitor.events.writing import FIRST_LINE_LIMIT, TITLE_LIMIT, clip, format_date
from monitor.lang import CATALOGUES, DEFAULT_LANGUAGE, LANGUAGES

if TYPE_CHECKING:
    from monitor.config import Template

__all__ = [
    "FIRST_LINE_LIMIT",
    "LANGUAGES",
    "PLACEHOLDERS",
    "PLACEHOLDER_HELP",
    "TITLE_LIMIT",
    "Message",
    "format_date",
    "render",
    "template_problem",
    "test_message",
    "unknown_placeholders",
]

log = logging.getLogger(__name__)


def _fill(kind: str, key: str, text: str | None, values: Mapping[str, object], default: str) -> str:
    """``text`` with its placeholders filled, or ``default`` (and a warning) if it cannot be."""
    if text is None:
        return default
    try:
        bad = unknown_placeholders(kind, text)
        if bad:
            raise KeyError(", ".join("{" + b + "}" for b in bad))
        filled = text.format_map(values).strip()
    except (KeyError, ValueError, IndexError, AttributeError, TypeError) as exc:
        log.warning(
            "template [notify.templates.%s] %s cannot be used (%s); sending the built-in text",
            kind,
            key,
            exc,
        )
        return default
    return filled or default


def _apply(kind: str, written: Written, templates: Mapping[str, Template] | None) -> Message:
    template = templates.get(kind) if templates else None
    if template is None:
        return written.message
    return Message(
        _fill(kind, "title", template.title, written.values, written.message.title),
        _fill(kind, "body", template.body, written.values, written.message.body),
    )


def _last_resort(event: Event) -> Message:
    """A plain message for a payload the kind could not read: never lose an alert."""
    payload = event.payload if isinstance(event.payload, Mapping) else {}
    where = " ".join(x for x in (event.calendar, event.watch) if x)
    title = clip(f"rdv-monitor: {event.kind} {where}".strip(), TITLE_LIMIT)
    parts: Iterable[object] = (payload.get("detail"), payload.get("url"), payload.get("seen_at"))
    body = "\n".join(str(x) for x in parts if x) or event.kind
    return Message(title, body)


def _language(language: str) -> str:
    if language not in CATALOGUES:
        log.warning("unknown message language %r; writing French", language)
        return DEFAULT_LANGUAGE
    return language


def render(
    event: Event,
    *,
    language: str = DEFAULT_LANGUAGE,
    templates: Mapping[str, Template] | None = None,
    tz: tzinfo,
    now: datetime,
    gone_at: datetime | None = None,
) -> Message:
    """The message for ``event`` in ``language`` (a :mod:`monitor.lang` code), times in ``tz``.

    ``now`` (aware) decides whether a time needs its date ("depuis 07:42" today,
    "depuis le lun. 7 déc. à 23:10" otherwise). ``gone_at`` is for a ``slot_opened``
    delivered late, after its slots were already gone: the message then says when the
    slot was seen and when it left, still with the link. ``templates[event.kind]``
    replaces the built-in title and/or body (see :data:`PLACEHOLDER_HELP`); a template
    that cannot be filled falls back to the built-in text with a log warning.

    Never raises for a payload it cannot read: an unreadable payload gives a plain
    message with what it holds (and an error in the log), since a lost alert is worse
    than an ugly one.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    kind = get_kind(event.kind)
    try:
        words = Words.for_kind(_language(language), tz, now, kind.name, kind.words)
        written = kind.write(event, words, gone_at)
    except Exception:
        log.exception("cannot write the message of event %s (%s)", event.id, event.kind)
        return _last_resort(event)
    return _apply(event.kind, written, templates)


def test_message(
    language: str,
    *,
    now: datetime,
    tz: tzinfo,
    templates: Mapping[str, Template] | None = None,
) -> Message:
    """The message ``rdv-monitor notify-test`` sends: it proves that notifications
    arrive, in the configured language. ``templates["test"]`` may reword it."""
    return render(notify_test_event(now), language=language, templates=templates, tz=tz, now=now)


test_message.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
