"""The pure transition rules: observations → calendar state, episodes and event drafts.

No database here: :func:`monitor.transitions.advance` is a function of its
arguments, so every rule of the issue is checked on plain sequences.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.events import KINDS, Event, EventDraft, dedup_key, get_kind
from monitor.observation import Observation, Status
from monitor.transitions import (
    CalendarState,
    CloseEpisode,
    EpisodeKind,
    OpenEpisode,
    Transition,
    UpdateEpisode,
    advance,
    page_file_name,
    slug,
)

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 12, 7, 7, 0, 14, tzinfo=UTC)  # Monday 7 Dec 2026, 08:00:14 in Paris
URL = "https://www.haute-savoie.gouv.fr/booking/create/29396"
TROUBLE_AFTER = 900.0

F, A, D, U, B, C = (
    Status.FULL,
    Status.AVAILABLE,
    Status.DOWN,
    Status.UNKNOWN,
    Status.BLOCKED,
    Status.CAPTCHA,
)


def slot(day: int, hour: int) -> datetime:
    """A slot time given in Paris local time, as the classifier gives it (UTC)."""
    return datetime(2026, 12, day, hour, 0, tzinfo=PARIS).astimezone(UTC)


SLOTS = (slot(8, 9), slot(8, 10), slot(9, 14))


def obs(
    minute: float,
    status: Status,
    *,
    calendar: str = "3.2",
    slots: tuple[datetime, ...] | None = None,
    slot_count: int | None = None,
    page: bytes | None = None,
    detail: str | None = None,
    http_status: int | None = None,
    label: str | None = "Renouvellement de titre de séjour - calendrier 3.2",
) -> Observation:
    """One observation ``minute`` minutes after T0 (available ones get slots by default)."""
    if status is A and slots is None:
        slots = SLOTS
        slot_count = len(SLOTS) if slot_count is None else slot_count
    if status is U and page is None:
        page = b"<html><body>Nouveau site</body></html>"
    return Observation(
        watch="Renouvellement",
        calendar=calendar,
        status=status,
        url=URL,
        detail=detail or f"{status.value} page",
        checked_at=T0 + timedelta(minutes=minute),
        elapsed_ms=420,
        http_status=http_status,
        planning_id="24980",
        label=label,
        slots=slots or (),
        slot_count=slot_count,
        page=page,
    )


def run(
    observations: Sequence[Observation],
    *,
    state: CalendarState | None = None,
    trouble_after: float = TROUBLE_AFTER,
) -> tuple[CalendarState | None, list[Transition]]:
    """Feed observations one by one; return the final state and every transition."""
    transitions = []
    for o in observations:
        transition = advance(state, o, trouble_after=trouble_after)
        transitions.append(transition)
        state = transition.state
    return state, transitions


def every(transitions: Sequence[Transition]) -> list[EventDraft]:
    return [e for t in transitions for e in t.events]


def kinds(transitions: Sequence[Transition]) -> list[str]:
    return [e.kind for e in every(transitions)]


def statuses(seq: str, step: float = 5) -> list[Observation]:
    """``"FADAF"`` → observations every ``step`` minutes with those statuses."""
    letters = {"F": F, "A": A, "D": D, "U": U, "B": B, "C": C}
    return [obs(i * step, letters[ch]) for i, ch in enumerate(seq)]


# --------------------------------------------------------------------------- availability


def test_one_episode_across_a_down_check() -> None:
    state, ts = run(statuses("FADAF"))
    assert kinds(ts) == ["slot_opened", "slot_gone"]
    assert ts[1].kinds == ("slot_opened",)
    assert ts[4].kinds == ("slot_gone",)
    opens = [op for t in ts for op in t.ops if isinstance(op, OpenEpisode)]
    closes = [op for t in ts for op in t.ops if isinstance(op, CloseEpisode)]
    assert [op.kind for op in opens] == [EpisodeKind.AVAILABILITY, EpisodeKind.TROUBLE]
    assert [op.kind for op in closes] == [EpisodeKind.TROUBLE, EpisodeKind.AVAILABILITY]
    # the down check did not close the availability episode
    assert ts[2].state.availability is not None
    assert ts[2].state.availability.opened_at == T0 + timedelta(minutes=5)
    assert state is not None and state.availability is None and state.trouble is None
    # both events belong to the same episode: same anchor in the key
    opened, gone = every(ts)
    assert json.loads(opened.dedup_key)[3] == json.loads(gone.dedup_key)[3]
    assert opened.episode == gone.episode == "availability"


def test_available_at_the_very_first_check() -> None:
    state, ts = run([obs(0, A)])
    assert kinds(ts) == ["slot_opened"]
    assert state is not None and state.availability is not None
    assert state.availability.opened_at == T0
    assert state.since == T0 and state.last_good == T0


def test_full_then_full_is_silent() -> None:
    state, ts = run(statuses("FFF"))
    assert kinds(ts) == []
    assert all(not t.ops for t in ts)
    assert (
        state is not None and state.since == T0 and state.last_check == T0 + timedelta(minutes=10)
    )


def test_more_slots_within_an_episode_update_it_without_a_new_alert() -> None:
    more = (*SLOTS, slot(10, 9))
    state, ts = run([obs(0, A), obs(5, A, slots=more, slot_count=4), obs(10, A, slots=more)])
    assert kinds(ts) == ["slot_opened"]
    updates = [op for op in ts[1].ops if isinstance(op, UpdateEpisode)]
    assert len(updates) == 1 and updates[0].slots == more and updates[0].slot_count == 4
    assert state is not None and state.availability is not None
    assert state.availability.slots == more
    assert state.availability.seen_at == T0 + timedelta(minutes=10)
    # slot_gone reports the latest slots of the episode
    _, more_ts = run([obs(15, F)], state=state)
    gone = more_ts[0].events[0]
    assert gone.payload["slot_count"] == 4
    assert gone.payload["slots"][-1] == slot(10, 9).isoformat()
    assert gone.payload["last_seen_at"] == (T0 + timedelta(minutes=10)).isoformat()


def test_unchanged_slots_need_no_episode_update() -> None:
    _, ts = run([obs(0, A), obs(5, A)])
    assert ts[1].ops == ()


def test_unknown_does_not_close_an_availability_episode() -> None:
    state, ts = run(statuses("AUUA"))
    assert kinds(ts) == ["slot_opened", "layout_changed"]
    assert state is not None and state.availability is not None
    assert state.availability.opened_at == T0
    _, after = run([obs(20, F)], state=state)
    assert after[0].kinds == ("slot_gone",)


@pytest.mark.parametrize("bad", [D, U, B, C])
def test_no_bad_status_ever_opens_an_episode(bad: Status) -> None:
    _, ts = run([obs(0, F), obs(5, bad), obs(10, F)])
    assert "slot_opened" not in kinds(ts)
    assert all(
        op.kind is EpisodeKind.TROUBLE for t in ts for op in t.ops if isinstance(op, OpenEpisode)
    )


def test_two_episodes_have_distinct_keys() -> None:
    _, ts = run(statuses("AFAF"))
    drafts = every(ts)
    assert [d.kind for d in drafts] == ["slot_opened", "slot_gone", "slot_opened", "slot_gone"]
    assert len({d.dedup_key for d in drafts}) == 4


def test_slot_count_falls_back_to_the_listed_slots() -> None:
    _, ts = run([obs(0, A, slots=SLOTS[:2], slot_count=None)])
    assert ts[0].events[0].payload["slot_count"] == 2
    # a step-3 page proves slots exist but lists none: the count stays unknown
    _, ts = run([obs(0, A, slots=(), slot_count=None)])
    payload = ts[0].events[0].payload
    assert (
        payload["slot_count"] is None and payload["slots"] == [] and payload["first_slot"] is None
    )


# --------------------------------------------------------------------------- trouble


def test_short_trouble_is_silent() -> None:
    state, ts = run(statuses("FDDDF"))  # down for 10 minutes < 15
    assert kinds(ts) == []
    ops = [op for t in ts for op in t.ops]
    assert isinstance(ops[0], OpenEpisode) and ops[0].kind is EpisodeKind.TROUBLE
    assert isinstance(ops[-1], CloseEpisode) and ops[-1].kind is EpisodeKind.TROUBLE
    assert state is not None and state.trouble is None


def test_long_trouble_then_recovered() -> None:
    state, ts = run(statuses("FDDDDDF"))  # first down at +5, threshold reached at +20
    assert kinds(ts) == ["trouble", "recovered"]
    assert ts[4].kinds == ("trouble",)
    assert ts[6].kinds == ("recovered",)
    trouble, recovered = every(ts)
    assert trouble.payload["since"] == (T0 + timedelta(minutes=5)).isoformat()
    assert trouble.payload["duration_s"] == 900
    assert trouble.payload["bad_checks"] == 4
    assert trouble.payload["last_good"] == T0.isoformat()
    assert recovered.payload["status"] == "full"
    assert recovered.payload["trouble_status"] == "down"
    assert recovered.payload["duration_s"] == 1500
    assert trouble.episode == recovered.episode == "trouble"
    assert state is not None and state.trouble is None


def test_trouble_threshold_is_inclusive_and_zero_means_at_once() -> None:
    _, ts = run([obs(0, D), obs(15, D)])
    assert ts[1].kinds == ("trouble",)
    _, ts = run([obs(0, D)], trouble_after=0)
    assert ts[0].kinds == ("trouble",)


def test_trouble_written_once_whatever_the_bad_statuses() -> None:
    seq = [obs(0, F)] + [obs(5 * i, s) for i, s in enumerate([D, D, B, B, C, D, B, D, D], 1)]
    state, ts = run(seq)
    assert kinds(ts) == ["trouble"]
    assert state is not None and state.trouble is not None
    assert state.trouble.first_status is D and state.trouble.status is D
    assert state.trouble.bad_checks == 9 and state.trouble.notified
    # the trouble episode follows the latest bad status
    updates = [op for t in ts for op in t.ops if isinstance(op, UpdateEpisode)]
    assert [u.status for u in updates] == [B, C, D, B, D]


def test_a_new_trouble_run_is_reported_again() -> None:
    _, ts = run(statuses("DDDDFDDDDF"))
    assert kinds(ts) == ["trouble", "recovered", "trouble", "recovered"]
    assert len({d.dedup_key for d in every(ts)}) == 4


def test_short_trouble_after_a_reported_one_is_silent() -> None:
    _, ts = run(statuses("DDDDFDF"))
    assert kinds(ts) == ["trouble", "recovered"]


def test_first_check_ever_bad_starts_a_run() -> None:
    state, ts = run([obs(0, B)])
    assert kinds(ts) == []
    assert state is not None and state.trouble is not None and state.trouble.since == T0
    assert state.last_good is None


def test_trouble_does_not_touch_an_open_availability_episode() -> None:
    state, ts = run(statuses("ADDDDDA"))
    assert kinds(ts) == ["slot_opened", "trouble", "recovered"]
    assert state is not None and state.availability is not None
    assert state.availability.opened_at == T0


def test_recovery_into_available_reports_both() -> None:
    _, ts = run(statuses("FDDDDDA"))
    assert ts[-1].kinds == ("recovered", "slot_opened")
    assert ts[-1].events[0].payload["status"] == "available"


# --------------------------------------------------------------------------- layout changed


def test_layout_changed_once_per_trouble_run() -> None:
    _, ts = run(statuses("FUUDUFUU"), trouble_after=3600)
    assert kinds(ts) == ["layout_changed", "layout_changed"]
    assert ts[1].kinds == ("layout_changed",) and ts[6].kinds == ("layout_changed",)
    assert ts[1].page_file is not None and ts[2].page_file is None


def test_layout_changed_at_the_first_unknown_of_a_run_started_by_down() -> None:
    _, ts = run(statuses("FDDU"))
    assert ts[3].kinds == ("layout_changed",)
    payload = ts[3].events[0].payload
    assert payload["since"] == (T0 + timedelta(minutes=5)).isoformat()
    assert payload["page_file"] == ts[3].page_file
    assert payload["page_size"] == len(b"<html><body>Nouveau site</body></html>")


def test_layout_changed_and_trouble_on_the_same_check() -> None:
    _, ts = run([obs(0, D), obs(15, U)])
    assert ts[1].kinds == ("layout_changed", "trouble")
    assert ts[1].state.trouble is not None and ts[1].state.trouble.layout_notified


def test_unknown_without_a_page_names_no_file() -> None:
    o = Observation(
        watch="w",
        calendar="",
        status=U,
        url=URL,
        detail="redirect loop",
        checked_at=T0,
        elapsed_ms=1,
    )
    t = advance(None, o, trouble_after=TROUBLE_AFTER)
    assert t.kinds == ("layout_changed",)
    assert t.page_file is None and t.events[0].payload["page_file"] is None


def test_page_file_name() -> None:
    name = page_file_name("Renouvellement (séjour)", "3.2", T0)
    assert name == "20261207T070014Z-renouvellement-sejour-3-2.html"
    paris = T0.astimezone(PARIS)
    assert page_file_name("Renouvellement (séjour)", "3.2", paris) == name
    assert page_file_name("Premier titre", "", T0) == "20261207T070014Z-premier-titre.html"
    assert page_file_name("日本", "", T0) == "20261207T070014Z-watch.html"
    assert slug("../../etc/passwd") == "etc-passwd"
    assert len(slug("x" * 500)) == 48


# --------------------------------------------------------------------------- state details


def test_since_moves_only_when_the_status_changes() -> None:
    _, ts = run(statuses("FFDDBF"))
    assert [t.state.since for t in ts] == [
        T0,
        T0,
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=20),
        T0 + timedelta(minutes=25),
    ]


def test_last_slot_seen_survives_the_episode() -> None:
    state, _ = run(statuses("FAF"))
    assert state is not None
    assert state.last_available == T0 + timedelta(minutes=5)
    assert state.last_first_slot == SLOTS[0] and state.last_slot_count == 3


def test_label_is_kept_when_a_check_did_not_reach_the_calendar() -> None:
    state, ts = run([obs(0, F), obs(5, D, label=None), obs(10, A, label=None)])
    assert state is not None and state.label == "Renouvellement de titre de séjour - calendrier 3.2"
    assert ts[2].events[0].payload["label"] == state.label


def test_times_are_normalised_to_utc() -> None:
    local = Observation(
        watch="w",
        calendar="1",
        status=F,
        url=URL,
        detail="",
        checked_at=T0.astimezone(PARIS),
        elapsed_ms=1,
    )
    t = advance(None, local, trouble_after=TROUBLE_AFTER)
    assert t.state.last_check == T0 and t.state.last_check.tzinfo is UTC


def test_refuses_naive_times_and_foreign_states() -> None:
    naive = Observation(
        watch="w",
        calendar="1",
        status=F,
        url=URL,
        detail="",
        checked_at=datetime(2026, 1, 1),
        elapsed_ms=1,
    )
    with pytest.raises(ValueError, match="aware"):
        advance(None, naive, trouble_after=TROUBLE_AFTER)
    state, _ = run([obs(0, F, calendar="3.1")])
    with pytest.raises(ValueError, match="state of"):
        advance(state, obs(5, F, calendar="3.2"), trouble_after=TROUBLE_AFTER)


# --------------------------------------------------------------------------- idempotence


def test_an_older_observation_is_stale_and_changes_nothing() -> None:
    state, _ = run(statuses("FAF"))
    t = advance(state, obs(5, A), trouble_after=TROUBLE_AFTER)
    assert t.stale and t.state is state and t.events == () and t.ops == ()


@pytest.mark.parametrize("seq", ["FADAF", "FDDDDDF", "FUUDUFUU", "AFAF", "DDDDDA"])
def test_replaying_each_observation_writes_nothing_more(seq: str) -> None:
    state: CalendarState | None = None
    for o in statuses(seq):
        first = advance(state, o, trouble_after=TROUBLE_AFTER)
        again = advance(first.state, o, trouble_after=TROUBLE_AFTER)
        assert again.events == ()
        assert not any(isinstance(op, OpenEpisode | CloseEpisode) for op in again.ops)
        state = first.state


def test_same_observation_gives_the_same_keys() -> None:
    a = advance(None, obs(0, A), trouble_after=TROUBLE_AFTER)
    b = advance(None, obs(0, A), trouble_after=TROUBLE_AFTER)
    assert a.events[0].dedup_key == b.events[0].dedup_key
    # the key does not depend on the time zone the clock used
    paris = Observation(**{**_fields(obs(0, A)), "checked_at": T0.astimezone(PARIS)})
    c = advance(None, paris, trouble_after=TROUBLE_AFTER)
    assert c.events[0].dedup_key == a.events[0].dedup_key


def _fields(o: Observation) -> dict[str, object]:
    return {name: getattr(o, name) for name in Observation.__dataclass_fields__}


def test_dedup_key_is_unambiguous() -> None:
    assert dedup_key("trouble", "a|b", "", T0) != dedup_key("trouble", "a", "b|", T0)
    assert json.loads(dedup_key("trouble", "a", "3.1", T0)) == [
        "trouble",
        "a",
        "3.1",
        T0.isoformat(),
    ]


letters = st.sampled_from([F, A, D, U, B, C])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(letters, st.integers(1, 20)), min_size=1, max_size=40))
def test_invariants_over_any_sequence(steps: list[tuple[Status, int]]) -> None:
    """Episodes alternate, one trouble per run, nothing but ``available`` opens an episode."""
    state: CalendarState | None = None
    minute = 0
    open_availability = False
    run_reported = False
    in_run = False
    seen_keys: set[str] = set()
    for status, gap in steps:
        minute += gap
        o = obs(minute, status)
        t = advance(state, o, trouble_after=TROUBLE_AFTER)
        again = advance(t.state, o, trouble_after=TROUBLE_AFTER)
        assert again.events == ()
        for draft in t.events:
            assert draft.dedup_key not in seen_keys
            seen_keys.add(draft.dedup_key)
            if draft.kind == "slot_opened":
                assert status is A and not open_availability
                open_availability = True
            elif draft.kind == "slot_gone":
                assert status is F and open_availability
                open_availability = False
            elif draft.kind == "trouble":
                assert status.is_trouble and not run_reported
                run_reported = True
            elif draft.kind == "recovered":
                assert not status.is_trouble and run_reported
            _check_payload(draft)
        if status.is_trouble:
            in_run = True
        elif in_run:
            in_run = run_reported = False
        state = t.state
        assert (state.availability is not None) == open_availability
        assert (state.trouble is not None) == status.is_trouble


# --------------------------------------------------------------------------- payloads


def _check_payload(draft: EventDraft) -> None:
    missing = set(get_kind(draft.kind).fields) - set(draft.payload)
    assert not missing, f"{draft.kind} payload lacks {missing}"
    json.dumps(draft.payload)  # JSON-serialisable


def test_every_payload_honours_its_kind() -> None:
    _, ts = run(statuses("FADDUDDDAFA"))
    drafts = every(ts)
    assert {d.kind for d in drafts} == {
        "slot_opened",
        "slot_gone",
        "trouble",
        "recovered",
        "layout_changed",
    }
    for draft in drafts:
        _check_payload(draft)
        assert draft.created_at.tzinfo is UTC


def _local(payload_time: str) -> datetime:
    return datetime.fromisoformat(payload_time).astimezone(PARIS)


def test_a_slot_message_can_be_written_from_the_payload_alone() -> None:
    t = advance(None, obs(0, A), trouble_after=TROUBLE_AFTER)
    p = t.events[0].payload
    first = _local(p["first_slot"])
    message = (
        f"{p['slot_count']} slots on calendar {p['calendar']} from "
        f"{first:%a} {first.day} {first:%b %H:%M}, seen at {_local(p['seen_at']):%H:%M:%S}, "
        f"book at {p['url']}"
    )
    assert (
        message == f"3 slots on calendar 3.2 from Tue 8 Dec 09:00, seen at 08:00:14, book at {URL}"
    )
    assert p["watch"] == "Renouvellement" and p["label"].endswith("3.2")
    assert p["slots"] == [s.isoformat() for s in SLOTS]


def test_a_trouble_message_can_be_written_from_the_payload_alone() -> None:
    seq = [obs(0, F), obs(42, D, detail="HAProxy 503", http_status=503)]
    seq += [obs(42 + 5 * i, D, detail="HAProxy 503", http_status=503) for i in range(1, 4)]
    _, ts = run(seq)
    (trouble,) = every(ts)
    p = trouble.payload
    message = f"site {p['status']} since {_local(p['since']):%H:%M} ({p['detail']})"
    assert message == "site down since 08:42 (HAProxy 503)"
    assert p["http_status"] == 503 and p["first_status"] == "down"


def test_event_from_draft() -> None:
    draft = advance(None, obs(0, A), trouble_after=TROUBLE_AFTER).events[0]
    event = draft.to_event(id=7, episode_id=3)
    assert isinstance(event, Event)
    assert (event.id, event.episode_id, event.kind, event.calendar) == (7, 3, "slot_opened", "3.2")
    assert event.time("seen_at") == T0
    assert event.time("nope") is None
    assert json.loads(event.payload_json()) == draft.payload


# --------------------------------------------------------------------------- kinds


def test_every_kind_emitted_by_advance_is_registered_and_selectable() -> None:
    emitted = {"slot_opened", "slot_gone", "trouble", "recovered", "layout_changed"}
    assert emitted <= set(KINDS)
    assert all(KINDS[name].selectable and KINDS[name].fields for name in emitted)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(KeyError, match="known: slot_opened"):
        get_kind("slot_open")
    with pytest.raises(KeyError):
        Event(None, "nope", "w", "", T0, None, "k", {})
