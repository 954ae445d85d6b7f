"""Durations as people write them in the config: ``"30s"``, ``"5m"``, ``"1h30m"`` or seconds.

The grammar is deliberately small so that a value means one thing only:

* a plain number of seconds: ``90``, ``2.5``, ``"90"``;
* one or more ``<number><unit>`` parts, largest unit first, each unit at most
  once, optionally separated by spaces: ``"1d"``, ``"1h30m"``, ``"1h 30m"``,
  ``"1.5h"``, ``"45s"``. Units: ``d`` (days), ``h`` (hours), ``m`` (minutes),
  ``s`` (seconds), lower case; a space may separate a number from its unit.

Anything else is refused with a message that says what is accepted, and, for the
common near misses (``"5 minutes"``, ``"5min"``, ``"2 heures"``, ``"1h30"``),
which spelling was probably meant. ``m`` always means minutes: there is no unit
for months, so there is nothing to confuse it with.

No duration is longer than :data:`MAX_DURATION` (3650 days): far beyond any
sensible setting, yet small enough that adding it to any time of this century
stays within what :mod:`datetime` can hold (year 9999), so that a typo such as
``"100000000d"`` is refused here, in a sentence, and never overflows later.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "DURATION_HELP",
    "MAX_DURATION",
    "DurationTooLongError",
    "format_duration",
    "parse_duration",
]

DURATION_HELP = 'write e.g. "30s", "5m", "1h", "1h30m", "1d" or a number of seconds'
"""The end of every duration error message: what is accepted, in user words."""

MAX_DURATION = 3650 * 86400.0
"""The longest duration accepted, in seconds (3650 days, about 10 years)."""


class DurationTooLongError(ValueError):
    """A well-formed duration over :data:`MAX_DURATION`: callers may say "too far back"
    rather than "not understood" (``rdv-monitor history --since``)."""


_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"
_PLAIN = re.compile(rf"^{_NUMBER}$")
_PART = re.compile(rf"({_NUMBER})\s*([a-z]+)")
_COMPOUND = re.compile(rf"^(?:{_NUMBER}\s*[dhms]\s*)+$")

# Words people write instead of a unit letter (English and French), to suggest a fix.
_UNIT_WORDS = {
    "s": ("sec", "secs", "second", "seconds", "seconde", "secondes"),
    "m": ("min", "mins", "minute", "minutes", "mn"),
    "h": ("hr", "hrs", "hour", "hours", "heure", "heures"),
    "d": ("day", "days", "jour", "jours", "j"),
}
_WORD_TO_UNIT = {word: unit for unit, words in _UNIT_WORDS.items() for word in words}


def parse_duration(value: str | int | float) -> float:
    """Return ``value`` as a number of seconds (``float``, zero or more).

    Raises :class:`ValueError` whose message quotes the value, says what is
    accepted and, when it can guess, what was meant. Booleans, negative and NaN
    values, and values over :data:`MAX_DURATION` (infinity included) are refused.
    """
    if isinstance(value, bool):
        raise ValueError(f"{_show(value)} is not a duration; {DURATION_HELP}.")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond any float
            seconds = math.inf if value > 0 else -math.inf
        return _check_number(seconds, value)
    if not isinstance(value, str):
        raise ValueError(f"a duration must be text or a number; {DURATION_HELP}.")
    text = value.strip()
    if not text:
        raise ValueError(f"the duration is empty; {DURATION_HELP}.")
    if text.startswith("-"):
        raise ValueError(
            f"{_show(value)} is negative; a duration must be zero or more; {DURATION_HELP}."
        )
    if _PLAIN.match(text):
        return _check_number(float(text), value)
    if _COMPOUND.match(text):
        return _parse_compound(text, value)
    raise ValueError(_explain(value, text))


def _check_number(seconds: float, original: object) -> float:
    if math.isnan(seconds):
        raise ValueError(f"{_show(original)} is not a duration; {DURATION_HELP}.")
    if seconds < 0:
        raise ValueError(
            f"{_show(original)} is negative; a duration must be zero or more; {DURATION_HELP}."
        )
    if seconds > MAX_DURATION:
        raise DurationTooLongError(
            f'{_show(original)} is too long: a duration is at most "3650d" (about 10 years); '
            f"{DURATION_HELP}."
        )
    return seconds


def _parse_compound(text: str, original: str) -> float:
    total = 0.0
    previous_rank = -1
    order = "dhms"
    for number, unit in _PART.findall(text):
        rank = order.index(unit)
        if rank <= previous_rank:
            raise ValueError(
                f"{_show(original)} is not a duration: give each unit once, largest first "
                f'(days, hours, minutes, seconds), as in "1h30m"; {DURATION_HELP}.'
            )
        previous_rank = rank
        total += float(number) * _UNIT_SECONDS[unit]
    return _check_number(total, original)


def _explain(original: str, text: str) -> str:
    """Build the refusal message, with a guess at what was meant when there is one."""
    guess = _guess(text)
    hint = f' Did you mean "{guess}"?' if guess else ""
    return f"{_show(original)} is not a duration; {DURATION_HELP}.{hint}"


def _guess(text: str) -> str | None:
    lowered = text.lower().replace(",", ".")
    # "1h30" (French style): the minutes lack their unit.
    if m := re.fullmatch(r"(\d+)\s*h\s*(\d{1,2})", lowered):
        return f"{m.group(1)}h{m.group(2)}m"
    parts = re.findall(rf"({_NUMBER})\s*([a-z]+)", lowered)
    if not parts or re.sub(rf"{_NUMBER}\s*[a-z]+", "", lowered).strip():
        return None
    out = []
    for number, word in parts:
        unit = word if word in _UNIT_SECONDS else _WORD_TO_UNIT.get(word)
        if unit is None:
            return None
        out.append(f"{number}{unit}")
    candidate = "".join(out)
    try:
        _parse_compound(candidate, candidate)
    except ValueError:
        return None
    return candidate if _COMPOUND.match(candidate) else None


def format_duration(seconds: float) -> str:
    """Write ``seconds`` the way the config accepts it, shortest form first.

    ``300`` → ``"5m"``, ``5400`` → ``"1h30m"``, ``45`` → ``"45s"``, ``0`` → ``"0s"``,
    ``2.5`` → ``"2.5s"``. The result always parses back to the same value
    (to the millisecond).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError("format_duration() takes a number of seconds")
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise ValueError(f"cannot format {seconds!r} as a duration")
    millis = round(seconds * 1000)
    whole, frac_ms = divmod(millis, 1000)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    if whole or frac_ms or not parts:
        if frac_ms:
            parts.append(f"{whole}.{frac_ms:03d}".rstrip("0") + "s")
        else:
            parts.append(f"{whole}s")
    return "".join(parts)


def _show(value: object) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f'"{text}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
