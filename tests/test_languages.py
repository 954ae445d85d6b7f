"""Languages: one phrase catalogue per language, and nothing else to add one.

The accepted languages are the catalogues present; every built-in message is
written in each of them; a new catalogue (registered here as a new
``monitor/lang/<code>.py`` would be) is used by messages, durations and the
procedures listing with no other module touched.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.catalogue import format_catalogue, load_catalogue
from monitor.durations import say_duration, say_period, span
from monitor.events import KINDS, Event, dedup_key
from monitor.lang import CATALOGUES, LANGUAGES, Phrases, languages, phrases_for, register
from monitor.lang.en import PHRASES as ENGLISH
from monitor.notify import render, test_message

PARIS = ZoneInfo("Europe/Paris")
SEEN = datetime(2025, 12, 8, 7, 0, 14, tzinfo=UTC)  # Monday 08:00:14 in Paris
NOW = SEEN + timedelta(seconds=6)
URL = "https://www.haute-savoie.gouv.fr/booking/create/29396"


def event(kind: str, **payload: object) -> Event:
    common = {"watch": "Renouvellement", "calendar": "3.2", "url": URL, "seen_at": SEEN.isoformat()}
    key = dedup_key(kind, "Renouvellement", "3.2", SEEN)
    return Event(1, kind, "Renouvellement", "3.2", SEEN, None, key, {**common, **payload})


SAMPLES = [
    event("slot_opened", status="available", slot_count=3, first_slot=SEEN.isoformat()),
    event("slot_gone", status="full", duration_s=206),
    *(
        event("trouble", status=s, http_status=503, since=SEEN.isoformat())
        for s in ("down", "blocked", "captcha", "unknown")
    ),
    event("recovered", status="full", trouble_status="down", duration_s=3000),
    event("layout_changed", status="unknown", page_file="x.html", page_size=4096),
    Event(1, "heartbeat", "", "", SEEN, None, "h", {"checks": {"full": 3}, "watches": ["R"]}),
]


def test_the_languages_are_the_catalogues_present_french_first() -> None:
    assert LANGUAGES[0] == "fr" and set(LANGUAGES) >= {"fr", "en"}
    assert all(phrases_for(code).code == code for code in LANGUAGES)
    with pytest.raises(KeyError, match="known: fr, en"):
        phrases_for("de")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_built_in_message_is_written_in_every_language(
    language: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.notify.messages"):
        for sample in SAMPLES:
            message = render(sample, language=language, tz=PARIS, now=NOW)
            assert message.title and message.body, sample.kind
            assert not message.title.startswith("rdv-monitor: " + sample.kind), sample.kind
        assert test_message(language, now=NOW, tz=PARIS).title
    assert not caplog.records, "a phrase is missing: the last-resort message was used"


@pytest.fixture
def pirate() -> Iterator[Phrases]:
    """A new language, as a contributor's ``monitor/lang/xx.py`` would add it."""
    messages = {kind: dict(words) for kind, words in ENGLISH.messages.items()}
    messages["slot_opened"]["title"] = "Arr, a slot: "
    catalogue = register(
        dataclasses.replace(
            ENGLISH,
            code="xx",
            days=("Mun", "Tew", "Wen", "Thr", "Fre", "Sat", "Sun"),
            units={"d": "dayz", "h": "hrz", "min": "mn", "s": "sc"},
            messages=messages,
            procedures={**ENGLISH.procedures, "paste": "Stow this in yer config:"},
        )
    )
    yield catalogue
    del CATALOGUES["xx"]  # registration is process-wide: leave the registry as found


def test_a_new_language_is_used_everywhere(pirate: Phrases) -> None:
    assert "xx" in languages()
    opened = render(SAMPLES[0], language="xx", tz=PARIS, now=NOW)
    assert opened.title == "Arr, a slot: 3.2 – Renouvellement"
    assert "3 slots from Mun 8 Dec 08:00" in opened.body
    gone = render(SAMPLES[1], language="xx", tz=PARIS, now=NOW)
    assert "(open 3 mn 26 sc)" in gone.body
    assert say_duration(2 * 86400 + 3600, "xx") == "2 dayz 1 hrz"
    assert say_period(86400, "xx") == "24 hrz"
    assert span(3 * 86400 + 4 * 3600, "xx") == "3 dayz 4 hrz"
    assert "Stow this in yer config:" in format_catalogue(load_catalogue(), language="xx")


def test_unknown_language_falls_back_to_french_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.notify.messages"):
        message = render(SAMPLES[0], language="de", tz=PARIS, now=NOW)
    assert message.title.startswith("Créneau libre : ")
    assert any("'de'" in r.getMessage() for r in caplog.records)


def test_the_procedures_listing_names_the_known_languages() -> None:
    with pytest.raises(ValueError, match='language must be "fr" or "en"'):
        format_catalogue(load_catalogue(), language="de")


def test_every_kind_a_user_can_select_has_words_in_every_language() -> None:
    for code in LANGUAGES:
        missing = [k for k in KINDS if not (KINDS[k].words or k in phrases_for(code).messages)]
        assert missing == [], code
