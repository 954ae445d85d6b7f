"""The simulated prefecture behaves like the real booking module, over real HTTP.

These tests pin down what a client relies on: cookies, redirects and their
``Location``, the per-session form token, the step pages and their markup,
every error variant's status and body, session expiry, and that slow,
truncated and endless answers never hang or crash the server.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.page import decode_body, squash
from monitor.sites.ezbooking.sim import PARIS, Booking, Planning, SimPrefecture, default_bookings
from monitor.sites.ezbooking.sim.model import monday_of
from tests.daemon_harness import wait_for

FULL_SQUASHED = squash(
    "Il n'existe plus de plage horaire libre pour votre demande de rendez-vous. "
    "Veuillez recommencer ultérieurement."
)
TODAY = date(2026, 11, 23)  # a Monday; slots below are in the following weeks


def slot(days: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(TODAY + timedelta(days=days), dtime(hour, minute), PARIS)


# ── fixtures and helpers ─────────────────────────────────────────────────────


@pytest.fixture
def sim() -> Iterator[SimPrefecture]:
    with SimPrefecture(today=TODAY) as running:
        yield running
        assert running.errors == []


@pytest.fixture
def client(sim: SimPrefecture) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=5, trust_env=False) as c:
        yield c


def tree(response: httpx.Response) -> LexborHTMLParser:
    return LexborHTMLParser(response.text)


def one(node: LexborHTMLParser | LexborNode, selector: str) -> LexborNode:
    found = node.css_first(selector)
    assert found is not None, f"nothing matches {selector}"
    return found


def token_of(response: httpx.Response) -> str:
    node = tree(response).css_first('form#FormBookingCreate input[name="ezxform_token"]')
    assert node is not None, "every booking form carries the ezxform_token"
    return node.attributes["value"] or ""


def h2(response: httpx.Response) -> str:
    node = tree(response).css_first("#inner_Booking h2")
    return node.text(strip=True) if node else ""


def text(response: httpx.Response) -> str:
    return squash(one(tree(response), "body").text(separator=" "))


def enter(client: httpx.Client, sim: SimPrefecture, booking: int) -> tuple[str, httpx.Response]:
    """Open the landing page and accept the conditions; returns the token and the 302."""
    landing = client.get(sim.booking_url(booking))
    token = token_of(landing)
    action = one(tree(landing), "form#FormBookingCreate").attributes["action"] or ""
    answer = client.post(
        action,
        data={
            "ezxform_token": token,
            "condition": "on",
            "nextButton": "Effectuer une demande de rendez-vous",
        },
    )
    return token, answer


def choose(
    client: httpx.Client, sim: SimPrefecture, booking: int, calendar: str, token: str
) -> httpx.Response:
    """POST step 1 for a calendar, as a browser would."""
    return client.post(
        f"/booking/create/{booking}/1",
        data={
            "ezxform_token": token,
            "planning": str(sim.planning_id(booking, calendar)),
            "nextButton": "Etape suivante",
        },
    )


# ── landing page, cookies, token ─────────────────────────────────────────────


def test_landing_page_markup_and_cookies(sim: SimPrefecture, client: httpx.Client) -> None:
    r = client.get(sim.booking_url(29396))
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "no-store" in r.headers["cache-control"]
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("eZSESSID="))
    assert re.fullmatch(r"eZSESSID=[0-9a-f]{32}; path=/; HttpOnly", session)
    assert any(c.startswith("xtvrn=") for c in cookies), "an analytics cookie too"

    page = tree(r)
    form = one(page, "form#FormBookingCreate")
    assert form is not None
    assert form.attributes["name"] == "create"
    assert form.attributes["method"] == "post"
    assert form.attributes["action"] == "/booking/create/29396"
    assert one(page, "#inner_Booking h2").text(strip=True) == "Accueil des étrangers"
    assert page.css_first("#condition_Booking input#condition.condition[name=condition]")
    button = one(page, "div#submit_Booking input.Bbutton[name=nextButton]")
    assert button.attributes["value"] == "Effectuer une demande de rendez-vous"
    assert one(page, 'meta[name="csrf-token"]').attributes["content"] == token_of(r)
    assert one(page, "meta[charset]").attributes["charset"] == "utf-8"
    assert page.css_first("footer a[href]") is not None


def test_landing_with_zero_suffix_and_home_page(sim: SimPrefecture, client: httpx.Client) -> None:
    assert client.get("/booking/create/29396/0").status_code == 200
    home = client.get("/")
    assert home.status_code == 200
    assert "/index.php/booking/create/9845/0" in home.text
    assert client.get("/nowhere").status_code == 404
    assert client.get("/booking/create/1").status_code == 404


def test_conditions_redirect_to_step_1_with_an_absolute_url(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    _, r = enter(client, sim, 29396)
    assert r.status_code == 302
    assert r.headers["location"] == f"{sim.base_url}/booking/create/29396/1"


@pytest.mark.parametrize(
    "drop, error",
    [
        ("ezxform_token", "formulaire"),
        ("condition", "conditions"),
    ],
)
def test_landing_post_is_refused_without_token_or_condition(
    sim: SimPrefecture, client: httpx.Client, drop: str, error: str
) -> None:
    token = token_of(client.get(sim.booking_url(29396)))
    data = {"ezxform_token": token, "condition": "on", "nextButton": "Effectuer"}
    del data[drop]
    r = client.post("/booking/create/29396", data=data)
    assert r.status_code == 200
    assert tree(r).css_first("input#condition") is not None, "the landing page again"
    assert error in one(tree(r), ".Berror").text()


def test_wrong_token_and_missing_button_are_refused(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    token = token_of(client.get(sim.booking_url(29396)))
    bad = client.post(
        "/booking/create/29396",
        data={"ezxform_token": "0" * 40, "condition": "on", "nextButton": "x"},
    )
    assert bad.status_code == 200 and tree(bad).css_first(".Berror") is not None
    no_button = client.post(
        "/booking/create/29396", data={"ezxform_token": token, "condition": "on"}
    )
    assert no_button.status_code == 200 and tree(no_button).css_first("input#condition")


def test_post_without_session_gets_a_new_session_and_an_error(sim: SimPrefecture) -> None:
    with httpx.Client(base_url=sim.base_url, trust_env=False) as fresh:
        r = fresh.post(
            "/booking/create/29396",
            data={"ezxform_token": "x", "condition": "on", "nextButton": "x"},
        )
    assert r.status_code == 200
    assert "eZSESSID" in r.headers["set-cookie"]
    assert tree(r).css_first(".Berror") is not None


# ── step 1 ───────────────────────────────────────────────────────────────────


def test_step_1_offers_every_calendar_by_label(sim: SimPrefecture, client: httpx.Client) -> None:
    enter(client, sim, 29396)
    r = client.get("/booking/create/29396/1")
    assert r.status_code == 200
    assert h2(r) == "Choix de la nature du rendez-vous"
    page = tree(r)
    radios = page.css(
        "form#FormBookingCreate fieldset#fchoix_Booking > p.Bligne > "
        "input.radio[type=radio][name=planning]"
    )
    labels = {}
    for radio in radios:
        value = radio.attributes["value"] or ""
        assert radio.attributes["id"] == f"planning{value}"
        labels[value] = one(page, f'label[for="planning{value}"]').text(strip=True)
    tokens = ["1.1", "1.2", "1.3", "2", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2"]
    assert len(labels) == len(tokens)
    for token in tokens:
        assert labels[str(sim.planning_id(29396, token))].startswith(f"Calendrier {token} - ")
    assert "VLS-TS" in labels[str(sim.planning_id(29396, "3.1"))]
    button = one(page, "div#submit_Booking input[name=nextButton]")
    assert button.attributes["value"] == "Etape suivante"


def test_step_1_refuses_an_unknown_planning(sim: SimPrefecture, client: httpx.Client) -> None:
    token, _ = enter(client, sim, 29396)
    r = client.post(
        "/booking/create/29396/1",
        data={"ezxform_token": token, "planning": "99999", "nextButton": "Etape suivante"},
    )
    assert r.status_code == 200
    assert h2(r) == "Choix de la nature du rendez-vous"
    assert tree(r).css_first(".Berror") is not None


# ── full and available ───────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "options, expected",
    [
        ({}, "Il n'existe plus de plage horaire libre pour votre demande de rendez-vous."),
        ({"apostrophe": "’"}, "Il n’existe plus de plage horaire libre pour votre demande"),
        ({"typo": True}, "Il n'existe plus de plage horaire libre pour votre a demande de"),
    ],
)
def test_full_calendar(
    sim: SimPrefecture, client: httpx.Client, options: dict[str, object], expected: str
) -> None:
    sim.set_state(29396, "3.1", "full", **options)  # type: ignore[arg-type]
    token, _ = enter(client, sim, 29396)
    r = choose(client, sim, 29396, "3.1", token)
    assert r.status_code == 302
    assert r.headers["location"] == "/booking/create/29396/2"
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert h2(page) == "Vérification de disponibilité"
    form_text = " ".join(one(tree(page), "form#FormBookingCreate").text().split())
    assert form_text.startswith(expected)
    if not options:
        assert FULL_SQUASHED in text(page)
        # Byte for byte the line of the real Essonne page: raw ', one line, final period.
        assert (
            "Il n'existe plus de plage horaire libre pour votre demande de rendez-vous. "
            "Veuillez recommencer ultérieurement.\n"
        ) in page.text
    finish = one(tree(page), "div#submit_Booking input[name=finishButton]")
    assert finish.attributes["value"] == "Terminer"
    assert "/5/" not in page.text


def test_available_calendar_walks_to_the_week_table(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    slots = [slot(15, 9, 30), slot(15, 14), slot(18, 10)]  # Tuesday, Tuesday, Friday
    sim.set_state(29396, "3.2", "available", slots=slots)
    token, _ = enter(client, sim, 29396)
    r = choose(client, sim, 29396, "3.2", token)
    assert (r.status_code, r.headers["location"]) == (302, "/booking/create/29396/3")
    step3 = client.get("/booking/create/29396/3")
    assert h2(step3) == "Description de la nature du rendez-vous"
    assert "Calendrier 3.2" in step3.text
    r = client.post(
        "/booking/create/29396/3",
        data={"ezxform_token": token_of(step3), "nextButton": "Etape suivante"},
    )
    assert (r.status_code, r.headers["location"]) == (302, "/booking/create/29396/4")
    step4 = client.get("/booking/create/29396/4")
    assert h2(step4) == "Choix d'une plage horaire"
    page = tree(step4)
    links = [
        a.attributes["href"] or "" for a in page.css("#planning_Booking table td.status-1.free a")
    ]
    assert sorted(links) == sorted(f"/booking/create/29396/5/{int(s.timestamp())}" for s in slots)
    assert all(
        a.text(strip=True) == "plage libre"
        for a in page.css("#planning_Booking table td.status-1.free a")
    )
    assert len(page.css("table td.complete")) > 10
    assert all(td.text(strip=True) == "complet" for td in page.css("table td.complete"))
    headers = [th.text(strip=True) for th in page.css("table thead tr:nth-child(2) th")]
    assert headers[1:] == [
        "Lundi07/12",
        "Mardi08/12",
        "Mercredi09/12",
        "Jeudi10/12",
        "Vendredi11/12",
        "Samedi12/12",
    ]
    assert "Du lundi 7 décembre 2026 au samedi 12 décembre 2026" in step4.text
    assert page.css_first("th[colspan='7']") is not None
    legend = one(page, "#caption_Booking").text()
    assert "libre" in legend, "the legend says libre too: count cells, not words"
    next_week = one(page, "#planning_Booking a.link.next").attributes["href"]
    assert next_week == (
        "/ezjscore/call/bookingserver::planning::assign::29396::"
        f"{sim.planning_id(29396, '3.2')}::21"
    )
    assert sim.booking_attempts == 0


def test_step_4_without_step_3_goes_back_to_step_3(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    sim.set_state(29396, "3.2", "available", slots=[slot(8, 9)])
    token, _ = enter(client, sim, 29396)
    choose(client, sim, 29396, "3.2", token)
    r = client.get("/booking/create/29396/4")
    assert (r.status_code, r.headers["location"]) == (302, "/booking/create/29396/3")


def test_previous_button_on_step_3_goes_back(sim: SimPrefecture, client: httpx.Client) -> None:
    sim.set_state(29396, "3.2", "available", slots=[slot(8, 9)])
    token, _ = enter(client, sim, 29396)
    choose(client, sim, 29396, "3.2", token)
    r = client.post(
        "/booking/create/29396/3",
        data={"ezxform_token": token, "previousButton": "x", "nextButton": "Etape suivante"},
    )
    assert (r.status_code, r.headers["location"]) == (302, "/booking/create/29396/1")


def test_slot_that_fills_up_meanwhile_shows_full(sim: SimPrefecture, client: httpx.Client) -> None:
    sim.set_state(29396, "3.2", "available", slots=[slot(8, 9)])
    token, _ = enter(client, sim, 29396)
    choose(client, sim, 29396, "3.2", token)
    sim.set_state(29396, "3.2", "full")
    r = client.get("/booking/create/29396/3")
    assert (r.status_code, r.headers["location"]) == (302, "/booking/create/29396/2")


def test_following_a_slot_link_is_a_booking_attempt(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    sim.set_state(29396, "3.2", "available", slots=[slot(8, 9)])
    token, _ = enter(client, sim, 29396)
    choose(client, sim, 29396, "3.2", token)
    r = client.get(f"/booking/create/29396/5/{int(slot(8, 9).timestamp())}")
    assert (r.status_code, r.headers["location"]) == (302, "/booking/create/29396/6")
    assert sim.booking_attempts == 1
    assert "eZHumanCAPTCHACode" in client.get("/booking/create/29396/6").text


# ── captcha, blocked, down, closed, maintenance, unknown ─────────────────────


@pytest.mark.parametrize(
    "variant, markers",
    [
        ("ezhuman", ['input[name="eZHumanCAPTCHACode"]', "img#eZHumanCAPTCHAImage"]),
        ("recaptcha", ['textarea[name="g-recaptcha-response"]', "div.g-recaptcha"]),
    ],
)
def test_captcha_variants(
    sim: SimPrefecture, client: httpx.Client, variant: str, markers: list[str]
) -> None:
    sim.set_state(29396, "2", "captcha", variant=variant)
    token, _ = enter(client, sim, 29396)
    r = choose(client, sim, 29396, "2", token)
    assert (r.status_code, r.headers["location"]) == (302, "/booking/create/29396/6")
    page = client.get("/booking/create/29396/6")
    assert page.status_code == 200
    for marker in markers:
        assert tree(page).css_first(marker) is not None, marker
    assert FULL_SQUASHED not in text(page)
    assert sim.booking_attempts == 0


@pytest.mark.parametrize(
    "state, variant, status, body",
    [
        ("blocked", "haproxy_403", 403, "Request forbidden by administrative rules"),
        ("blocked", "forbidden", 403, "<h1>Forbidden</h1>"),
        ("blocked", "429", 429, "429 Too Many Requests"),
        ("down", "haproxy_503", 503, "No server is available to handle this request"),
        ("down", "haproxy_502", 502, "The server returned an invalid or incomplete response."),
        ("down", "bad_gateway", 502, "502 Bad Gateway"),
        ("down", "gateway_timeout", 504, "504 Gateway Time-out"),
        ("down", "500", 500, "eZ Publish did not finish its request"),
    ],
)
def test_front_errors_answer_the_availability_request(
    sim: SimPrefecture, client: httpx.Client, state: str, variant: str, status: int, body: str
) -> None:
    sim.set_state(29396, "3.1", state, variant=variant)
    token, _ = enter(client, sim, 29396)
    r = choose(client, sim, 29396, "3.1", token)
    assert r.status_code == status
    assert body in r.text
    if variant == "429":
        assert r.headers["retry-after"] == "120"
    # other calendars are unaffected
    assert choose(client, sim, 29396, "3.2", token).status_code == 302


def test_retry_after_on_503_and_custom_429(sim: SimPrefecture, client: httpx.Client) -> None:
    sim.set_state(29396, "3.1", "down", retry_after=300)
    sim.set_state(29396, "3.2", "blocked", variant="429", retry_after=5)
    token, _ = enter(client, sim, 29396)
    assert choose(client, sim, 29396, "3.1", token).headers["retry-after"] == "300"
    assert choose(client, sim, 29396, "3.2", token).headers["retry-after"] == "5"


def test_closed_booking_page(sim: SimPrefecture, client: httpx.Client) -> None:
    sim.set_state(29396, "4.1", "closed")
    token, _ = enter(client, sim, 29396)
    r = client.get(choose(client, sim, 29396, "4.1", token).headers["location"])
    assert r.status_code == 200
    assert squash("Attention : Cette page n'est pas disponible pour le moment !") in text(r)
    assert tree(r).css_first("footer") is not None, "in the site's normal layout"


@pytest.mark.parametrize("variant, status", [("200", 200), ("503", 503)])
def test_maintenance_page(
    sim: SimPrefecture, client: httpx.Client, variant: str, status: int
) -> None:
    sim.set_state(29396, "4.2", "maintenance", variant=variant)
    token, _ = enter(client, sim, 29396)
    r = client.get(choose(client, sim, 29396, "4.2", token).headers["location"])
    assert r.status_code == status
    for words in ("site indisponible", "maintenance", "Veuillez réessayer ultérieurement."):
        assert squash(words) in text(r)


def test_unknown_pages_are_neither_full_nor_slots(sim: SimPrefecture, client: httpx.Client) -> None:
    sim.set_state(29396, "1.1", "unknown")
    sim.set_state(29396, "1.2", "unknown", variant="blank")
    token, _ = enter(client, sim, 29396)
    redesign = client.get(choose(client, sim, 29396, "1.1", token).headers["location"])
    assert redesign.status_code == 200
    assert FULL_SQUASHED not in text(redesign)
    assert "/5/" not in redesign.text
    assert tree(redesign).css_first("form#FormBookingCreate") is None
    blank = client.get(choose(client, sim, 29396, "1.2", token).headers["location"])
    assert (blank.status_code, blank.content) == (200, b"")


# ── sessions ─────────────────────────────────────────────────────────────────


def test_expired_sessions_bounce_to_the_landing_page(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    token, _ = enter(client, sim, 29396)
    assert client.get("/booking/create/29396/1").status_code == 200
    sim.expire_sessions()
    for r in (client.get("/booking/create/29396/1"), choose(client, sim, 29396, "3.1", token)):
        assert r.status_code == 302
        assert r.headers["location"] == f"{sim.base_url}/booking/create/29396"
    landing = client.get(sim.booking_url(29396))
    assert "eZSESSID" in landing.headers["set-cookie"], "a new session"
    assert token_of(landing) != token


def test_refused_form_tokens_show_the_page_again_with_a_new_token(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    token, _ = enter(client, sim, 29396)
    sim.refuse_form_tokens(1)
    refused = choose(client, sim, 29396, "3.1", token)
    assert refused.status_code == 200 and h2(refused) == "Choix de la nature du rendez-vous"
    assert "plus valide" in one(tree(refused), ".Berror").text()
    fresh = token_of(refused)
    assert fresh != token, "a new token, the session kept"
    assert choose(client, sim, 29396, "3.1", token).status_code == 200, "the old one is dead"
    answer = choose(client, sim, 29396, "3.1", fresh)
    assert (answer.status_code, answer.headers["location"]) == (302, "/booking/create/29396/2")
    assert sim.tokens_refused == 1
    assert client.get("/__sim__/stats").json()["tokens_to_refuse"] == 0


def test_refused_tokens_on_the_landing_page_and_through_the_control_endpoint(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    assert client.post("/__sim__/refuse-tokens", content=b'{"count": 2}').status_code == 204
    assert client.get("/__sim__/stats").json()["tokens_to_refuse"] == 2
    token, refused = enter(client, sim, 29396)
    assert refused.status_code == 200 and tree(refused).css_first("input#condition")
    assert token_of(refused) != token
    _, again = enter(client, sim, 29396)
    assert again.status_code == 200, "the second refusal"
    _, accepted = enter(client, sim, 29396)
    assert accepted.status_code == 302
    assert client.post("/__sim__/refuse-tokens", content=b'{"count": 0}').status_code == 204
    bad = client.post("/__sim__/refuse-tokens", content=b'{"count": -1}')
    assert bad.status_code == 400 and '"count"' in bad.json()["error"]
    missing = client.post("/__sim__/refuse-tokens", content=b"{}")
    assert missing.status_code == 400 and 'missing field "count"' in missing.json()["error"]
    with pytest.raises(ValueError, match="count"):
        sim.refuse_form_tokens(-1)


def test_sessions_expire_on_the_clock_given() -> None:
    now = [0.0]
    with (
        SimPrefecture(clock=lambda: now[0]) as prefecture,
        httpx.Client(base_url=prefecture.base_url, trust_env=False) as browser,
    ):
        enter(browser, prefecture, 29396)
        now[0] += 1440.0
        assert browser.get("/booking/create/29396/1").status_code == 200, "just in time"
        now[0] += 1440.5
        assert browser.get("/booking/create/29396/1").status_code == 302


def test_sessions_expire_after_their_lifetime() -> None:
    """A lifetime changed on a running simulator is the one sessions expire by."""
    now = [0.0]
    with (
        SimPrefecture(today=TODAY, clock=lambda: now[0]) as sim,
        httpx.Client(base_url=sim.base_url, timeout=5, trust_env=False) as client,
    ):
        sim.session_ttl = 0.2
        enter(client, sim, 29396)
        assert client.get("/booking/create/29396/1").status_code == 200
        now[0] += 0.3
        assert client.get("/booking/create/29396/1").status_code == 302
        assert sim.errors == []


def test_later_steps_need_accepted_conditions(sim: SimPrefecture, client: httpx.Client) -> None:
    client.get(sim.booking_url(29396))  # a session, conditions not accepted
    r = client.get("/booking/create/29396/1")
    assert (r.status_code, r.headers["location"]) == (302, sim.booking_url(29396))


# ── other bookings ───────────────────────────────────────────────────────────


def test_single_counter_booking_skips_step_1(sim: SimPrefecture, client: httpx.Client) -> None:
    _, r = enter(client, sim, 29400)
    assert (r.status_code, r.headers["location"]) == (302, "/booking/create/29400/2")
    assert h2(client.get("/booking/create/29400/2")) == "Vérification de disponibilité"
    assert client.get("/booking/create/29400/1").status_code == 302
    sim.set_state(29400, None, "available", slots=[slot(9, 10)])
    _, r = enter(client, sim, 29400)
    assert r.headers["location"] == "/booking/create/29400/3"
    assert h2(client.get("/booking/create/29400/3")) == "Description de la nature du rendez-vous"


def test_index_php_booking(sim: SimPrefecture, client: httpx.Client) -> None:
    url = sim.booking_url(9845)
    assert url == f"{sim.base_url}/index.php/booking/create/9845/0"
    landing = client.get(url)
    assert one(tree(landing), "form#FormBookingCreate").attributes["action"] == (
        "/index.php/booking/create/9845/0"
    )
    token, r = enter(client, sim, 9845)
    assert r.headers["location"] == f"{sim.base_url}/index.php/booking/create/9845/1"
    step1 = client.get(r.headers["location"])
    labels = [label.text(strip=True) for label in tree(step1).css("#fchoix_Booking label")]
    assert any("3.1 " in label for label in labels)
    assert any("3.10 " in label for label in labels)
    assert any("13.1 " in label for label in labels)
    assert sim.planning_id(9845, "3.1") not in (
        sim.planning_id(9845, "3.10"),
        sim.planning_id(9845, "13.1"),
    )
    sim.set_state(9845, "3.10", "available", slots=[slot(8, 9)])
    r = client.post(
        "/index.php/booking/create/9845/1",
        data={
            "ezxform_token": token,
            "planning": str(sim.planning_id(9845, "3.1")),
            "nextButton": "Etape suivante",
        },
    )
    assert r.headers["location"] == "/index.php/booking/create/9845/2", "3.1 is still full"
    assert client.get("/booking/create/9845").status_code == 404, "no prefix, no booking"


def test_iso_8859_1_booking(client: httpx.Client) -> None:
    booking = Booking(
        777,
        "Accueil général",
        [Planning(1, "Guichet 1 - Cartes grises"), Planning(2, "Guichet 2 - Étrangers")],
        encoding="iso-8859-1",
    )
    with SimPrefecture([booking]) as sim, httpx.Client(base_url=sim.base_url, trust_env=False) as c:
        sim.set_state(777, "2", "full", apostrophe="’")
        landing = c.get(sim.booking_url(777))
        assert landing.headers["content-type"] == "text/html; charset=iso-8859-1"
        assert b'<meta charset="iso-8859-1"' in landing.content
        assert "général".encode("cp1252") in landing.content
        token, _ = enter(c, sim, 777)
        r = c.post(
            "/booking/create/777/1",
            data={"ezxform_token": token, "planning": "2", "nextButton": "Etape suivante"},
        )
        full = c.get(r.headers["location"])
        assert b"n\x92existe" in full.content, "’ as windows-1252 byte 0x92"
        html = decode_body(full.headers, full.content)
        assert "Il n’existe plus de plage horaire libre" in html
        assert FULL_SQUASHED in squash(one(LexborHTMLParser(html), "body").text())
        assert sim.errors == []


# ── ezjscore ─────────────────────────────────────────────────────────────────


def test_ezjscore_week_fragment(sim: SimPrefecture, client: httpx.Client) -> None:
    pid = sim.planning_id(29396, "3.3")
    sim.set_state(29396, "3.3", "available", slots=[slot(15, 9), slot(23, 11)])
    call = f"/ezjscore/call/bookingserver::planning::assign::29396::{pid}::"
    r = client.get(call + "14")
    assert (r.status_code, r.headers["location"]) == (302, sim.booking_url(29396))
    client.get(sim.booking_url(29396))  # any session will do
    for prefix, offset, expected in (("", "0", 0), ("", "14", 1), ("/index.php", "21", 1)):
        week = client.get(prefix + call + offset)
        assert week.status_code == 200
        links = tree(week).css("td.status-1 a[href*='/booking/create/29396/5/']")
        assert len(links) == expected, offset
        assert tree(week).css_first("th[colspan='7']") is not None
        assert "libre" in one(tree(week), "#caption_Booking").text()
    href = one(tree(client.get(call + "14")), "td.status-1.free a").attributes["href"] or ""
    assert int(href.rsplit("/", 1)[1]) == int(slot(15, 9).timestamp())
    assert client.get(call.replace(str(pid), "1") + "0").status_code == 404
    sim.set_state(29396, "3.3", "down", variant="haproxy_502")
    assert client.get(call + "14").status_code == 502


# ── transport trouble ────────────────────────────────────────────────────────


def test_slow_answers_do_not_block_others_and_stop_is_quick() -> None:
    sim = SimPrefecture(today=TODAY).start()
    try:
        sim.set_state(29396, "3.1", "slow", delay=30)
        fast = httpx.Client(base_url=sim.base_url, trust_env=False, timeout=5)
        token, _ = enter(fast, sim, 29396)
        outcome: list[object] = []

        def slow_request() -> None:
            try:
                outcome.append(choose(fast, sim, 29396, "3.1", token).status_code)
            except httpx.HTTPError as exc:
                outcome.append(exc)

        before = sim.requests
        worker = threading.Thread(target=slow_request)
        worker.start()
        # Counted on arrival: from here the slow answer is being held by the simulator.
        wait_for(lambda: sim.requests > before, timeout=5, what="the slow request to arrive")
        started = time.monotonic()
        with httpx.Client(base_url=sim.base_url, trust_env=False, timeout=2) as other:
            assert other.get("/").status_code == 200
        assert time.monotonic() - started < 1
        started = time.monotonic()
        sim.stop()
        assert time.monotonic() - started < 2, "stop() does not wait for slow answers"
        worker.join(timeout=5)
        assert not worker.is_alive()
        assert isinstance(outcome[0], httpx.HTTPError), "dropped, never answered"
        fast.close()
    finally:
        sim.stop()


def test_slow_answers_after_the_delay(sim: SimPrefecture, client: httpx.Client) -> None:
    sim.set_state(29396, "3.1", "slow", delay=0.3)
    token, _ = enter(client, sim, 29396)
    started = time.monotonic()
    r = choose(client, sim, 29396, "3.1", token)
    assert time.monotonic() - started >= 0.3
    assert (r.status_code, r.headers["location"]) == (302, "/booking/create/29396/2")


@pytest.mark.parametrize("slots", [False, True])
def test_truncated_answers(sim: SimPrefecture, client: httpx.Client, slots: bool) -> None:
    options = {"slots": [slot(8, 9)]} if slots else {}
    sim.set_state(29396, "3.1", "truncated", **options)  # type: ignore[arg-type]
    token, _ = enter(client, sim, 29396)
    location = choose(client, sim, 29396, "3.1", token).headers["location"]
    assert location.endswith("/3" if slots else "/2")
    with client.stream("GET", location) as r:
        declared = int(r.headers["content-length"])
        with pytest.raises(httpx.RemoteProtocolError):
            r.read()
    assert declared > 1000
    assert client.get("/").status_code == 200, "the server is fine"


def test_oversized_answers_stop_when_the_client_leaves(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    sim.set_state(29396, "3.1", "oversized")
    sim.set_state(29396, "3.2", "oversized", size=3 << 20)
    token, _ = enter(client, sim, 29396)
    for calendar in ("3.1", "3.2"):
        location = choose(client, sim, 29396, calendar, token).headers["location"]
        received = 0
        with client.stream("GET", location) as r:
            assert r.status_code == 200
            if calendar == "3.2":
                assert r.headers["content-length"] == str(3 << 20)
            else:
                assert r.headers["transfer-encoding"] == "chunked"
            for chunk in r.iter_raw():
                received += len(chunk)
                if received > 2 << 20:
                    break
        assert received > 2 << 20
    assert client.get("/").status_code == 200, "the server is fine"


def test_site_wide_states(sim: SimPrefecture, client: httpx.Client) -> None:
    sim.set_site_state("down")
    for path in ("/", "/booking/create/29396", "/ezjscore/call/x"):
        r = client.get(path)
        assert r.status_code == 503
        assert "No server is available" in r.text
    sim.set_site_state("blocked", variant="429", retry_after=60)
    r = client.get("/booking/create/29396")
    assert (r.status_code, r.headers["retry-after"]) == (429, "60")
    sim.set_site_state("maintenance", variant="503")
    assert client.get("/booking/create/29396/1").status_code == 503
    sim.set_site_state("closed")
    assert "disponible" in client.get("/booking/create/29396").text
    sim.set_site_state("slow", delay=0.2)
    started = time.monotonic()
    assert client.get("/").status_code == 200
    assert time.monotonic() - started >= 0.2
    sim.set_site_state(None)
    assert client.get("/booking/create/29396").status_code == 200
    with pytest.raises(ValueError):
        sim.set_site_state("available")


def test_throttle_answers_502_to_fast_pollers() -> None:
    with SimPrefecture(throttle=True, throttle_limit=3, throttle_window=10) as sim:
        with httpx.Client(base_url=sim.base_url, trust_env=False) as c:
            statuses = [c.get("/").status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 502, 502]
        sim.reset_counters()
        with httpx.Client(base_url=sim.base_url, trust_env=False) as c:
            assert c.get("/").status_code == 200


# ── counting, control, CLI, API ──────────────────────────────────────────────


def test_requests_are_counted_and_logged(sim: SimPrefecture, client: httpx.Client) -> None:
    enter(client, sim, 29396)
    client.get("/booking/create/29396/1")
    client.get(sim.control_url + "stats")  # not counted
    assert sim.requests == 3
    assert sim.request_log == [
        ("GET", "/booking/create/29396", 200),
        ("POST", "/booking/create/29396", 302),
        ("GET", "/booking/create/29396/1", 200),
    ]
    sim.reset_counters()
    assert (sim.requests, sim.request_log, sim.booking_attempts) == (0, [], 0)


def test_control_endpoint(sim: SimPrefecture, client: httpx.Client) -> None:
    client.get("/")
    stats = client.get("/__sim__/stats").json()
    assert stats["requests"] == 1 and stats["booking_attempts"] == 0
    r = client.post(
        "/__sim__/state",
        content=json.dumps(
            {
                "booking": 29396,
                "calendar": "3.2",
                "state": "available",
                "slots": ["2026-12-01T09:00:00+01:00"],
                "variant": None,
            }
        ),
    )
    assert r.status_code == 204
    state = sim.state(29396, "3.2")
    assert state.kind == "available"
    assert state.slots == (datetime.fromisoformat("2026-12-01T09:00:00+01:00"),)
    bad = client.post("/__sim__/state", content=b'{"booking": 29396, "state": "nope"}')
    assert bad.status_code == 400 and "error" in bad.json()
    assert client.post("/__sim__/site", content=b'{"state": "down"}').status_code == 204
    assert client.get("/").status_code == 503
    assert client.post("/__sim__/site", content=b'{"state": null}').status_code == 204
    described = client.get("/__sim__/state").json()
    assert [b["id"] for b in described["bookings"]] == [29396, 29400, 9845]


def test_set_state_validation(sim: SimPrefecture) -> None:
    with pytest.raises(ValueError, match="unknown state"):
        sim.set_state(29396, "3.1", "weird")
    with pytest.raises(ValueError, match="variant"):
        sim.set_state(29396, "3.1", "down", variant="haproxy_999")
    with pytest.raises(ValueError, match="aware"):
        sim.set_state(29396, "3.1", "available", slots=[datetime(2026, 12, 1, 9)])
    with pytest.raises(ValueError, match="at least one slot"):
        sim.set_state(29396, "3.1", "available")
    with pytest.raises(ValueError, match="plannings"):
        sim.set_state(29396, None, "full")
    with pytest.raises(ValueError, match="no booking"):
        sim.set_state(1, "3.1", "full")
    pid = sim.planning_id(29396, "4.1")
    sim.set_state(29396, pid, "closed")
    assert sim.state(29396, "4.1").kind == "closed"
    sim.set_booking_state(29396, "down", variant="500")
    assert {p.state.describe() for p in sim.bookings[0].plannings} == {"down/500"}


def test_default_bookings_are_all_full_and_copied() -> None:
    bookings = default_bookings()
    assert [b.id for b in bookings] == [29396, 29400, 9845]
    assert all(p.state.kind == "full" for b in bookings for p in b.plannings)
    with SimPrefecture(bookings) as sim:
        sim.set_booking_state(29396, "closed")
    assert bookings[0].plannings[0].state.kind == "full", "the caller's objects are untouched"


def test_slots_in_the_step_4_week_are_paris_times(sim: SimPrefecture, client: httpx.Client) -> None:
    utc_slot = datetime(2026, 12, 8, 7, 30, tzinfo=UTC)  # 08:30 in Paris
    sim.set_state(29396, "3.4", "available", slots=[utc_slot])
    token, _ = enter(client, sim, 29396)
    choose(client, sim, 29396, "3.4", token)
    client.post("/booking/create/29396/3", data={"ezxform_token": token, "nextButton": "x"})
    page = tree(client.get("/booking/create/29396/4"))
    row = one(page, "tr:has(td.status-1)")
    assert one(row, "td.time").text(strip=True) == "08:30"
    assert monday_of(utc_slot.date()) == date(2026, 12, 7)


def test_cli_serves_until_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor.sites.ezbooking.sim",
            "--port",
            "0",
            "--available",
            "29396:3.2,2026-12-01T09:00:00+01:00",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        banner = []
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("Control:"):
                break
        base = re.search(r"http://127\.0\.0\.1:\d+", banner[0])
        assert base is not None, banner
        joined = "".join(banner)
        assert f"{base.group(0)}/booking/create/29396" in joined
        assert f"{base.group(0)}/index.php/booking/create/9845/0" in joined
        assert "available, 1 slot" in joined
        with httpx.Client(trust_env=False) as c:
            assert c.get(base.group(0) + "/__sim__/stats").json()["requests"] == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_refuses_non_loopback_addresses() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor.sites.ezbooking.sim", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert done.returncode == 2
    assert "loopback" in done.stderr


def test_concurrent_clients_are_all_counted(sim: SimPrefecture) -> None:
    def poll() -> None:
        with httpx.Client(base_url=sim.base_url, trust_env=False, timeout=5) as c:
            for _ in range(10):
                assert c.get(sim.booking_url(29396)).status_code == 200

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sim.requests == 80
    assert len(sim.request_log) == 80
    assert sim.sessions == 8, "each client keeps its session across visits"


# ── the real bad pages, end to end through `check` ───────────────────────────

BAD_PAGES = [
    # (state, variant, status code, verbatim body text, status `check` must give)
    ("down", "surcharge", 200, "<h1>Service surchargé</h1>", "down"),
    ("down", "surcharge_entity", 200, "<h1>Service surcharg&eacute;</h1>", "down"),
    ("down", "haproxy_502", 502, "The server returned an invalid or incomplete response.", "down"),
    ("down", "haproxy_503", 503, "No server is available to handle this request.", "down"),
    ("down", "haproxy_504", 504, "<h1>504 Gateway Time-out</h1>", "down"),
    ("down", "haproxy_504_timeout", 504, "<h1>504 Gateway Timeout</h1>", "down"),
    ("closed", None, 200, "Attention : Cette page n'est pas disponible pour le moment !", "down"),
    ("full", "typo", 200, "plage horaire libre pour votre a demande de rendez-vous.", "full"),
]


def _walk_to_answer(client: httpx.Client, sim: SimPrefecture, calendar: str) -> httpx.Response:
    token, _ = enter(client, sim, 29396)
    r = choose(client, sim, 29396, calendar, token)
    return client.get(r.headers["location"]) if r.status_code == 302 else r


@pytest.mark.parametrize(("state", "variant", "code", "verbatim", "expected"), BAD_PAGES)
def test_real_bad_pages_per_calendar_and_site_wide(
    sim: SimPrefecture,
    client: httpx.Client,
    write_config: Callable[..., Path],
    cli: Callable[..., Any],
    state: str,
    variant: str | None,
    code: int,
    verbatim: str,
    expected: str,
) -> None:
    sim.set_state(29396, "3.3", state, variant=variant)
    page = _walk_to_answer(client, sim, "3.3")
    assert page.status_code == code
    assert verbatim in page.text
    if variant and variant.startswith("haproxy"):
        assert page.text.startswith("<html><body><h1>") and "server" not in page.headers

    config = write_config(
        [{"name": "R", "url": sim.booking_url(29396), "calendars": ["3.2", "3.3"]}]
    )
    rows = {r["calendar"]: r for r in cli("check", "-c", str(config), "--json").json_lines()}
    assert rows["3.3"]["status"] == expected, rows["3.3"]["detail"]
    assert rows["3.2"]["status"] == "full", "the other calendar is read as usual"
    assert all(r["slots"] == [] for r in rows.values())

    if state in ("down", "closed"):  # the same page for every request of the site
        sim.set_state(29396, "3.3", "full")
        sim.set_site_state(state, variant=variant)
        rows = {r["calendar"]: r for r in cli("check", "-c", str(config), "--json").json_lines()}
        assert {r["status"] for r in rows.values()} == {"down"}, rows
        assert client.get("/").status_code == code


def test_surcharge_body_is_the_real_page(sim: SimPrefecture, client: httpx.Client) -> None:
    sim.set_state(29396, "3.1", "down", variant="surcharge")
    page = _walk_to_answer(client, sim, "3.1")
    assert page.text == (
        "<h1>Service surchargé</h1>\n"
        "Le service que vous avez demandé est actuellement surchargé et/ou il n'y plus de "
        "créneaux de rendez-vous disponibles pour le moment.\n<br>\n"
        "Veuillez réitérer votre demande ultérieurement.\n"
    )


# ── controls ─────────────────────────────────────────────────────────────────


def test_control_index_lists_bookings_calendars_states_and_endpoints(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    sim.set_state(29396, "3.1", "down", variant="surcharge")
    for path in ("/__sim__/", "/__sim__"):
        index = client.get(path)
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
    page = tree(index)
    text_ = " ".join(page.body.text(separator=" ").split()) if page.body else ""
    assert sim.booking_url(29396) in text_ and sim.booking_url(9845) in text_
    assert "down/surcharge" in text_ and "3.10" in text_
    for endpoint in ("stats", "state", "site", "expire-sessions", "reset"):
        assert f"{sim.control_url}{endpoint}" in text_


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"calendar": "3.1", "state": "full"}', '"booking"'),
        (b'{"booking": 29396, "calendar": "3.1"}', '"state"'),
        (b'{"booking": "x", "calendar": "3.1", "state": "full"}', '"booking"'),
        (b'{"booking": 29396, "calendar": "3.1", "state": "down", "variant": "x"}', '"variant"'),
        (b'{"booking": 29396, "calendar": "3.1", "state": "slow", "delay": -1}', '"delay"'),
        (b'{"booking": 29396, "calendar": "3.1", "state": "available", "slots": 3}', '"slots"'),
        (b'{"booking": 29396, "calendar": "9.9", "state": "full"}', "'9.9'"),
        (b"[1]", "JSON object"),
        (b"{nope", "not valid JSON"),
    ],
)
def test_control_errors_name_the_field(
    sim: SimPrefecture, client: httpx.Client, body: bytes, named: str
) -> None:
    r = client.post("/__sim__/state", content=body)
    assert r.status_code == 400
    assert named in r.json()["error"]


def test_control_site_errors_and_unknown_endpoint(client: httpx.Client) -> None:
    r = client.post("/__sim__/site", content=b'{"state": "full"}')
    assert r.status_code == 400 and '"state"' in r.json()["error"]
    r = client.post("/__sim__/nope")
    assert r.status_code == 404 and "/__sim__/reset" in r.json()["error"]


def test_control_available_without_slots_gets_the_default_slots(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    r = client.post(
        "/__sim__/state", content=b'{"booking": 29396, "calendar": "3.2", "state": "available"}'
    )
    assert r.status_code == 204
    slots = sim.state(29396, "3.2").slots
    next_monday = monday_of(TODAY) + timedelta(days=7)
    assert [s.date() for s in slots] == [next_monday + timedelta(days=d) for d in (1, 1, 3)]
    assert [s.strftime("%H:%M") for s in slots] == ["09:00", "09:30", "14:00"]


def test_control_typo_variant_and_booking_wide_state(
    sim: SimPrefecture, client: httpx.Client
) -> None:
    r = client.post(
        "/__sim__/state",
        content=b'{"booking": 29396, "calendar": "*", "state": "full", "variant": "typo"}',
    )
    assert r.status_code == 204
    assert {p.state.describe() for p in sim.bookings[0].plannings} == {"full/typo"}
    assert "pour votre a demande" in _walk_to_answer(client, sim, "4.2").text


def _run_sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.sites.ezbooking.sim", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=20,
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--session-ttl", "-5"), "--session-ttl"),
        (("--state", "29396:3.1=down/nope"), "nope"),
        (("--state", "garbage"), "BOOKING:CALENDAR=STATE"),
        (("--site", "full"), "--site"),
    ],
)
def test_cli_refuses_bad_values_in_one_line(args: tuple[str, ...], named: str) -> None:
    done = _run_sim(*args)
    assert done.returncode == 2
    assert named in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_cli_help_documents_the_controls() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor.sites.ezbooking.sim", "--help"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0
    for words in (
        "--state",
        "--site",
        "surcharge",
        "haproxy_504_timeout",
        "typo",
        "/__sim__/reset",
        "/__sim__/refuse-tokens",
    ):
        assert words in done.stdout
