"""The built-in catalogue of prefecture procedures: data integrity, look-ups, listing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from monitor.catalogue import (
    Catalogue,
    UnknownCatalogueEntry,
    format_catalogue,
    load_catalogue,
    normalize_id,
)

HAUTE_SAVOIE = "https://www.haute-savoie.gouv.fr/booking/create/29396"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_packaged_catalogue_loads_and_is_cached(catalogue: Catalogue) -> None:
    assert load_catalogue() is catalogue
    assert "haute-savoie" in catalogue.prefectures


@pytest.mark.parametrize(
    ("procedure", "calendars"),
    [
        ("first-request", ("1.1", "1.2", "1.3")),
        ("visa-d-asylum-job-seeking", ("2",)),
        ("renewal", ("3.1", "3.2", "3.3", "3.4")),
        ("resident-card", ("4.1", "4.2")),
    ],
)
def test_haute_savoie_matches_the_seed(
    catalogue: Catalogue, procedure: str, calendars: tuple[str, ...]
) -> None:
    proc = catalogue.lookup("haute-savoie", procedure)
    assert proc.calendars == calendars
    assert proc.url == HAUTE_SAVOIE
    assert proc.prefecture == "haute-savoie"
    assert proc.title("fr") and proc.title("en") and proc.title("fr") != proc.title("en")
    assert proc.description("fr") and proc.description("en")


def test_descriptions_come_from_the_seed(catalogue: Catalogue) -> None:
    assert "VLS-TS" in catalogue.lookup("haute-savoie", "renewal").description("fr")
    visa = catalogue.lookup("haute-savoie", "visa-d-asylum-job-seeking").description("fr")
    for words in ("visa D", "asile/séjour", "recherche d'emploi", "APS master"):
        assert words in visa
    card = catalogue.lookup("haute-savoie", "resident-card").description("fr")
    assert "CRA" in card and "état civil" in card


@pytest.mark.parametrize(
    ("prefecture", "procedure", "expected"),
    [
        ("Haute-Savoie", "renewal", "renewal"),
        ("haute_savoie", "RENEWAL", "renewal"),
        ("74", "renouvellement", "renewal"),
        ("annecy", "premiere-demande", "first-request"),
        (" haute-savoie ", "calendar-2", "visa-d-asylum-job-seeking"),
    ],
)
def test_lookup_by_id_or_alias(
    catalogue: Catalogue, prefecture: str, procedure: str, expected: str
) -> None:
    assert catalogue.lookup(prefecture, procedure).id == expected


def test_unknown_prefecture_suggests_and_lists(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownCatalogueEntry) as info:
        catalogue.lookup("haute-savoi", "renewal")
    exc = info.value
    assert isinstance(exc, KeyError)
    assert exc.kind == "prefecture"
    assert exc.suggestion == "haute-savoie"
    assert "haute-savoie" in exc.available
    assert str(exc).startswith('"haute-savoi" is not a known prefecture; did you mean')


def test_unknown_procedure_suggests_the_canonical_id(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownCatalogueEntry) as info:
        catalogue.lookup("haute-savoie", "renouvelement")
    exc = info.value
    assert exc.kind == "procedure"
    assert exc.suggestion == "renewal"  # the alias was closest; the id is suggested
    assert exc.available == (
        "first-request",
        "visa-d-asylum-job-seeking",
        "renewal",
        "resident-card",
    )
    assert "first-request" in str(exc)


def test_unknown_without_any_close_match(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError) as info:
        catalogue.lookup("paris", "x")
    assert "did you mean" not in str(info.value)
    assert "Known prefectures: haute-savoie" in str(info.value)


def test_normalize_id() -> None:
    assert normalize_id("  Haute_Savoie ") == "haute-savoie"
    assert normalize_id("first request") == "first-request"


def test_a_new_prefecture_is_just_data(tmp_path: Path) -> None:
    path = tmp_path / "cat.toml"
    path.write_text(
        """
[prefectures.exemple]
name = "Exemple"
[prefectures.exemple.bookings.etrangers]
url = "https://www.exemple.gouv.fr/booking/create/1"
title_fr = "Étrangers"
title_en = "Foreigners"
[prefectures.exemple.bookings.etrangers.procedures.renewal]
title_fr = "Renouvellement"
title_en = "Renewal"
calendars = ["A", "B"]
description_fr = "Pour renouveler."
description_en = "To renew."
""",
        encoding="utf-8",
    )
    cat = load_catalogue(path)
    assert cat.lookup("exemple", "renewal").calendars == ("A", "B")
    assert [p.id for p in cat] == ["exemple"]


@pytest.mark.parametrize(
    ("snippet", "problem"),
    [
        ('calendars = ["3.1", "3.1"]', "duplicate"),
        ('calendars = ["Calendrier 3.1"]', "label token"),
        ('calendars = ["3.1"]\nextra = 1', "'extra' is not known"),
    ],
)
def test_malformed_catalogue_is_refused(tmp_path: Path, snippet: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        f"""
[prefectures.x.bookings.b]
url = "https://x.gouv.fr/booking/create/1"
title_fr = "t"
title_en = "t"
[prefectures.x]
name = "X"
[prefectures.x.bookings.b.procedures.p]
title_fr = "t"
title_en = "t"
description_fr = "d"
description_en = "d"
{snippet}
""",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=problem.split()[0]):
        load_catalogue(path)


def test_packaged_file_ids_are_well_formed() -> None:
    data = tomllib.loads(
        (Path(__file__).parents[1] / "monitor" / "catalogue.toml").read_text(encoding="utf-8")
    )
    assert set(data) == {"prefectures"}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_format_catalogue_gives_config_lines(catalogue: Catalogue, language: str) -> None:
    text = format_catalogue(catalogue, language=language)  # type: ignore[arg-type]
    assert 'prefecture = "haute-savoie"' in text
    for proc in ("first-request", "visa-d-asylum-job-seeking", "renewal", "resident-card"):
        assert f'procedure = "{proc}"' in text
    assert "[[watch]]" in text
    assert HAUTE_SAVOIE in text
    assert "3.1" in text and "3.4" in text
    if language == "fr":
        assert "Renouvellement VLS-TS" in text and "puis" in text
    else:
        assert "Renewal of a VLS-TS" in text and "then" in text


def test_format_catalogue_lines_paste_into_a_valid_config(catalogue: Catalogue) -> None:
    """The lines shown for each procedure are TOML a config can use as is."""
    from monitor.config import parse_config

    text = format_catalogue(catalogue, language="fr")
    blocks = text.split("[[watch]]")[1:]
    doc = "".join(
        "[[watch]]\n" + "\n".join(line.strip() for line in block.strip().splitlines()[:3]) + "\n"
        for block in blocks
    )
    config = parse_config(tomllib.loads(doc), source="pasted.toml")
    assert [w.procedure for w in config.watches] == [
        "first-request",
        "visa-d-asylum-job-seeking",
        "renewal",
        "resident-card",
    ]


def test_format_catalogue_rejects_unknown_language(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="language"):
        format_catalogue(catalogue, language="de")  # type: ignore[arg-type]
