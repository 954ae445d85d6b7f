"""Calendar references: how "3.1" finds its radio button among the site's labels."""

from __future__ import annotations

import pytest

from monitor.config import CalendarRef
from monitor.sites.ezbooking import EzBookingAdapter
from monitor.sites.registry import find_adapter, naming_for


@pytest.mark.parametrize(
    "label",
    [
        "Calendrier 3.1 - Renouvellement",
        "3.1 Renouvellement",
        "(3.1)",
        "Calendrier n°3.1",
        "Calendrier\xa03.1\xa0- Rendez-vous supplémentaires",
        "Calendrier 3.1.",
        "Calendrier 3.1, renouvellement",
        "CALENDRIER 3.1",
        "3.1",
        "  Calendrier\n 3.1  ",
        "Calendrier3.1",
        "Calendrier 3.1: titres",
    ],
)
def test_token_matches(label: str) -> None:
    assert CalendarRef(label="3.1").matches(label)


@pytest.mark.parametrize(
    "label",
    [
        "Calendrier 3.10",
        "Calendrier 13.1",
        "Calendrier 3.1.2",
        "Calendrier 23.1",
        "Calendrier 1.3.1",
        "Calendrier 3.2",
        "Calendrier 3",
        "Calendrier 31",
        "",
    ],
)
def test_token_does_not_match(label: str) -> None:
    assert not CalendarRef(label="3.1").matches(label)


@pytest.mark.parametrize(
    ("token", "label", "expected"),
    [
        ("2", "Calendrier 2 - Visa D", True),
        ("2", "Calendrier 2", True),
        ("2", "Calendrier 2.1", False),
        ("2", "Calendrier 12", False),
        ("2", "Calendrier 1.2", False),
        ("1.1", "Calendrier 1.1 - Première demande", True),
        ("1.1", "Calendrier 1.11", False),
        ("1.1", "Calendrier 11.1", False),
        ("A", "Guichet A", True),
        ("A", "Guichet AB", False),
        ("a", "Guichet A", True),
        ("4.2", "Calendrier 4.2 – Rendez-vous supplémentaires", True),
    ],
)
def test_token_table(token: str, label: str, expected: bool) -> None:
    assert CalendarRef(label=token).matches(label) is expected


def test_display_and_key() -> None:
    assert CalendarRef(label="3.1").display == "3.1"
    assert CalendarRef(planning=24980).display == "planning 24980"
    assert CalendarRef(planning=24980, name="3.1 bis").display == "3.1 bis"
    assert str(CalendarRef(label="2")) == "2"
    assert CalendarRef(label="A").key == CalendarRef(label="a").key


def test_planning_refs_match_by_id_not_label() -> None:
    ref = CalendarRef(planning=24980)
    assert not ref.matches("Calendrier 24980")
    assert ref.matches_option("Calendrier 3.1", "24980")
    assert ref.matches_option("whatever", 24980)
    assert not ref.matches_option("Calendrier 3.1", "24981")
    label_ref = CalendarRef(label="3.1")
    assert label_ref.matches_option("Calendrier 3.1", "1")
    assert not label_ref.matches_option("Calendrier 3.2", None)


def test_construction_from_config_values() -> None:
    assert CalendarRef.model_validate("3.1") == CalendarRef(label="3.1")
    assert CalendarRef.model_validate(" 3.1\xa0") == CalendarRef(label="3.1")
    assert CalendarRef.model_validate({"planning": "24980"}).planning == 24980
    with pytest.raises(ValueError):
        CalendarRef(label="3.1", planning=1)
    with pytest.raises(ValueError):
        CalendarRef()


def test_the_booking_plugin_declares_its_urls_and_how_calendars_are_named() -> None:
    """Config asks the registry; the booking module answers for its own URLs and labels."""
    booking = "https://www.haute-savoie.gouv.fr/booking/create/29396"
    assert find_adapter(booking) is EzBookingAdapter
    assert find_adapter("https://www.haute-savoie.gouv.fr/Demarches") is None
    assert find_adapter("not a url at all") is None
    naming = naming_for(booking)
    assert naming.label_matches("3.1", "Calendrier 3.1 - Renouvellement")
    assert not naming.label_matches("3.1", "Calendrier 3.10")
    assert naming.parse_label("3.1") == "3.1"
    with pytest.raises(ValueError, match=r'Write just "3\.1"'):
        naming.parse_label("Calendrier 3.1")
    assert naming.parse_planning("24980") == 24980
    with pytest.raises(ValueError, match="radio button"):
        naming.parse_planning(-3)
