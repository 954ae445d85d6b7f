"""Events: what the store tells the notifier, one row of the outbox each.

The model, end to end::

    Observation ──▶ calendar state ──▶ episodes ──▶ events ──▶ outbox ──▶ notifier
    (one check)     (per calendar)     (open/close)  (drafts)   (events table)

An *event* is a fact worth a message: a calendar started showing slots
(``slot_opened``), stopped showing them (``slot_gone``), could not be read for
too long (``trouble``), can be read again (``recovered``), or answered with a
page the classifier has never seen (``layout_changed``). ``heartbeat`` is the
notifier's daily "still alive" message and ``test`` the one of ``notify-test``;
the store never creates them.

Kinds are registered by name, urlwatch-style: one module per kind in this
package, each registering an :class:`EventKind` in :data:`KINDS`, so a notifier,
a template or the config can look one up by the word a user writes
(``events = ["slot_opened"]``). A kind owns what it is: its payload keys
(:attr:`EventKind.fields`), whether it is grouped per watch, on by default or
selectable, its template placeholders and its message. The config, the delivery
worker and the notifier derive their lists from :data:`KINDS`
(:func:`selectable_kinds`, :func:`default_kinds`, :func:`grouped_kinds`).

**Adding a kind**: a module here (copy ``recovered.py``), imported below; its
words either in each :mod:`monitor.lang` catalogue or in the kind's own
``words``; and the rule in :func:`monitor.transitions.advance` that emits it.

A message must be writable from the payload alone ("3 slots on calendar 3.2 from
Tue 8 Dec 09:00, seen at 08:00:14, book at <url>"; "site down since 07:42"),
without reading the rest of the database. Times in payloads are ISO 8601 strings
in UTC (``2025-12-08T07:00:14+00:00``); the notifier shows them in the configured
time zone. :meth:`Event.time` parses one back.

Every event has a ``dedup_key``, unique in the outbox and derived from the
episode it belongs to (:func:`dedup_key`): inserting the same event twice, for
instance when an observation is recorded again after a crash, is a no-op.
"""

from __future__ import annotations

from monitor.events.base import (
    COMMON_FIELDS,
    GROUPED,
    KINDS,
    Event,
    EventDraft,
    EventKind,
    Writer,
    dedup_key,
    default_kinds,
    get_kind,
    grouped_kinds,
    payload_to_json,
    register,
    selectable_kinds,
)

# isort: off
# The built-in kinds register on import, in the order lists show them: the order matters.
from monitor.events.slot_opened import SLOT_OPENED
from monitor.events.slot_gone import SLOT_GONE
from monitor.events.trouble import TROUBLE
from monitor.events.recovered import RECOVERED
from monitor.events.layout_changed import LAYOUT_CHANGED
from monitor.events.heartbeat import HEARTBEAT
from monitor.events.notify_test import TEST, notify_test_event
from monitor.events.state_trouble import STATE_TROUBLE, state_trouble_event

# isort: on
from monitor.events.templates import (
    PLACEHOLDER_HELP,
    PLACEHOLDERS,
    template_problem,
    unknown_placeholders,
)
from monitor.events.writing import Message, Words, Written

__all__ = [
    "COMMON_FIELDS",
    "GROUPED",
    "HEARTBEAT",
    "KINDS",
    "LAYOUT_CHANGED",
    "PLACEHOLDERS",
    "PLACEHOLDER_HELP",
    "RECOVERED",
    "SLOT_GONE",
    "SLOT_OPENED",
    "STATE_TROUBLE",
    "TEST",
    "TROUBLE",
    "Event",
    "EventDraft",
    "EventKind",
    "Message",
    "Words",
    "Writer",
    "Written",
    "dedup_key",
    "default_kinds",
    "get_kind",
    "grouped_kinds",
    "notify_test_event",
    "payload_to_json",
    "register",
    "selectable_kinds",
    "state_trouble_event",
    "template_problem",
    "unknown_placeholders",
]
