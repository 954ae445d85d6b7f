"""Templates: a user's own title and body for a kind (``[notify.templates.<kind>]``).

A template uses ``{placeholder}`` names; each kind lists the ones it offers
(:attr:`~monitor.events.base.EventKind.placeholders`). The config refuses any
other (:func:`template_problem`) and the notifier falls back to the built-in
text rather than fail to send an alert because of a template.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Iterator, Mapping

from monitor.events.base import KINDS, get_kind

__all__ = ["PLACEHOLDERS", "PLACEHOLDER_HELP", "template_problem", "unknown_placeholders"]


class _HelpView(Mapping[str, Mapping[str, str]]):
    """Per kind, its placeholders and what each holds, read from the registry."""

    def __getitem__(self, kind: str) -> Mapping[str, str]:
        return KINDS[kind].placeholders

    def __iter__(self) -> Iterator[str]:
        return iter(list(KINDS))

    def __len__(self) -> int:
        return len(KINDS)


class _NamesView(Mapping[str, tuple[str, ...]]):
    """Per kind, the names of its placeholders, read from the registry."""

    def __getitem__(self, kind: str) -> tuple[str, ...]:
        return tuple(KINDS[kind].placeholders)

    def __iter__(self) -> Iterator[str]:
        return iter(list(KINDS))

    def __len__(self) -> int:
        return len(KINDS)


PLACEHOLDER_HELP: Mapping[str, Mapping[str, str]] = _HelpView()
"""Per event kind: every ``{placeholder}`` a template may use, with what it holds.

Values are already text in the message's language (dates in its words, times in
the configured time zone); ``slot_count`` and ``bad_checks``/``checks`` are numbers.
"""

PLACEHOLDERS: Mapping[str, tuple[str, ...]] = _NamesView()
"""Per event kind: the placeholder names a template may use (see :data:`PLACEHOLDER_HELP`)."""


def _field_text(name: str, conversion: str | None, spec: str) -> str:
    return name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")


def unknown_placeholders(kind: str, text: str) -> list[str]:
    """The placeholders in ``text`` that a template of ``kind`` may not use, as written
    between the braces, in order, each once (empty list: ``text`` is fine).

    Only plain names of the kind's placeholders are allowed: positional fields (``{}``,
    ``{0}``), attribute or index access (``{url.__class__}``, ``{slots[0]}``),
    conversions (``{url!r}``) and format specs (``{slot_count:>3}``) are reported too,
    since they could fail or expose internals at send time. ``{{`` and ``}}`` are
    literal braces. Raises :class:`ValueError` when ``text`` is not a valid format
    string (a lone ``{`` or ``}``), and :class:`KeyError` for an unknown ``kind``.
    """
    allowed = get_kind(kind).placeholders
    bad: list[str] = []
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        written = _field_text(name, conversion, spec or "")
        if (name not in allowed or conversion or spec) and written not in bad:
            bad.append(written)
    return bad


def template_problem(kind: str, text: str) -> str | None:
    """Why ``text`` cannot be a template of ``kind``, in the config's words; ``None`` if it can.

    The message names the bad placeholder(s) and every valid one, e.g. ``{lien} is not a
    placeholder of slot_opened; use one of {watch}, {calendar}, …``. It has no key path:
    the config puts it after ``[notify.templates.<kind>] <key>:``.
    """
    if kind not in KINDS:
        return f'"{kind}" is not an event; templates exist for {", ".join(KINDS)}.'
    allowed = tuple(KINDS[kind].placeholders)
    listing = ", ".join("{" + name + "}" for name in allowed)
    try:
        bad = unknown_placeholders(kind, text)
    except ValueError:
        return (
            "has a { or } that does not enclose a placeholder; write {{ or }} for a literal "
            f"brace, and placeholders as {{name}} with name one of {listing}."
        )
    if not bad:
        return None
    shown = ", ".join("{" + b + "}" for b in bad)
    verb = "is not a placeholder" if len(bad) == 1 else "are not placeholders"
    message = f"{shown} {verb} of {kind}; use one of {listing}."
    plain = [b for b in bad if b.split("!")[0].split(":")[0] in allowed]
    if plain:
        message += " Placeholders are plain names: no formatting after ':' or '!'."
    else:
        stem = bad[0].split(".")[0].split("[")[0]
        guess = difflib.get_close_matches(stem, list(allowed), n=1, cutoff=0.6)
        if guess and guess[0] != bad[0]:
            message += f" Did you mean {{{guess[0]}}}?"
    return message
