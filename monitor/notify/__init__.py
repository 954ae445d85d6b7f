"""Notifications: what a person reads (:mod:`~monitor.notify.messages`) and where it
goes (:mod:`~monitor.notify.targets`, apprise URLs)."""

from __future__ import annotations

from monitor.notify.messages import (
    FIRST_LINE_LIMIT,
    TITLE_LIMIT,
    Message,
    format_date,
    render,
    test_message,
)
from monitor.notify.targets import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    SendResult,
    Target,
    load_targets,
    secrets_of,
    send,
    send_all,
    targets_for,
)

__all__ = [
    "CONNECT_TIMEOUT",
    "FIRST_LINE_LIMIT",
    "READ_TIMEOUT",
    "TITLE_LIMIT",
    "Message",
    "SendResult",
    "Target",
    "format_date",
    "load_targets",
    "render",
    "secrets_of",
    "send",
    "send_all",
    "targets_for",
    "test_message",
]
