"""Read a booking page by parsing only its booking block; its chrome is read once.

A prefecture page is 13-80 KB of site chrome (head, scripts, menus, footer)
around a ~2 KB booking block ``div#global_Booking``, and the site serves the
same chrome on every check. :func:`read_page` cuts the source in three: the
*prefix* before the block's start tag, the *block* up to its end tag, the
*suffix* after it. Only the block is parsed on every call; the readings of the
prefix and the suffix come from :func:`read_chrome`, a pure function memoized
on its exact text (compared in place, never hashed: a wrong hit is impossible),
so a daemon that checks the same site again parses a fraction of each page.
The block's tree is kept with the page (:func:`booking_block`), and the form
reader (:mod:`~monitor.sites.ezbooking.forms`) reads the booking form from it:
a booking page is parsed once, block only.

The cut is exact or not taken. The three readings join into the whole page's
reading only when each part parses alone as it does inside the page; the
whole page is parsed whenever there is any doubt:

* the prefix and the block (when a suffix follows it) are each parsed with a
  *probe* appended, ``<div><form></form>x</div>``, which must come out as the
  last element of the document, under nothing but plain containers (``div``,
  ``main``…), with its form created and its text bare: the cut then sits in
  the tokenizer's data state, outside any table, select, template, foreign
  content, heading, link or open form, with no formatting element waiting to
  be reopened. That is the state in which the next part starts alone;
* the prefix and the suffix hold no markup the decision reads beyond text,
  headings, captcha widgets and navigation inputs (no ``#inner_Booking``,
  ``#FormBookingCreate``, ``#Progress_Booking``, ``#submit_Booking``, no table
  or cell, no ``select``/``template``/``svg``/``iframe``…), looked for in the
  source, whatever its case, and in the tree;
* every part is parsed behind the page's own doctype, so that lexbor uses the
  same (quirks or standards) mode; a doctype that is not the page's first
  token sends the page to the whole-page route.

The vetoes that read the whole text (the FULL message, proxy and deny texts,
the closed sentence, captcha text, headings, weak words on short pages) see
the three texts concatenated in order, so a message spanning a cut still
matches: :func:`~monitor.page.squash` of a concatenation is the concatenation
of the squashes. ``tests/test_classify_scoped.py`` proves the two routes give
the same verdicts.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.page import INVISIBLE, Page, visible_text
from monitor.sites.ezbooking.reading import (
    Reading,
    ascii_lowered,
    join,
    labels,
    read_tree,
    spells_booking_form,
)

__all__ = ["Block", "Chrome", "booking_block", "read_chrome", "read_page", "split"]

_START = '<div id="global_Booking"'
_PROBE_ID = "rdv-monitor-probe"
_PROBE = f'<div id="{_PROBE_ID}"><form id="{_PROBE_ID}-form"></form>x</div>'
_PLAIN = frozenset(
    {"html", "body", "div", "main", "section", "article", "aside", "header", "footer", "nav"}
)
"""Containers a cut may sit in: none changes how what follows is parsed."""
_HTML_SPACE = " \t\n\r\f"
_RESETS = re.compile(rb"<(?:html|body|frameset)[\s/>]")
"""Start tags (in a lowered source) whose effect depends on what came before.

ASCII whitespace only ends a tag name, which ``\\s`` on bytes covers (and a little more).
"""


@dataclass(frozen=True, slots=True)
class Chrome:
    """The reading of a prefix or suffix, the page's doctype, the containers open at its end.

    With what :mod:`~monitor.sites.ezbooking.forms` needs to read the booking
    form from the block alone: the chrome's labels, and whether it holds a
    form with the booking form's id (read before anything invisible is dropped).
    """

    reading: Reading
    doctype: str
    stack: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    booking_form: bool


@dataclass(frozen=True, slots=True)
class Block:
    """A page's booking block parsed alone, when the cut is exact: read once per page.

    ``tree`` holds the block (behind a few start tags that reopen the
    containers around it); ``untouched`` says nothing invisible was dropped
    from it, so it is what the whole page's tree holds there.
    """

    reading: Reading
    tree: LexborHTMLParser
    untouched: bool
    before: Chrome
    after: Chrome | None


def split(html: str) -> tuple[str, str, str] | None:
    """(prefix, block, suffix) of a page around its ``div#global_Booking``, or None.

    The block runs from the start tag to the ``</div>`` that balances it
    (counting ``<div`` and ``</div`` in the source); when none does, it runs to
    the end and the suffix is empty. A wrong count is harmless: the checks of
    :func:`read_page` reject a cut that is not clean.
    """
    bounds = _bounds(html)
    if bounds is None:
        return None
    start, end = bounds
    return html[:start], html[start:end], html[end:]


def _bounds(html: str) -> tuple[int, int] | None:
    """Where :func:`split` cuts ``html``: the block's start and end offsets."""
    start = html.find(_START)
    if start < 0:
        return None
    depth = 0
    opening = html.find("<div", start)
    closing = html.find("</div", start)
    end = len(html)
    while closing >= 0:
        if 0 <= opening < closing:
            depth += 1
            opening = html.find("<div", opening + 4)
            continue
        depth -= 1
        if depth == 0:
            gt = html.find(">", closing)
            end = len(html) if gt < 0 else gt + 1
            break
        closing = html.find("</div", closing + 5)
    return start, end


def read_page(page: Page, *, whole_page: bool = False) -> Reading:
    """What the classifier reads of ``page``: scoped to its booking block when that is exact.

    ``whole_page=True`` parses and reads the whole document, the reference the
    scoped route is tested against.
    """
    if not whole_page and (block := booking_block(page)) is not None:
        return block.reading
    return read_tree(page.tree, page.text, page.html)


_NOT_SCOPED = "scoped: not exact"


def booking_block(page: Page) -> Block | None:
    """``page``'s booking block parsed alone, or None when the cut is not exact.

    Kept with the page, so that the classifier and the form reader share one
    parse of the block.
    """
    known = page.derived.get(__name__)
    if isinstance(known, Block):
        return known
    if known == _NOT_SCOPED:
        return None
    block = _read_scoped(page.html)
    page.derived[__name__] = block if block is not None else _NOT_SCOPED
    return block


def _read_scoped(html: str) -> Block | None:
    bounds = _bounds(html)
    if bounds is None:
        return None
    start, end = bounds
    block = html[start:end]
    lowered = ascii_lowered(block)
    if _resets(block, lowered):
        return None
    before = _chrome(html, start, None, ())
    if before is None:
        return None
    suffixed = end < len(html)
    opening = before.doctype + _prelude(before.stack)
    # ascii_lowered works character by character: the block's bytes, lowered once, serve twice.
    lowered = ascii_lowered(opening) + lowered
    middle = _read_part(opening + block, probe=suffixed, lowered=lowered)
    if middle is None:
        return None
    whole = join(before.reading, middle.reading)
    if not suffixed:
        return Block(whole, middle.tree, middle.untouched, before, None)
    after = _chrome(html, end, before.doctype, middle.stack)
    if after is None:
        return None
    return Block(join(whole, after.reading), middle.tree, middle.untouched, before, after)


_MEMO_SIZE = 8
_memo: list[tuple[str, str | None, tuple[str, ...], Chrome | None]] = []
"""Recent chromes (source, doctype, stack, reading), most recent first."""
_memo_lock = threading.Lock()


def _chrome(html: str, cut: int, doctype: str | None, stack: tuple[str, ...]) -> Chrome | None:
    """:func:`read_chrome` of ``html``'s prefix before ``cut`` (``doctype`` None) or suffix after.

    Memoized on the exact text, compared rather than hashed: hashing 50-80 KB
    of chrome twice per page cost more than parsing the block. A hit needs
    equal text, so it is never wrong. The part is sliced out before comparing:
    an ASCII chrome in a page with one accent is stored narrower than the
    page, and ``startswith`` across the two widths compares character by
    character, twice the cost of the slice and a memcmp.
    """
    length = cut if doctype is None else len(html) - cut
    with _memo_lock:
        for i, (source, known_doctype, known_stack, chrome) in enumerate(_memo):
            if (
                len(source) == length
                and known_doctype == doctype
                and known_stack == stack
                and (html[:cut] if doctype is None else html[cut:]) == source
            ):
                if i:
                    _memo.insert(0, _memo.pop(i))
                return chrome
    source = html[:cut] if doctype is None else html[cut:]
    chrome = read_chrome(source, doctype, stack)
    with _memo_lock:
        _memo.insert(0, (source, doctype, stack, chrome))
        del _memo[_MEMO_SIZE:]
    return chrome


def read_chrome(source: str, doctype: str | None, stack: tuple[str, ...]) -> Chrome | None:
    """The reading of a page's prefix (``doctype`` None) or suffix, or None if it is not clean.

    Pure (memoized by :func:`_chrome`): a site sends the same chrome on every
    check. A prefix brings the page's doctype (``""`` if it has none) and the
    containers open at its end; a suffix is parsed behind the doctype and the
    containers open before it (``stack``).
    """
    if doctype is None:
        doctype = _doctype(source)
        if doctype is None:
            return None
        read = _read_part(source, probe=True, chrome=True)
    else:
        if _resets(source):
            return None
        read = _read_part(doctype + _prelude(stack) + source, probe=False, chrome=True)
    if read is None or not read.reading.booking_free:
        return None
    return Chrome(read.reading, doctype, read.stack, read.labels, read.booking_form)


def _resets(source: str, lowered: bytes | None = None) -> bool:
    """``source`` holds a start tag of :data:`_RESETS` (plain finds on lowered bytes first:
    a case-blind regex over a block cost as much as parsing it); ``lowered`` is
    :func:`~monitor.sites.ezbooking.reading.ascii_lowered` of ``source`` when known."""
    if lowered is None:
        lowered = ascii_lowered(source)
    if b"<html" not in lowered and b"<body" not in lowered and b"<frameset" not in lowered:
        return False
    return _RESETS.search(lowered) is not None


def _prelude(stack: tuple[str, ...]) -> str:
    """Start tags that reopen ``stack`` and, like the text before them, end the frameset window."""
    return "".join(f"<{tag}>" for tag in stack) + "<img>"


def _doctype(prefix: str) -> str | None:
    """The doctype token that opens the page ("" if none), None if one comes later."""
    head = prefix.lstrip(_HTML_SPACE)
    doctype = ""
    if head[:9].lower() == "<!doctype":
        gt = head.find(">")
        if gt < 0:
            return None
        doctype, head = head[: gt + 1], head[gt + 1 :]
    return None if "<!doctype" in head.lower() else doctype


@dataclass(frozen=True, slots=True)
class _Part:
    reading: Reading
    stack: tuple[str, ...]
    tree: LexborHTMLParser
    untouched: bool
    labels: tuple[tuple[str, str], ...] = ()
    booking_form: bool = False


def _read_part(
    source: str, *, probe: bool, chrome: bool = False, lowered: bytes | None = None
) -> _Part | None:
    """Parse ``source`` alone and read it, with the containers open at its end.

    With ``probe``, None unless the source ends cleanly (see the module
    docstring). With ``chrome``, also what the form reader needs of it.
    ``lowered`` is :func:`~monitor.sites.ezbooking.reading.ascii_lowered` of
    ``source`` when the caller has it.
    """
    tree = LexborHTMLParser(source + _PROBE if probe else source)
    stack: tuple[str, ...] = ()
    if probe:
        # A clean probe is the document's last div (no CSS: see read_tree).
        divs = tree.tags("div")
        node = divs[-1] if divs else None
        if node is None or node.id != _PROBE_ID or (found := _open_containers(node)) is None:
            return None
        stack = found
        node.decompose()
    found_labels = labels(tree) if chrome else ()
    booking_form = chrome and any(spells_booking_form(form) for form in tree.tags("form"))
    untouched = not any(tree.tags(name) for name in INVISIBLE)
    reading = read_tree(tree, visible_text(tree), source, lowered)
    return _Part(reading, stack, tree, untouched, found_labels, booking_form)


def _open_containers(probe: LexborNode) -> tuple[str, ...] | None:
    """The containers open around the probe (below ``body``), or None if the end is not clean.

    Clean: the probe is whole (its form created, its text bare), last in the
    document, and only under plain containers, none of them the booking's.
    """
    child = probe.child
    if child is None or child.tag != "form" or child.attributes.get("id") != f"{_PROBE_ID}-form":
        return None
    text = child.next
    if text is None or not text.is_text_node or text.text_content != "x" or text.next is not None:
        return None
    if probe.next is not None:
        return None
    stack: list[str] = []
    parent = probe.parent
    while parent is not None and parent.tag != "body":
        tag = parent.tag or ""
        if tag not in _PLAIN or parent.next is not None:
            return None
        if "booking" in (parent.attributes.get("id") or "").lower():
            return None
        stack.append(tag)
        parent = parent.parent
    if parent is None or parent.next is not None or parent.parent is None:
        return None
    html = parent.parent
    if html.tag != "html" or html.next is not None:
        return None
    return tuple(reversed(stack))
