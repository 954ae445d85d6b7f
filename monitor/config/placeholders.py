"""Placeholder values in notification addresses: the example's, and the obvious ones.

A config copied from ``config.example.toml`` and left unedited is valid apprise
syntax, so without this check ``validate`` would say OK while every alert goes
to a bot that does not exist. Placeholders are recognised by what people write
when they mean "put yours here": the example's own ``AAExampleToken``,
``<bot token>``, ``BOT_TOKEN``, ``CHAT_ID``, ``example.com``, ``xxx``, ``change-me``,
the ``123456789:ABC…`` token of Telegram's documentation.
"""

from __future__ import annotations

import re

__all__ = ["placeholder_in"]

_SUBSTRINGS = (
    "example",
    "change-me",
    "changeme",
    "change_me",
    "placeholder",
    "app-password",
    "your-topic",
    "your_topic",
    "yourtoken",
    "your_token",
    "your-token",
)
"""Parts that only a placeholder contains (lower case)."""

_WORDS = re.compile(
    r"(?i)(?<![a-z0-9])(bot_?token|chat_?id|api_?key|user_?key|token_here|x{3,})(?![a-z0-9])"
)
_TELEGRAM_DOC = re.compile(r"(?i)(?<!\d)\d{6,}:abc")
"""Telegram's documentation writes bot tokens as ``123456789:ABCdef…``."""
_ANGLE = re.compile(r"<[^<>]*>")


def placeholder_in(url: str) -> str | None:
    """The placeholder that ``url`` still holds (as written), or ``None`` if it has none.

    A placeholder is no secret, so the caller may quote it in a message.
    """
    if m := _ANGLE.search(url):
        return m.group(0)
    lower = url.lower()
    for part in _SUBSTRINGS:
        if (at := lower.find(part)) >= 0:
            start = max(lower.rfind("/", 0, at), lower.rfind(":", 0, at), lower.rfind("@", 0, at))
            end = min((i for i in (lower.find(c, at) for c in "/:@?&") if i >= 0), default=len(url))
            return url[start + 1 : end]
    if m := _WORDS.search(url):
        return m.group(0)
    if m := _TELEGRAM_DOC.search(url):
        return m.group(0) + "…"
    return None
