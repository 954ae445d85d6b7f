"""Durations as written in the config: what is accepted, what is refused and how."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.durations import DURATION_HELP, MAX_DURATION, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1d2h3m4s", 93784),
        ("1.5h", 5400),
        ("90", 90),
        ("2.5", 2.5),
        (" 45s ", 45),
        ("0", 0),
        ("0s", 0),
        (90, 90),
        (2.5, 2.5),
        (0, 0),
    ],
)
def test_accepted(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "guess"),
    [
        ("5 minutes", "5m"),
        ("5min", "5m"),
        ("5M", "5m"),
        ("2 heures", "2h"),
        ("3 jours", "3d"),
        ("10 secondes", "10s"),
        ("1h30", "1h30m"),
    ],
)
def test_near_misses_are_refused_with_a_guess(text: str, guess: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    message = str(info.value)
    assert f'"{text}" is not a duration' in message
    assert DURATION_HELP in message
    assert f'Did you mean "{guess}"?' in message


@pytest.mark.parametrize("value", ["", "   ", "5x", "m", "abc", "nan", "inf", "1m1h", "1h1h"])
def test_refused_text_says_what_is_accepted(value: str) -> None:
    with pytest.raises(ValueError, match="30s"):
        parse_duration(value)


@pytest.mark.parametrize("value", ["-5m", "-1", -1, -0.5])
def test_negative_refused(value: str | float) -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(value)


@pytest.mark.parametrize("value", [True, False, float("nan"), float("inf"), None, [5]])
def test_non_durations_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)  # type: ignore[arg-type]


def test_unit_order_is_explained() -> None:
    with pytest.raises(ValueError, match="largest first"):
        parse_duration("30m1h")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (300, "5m"),
        (5400, "1h30m"),
        (86400, "1d"),
        (90061, "1d1h1m1s"),
        (2.5, "2.5s"),
        (3600.5, "1h0.5s"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("value", [-1, float("nan"), math.inf])
def test_format_refuses_impossible(value: float) -> None:
    with pytest.raises(ValueError):
        format_duration(value)


@given(st.integers(min_value=0, max_value=10**7))
def test_format_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.floats(min_value=0, max_value=10**6, allow_nan=False))
def test_format_round_trips_to_the_millisecond(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, abs=0.0006)


@pytest.mark.parametrize(
    "value", ["100000000d", "3651d", "3650d1s", "9" * 400, 3650 * 86400 + 1, 10**400, math.inf]
)
def test_too_long_is_refused_before_it_can_overflow_a_date(value: str | float) -> None:
    """A typo like "100000000d" once passed, then overflowed datetime arithmetic at run time
    ("this is a bug", exit 1); it is a sentence now, at parse time."""
    with pytest.raises(ValueError, match=r'too long: a duration is at most "3650d"') as info:
        parse_duration(value)
    assert DURATION_HELP in str(info.value)


def test_the_longest_duration_still_fits_in_a_date() -> None:
    assert parse_duration("3650d") == MAX_DURATION
    # Far beyond any setting, yet a date this century plus or minus it stays representable.
    now = datetime(2099, 12, 31, tzinfo=UTC)
    assert now + timedelta(seconds=MAX_DURATION) > now > now - timedelta(seconds=MAX_DURATION)
