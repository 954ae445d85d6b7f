"""The scoped route (booking block parsed, chrome read once) gives the whole-page verdicts.

:mod:`monitor.sites.ezbooking.scoped` parses only ``div#global_Booking`` and
reads the site's chrome through a memo; ``whole_page=True`` parses the whole
document. Whatever is planted in the chrome or around the cut, both must give
the same status, step, slots and count, on the fixtures and on the real pages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.observation import Status, Verdict
from monitor.page import parse_page
from monitor.sites.ezbooking.classify import classify
from monitor.sites.ezbooking.scoped import forget, read_page, split

PAGES = Path(__file__).parent / "pages"
REAL_PAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "real-pages"
BOOKING_PAGES = {
    p.name: p.read_bytes()
    for p in [*sorted(PAGES.glob("*.html")), *sorted(REAL_PAGES.glob("*.htm*"))]
    if b'<div id="global_Booking"' in p.read_bytes()
}
PLANTS = [
    "<p>Il n’existe plus de plage horaire libre pour votre demande de rendez-vous.</p>",
    "Il n'existe plus de plage",
    " horaire libre pour votre demande de rendez-vous.",
    "<h1>Forbidden</h1>",
    "<h1>Service",
    " Unavailable</h1>",
    "<title>502 Bad Gateway</title>",
    "No server is available to handle this request.",
    "Service surcharg&eacute;",
    "Cette page n'est pas disponible pour le moment",
    "<h2>maintenance</h2>",
    "code de sécurité",
    '<div class="g-recaptcha"></div>',
    '<input name="eZHuman&#67;APTCHACode">',
    '<input type="checkbox" name="condition">',
    '<input type="radio" name="planning" value="1">',
    '<div id="inner_Booking"><h2>Description de la nature du rendez-vous</h2></div>',
    '<form id="FormBookingCreate"><h2>Choix d\'une plage horaire</h2>',
    '<div id="submit_Booking"><input name="nextButton" value="Etape suivante"></div>',
    '<ul id="Progress_Booking"><li><img src="etape_4r.png"></li></ul>',
    '<table><tr><td class="status-1"><a href="/booking/create/1/5/1893456000">libre</a></td>',
    '<td class="free"><a href="/booking/create/1/5/1893459600">x</a></td>',
    "<td>complet</td>",
    "</table>",
    "<table>",
    '<div id="global_Booking">',
    "<div>",
    "</div>",
    "</div></div></div>",
    "<!--",
    "-->",
    "<script>",
    "</script>",
    "<style>",
    "<form>",
    "</form>",
    "<b>",
    '<a href="/booking/create/1/5/1893456000">',
    "<p>",
    "<span>",
    "<li>",
    "<h1>",
    "<select>",
    "<template>",
    "<svg>",
    "<textarea>",
    "<frameset>",
    '<body class="g-recaptcha">',
    "<!DOCTYPE html>",
    "</html>",
    "</body>",
    '"',
    "'",
    "<",
    "&",
]


def same(scoped: Verdict, whole: Verdict) -> None:
    assert (scoped.status, scoped.step, scoped.slot_count, scoped.slots) == (
        whole.status,
        whole.step,
        whole.slot_count,
        whole.slots,
    )
    assert scoped.detail == whole.detail


def both(code: int, body: bytes, url: str | None = None) -> tuple[Verdict, Verdict]:
    return (
        classify(code, {}, body, url=url),
        classify(code, {}, body, url=url, whole_page=True),
    )


@pytest.mark.parametrize("seen", ["first sight", "again"])
@pytest.mark.parametrize("name", sorted(BOOKING_PAGES))
def test_booking_pages_read_scoped_give_the_whole_page_verdict(name: str, seen: str) -> None:
    body = BOOKING_PAGES[name]
    classify(200, {}, body)  # "again": what follows reads the page's parts from the memos
    for code in (200, 403, 503):
        if seen == "first sight":
            forget()
        same(*both(code, body))
    same(*both(200, body, "https://x.example/booking/create/1/3"))


def test_pages_that_differ_only_in_their_block_never_share_a_reading() -> None:
    """The memos answer only for the exact text: one letter changed is a new page."""
    full = BOOKING_PAGES["full_typographic.html"]
    start = full.index(b"Il n")
    changed = {
        "full": full,
        "one letter": full[:start] + b"Il m" + full[start + 4 :],
        "one byte less": full[:start] + full[start + 1 :],
        "step 3": BOOKING_PAGES["step3_description.html"],
        "slots": BOOKING_PAGES["step4_free_slots.html"],
    }
    expected = {name: classify(200, {}, body, whole_page=True) for name, body in changed.items()}
    assert expected["full"].status is Status.FULL
    assert expected["one letter"].status is not Status.FULL
    for _ in range(3):  # interleaved, so that each page's parts are in the memos
        for name, body in changed.items():
            same(classify(200, {}, body), expected[name])


def test_real_full_pages_take_the_scoped_route() -> None:
    # The route exists for these: a cut that never applied would prove nothing.
    real = [name for name in BOOKING_PAGES if not (PAGES / name).exists()]
    if not real:
        pytest.skip(f"the real saved pages are not here ({REAL_PAGES})")
    for name in [*real, "full_typographic.html", "step4_free_slots.html"]:
        parts = split(parse_page({}, BOOKING_PAGES[name]).html)
        assert parts is not None and all(parts), name


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    name=st.sampled_from(sorted(BOOKING_PAGES)),
    code=st.sampled_from([200, 200, 200, 403, 503]),
    url=st.sampled_from(
        [None, "https://x.example/booking/create/1/2", "https://x.example/booking/create/1/4"]
    ),
)
def test_mutated_booking_pages_give_the_same_verdict_both_ways(
    data: st.DataObject, name: str, code: int, url: str | None
) -> None:
    body = BOOKING_PAGES[name]
    start = body.find(b'<div id="global_Booking"')
    for _ in range(data.draw(st.integers(1, 3))):
        plant = data.draw(st.sampled_from(PLANTS)).encode()
        where = data.draw(
            st.one_of(
                st.integers(0, len(body)),  # anywhere: chrome, block, suffix
                st.integers(max(0, start - 300), min(len(body), start + 3000)),  # near the cuts
            )
        )
        body = body[:where] + plant + body[where:]
    if data.draw(st.booleans()):
        body = body[: data.draw(st.integers(0, len(body)))]  # truncated
    same(*both(code, body, url))


def test_a_message_spanning_the_cut_is_still_found() -> None:
    body = BOOKING_PAGES["full_typographic.html"]
    start = body.find(b'<div id="global_Booking"')
    planted = (
        body[:start]
        + b"<p>Il n'existe plus de plage horaire"
        + body[start:].replace(b"Il n\xe2\x80\x99existe", b"Rien", 1)
    )
    scoped, whole = both(200, planted)
    same(scoped, whole)


def test_a_captcha_in_the_chrome_is_seen_by_both_routes() -> None:
    body = BOOKING_PAGES["step3_description.html"]
    planted = body.replace(b"<body", b'<div class="g-recaptcha"></div><body', 1)
    planted = planted.replace(b"</header>", b'</header><div class="g-recaptcha"></div>', 1)
    scoped, whole = both(503, planted)
    same(scoped, whole)
    assert scoped.status is Status.CAPTCHA


def test_slot_cells_planted_after_the_block_are_not_missed() -> None:
    body = BOOKING_PAGES["step4_all_complet.html"]
    cell = (
        b'<table><tr><td class="status-1"><a href="/booking/create/1/5/1893456000">x</a>'
        b"</td></tr></table>"
    )
    planted = body.replace(b"<!-- global_Booking -->", b"<!-- global_Booking -->" + cell, 1)
    same(*both(200, planted))


def test_an_open_form_before_the_block_sends_the_page_to_the_whole_route() -> None:
    # An unclosed form before the block makes the site's FormBookingCreate vanish:
    # step 3 must not be taken as evidence by one route and not the other.
    body = BOOKING_PAGES["step3_description.html"]
    planted = body.replace(b'<div id="global_Booking"', b'<form><div id="global_Booking"', 1)
    scoped, whole = both(200, planted)
    same(scoped, whole)
    assert scoped.status is not Status.AVAILABLE


def test_the_reading_is_the_same_both_ways_on_every_booking_page() -> None:
    for name, body in BOOKING_PAGES.items():
        assert read_page(parse_page({}, body)) == read_page(
            parse_page({}, body), whole_page=True
        ), name
