"""Properties of the classifier, with hypothesis.

1. Nothing generated from garbage or from a real error/closed/blocked/captcha/full
   page (cut, re-cased, injected with text, served with any error status) is
   ever ``available``.
2. Any prefix of an ``available`` page that cuts off its evidence is not
   ``available``.
3. The FULL message stays ``full`` through entity encoding, apostrophe style,
   whitespace, case, split into elements and the windows-1252 charset.
4. ``classify`` never raises, whatever the status code, headers and bytes.
5. The progress image and the URL's step only ever take evidence away: a FULL
   page with an ``etape_3r`` image planted anywhere or served at ``/3`` stays
   ``full``; evidence at another step's URL or image is not ``available``; a
   link outside a bookable cell never counts as a slot.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.observation import Status, Verdict
from monitor.page import squash
from monitor.sites.ezbooking.classify import FULL_MESSAGE, FULL_MESSAGE_TYPO, classify

PAGES = Path(__file__).parent / "pages"
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(name: str) -> bytes:
    return (PAGES / name).read_bytes()


NOT_AVAILABLE_FIXTURES = sorted(
    p.name
    for p in PAGES.glob("*.html")
    if not p.name.startswith(("step3_description", "step3_with", "step4_free", "step4_index"))
    and p.name != "ezjscore_week_free.html"
)
AVAILABLE_FIXTURES = {
    # fixture → the bytes that end its evidence: a prefix without them is not evidence
    "step3_description.html": b"</html>",
    "step3_with_recaptcha.html": b"</html>",
    "step4_free_slots.html": b"</html>",
    "step4_index_php_absolute_links.html": b"</html>",
    "ezjscore_week_free.html": b"</table>",
}
BODIES = {name: load(name) for name in [*NOT_AVAILABLE_FIXTURES, *AVAILABLE_FIXTURES]}

WORDS = [
    "libre",
    "Libre",
    "LIBRE",
    "disponible",
    "créneau",
    "cr&eacute;neau",
    "rendez-vous",
    "plage horaire",
    "Choix d'une plage horaire",
    "complet",
    "Etape suivante",
    "réserver",
    "slot",
    "available",
    "&nbsp;",
    "&#039;",
    "’",
    "\u00a0",
    "é",
    "\n",
    "<",
    ">",
    "&",
]
TAGS = [
    "<td>libre</td>",
    '<td class="libre">libre</td>',
    "<span>",
    "</span>",
    "<div>",
    "</div>",
    "</form>",
    "</table>",
    "</html>",
    "<table><tr><td>",
    "<h2>",
    "</h2>",
    '<a href="/booking/create/29396/4/1796630400">libre</a>',
    '<a href="/5/1796630400">libre</a>',
    '<a href="/booking/create/29396/5/0">libre</a>',
    '<a href="/booking/create/29396/5/99999999999">libre</a>',
    '<a href="/booking/create/29396/50/1796630400">libre</a>',
    "<!--",
    "-->",
    "<script>",
    "</script>",
    "<![CDATA[",
    "\x00",
    "\ufffd",
]
ERROR_CODES = st.sampled_from([200, 400, 403, 404, 408, 410, 429, 451, 500, 502, 503, 504])


def assert_not_available(verdict: Verdict) -> None:
    assert isinstance(verdict, Verdict)
    assert verdict.status is not Status.AVAILABLE, verdict.detail
    assert verdict.slots == ()


# ── 1. garbage and mutated error pages are never available ──────────────────


@SETTINGS
@given(body=st.binary(max_size=4096), code=st.integers(100, 599))
def test_random_bytes_are_never_available(body: bytes, code: int) -> None:
    assert_not_available(classify(code, {}, body))


ELEMENT_NAMES = ["div", "p", "span", "table", "tr", "td", "h1", "h2", "form", "a", "b", "li"]
IDS = ["inner_Booking", "FormBookingCreate", "submit_Booking", "condition", "fchoix_Booking", ""]


@st.composite
def html_soup(draw: st.DrawFn, depth: int = 0) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            parts.append(draw(st.sampled_from(WORDS)))
        elif kind == 1:
            parts.append(draw(st.sampled_from(TAGS)))
        elif kind == 2:
            parts.append(draw(st.text(max_size=20)))
        elif depth < 4:
            name = draw(st.sampled_from(ELEMENT_NAMES))
            ident = draw(st.sampled_from(IDS))
            attrs = f' id="{ident}"' if ident else ""
            if name == "a":
                attrs += ' href="/booking/create/29396/5/17966304"'  # too early: 1970
            if draw(st.booleans()):
                attrs += ' name="nextButton"'
            inner = draw(html_soup(depth=depth + 1))
            parts.append(f"<{name}{attrs}>{inner}</{name}>")
    return "".join(parts)


@SETTINGS
@given(
    soup=html_soup(),
    document=st.booleans(),
    code=st.integers(100, 599),
    encoding=st.sampled_from(["utf-8", "cp1252", "utf-16"]),
)
def test_random_html_is_never_available(
    soup: str, document: bool, code: int, encoding: str
) -> None:
    text = f"<!DOCTYPE html><html><body>{soup}</body></html>" if document else soup
    body = text.encode(encoding, errors="replace")
    assert_not_available(classify(code, {}, body))


@st.composite
def mutated(draw: st.DrawFn, names: list[str]) -> tuple[bytes, int]:
    body = BODIES[draw(st.sampled_from(names))]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["cut", "inject", "upper", "lower", "drop"]))
        if op == "cut":
            body = body[: draw(st.integers(0, len(body)))]
        elif op == "inject":
            at = draw(st.integers(0, len(body)))
            snippet = draw(st.sampled_from(WORDS + TAGS) | st.text(max_size=30))
            body = body[:at] + snippet.encode("utf-8") + body[at:]
        elif op == "drop":
            start = draw(st.integers(0, len(body)))
            body = body[:start] + body[start + draw(st.integers(0, 200)) :]
        elif op == "upper":
            body = body.upper()
        else:
            body = body.lower()
    return body, draw(ERROR_CODES)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated(NOT_AVAILABLE_FIXTURES))
def test_mutated_error_and_full_pages_are_never_available(case: tuple[bytes, int]) -> None:
    body, code = case
    assert_not_available(classify(code, {}, body))


@SETTINGS
@given(
    name=st.sampled_from(sorted(AVAILABLE_FIXTURES)), code=ERROR_CODES.filter(lambda c: c != 200)
)
def test_available_pages_served_with_an_error_status_are_not_available(
    name: str, code: int
) -> None:
    assert_not_available(classify(code, {}, BODIES[name]))


# ── 2. any prefix that cuts off the evidence is not available ────────────────


def test_the_available_fixtures_are_available() -> None:
    for name in AVAILABLE_FIXTURES:
        assert classify(200, {}, BODIES[name]).status is Status.AVAILABLE, name


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(AVAILABLE_FIXTURES)))
def test_prefixes_that_cut_the_evidence_are_not_available(data: st.DataObject, name: str) -> None:
    body = BODIES[name]
    end = body.rindex(AVAILABLE_FIXTURES[name])
    cut = data.draw(st.integers(0, end + len(AVAILABLE_FIXTURES[name]) - 1), label="cut")
    assert_not_available(classify(200, {}, body[:cut]))


# ── 3. the FULL message survives any rendering ───────────────────────────────

APOSTROPHES = ["'", "’", "&#039;", "&rsquo;", "&#8217;", "&apos;", "&#x2019;"]
SPACES = [" ", "  ", "\n", "\r\n\t", "&nbsp;", "\u00a0", "&#160;", " <br> ", "\u202f"]
ACCENTS = {"é": ["é", "&eacute;", "&#233;", "&#xe9;"], "É": ["É", "&Eacute;", "&#201;"]}
WRAPS = ["span", "b", "strong", "em", "i", 'span class="nobr"']


@st.composite
def full_message_html(draw: st.DrawFn) -> str:
    message = draw(st.sampled_from([FULL_MESSAGE, FULL_MESSAGE_TYPO]))
    out: list[str] = []
    for word in message.split(" "):
        word = draw(st.sampled_from([str.lower, str.upper, str.title, str]))(word)
        rendered = ""
        for ch in word:
            if ch == "'":
                rendered += draw(st.sampled_from(APOSTROPHES))
            elif ch in ACCENTS:
                rendered += draw(st.sampled_from(ACCENTS[ch]))
            else:
                rendered += ch
        if draw(st.booleans()) and len(rendered) > 1 and "&" not in rendered:
            split = draw(st.integers(1, len(rendered) - 1))
            tag = draw(st.sampled_from(WRAPS)).split(" ")[0]
            rendered = f"{rendered[:split]}<{tag}>{rendered[split:]}</{tag}>"
        elif draw(st.booleans()):
            wrap = draw(st.sampled_from(WRAPS))
            rendered = f"<{wrap}>{rendered}</{wrap.split(' ')[0]}>"
        out.append(rendered)
        out.append(draw(st.sampled_from(SPACES)))
    return "".join(out)


FULL_TEMPLATE = load("full_straight_apostrophe.html").decode("utf-8")
assert FULL_MESSAGE in FULL_TEMPLATE


@SETTINGS
@given(
    message=full_message_html(), encoding=st.sampled_from(["utf-8", "cp1252"]), header=st.booleans()
)
def test_full_message_survives_any_rendering(message: str, encoding: str, header: bool) -> None:
    page = FULL_TEMPLATE.replace(FULL_MESSAGE, message)
    if encoding == "cp1252":
        page = page.replace('charset="utf-8"', 'charset="windows-1252"')
    headers = {"Content-Type": f"text/html; charset={encoding}"} if header else {}
    verdict = classify(200, headers, page.encode(encoding, errors="xmlcharrefreplace"))
    assert verdict.status is Status.FULL, (message, verdict.detail)


# ── 4. never raises ──────────────────────────────────────────────────────────


@SETTINGS
@given(
    code=st.integers(-(10**6), 10**6),
    headers=st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=4),
    body=st.binary(max_size=2048) | st.sampled_from(list(BODIES.values())),
)
def test_classify_never_raises(code: int, headers: dict[str, str], body: bytes) -> None:
    verdict = classify(code, headers, body)
    assert isinstance(verdict, Verdict)
    assert verdict.status in Status
    assert verdict.detail and "\n" not in verdict.detail


@SETTINGS
@given(charset=st.text(max_size=30), body=st.sampled_from(list(BODIES.values())))
def test_classify_never_raises_on_odd_charsets(charset: str, body: bytes) -> None:
    verdict = classify(200, {"Content-Type": f"text/html; charset={charset}"}, body)
    assert isinstance(verdict, Verdict)


# squash() in monitor/page.py is a regex now; it must equal its original definition.
@SETTINGS
@given(text=st.text())
def test_squash_is_alnum_only(text: str) -> None:
    decomposed = unicodedata.normalize("NFKD", text).casefold()
    assert squash(text) == "".join(c for c in decomposed if c.isalnum())


# ── the step marks: the progress image and the URL can only take evidence away ──

FULL_FIXTURES = sorted(p.name for p in PAGES.glob("full_*.html"))
ACTIVE_IMAGE = b'<img src="/extension/ezbooking/design/ezbooking/images/etape_%dr.png" alt="" />'
PLACES = [
    b"<body",
    b'<div id="header_Booking"',
    b"</form>",
    b'<div id="submit_Booking"',
    b"</body>",
]


@SETTINGS
@given(
    name=st.sampled_from(FULL_FIXTURES),
    step=st.sampled_from([3, 4, 6]),
    place=st.sampled_from(PLACES),
    url_step=st.sampled_from([None, 2, 3, 4]),
)
def test_full_page_with_a_planted_active_image_or_a_slot_url_is_full(
    name: str, step: int, place: bytes, url_step: int | None
) -> None:
    body = load(name)
    at = body.find(place)
    body = body[:at] + ACTIVE_IMAGE % step + body[at:] if at >= 0 else body + ACTIVE_IMAGE % step
    site = "https://www.val-doise.gouv.fr/booking/create/11343"
    url = None if url_step is None else f"{site}/{url_step}"
    verdict = classify(200, {}, body, url=url)
    assert verdict.status is Status.FULL, verdict.detail


@SETTINGS
@given(
    name=st.sampled_from(sorted(n for n in AVAILABLE_FIXTURES if n.startswith("step"))),
    url_step=st.sampled_from([0, 1, 2, 5, 6, 8]),
)
def test_evidence_at_a_url_of_another_step_is_not_available(name: str, url_step: int) -> None:
    url = f"https://pprdv.interieur.gouv.fr/booking/create/948/{url_step}"
    assert_not_available(classify(200, {}, BODIES[name], url=url))


@SETTINGS
@given(name=st.sampled_from(["step3_description.html", "step4_free_slots.html"]))
def test_evidence_whose_active_image_is_another_steps_is_not_available(name: str) -> None:
    own = b"etape_3r.png" if name.startswith("step3") else b"etape_4r.png"
    body = BODIES[name]
    assert own in body
    for other in (b"etape_1r.png", b"etape_6r.png"):
        assert_not_available(classify(200, {}, body.replace(own, other)))


@SETTINGS
@given(
    data=st.data(),
    classes=st.sampled_from(["status-0", "status-2", "complete", "", "libre", "status-0 libre"]),
)
def test_links_outside_bookable_cells_never_count(data: st.DataObject, classes: str) -> None:
    """Turning bookable cells into any other kind removes exactly those slots."""
    body = BODIES["step4_free_slots.html"]
    cells = body.count(b'<td class="status-1 free">')
    turned = data.draw(st.integers(1, cells))
    changed = body.replace(
        b'<td class="status-1 free">', f'<td class="{classes}">'.encode(), turned
    )
    verdict = classify(200, {}, changed)
    if turned == cells:
        assert_not_available(verdict)
    else:
        assert verdict.status is Status.AVAILABLE
        assert verdict.slot_count == cells - turned
