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

Durations are also *written* here, the one place that does so: for the config
(:func:`format_duration`, ``"1h30m"``), and for people in their language
(:func:`say_duration`, « 3 min 26 s »; :func:`say_period`, « 24 h »;
:func:`span`, ``3 d 4 h``), with unit words from :mod:`monitor.lang`.
"""

from __future__ import annotations

import math
import re

from monitor.lang import phrases_for

__all__ = [
    "DURATION_HELP",
    "MAX_DURATION",
    "DurationTooLongError",
    "format_duration",
    "parse_duration",
    "say_duration",
    "say_period",
    "span",
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


def say_duration(seconds: float | None, language: str) -> str:
    """How long something lasted, for a message: « 3 min 26 s », « 47 min », « 1 h 5 min »,
    « 2 j 3 h » ("2 d 3 h" in English); "?" when unknown.

    Seconds are kept only under ten minutes, minutes only under a day: the precision
    a person acts on. Negative values are shown as zero (clocks may disagree a little).
    """
    if seconds is None:
        return "?"
    unit = phrases_for(language).units
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} {unit['s']}"
    if total < 3600:
        minutes, secs = divmod(total, 60)
        if secs and minutes < 10:
            return f"{minutes} {unit['min']} {secs} {unit['s']}"
        return f"{minutes} {unit['min']}"
    if total < 86400:
        hours, rest = divmod(total, 3600)
        minutes = rest // 60
        return f"{hours} {unit['h']} {minutes} {unit['min']}" if minutes else f"{hours} {unit['h']}"
    days, rest = divmod(total, 86400)
    hours = rest // 3600
    return f"{days} {unit['d']} {hours} {unit['h']}" if hours else f"{days} {unit['d']}"


def say_period(seconds: float, language: str) -> str:
    """A reporting period in one rounded unit: « 45 min », « 24 h », « 3 j » ("3 d")."""
    unit = phrases_for(language).units
    hours = seconds / 3600
    if hours < 1:
        return f"{max(0, round(seconds / 60))} {unit['min']}"
    if hours <= 48:
        return f"{round(hours)} {unit['h']}"
    return f"{round(hours / 24)} {unit['d']}"


def span(seconds: float, language: str = "en") -> str:
    """A duration in its two largest units, for tables: ``3 d 4 h``, ``4 min 48 s``, ``12 s``.

    Negative values are shown as zero (clocks between machines may disagree a little).
    """
    unit = phrases_for(language).units
    total = max(0, round(seconds))
    amounts: list[tuple[int, str]] = []
    for key, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, total = divmod(total, size)
        amounts.append((count, unit[key]))
    first = next((i for i, (count, _) in enumerate(amounts) if count), len(amounts) - 1)
    shown = [a for a in amounts[first : first + 2] if a[0] or a is amounts[first]]
    return " ".join(f"{count} {word}" for count, word in shown)


def _show(value: object) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f'"{text}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
