"""The page classifier on realistic fixtures (tests/pages) and on the precedence rules.

The fixtures are full pages in a prefecture site's layout (header, navigation,
footer, scripts), the booking form as the reference describes it, and the
verbatim error documents of HAProxy, nginx and Apache.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.observation import Status
from monitor.page import parse_page
from monitor.sites.ezbooking.classify import (
    FULL_MESSAGE,
    classify,
    classify_page,
    read_slots,
)

PAGES = Path(__file__).parent / "pages"
HTML_UTF8 = {"Content-Type": "text/html; charset=utf-8"}


def load(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# fixture, the status code it is served with, expected status, words the detail must contain
FIXTURES: list[tuple[str, int, Status, str]] = [
    ("landing.html", 200, Status.UNKNOWN, "landing page"),
    ("landing_quotes_full_message.html", 200, Status.UNKNOWN, "only quoted"),
    ("step1_choose_calendar.html", 200, Status.UNKNOWN, "choice of calendar"),
    ("full_straight_apostrophe.html", 200, Status.FULL, "no slot is free"),
    ("full_typographic.html", 200, Status.FULL, "no slot is free"),
    ("full_typo_a_demande.html", 200, Status.FULL, "no slot is free"),
    ("full_iso8859.html", 200, Status.FULL, "no slot is free"),
    ("step3_description.html", 200, Status.AVAILABLE, "Step 3"),
    ("step3_with_recaptcha.html", 200, Status.AVAILABLE, "captcha guards the next step"),
    ("step4_free_slots.html", 200, Status.AVAILABLE, "4 free slots"),
    ("step4_index_php_absolute_links.html", 200, Status.AVAILABLE, "1 free slot"),
    ("step4_all_complet.html", 200, Status.FULL, "only « complet » cells"),
    ("step4_legend_only.html", 200, Status.UNKNOWN, "no free-slot link"),
    ("step4_libre_cells_without_links.html", 200, Status.UNKNOWN, "« libre » cells but no"),
    ("step4_truncated_before_table.html", 200, Status.UNKNOWN, "Step 4"),
    ("ezjscore_week_free.html", 200, Status.AVAILABLE, "week table shows 2 free slots"),
    ("ezjscore_week_complet.html", 200, Status.FULL, "only « complet » cells"),
    ("captcha_ezhuman.html", 200, Status.CAPTCHA, "eZHumanCAPTCHACode"),
    ("captcha_recaptcha.html", 200, Status.CAPTCHA, "reCAPTCHA"),
    ("captcha_recaptcha_landing.html", 200, Status.CAPTCHA, "reCAPTCHA"),
    ("captcha_captchetat.html", 200, Status.CAPTCHA, "CaptchEtat"),
    ("haproxy_503.html", 503, Status.DOWN, "The front proxy answered 503: no server is available"),
    ("haproxy_502.html", 502, Status.DOWN, "invalid or incomplete response"),
    ("haproxy_504.html", 504, Status.DOWN, "did not respond in time"),
    ("haproxy_403.html", 403, Status.BLOCKED, "Request forbidden by administrative rules"),
    ("haproxy_429.html", 429, Status.BLOCKED, "throttled"),
    ("nginx_502.html", 502, Status.DOWN, "502 Bad Gateway"),
    ("nginx_504.html", 504, Status.DOWN, "504"),
    ("apache_forbidden.html", 403, Status.BLOCKED, "403 Forbidden"),
    ("access_denied.html", 403, Status.BLOCKED, "403"),
    ("service_surcharge.html", 503, Status.DOWN, "Service surchargé"),
    ("closed.html", 200, Status.DOWN, "closed for now"),
    ("maintenance.html", 200, Status.DOWN, "maintenance"),
    ("unknown_redesign.html", 200, Status.UNKNOWN, "not recognised"),
]


def test_every_fixture_is_covered() -> None:
    assert {name for name, *_ in FIXTURES} == {p.name for p in PAGES.glob("*.html")}


@pytest.mark.parametrize(("name", "code", "expected", "words"), FIXTURES)
def test_fixture(name: str, code: int, expected: Status, words: str) -> None:
    verdict = classify(code, {}, load(name))
    assert verdict.status is expected, verdict.detail
    assert words in verdict.detail
    assert verdict.detail.endswith(".") and "\n" not in verdict.detail


# Error documents served with 200 are still errors.
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("haproxy_503.html", Status.DOWN),
        ("haproxy_502.html", Status.DOWN),
        ("haproxy_504.html", Status.DOWN),
        ("nginx_502.html", Status.DOWN),
        ("nginx_504.html", Status.DOWN),
        ("service_surcharge.html", Status.DOWN),
        ("haproxy_403.html", Status.BLOCKED),
        ("haproxy_429.html", Status.BLOCKED),
        ("apache_forbidden.html", Status.BLOCKED),
        ("access_denied.html", Status.BLOCKED),
    ],
)
def test_error_documents_served_with_200(name: str, expected: Status) -> None:
    verdict = classify(200, {}, load(name))
    assert verdict.status is expected
    assert "served with 200 OK" in verdict.detail


def test_h1_forbidden_alone_is_blocked() -> None:
    body = b"<html><head><title>Erreur</title></head><body><h1>Forbidden</h1></body></html>"
    assert classify(200, {}, body).status is Status.BLOCKED


def test_brief_example_details() -> None:
    assert (
        classify(200, {}, load("full_typographic.html")).detail
        == "The site says no slot is free (« Il n'existe plus de plage horaire libre … »)."
    )
    assert (
        classify(503, {}, load("haproxy_503.html")).detail
        == "The front proxy answered 503: no server is available."
    )


# ── slots ────────────────────────────────────────────────────────────────────


def test_step4_slots_are_read_sorted_in_utc() -> None:
    verdict = classify(200, HTML_UTF8, load("step4_free_slots.html"))
    assert verdict.step == "Choix d'une plage horaire"
    # 7 Dec 10:30, 8 Dec 09:30, 10 Dec 09:00, 11 Dec 11:00, Paris time (UTC+1)
    assert verdict.slots == (
        utc(2026, 12, 7, 9, 30),
        utc(2026, 12, 8, 8, 30),
        utc(2026, 12, 10, 8, 0),
        utc(2026, 12, 11, 10, 0),
    )
    assert verdict.slot_count == 4
    assert all(s.tzinfo is UTC for s in verdict.slots)
    # The detail gives the time as the site shows it, in Paris, with its offset.
    assert "the earliest on 2026-12-07 at 10:30 Paris time (UTC+01:00)" in verdict.detail


def test_index_php_absolute_links_and_typographic_h2() -> None:
    verdict = classify(200, {}, load("step4_index_php_absolute_links.html"))
    assert verdict.step == "Choix d’une plage horaire"
    assert verdict.slots == (utc(2026, 12, 9, 9, 0),)


def test_ezjscore_fragment_slots() -> None:
    verdict = classify(200, {}, load("ezjscore_week_free.html"))
    assert verdict.step is None
    assert verdict.slots == (utc(2026, 12, 7, 8, 0), utc(2026, 12, 9, 10, 0))


def test_step3_has_slots_but_no_count() -> None:
    verdict = classify(200, {}, load("step3_description.html"))
    assert verdict.step == "Description de la nature du rendez-vous"
    assert verdict.slots == ()
    assert verdict.slot_count is None


def test_read_slots_dedups_sorts_and_ignores_absurd_times() -> None:
    ts_a, ts_b = 1796716800, 1796630400  # 8 Dec, 7 Dec 2026 08:00 UTC
    links = [
        f"/booking/create/29396/5/{ts_a}",
        f"https://www.example.gouv.fr/index.php/booking/create/9845/5/{ts_b}",
        f"/booking/create/29396/5/{ts_a}",  # duplicate
        f" /booking/create/29396/5/{ts_b}?x=1 ",  # same slot, query and spaces
        "/booking/create/29396/5/0",  # 1970
        "/booking/create/29396/5/946684799",  # 1999-12-31
        "/booking/create/29396/5/4102444800",  # 2100
        "/booking/create/29396/5/99999999999999999999999",  # too many digits
        "/booking/create/29396/5/1796630400000",  # milliseconds: year 58900
        "/booking/create/29396/4/1796630400",  # not step 5
        "/booking/create/29396/50/1796630400",
        "/5/1796630400",  # not a booking link
        "/booking/create/29396/5/1796630400abc",
    ]
    cells = "".join(f'<td class="status-1 free"><a href="{h}">libre</a></td>' for h in links)
    html = f"<table><tr>{cells}</tr></table>".encode()
    page = parse_page({}, html)
    now = utc(2026, 11, 28)
    assert read_slots(page, now=now) == (utc(2026, 12, 7, 8), utc(2026, 12, 8, 8))
    # the five-year horizon moves with "now"
    assert utc(2100, 1, 1) in read_slots(page, now=utc(2096, 1, 1))
    assert read_slots(page, now=datetime(2026, 11, 28)) == read_slots(page, now=now)  # naive: UTC


def test_read_slots_of_a_page_without_links() -> None:
    assert read_slots(parse_page({}, load("step4_all_complet.html"))) == ()
    assert read_slots(parse_page({}, b"")) == ()


def test_links_with_unreadable_times_are_not_evidence() -> None:
    body = load("step4_free_slots.html").replace(b'" title="R', b'000" title="R')  # in ms
    page = parse_page({}, body)
    assert read_slots(page) == ()
    verdict = classify_page(200, {}, page)
    assert verdict.status is Status.UNKNOWN
    assert "cannot be read" in verdict.detail


# ── what is not evidence ─────────────────────────────────────────────────────


def test_legend_only_libre_is_not_available() -> None:
    body = load("step4_legend_only.html")
    assert b"libre" in body
    assert classify(200, {}, body).status is Status.UNKNOWN


def test_libre_cells_without_links_are_not_available() -> None:
    verdict = classify(200, {}, load("step4_libre_cells_without_links.html"))
    assert verdict.status is Status.UNKNOWN
    assert verdict.slot_count is None


def test_free_links_on_a_page_that_is_no_booking_step_are_not_evidence() -> None:
    body = load("unknown_redesign.html").replace(
        b'<a class="fr-btn"',
        b'<table><tr><td class="status-1 free"><a href="/booking/create/29396/5/1796630400">'
        b'libre</a></td></tr></table><a class="fr-btn"',
    )
    verdict = classify(200, {}, body)
    assert verdict.status is Status.UNKNOWN
    assert "not a known booking step" in verdict.detail


def test_step2_without_the_full_message_is_unknown() -> None:
    body = load("full_straight_apostrophe.html").replace(b"plage horaire libre", b"plage libre")
    verdict = classify(200, {}, body)
    assert verdict.status is Status.UNKNOWN
    assert "Step 2" in verdict.detail


def test_step3_without_next_button_is_not_available() -> None:
    body = load("step3_description.html").replace(b'name="nextButton"', b'name="otherButton"')
    assert classify(200, {}, body).status is Status.UNKNOWN


def test_step3_with_h2_inside_the_form_is_available() -> None:
    html = load("step3_description.html").decode()
    h2 = "<h2>Description de la nature du rendez-vous</h2>"
    form_open = html.index('<form id="FormBookingCreate"')
    form_tag_end = html.index(">", form_open) + 1
    moved = html.replace(h2, "", 1)
    form_tag_end -= len(h2)
    moved = moved[:form_tag_end] + h2 + moved[form_tag_end:]
    verdict = classify(200, {}, moved.encode())
    assert verdict.status is Status.AVAILABLE
    assert verdict.step == "Description de la nature du rendez-vous"


@pytest.mark.parametrize(
    ("name", "marker"),
    [
        ("step3_description.html", b"</form>"),
        ("step3_description.html", b'<div id="submit_Booking"'),
        ("step3_description.html", b"</html>"),
        ("step4_free_slots.html", b"<tbody>"),
        ("step4_free_slots.html", b"</table>"),
        ("step4_free_slots.html", b"</form>"),
        ("step4_free_slots.html", b"</html>"),
        ("ezjscore_week_free.html", b"</tbody>"),
        ("ezjscore_week_free.html", b"</table>"),
    ],
)
def test_pages_cut_before_the_end_of_the_evidence(name: str, marker: bytes) -> None:
    body = load(name)
    cut = body.rindex(marker)
    assert classify(200, {}, body[:cut]).status is not Status.AVAILABLE
    assert classify(200, {}, body[: cut + 1]).status is not Status.AVAILABLE


def test_week_fragment_cut_inside_the_table_is_not_full_either() -> None:
    body = load("ezjscore_week_complet.html")
    verdict = classify(200, {}, body[: body.index(b"</tbody>")])
    assert verdict.status is Status.UNKNOWN


def test_a_news_item_mentioning_maintenance_does_not_make_a_page_down() -> None:
    body = load("unknown_redesign.html").replace(
        b"</a>\n        </div>",
        b"</a><p>Travaux de maintenance sur la RD 1508 : le site est indisponible aux "
        b"v\xc3\xa9hicules jusqu'au 12 d\xc3\xa9cembre. Veuillez r\xc3\xa9essayer "
        b"ult\xc3\xa9rieurement.</p>\n        </div>",
    )
    assert b"maintenance" in body
    assert classify(200, {}, body).status is Status.UNKNOWN


# ── precedence ───────────────────────────────────────────────────────────────


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_step4_served_with_5xx_is_down(code: int) -> None:
    verdict = classify(code, {}, load("step4_free_slots.html"))
    assert verdict.status is Status.DOWN
    assert "not trusted" in verdict.detail
    assert verdict.slots == ()


@pytest.mark.parametrize(("code", "expected"), [(403, Status.BLOCKED), (429, Status.BLOCKED)])
def test_full_and_step4_served_with_a_refusal_are_blocked(code: int, expected: Status) -> None:
    for name in ("full_typographic.html", "step4_free_slots.html", "step3_description.html"):
        verdict = classify(code, {}, load(name))
        assert verdict.status is expected, name
        assert "not trusted" in verdict.detail


@pytest.mark.parametrize("code", [201, 203, 204, 206, 400, 404, 410])
def test_only_200_can_give_available_or_full(code: int) -> None:
    for name in ("step4_free_slots.html", "step3_description.html", "full_typographic.html"):
        assert classify(code, {}, load(name)).status is Status.UNKNOWN, (name, code)


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(code: int) -> None:
    verdict = classify(code, {"location": "/booking/create/29396/1"}, load("step4_free_slots.html"))
    assert verdict.status is Status.UNKNOWN
    assert "/booking/create/29396/1" in verdict.detail


@pytest.mark.parametrize("code", [0, -1, 99, 600, 1000])
def test_invalid_status_codes_are_unknown(code: int) -> None:
    assert classify(code, {}, load("step4_free_slots.html")).status is Status.UNKNOWN


@pytest.mark.parametrize("code", [403, 429, 503])
def test_a_captcha_served_with_an_error_status_is_a_captcha(code: int) -> None:
    assert classify(code, {}, load("captcha_recaptcha.html")).status is Status.CAPTCHA


def test_408_is_down() -> None:
    assert classify(408, {}, b"").status is Status.DOWN


def test_full_message_wins_over_slot_links() -> None:
    html = load("step4_free_slots.html").replace(
        b'<div class="Btableau">', b"<p>" + FULL_MESSAGE.encode() + b'</p><div class="Btableau">'
    )
    assert classify(200, {}, html).status is Status.FULL


def test_full_message_wins_over_a_captcha() -> None:
    html = load("full_straight_apostrophe.html").replace(
        b"</form>", b'<div class="g-recaptcha" data-sitekey="x"></div></form>'
    )
    assert classify(200, {}, html).status is Status.FULL


def test_error_document_words_win_over_evidence() -> None:
    html = load("step4_free_slots.html").replace(
        b"<main", b"<p>No server is available to handle this request.</p><main"
    )
    assert classify(200, {}, html).status is Status.DOWN
    html = load("step4_free_slots.html").replace(
        b"<main", b"<p>Attention : Cette page n&#039;est pas disponible pour le moment !</p><main"
    )
    assert classify(200, {}, html).status is Status.DOWN


def test_security_step_without_widget_is_captcha() -> None:
    html = load("captcha_recaptcha.html").replace(b'class="g-recaptcha"', b'class="x"')
    html = html.replace(b"g-recaptcha-response", b"x")
    verdict = classify(200, {}, html)
    assert verdict.status is Status.CAPTCHA
    assert "Vérification de sécurité" in verdict.detail


def test_captcha_widget_in_a_comment_or_script_is_not_a_captcha() -> None:
    html = load("landing.html").replace(
        b"<main",
        b'<!-- <div class="g-recaptcha"></div> --><script>var k="g-recaptcha";</script><main',
    )
    assert classify(200, {}, html).status is Status.UNKNOWN


# ── bodies and encodings ─────────────────────────────────────────────────────


def test_iso_8859_1_fixture_with_and_without_header() -> None:
    body = load("full_iso8859.html")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    for headers in (
        {},  # the <meta charset> says iso-8859-1
        {"Content-Type": "text/html; charset=ISO-8859-1"},
        {"content-type": "text/html; charset=windows-1252"},
        {"Content-Type": "text/html; charset=utf-8"},  # a lying header: falls back
    ):
        verdict = classify(200, headers, body)
        assert verdict.status is Status.FULL, headers
        assert verdict.step == "Vérification de disponibilité"


def test_header_charset_wins_over_meta() -> None:
    # cp1252 bytes (’ is 0x92) in a page whose <meta> wrongly says utf-8
    html = load("full_typographic.html").decode("utf-8")
    body = html.encode("cp1252")
    verdict = classify(200, {"Content-Type": "text/html; charset=windows-1252"}, body)
    assert verdict.status is Status.FULL
    assert verdict.step == "Vérification de disponibilité"


def test_utf8_page_read_as_latin1_is_still_recognised() -> None:
    # A server that says latin-1 for a UTF-8 page: the text comes out as mojibake
    # ("nâ€™existe", "ultÃ©rieurement"); the messages are still found.
    for name, expected in (
        ("full_typographic.html", Status.FULL),
        ("step4_index_php_absolute_links.html", Status.AVAILABLE),
        ("captcha_ezhuman.html", Status.CAPTCHA),
    ):
        assert classify(
            200, {"Content-Type": "text/html; charset=iso-8859-1"}, load(name)
        ).status is (expected), name


@pytest.mark.parametrize(
    ("code", "expected"), [(200, Status.UNKNOWN), (503, Status.DOWN), (500, Status.DOWN)]
)
def test_empty_bodies(code: int, expected: Status) -> None:
    for body in (b"", b"   \r\n"):
        verdict = classify(code, {}, body)
        assert verdict.status is expected
    assert "empty" in classify(code, {}, b"").detail


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x01\x02\xff\xfe\xfd" * 100,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nlibre disponible cr\xe9neau",
        b"<<<>>>&&&;;;&#99999999999;&#x110000;",
        b"<div>" * 3000 + b"libre" + b"</div>" * 3000,
        b"<a href='/booking/create/1/5/" + b"9" * 5000 + b"'>libre</a>",
    ],
)
def test_garbage_is_unknown(body: bytes) -> None:
    assert classify(200, {}, body).status is Status.UNKNOWN


def test_classify_page_is_classify() -> None:
    for path in sorted(PAGES.glob("*.html")):
        body = path.read_bytes()
        assert classify_page(200, {}, parse_page({}, body)) == classify(200, {}, body), path.name


def test_classify_page_after_the_adapter_read_the_text() -> None:
    # Page.text drops scripts from the tree; reading it first must not change anything.
    page = parse_page({}, load("captcha_recaptcha.html"))
    assert page.text
    assert classify_page(200, {}, page).status is Status.CAPTCHA


def test_never_raises_on_odd_arguments() -> None:
    page = parse_page({}, load("step4_free_slots.html"))
    assert classify_page("200", {}, page).status is Status.AVAILABLE  # type: ignore[arg-type]
    assert classify_page("abc", {}, page).status is Status.UNKNOWN  # type: ignore[arg-type]
    assert classify(302, None, b"").status is Status.UNKNOWN  # type: ignore[arg-type]
    assert classify(200, {}, "not bytes").status is Status.UNKNOWN  # type: ignore[arg-type]


def test_hostile_deeply_nested_page_is_cut_and_never_available():
    import time as _time

    from monitor.page import MAX_TAGS

    evil = (
        b"<html><body>"
        + b"<div>" * 200_000
        + b'<a href="/booking/create/1/5/1893456000">libre</a>'
        + b"</div>" * 200_000
        + b"</body></html>"
    )
    started = _time.perf_counter()
    verdict = classify(200, {"Content-Type": "text/html"}, evil)
    assert verdict.status is not Status.AVAILABLE
    assert _time.perf_counter() - started < 60  # it terminates; speed is for bench/
    assert MAX_TAGS < 200_000
