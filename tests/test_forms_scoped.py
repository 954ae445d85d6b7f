"""The booking form read from the booking block is the form read from the whole page.

The adapter reads the form of every page it classifies. On a booking page
whose block the classifier parsed alone, :func:`find_booking_form` reads the
form from that block (one parse per page); it must give exactly what reading
the whole document gives: action, method, fields, checkboxes, radios and their
labels, buttons.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from monitor.page import parse_page
from monitor.sites.ezbooking.classify import classify_page
from monitor.sites.ezbooking.forms import find_booking_form
from monitor.sites.ezbooking.scoped import booking_block, forget
from monitor.sites.ezbooking.sim import default_bookings, steps

PAGES = Path(__file__).parent / "pages"
REAL_PAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "real-pages"
URL = "https://www.example-prefecture.gouv.fr/booking/create/24980/1"


def _sim_pages() -> dict[str, bytes]:
    booking = default_bookings()[0]
    planning = booking.plannings[0]
    pages = {
        "sim landing": steps.landing(booking, "tok-1"),
        "sim step 1": steps.step1(booking, "tok-2"),
        "sim step 1 with error": steps.step1(booking, "tok-2", error="Choisissez un guichet"),
        "sim step 2 full": steps.step2_full(booking, "tok-3", planning.state),
        "sim step 3": steps.step3(booking, "tok-4", planning),
        "sim step 4": steps.step4(booking, "tok-5", planning, date(2026, 12, 7), 0, ()),
    }
    for variant in ("ezhuman", "recaptcha", "captchetat"):
        pages[f"sim captcha {variant}"] = steps.captcha(booking, "tok-6", variant)
    return {name: html.encode("utf-8") for name, html in pages.items()}


PAGE_BODIES = {
    **{p.name: p.read_bytes() for p in sorted(PAGES.glob("*.html"))},
    **{p.name: p.read_bytes() for p in sorted(REAL_PAGES.glob("*.htm*"))},
    **_sim_pages(),
}


@pytest.mark.parametrize("seen", ["first sight", "again"])
@pytest.mark.parametrize("name", sorted(PAGE_BODIES))
def test_the_form_read_from_the_block_is_the_whole_pages(name: str, seen: str) -> None:
    """Again, the block's reading comes from the memo and its tree is parsed for the form."""
    body = PAGE_BODIES[name]
    headers = {"Content-Type": "text/html; charset=utf-8"}
    if seen == "first sight":
        forget()
    else:
        classify_page(200, headers, parse_page(headers, body), url=URL)
    page = parse_page(headers, body)
    classify_page(200, headers, page, url=URL)  # the adapter classifies first
    scoped = find_booking_form(page, URL)
    whole = find_booking_form(parse_page(headers, body), URL, whole_page=True)
    assert scoped == whole


def test_sim_booking_pages_are_read_from_their_block() -> None:
    """The sim's booking steps take the one-parse route, and their form is found there."""
    for name, body in _sim_pages().items():
        page = parse_page({}, body)
        assert booking_block(page) is not None, name
        assert find_booking_form(page, URL) is not None, name


def test_a_booking_form_id_in_the_chrome_sends_the_reader_to_the_whole_page() -> None:
    """A form by the booking form's id before the block is the one a browser's lookup finds."""
    body = (
        b"<!DOCTYPE html><html><body><div>"
        b'<form id="FormBookingCreate" action="/decoy" method="post">'
        b'<input name="a" value="1"></form>'
        b'</div><div id="global_Booking"><div id="inner_Booking">'
        b'<form id="FormBookingCreate" action="/real" method="post"><input name="b" value="2">'
        b"</form></div></div><p>pied</p></body></html>"
    )
    form = find_booking_form(parse_page({}, body), URL)
    assert form is not None
    assert form.action.endswith("/decoy")
    assert form == find_booking_form(parse_page({}, body), URL, whole_page=True)


def test_labels_of_the_chrome_still_name_the_radios() -> None:
    """``label[for]`` anywhere in the page names a radio of the booking form (last one wins)."""
    body = (
        b'<!DOCTYPE html><html><body><div><label for="r1">Chrome label</label></div>'
        b'<div id="global_Booking"><div id="inner_Booking">'
        b'<form id="FormBookingCreate" method="post"><input type="radio" name="planning" '
        b'id="r1" value="7"><input type="radio" name="planning" id="r2" value="8">'
        b'</form></div></div><div><label for="r2">Footer label</label></div></body></html>'
    )
    page = parse_page({}, body)
    assert booking_block(page) is not None
    form = find_booking_form(page, URL)
    assert form is not None
    assert [c.label for c in form.radios("planning")] == ["Chrome label", "Footer label"]
    assert form == find_booking_form(parse_page({}, body), URL, whole_page=True)
