"""The tree reader's Python walk selects what the CSS selectors it replaces select.

:func:`~monitor.sites.ezbooking.reading.read_tree` walks the elements rather
than asking lexbor's selector engine (whose setup per document cost more than
parsing a booking block). Here the selectors themselves, run by lexbor, are the
oracle, on documents mixing the booking ids in every case, in quirks and
standards mode, with planted headings, images, inputs and nesting.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from monitor.page import squash, visible_text
from monitor.sites.ezbooking.reading import fold, quote, read_tree

_IDS = [
    "inner_Booking",
    "INNER_BOOKING",
    "inner_booking",
    "FormBookingCreate",
    "formbookingcreate",
    "Progress_Booking",
    "progress_booking",
    "submit_Booking",
    "SUBMIT_BOOKING",
    "condition_Booking",
    "Condition_booking",
    "fchoix_Booking",
    "FCHOIX_BOOKING",
    "other",
]
_TAGS = ["div", "form", "ul", "li", "p", "span", "section", "table", "td", "tr"]
_LEAVES = [
    "<h2>Choix d'une plage horaire</h2>",
    "<h2>Description</h2>",
    "<h1>Titre</h1>",
    "<title>Page</title>",
    '<img src="/img/etape_3r.png">',
    '<img src="/img/ETAPE_4r.png">',
    '<img src="/img/etape_4r.png?x=1">',
    '<input name="nextButton" value="Etape suivante">',
    '<button name="nextButton">Suite</button>',
    '<input type="checkbox" name="condition">',
    '<input type="radio" name="planning" value="1">',
    '<input name="CONDITION">',
    "texte",
    "<svg><h2>dans svg</h2><title>t</title></svg>",
]


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 4 and draw(st.booleans()):
            tag = draw(st.sampled_from(_TAGS))
            ident = draw(st.sampled_from(_IDS))
            inner = draw(documents(depth + 1))
            parts.append(f'<{tag} id="{ident}">{inner}</{tag}>')
        else:
            parts.append(draw(st.sampled_from(_LEAVES)))
    return "".join(parts)


def _by_css(tree: LexborHTMLParser) -> dict[str, object]:
    """What the reader reads, through the selectors it used to run."""
    node = tree.css_first("#inner_Booking > h2") or tree.css_first("#FormBookingCreate h2")
    block = tree.css_first("#inner_Booking")
    progress = set()
    for img in tree.css('#Progress_Booking img[src*="etape_"]'):
        src = img.attributes.get("src") or ""
        for step in ("3", "4"):
            if f"etape_{step}r.png" in src:
                progress.add(int(step))
    return {
        "step": quote(fold(node.text(separator=" "))) or None if node is not None else None,
        "block": squash(block.text(separator=" ")) if block is not None else "",
        "headings": [(n.tag, squash(n.text(separator=" "))) for n in tree.css("title, h1, h2")],
        "progress": frozenset(progress),
        "landing": tree.css_first('input[name="condition"], #condition_Booking') is not None,
        "step1": tree.css_first('input[name="planning"], #fchoix_Booking') is not None,
        "submit": tree.css_first('#FormBookingCreate #submit_Booking [name="nextButton"]')
        is not None,
    }


@settings(max_examples=400, deadline=None)
@given(body=documents(), quirks=st.booleans())
def test_the_walk_reads_what_the_selectors_select(body: str, quirks: bool) -> None:
    source = ("" if quirks else "<!DOCTYPE html>") + f"<html><body>{body}</body></html>"
    walked_tree = LexborHTMLParser(source)
    reading = read_tree(walked_tree, visible_text(walked_tree), source)
    oracle_tree = LexborHTMLParser(source)
    visible_text(oracle_tree)
    expected = _by_css(oracle_tree)
    assert reading.squashed == squash(visible_text(oracle_tree))
    assert reading.step == expected["step"]
    assert reading.block == expected["block"]
    assert [(h.tag, h.squashed) for h in reading.headings] == expected["headings"]
    assert reading.progress == expected["progress"]
    assert reading.landing == expected["landing"]
    assert reading.step1 == expected["step1"]
    assert reading.submit == expected["submit"]
