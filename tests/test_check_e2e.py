"""``rdv-monitor check`` end to end, against the simulated prefecture over real HTTP.

Each test sets the simulator in one state and asserts what a user would read
in ``check --json``: the status of every calendar, in priority order, the
direct link, and the slot dates when slots are open.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.check import Checker
from monitor.config import load_config
from monitor.observation import Status
from monitor.sites.ezbooking import EzBookingAdapter
from monitor.sites.ezbooking.sim import PARIS, SimPrefecture
from monitor.sites.registry import adapter_for
from tests.conftest import INDEX_PHP, RENEWAL, SINGLE

RENEWAL_CALENDARS = ["3.1", "3.2", "3.3", "3.4"]


def future_slots(*offsets_hours: int) -> list[datetime]:
    """Slot times a few days ahead, on the hour, in Paris time."""
    base = (datetime.now(PARIS) + timedelta(days=9)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    return [base + timedelta(hours=h) for h in offsets_hours]


@pytest.fixture
def renewal_config(sim, write_config):
    return write_config(
        [
            {
                "name": "Renouvellement",
                "url": sim.booking_url(RENEWAL),
                "calendars": RENEWAL_CALENDARS,
            }
        ]
    )


def test_all_full_reports_each_calendar_in_priority_order(sim, renewal_config, cli):
    result = cli("check", "-c", str(renewal_config), "--json")
    assert result.code == 0, result.err
    rows = result.json_lines()
    assert [r["calendar"] for r in rows] == RENEWAL_CALENDARS
    assert {r["status"] for r in rows} == {"full"}
    for row in rows:
        assert row["watch"] == "Renouvellement"
        assert row["url"] == sim.booking_url(RENEWAL)
        assert row["http_status"] == 200
        assert row["slots"] == []
        assert "plage horaire libre" in row["detail"] or "no slot" in row["detail"].lower()
        assert datetime.fromisoformat(row["checked_at"]).utcoffset() is not None
        assert isinstance(row["elapsed_ms"], int)
    assert rows[0]["label"].startswith("Calendrier 3.1")


def test_slot_on_supplementary_calendar_is_found_with_its_dates(sim, renewal_config, cli):
    slots = future_slots(3, 0, 1)  # deliberately unsorted
    sim.set_state(RENEWAL, "3.2", "available", slots=slots)
    rows = cli("check", "-c", str(renewal_config), "--json").json_lines()
    by_cal = {r["calendar"]: r for r in rows}
    assert by_cal["3.2"]["status"] == "available"
    got = [datetime.fromisoformat(s) for s in by_cal["3.2"]["slots"]]
    assert got == sorted(slots)
    assert all(s.utcoffset() == PARIS.utcoffset(s.replace(tzinfo=None)) for s in got)
    assert by_cal["3.2"]["slot_count"] == 3
    assert {by_cal[c]["status"] for c in ("3.1", "3.3", "3.4")} == {"full"}
    assert sim.booking_attempts == 0, "the monitor must never follow a slot link"


def test_table_output_tells_a_person_where_to_book(sim, renewal_config, cli):
    sim.set_state(RENEWAL, "3.1", "available", slots=future_slots(0))
    result = cli("check", "-c", str(renewal_config))
    assert result.code == 0
    assert "available" in result.out
    assert f"book it now: {sim.booking_url(RENEWAL)}" in result.out
    assert "1 slot" in result.out


STATE_CASES = [
    ("captcha", "ezhuman", "captcha"),
    ("captcha", "recaptcha", "captcha"),
    ("blocked", "haproxy_403", "blocked"),
    ("blocked", "forbidden", "blocked"),
    ("blocked", "429", "blocked"),
    ("down", "haproxy_503", "down"),
    ("down", "haproxy_502", "down"),
    ("down", "bad_gateway", "down"),
    ("down", "gateway_timeout", "down"),
    ("down", "500", "down"),
    ("closed", None, "down"),
    ("maintenance", "200", "down"),
    ("maintenance", "503", "down"),
    ("truncated", None, "down"),
    ("unknown", "redesign", "unknown"),
    ("unknown", "blank", "unknown"),
]


@pytest.mark.parametrize(("state", "variant", "expected"), STATE_CASES)
def test_each_site_state_has_its_own_status_never_available(
    sim, renewal_config, cli, state, variant, expected
):
    sim.set_state(RENEWAL, "3.3", state, variant=variant)
    rows = cli("check", "-c", str(renewal_config), "--json").json_lines()
    by_cal = {r["calendar"]: r for r in rows}
    assert by_cal["3.3"]["status"] == expected, by_cal["3.3"]["detail"]
    assert by_cal["3.3"]["detail"]
    assert by_cal["3.3"]["slots"] == []
    # The other calendars are read correctly around the broken one, except after a
    # block: then the check stops (see test_blocked_site_stops_the_check).
    after = () if expected == "blocked" else ("3.4",)
    assert [r["calendar"] for r in rows] == ["3.1", "3.2", "3.3", *after]
    assert {by_cal[c]["status"] for c in ("3.1", "3.2", *after)} == {"full"}


def test_retry_after_of_a_429_is_kept_for_the_scheduler(sim, write_config):
    sim.set_state(RENEWAL, "3.1", "blocked", variant="429", retry_after=300)
    config = load_config(
        write_config([{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}])
    )

    async def run():
        async with Checker(config) as checker:
            return [o async for o in checker.check_watch(config.watches[0])]

    (obs,) = asyncio.run(run())
    assert obs.status is Status.BLOCKED
    assert obs.http_status == 429
    assert obs.retry_after == 300


def test_blocked_site_stops_the_check(sim, renewal_config, cli):
    """A refusal on the primary calendar: the three others are not asked, and the row says so."""
    sim.set_site_state("blocked", variant="haproxy_403")
    (row,) = cli("check", "-c", str(renewal_config), "--json").json_lines()
    assert (row["calendar"], row["status"]) == ("3.1", "blocked")
    assert "3.2, 3.3, 3.4 were not checked" in row["detail"]
    assert len(sim.request_log) == 1, "one refused request, then nothing more"

    table = cli("check", "-c", str(renewal_config)).out
    assert "Stopped: the site is refusing us" in table


def test_slow_site_times_out_as_down(sim, write_config, cli):
    sim.set_state(RENEWAL, "3.1", "slow", delay=5)
    path = write_config(
        [{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}],
        monitor={"timeout": "1s", "connect_timeout": "1s"},
    )
    (row,) = cli("check", "-c", str(path), "--json").json_lines()
    assert row["status"] == "down"
    assert row["http_status"] is None
    assert "1 s" in row["detail"] or "in time" in row["detail"]
    assert row["elapsed_ms"] < 4000


def test_oversized_answer_is_cut_not_loaded(sim, write_config, cli):
    sim.set_state(RENEWAL, "3.1", "oversized")
    path = write_config(
        [{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}],
        monitor={"max_page_size": "64KiB"},
    )
    (row,) = cli("check", "-c", str(path), "--json").json_lines()
    assert row["status"] == "down"
    assert "cap" in row["detail"]


def test_whole_site_down_makes_every_calendar_down(sim, renewal_config, cli):
    sim.set_site_state("down", variant="haproxy_503")
    rows = cli("check", "-c", str(renewal_config), "--json").json_lines()
    assert [r["status"] for r in rows] == ["down"] * 4
    assert {r["http_status"] for r in rows} == {503}


def test_single_counter_booking_full_then_available(sim, write_config, cli):
    path = write_config([{"name": "Remise", "url": sim.booking_url(SINGLE)}])
    (row,) = cli("check", "-c", str(path), "--json").json_lines()
    assert row["status"] == "full"
    assert row["calendar"] == ""

    sim.set_state(SINGLE, None, "available", slots=future_slots(2, 1))
    (row,) = cli("check", "-c", str(path), "--json").json_lines()
    assert row["status"] == "available"
    assert len(row["slots"]) == 2
    assert sim.booking_attempts == 0


def test_label_token_picks_3_1_not_3_10_or_13_1(sim, write_config, cli):
    sim.set_state(INDEX_PHP, "3.10", "available", slots=future_slots(0))
    sim.set_state(INDEX_PHP, "13.1", "available", slots=future_slots(0))
    path = write_config([{"name": "93", "url": sim.booking_url(INDEX_PHP), "calendars": ["3.1"]}])
    (row,) = cli("check", "-c", str(path), "--json").json_lines()
    assert "/index.php/booking/create/9845" in row["url"]
    assert row["status"] == "full"
    assert row["planning_id"] == str(sim.planning_id(INDEX_PHP, "3.1"))


def test_calendar_by_planning_id(sim, write_config, cli):
    planning = sim.planning_id(RENEWAL, "3.4")
    sim.set_state(RENEWAL, planning, "available", slots=future_slots(0))
    path = write_config(
        [{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": [{"planning": planning}]}]
    )
    (row,) = cli("check", "-c", str(path), "--json").json_lines()
    assert row["status"] == "available"
    assert row["calendar"] == f"planning {planning}"


def test_calendar_missing_from_the_booking_is_not_offered_and_says_what_exists(
    sim, write_config, cli
):
    path = write_config([{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["5.1"]}])
    (row,) = cli("check", "-c", str(path), "--json").json_lines()
    assert row["status"] == "not_offered"
    assert "5.1 is not offered by this booking" in row["detail"]
    assert "Calendrier 3.2" in row["detail"]
    assert str(path) in row["detail"], "the detail names the file to fix"


def test_latin1_booking_and_typographic_full_message(sim, write_config, cli):
    sim.set_state(RENEWAL, "3.1", "full", apostrophe="’")
    sim.set_state(RENEWAL, "3.2", "full", typo=True)
    path = write_config(
        [{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["3.1", "3.2"]}]
    )
    rows = cli("check", "-c", str(path), "--json").json_lines()
    assert [r["status"] for r in rows] == ["full", "full"]


def test_session_expiring_mid_check_is_reestablished(sim: SimPrefecture, write_config):
    """The site forgets our session between two calendars: the next one is still right."""
    config = load_config(
        write_config(
            [{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": RENEWAL_CALENDARS}]
        )
    )
    sim.set_state(RENEWAL, "3.4", "available", slots=future_slots(0, 5))

    async def run() -> list:
        seen = []
        async with Checker(config) as checker:
            async for obs in checker.check_watch(config.watches[0]):
                seen.append(obs)
                if obs.calendar == "3.2":
                    sim.expire_sessions()
        return seen

    observations = asyncio.run(run())
    assert [o.status for o in observations] == [Status.FULL] * 3 + [Status.AVAILABLE]
    assert len(observations[3].slots) == 2
    landing_visits = [p for m, p, _ in sim.request_log if m == "POST" and p.endswith("/29396")]
    assert len(landing_visits) == 2, "conditions accepted once at start, once after expiry"


def test_steady_state_uses_the_warm_session(sim, write_config):
    config = load_config(
        write_config([{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}])
    )

    async def run() -> tuple[int, int]:
        async with Checker(config) as checker:
            watch = config.watches[0]
            _ = [o async for o in checker.check_watch(watch)]
            first = checker.requests_made
            _ = [o async for o in checker.check_watch(watch)]
            return first, checker.requests_made - first

    first, steady = asyncio.run(run())
    assert steady < first
    assert steady <= 2


def test_a_watch_whose_url_changed_gets_a_new_session_and_the_old_one_is_closed(sim, write_config):
    config = load_config(
        write_config([{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}])
    )

    async def run() -> tuple:
        async with Checker(config) as checker:
            watch = config.watches[0]
            _ = [o async for o in checker.check_watch(watch)]
            old = await checker.adapter(watch)
            before = checker.requests_made
            moved = watch.model_copy(update={"url": sim.booking_url(INDEX_PHP)})
            rows = [o async for o in checker.check_watch(moved)]
            new = await checker.adapter(moved)
            return old, new, rows, before, checker.requests_made

    old, new, rows, before, after = asyncio.run(run())
    assert old.fetcher.closed, "the old session's connections are closed, not leaked"
    assert new is not old and new.url == sim.booking_url(INDEX_PHP)
    assert [r.status for r in rows] == [Status.FULL]
    assert after > before, "requests of the retired session still count"


def test_check_with_unknown_watch_name_is_a_usage_error(sim, renewal_config, cli):
    result = cli("check", "-c", str(renewal_config), "--watch", "Nope")
    assert result.code == 2
    assert "Nope" in result.err and "Renouvellement" in result.err
    assert "Traceback" not in result.err


def test_check_with_missing_config_is_a_usage_error(tmp_path, cli):
    result = cli("check", "-c", str(tmp_path / "absent.toml"))
    assert result.code == 2
    assert "absent.toml" in result.err
    assert "Traceback" not in result.err


def test_discover_lists_calendars_and_single_counter(sim, cli):
    result = cli("discover", sim.booking_url(RENEWAL))
    assert result.code == 0, result.err
    assert "offers 10 calendars" in result.out
    assert f"planning {sim.planning_id(RENEWAL, '3.2')}" in result.out
    assert "Calendrier 3.2" in result.out

    result = cli("discover", sim.booking_url(SINGLE))
    assert result.code == 0, result.err
    assert "single calendar" in result.out


def test_discover_rejects_a_url_no_adapter_knows(cli):
    result = cli("discover", "https://example.org/contact")
    assert result.code == 2
    assert "/booking/create/" in result.err


# ── the Préfecture de police host runs the same module ──────────────────────

PPRDV = "https://pprdv.interieur.gouv.fr/booking/create/948"


@pytest.mark.parametrize(
    "url", [PPRDV, PPRDV + "/0", PPRDV + "/1", "http://pprdv.interieur.gouv.fr/booking/create/948/"]
)
def test_prefecture_de_police_host_is_the_booking_module(url: str) -> None:
    assert adapter_for(url) is EzBookingAdapter


def test_a_config_watching_the_prefecture_de_police_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[[watch]]\nname = "Préfecture de police"\nurl = "{PPRDV}"\n', "utf-8")
    path.chmod(0o600)
    (watch,) = load_config(path).watches
    assert watch.url == PPRDV
