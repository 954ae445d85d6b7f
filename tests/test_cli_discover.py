"""``rdv-monitor discover`` (issue 10, item 14): the same "did you mean https://…" as
``validate``, and a ``calendars`` line that a config accepts and that finds every calendar."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path

from monitor.discover import calendars_line
from monitor.sites.base import CalendarInfo
from monitor.sites.ezbooking.sim import SimPrefecture
from monitor.sites.registry import naming_for
from tests.conftest import RENEWAL, SINGLE, CliResult


def suggested(out: str) -> list[object]:
    (line,) = [x.strip() for x in out.splitlines() if x.strip().startswith("calendars = [")]
    return list(tomllib.loads(line)["calendars"])


def test_without_a_scheme_discover_suggests_https_as_validate_does(
    cli: Callable[..., CliResult], write_config: Callable[..., Path]
) -> None:
    bare = "www.haute-savoie.gouv.fr/booking/create/29396"
    found = cli("discover", bare)
    config = write_config([{"name": "R", "url": bare, "calendars": ["3.1"]}])
    validated = cli("validate", "-c", str(config))

    assert found.code == 2 and validated.code == 2
    hint = f'Did you mean "https://{bare}"?'
    assert hint in found.err and hint in validated.err
    assert "Traceback" not in found.err


def test_the_suggested_line_finds_every_calendar_when_pasted_into_a_config(
    cli: Callable[..., CliResult], sim: SimPrefecture, write_config: Callable[..., Path]
) -> None:
    found = cli("discover", sim.booking_url(RENEWAL))
    assert found.code == 0, found.err
    listed = re.findall(r"^  planning \d+\s+(.+)$", found.out, re.MULTILINE)
    names = suggested(found.out)
    assert len(names) == len(listed) == 10
    assert names[:3] == ["1.1", "1.2", "1.3"] and "3.2" in names

    config = write_config([{"name": "Tout", "url": sim.booking_url(RENEWAL), "calendars": names}])
    checked = cli("check", "--json", "-c", str(config))

    assert checked.code == 0, checked.err
    rows = checked.json_lines()
    assert [row["calendar"] for row in rows] == names
    assert {row["status"] for row in rows} == {"full"}


def test_a_single_counter_booking_needs_no_calendars_line(
    cli: Callable[..., CliResult], sim: SimPrefecture
) -> None:
    found = cli("discover", sim.booking_url(SINGLE))
    assert found.code == 0
    assert "single calendar" in found.out and "calendars = [" not in found.out


def test_only_names_the_booking_really_has_and_that_name_one_calendar() -> None:
    calendars = [
        CalendarInfo("101", "Guichet (n°3.1) - Renouvellement"),
        CalendarInfo("102", "Accueil général"),  # no number in its label
        CalendarInfo("103", "Rendez-vous 5 - file A"),
        CalendarInfo("104", "Rendez-vous 5 - file B"),  # "5" would name both
    ]
    line = calendars_line(calendars, naming_for("https://x.gouv.fr/booking/create/1"))
    assert tomllib.loads(line)["calendars"] == [
        "3.1",
        {"planning": 102},
        {"planning": 103},
        {"planning": 104},
    ]
