"""A calendar the booking does not offer (issue 10, item 1): its own condition.

The config's mistake (or the prefecture's change of calendars) is reported at
once as trouble naming the calendars offered and the file to fix, once per
episode, and never as a layout change with a saved page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.events import Event
from monitor.notify.messages import render
from monitor.observation import Observation, Status
from monitor.transitions import advance

T0 = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
URL = "https://www.haute-savoie.gouv.fr/booking/create/29396"
PARIS = ZoneInfo("Europe/Paris")


def seen(minute: float, status: Status = Status.NOT_OFFERED) -> Observation:
    return Observation(
        watch="Renouvellement",
        calendar="9.9",
        status=status,
        url=URL,
        detail="9.9 is not offered by this booking; it offers Calendrier 3.1 (planning 1)",
        checked_at=T0 + timedelta(minutes=minute),
        elapsed_ms=300,
        offered=("Calendrier 3.1", "Calendrier 3.2") if status is Status.NOT_OFFERED else (),
        page=b"<html>step 1</html>",
    )


def test_first_not_offered_check_is_reported_at_once_and_never_as_a_layout_change() -> None:
    first = advance(None, seen(0), trouble_after=900.0)
    assert first.kinds == ("trouble",)
    assert first.page_file is None, "the calendar choice page is not saved as a new layout"
    (event,) = first.events
    assert event.payload["status"] == "not_offered"
    assert event.payload["offered"] == ["Calendrier 3.1", "Calendrier 3.2"]


def test_not_offered_is_said_once_per_episode_and_recovery_is_announced() -> None:
    state = None
    kinds: list[str] = []
    for minute, status in (
        (0, Status.NOT_OFFERED),
        (5, Status.NOT_OFFERED),
        (60, Status.NOT_OFFERED),
        (65, Status.FULL),
    ):
        step = advance(state, seen(minute, status), trouble_after=900.0)
        kinds.extend(step.kinds)
        state = step.state
    assert kinds == ["trouble", "recovered"]


def _event() -> Event:
    step = advance(None, seen(0), trouble_after=900.0)
    (draft,) = step.events
    return Event(
        1,
        draft.kind,
        draft.watch,
        draft.calendar,
        draft.created_at,
        None,
        draft.dedup_key,
        draft.payload,
    )


def test_the_alert_names_the_calendar_what_is_offered_and_the_fix_in_both_languages() -> None:
    now = T0 + timedelta(minutes=1)
    english = render(_event(), language="en", tz=PARIS, now=now)
    assert english.title.startswith("Calendar not offered: 9.9")
    assert (
        "9.9 is not offered by this booking; it offers Calendrier 3.1, Calendrier 3.2."
        in english.body
    )
    assert "Fix `calendars`" in english.body
    assert "Page changed" not in english.title + english.body
    french = render(_event(), language="fr", tz=PARIS, now=now)
    assert french.title.startswith("Calendrier non proposé : 9.9")
    assert (
        "9.9 n'est pas proposé par ce rendez-vous ; il propose Calendrier 3.1, Calendrier 3.2."
        in french.body
    )
    assert "Corrigez `calendars`" in french.body


# --------------------------------------------------------------------------- validate --online


def test_validate_online_names_unknown_calendars_with_what_is_offered(sim, write_config, cli):
    from tests.conftest import RENEWAL

    path = write_config(
        [{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["9.9", "3.1", "7.7"]}]
    )
    offline = cli("validate", "-c", str(path))
    assert offline.code == 0, "without --online nothing is asked"
    result = cli("validate", "-c", str(path), "--online")
    assert result.code == 2
    assert "9.9 is not offered by this booking" in result.err
    assert "7.7 is not offered by this booking" in result.err
    assert "3.1 is not offered" not in result.err
    assert "Calendrier 3.2" in result.err and f"fix `calendars` in {path}" in result.err


def test_validate_online_passes_when_every_calendar_is_offered(sim, write_config, cli):
    from tests.conftest import RENEWAL

    path = write_config(
        [
            {"name": "a", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]},
            {"name": "b", "url": sim.booking_url(RENEWAL), "calendars": ["3.2"]},
        ]
    )
    result = cli("validate", "-c", str(path), "--online")
    assert result.code == 0, result.err
    assert "OK (calendars checked online)" in result.out


def test_the_daemon_check_of_9_9_is_not_offered_and_saves_no_page(sim, write_config, cli):
    from tests.conftest import RENEWAL

    path = write_config(
        [{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["9.9", "3.1"]}]
    )
    rows = cli("check", "-c", str(path), "--json").json_lines()
    assert [r["status"] for r in rows] == ["not_offered", "full"]
    assert "9.9 is not offered by this booking; it offers" in str(rows[0]["detail"])
