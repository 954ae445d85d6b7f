"""Read a booking page by parsing only its booking block; what the site repeats is read once.

A prefecture page is 13-80 KB of site chrome (head, scripts, menus, footer)
around a ~2 KB booking block ``div#global_Booking``. :func:`read_page` cuts the
source in three: the *prefix* before the block's start tag, the *block* up to
its end tag, the *suffix* after it, and reads each part alone. Each reading is
a pure function of the part's exact text, memoized (:class:`_ExactMemo`,
compared in place, never hashed: a wrong hit is impossible). The site sends
the same chrome on every check, and the same block for as long as a calendar
stays full, so classifying a full calendar's page again parses nothing: it
decodes, cuts, compares and decides. A page whose block changed (slots
appeared) has its block parsed, its chrome read from the memo.

The block's tree is kept with the page (:func:`booking_block`), and the form
reader (:mod:`~monitor.sites.ezbooking.forms`) reads the booking form from it:
a booking page is parsed once, block only. The memo keeps readings, never
trees (a tree is mutable and not thread-safe): after a memo hit, the block
alone is parsed when the form reader asks for it (the adapter does on every
answer but a full calendar's, to walk on or to see whether the site kept its
session).

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

import enum
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

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

__all__ = ["Block", "Chrome", "booking_block", "forget", "read_chrome", "read_page", "split"]

_START = '<div id="global_Booking"'
_PROBE_ID = "rdv-monitor-probe"
_PROBE = f'<div id="{_PROBE_ID}"><form id="{_PROBE_ID}-form"></form>x</div>'
_PLAIN = frozenset(
    {"html", "body", "div", "main", "section", "article", "aside", "header", "footer", "nav"}
)
"""Containers a cut may sit in: none changes how what follows is parsed."""
_HTML_SPACE = " \t\n\r\f"
_V = TypeVar("_V")
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


@dataclass(slots=True)
class Block:
    """A page's booking block parsed alone, when the cut is exact: read once per page.

    ``source`` is what was parsed: the block behind a few start tags that
    reopen the containers around it. ``untouched`` says nothing invisible was
    dropped from it, so its tree is what the whole page's tree holds there.
    """

    reading: Reading
    source: str
    probe: bool
    untouched: bool
    before: Chrome
    after: Chrome | None
    parsed: LexborHTMLParser | None = None
    """The tree this page's reading came from; None when the reading came from the memo."""

    @property
    def tree(self) -> LexborHTMLParser:
        """The block's tree, parsed again the first time it is asked for after a memo hit.

        Only the form reader asks, and the daemon reads a form from few of the
        pages it classifies: a tree is never kept in the memo, where it would be
        shared between pages and threads.
        """
        if self.parsed is None:
            self.parsed, _ = _parse(self.source, probe=self.probe)
            visible_text(self.parsed)  # drops what the first parse dropped
        return self.parsed


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
    before = _chrome(html, start, None, ())
    if before is None:
        return None
    suffixed = end < len(html)
    opening = before.doctype + _prelude(before.stack)
    block = html[start:end]
    middle = _middle(opening, block, suffixed)
    if middle is None:
        return None
    whole = join(before.reading, middle.reading)
    source = opening + block
    if not suffixed:
        return Block(whole, source, False, middle.untouched, before, None, middle.tree)
    after = _chrome(html, end, before.doctype, middle.stack)
    if after is None:
        return None
    return Block(
        join(whole, after.reading), source, True, middle.untouched, before, after, middle.tree
    )


class _Miss(enum.Enum):
    MISS = enum.auto()


class _ExactMemo(Generic[_V]):
    """The last few results of a pure function of a text, found by comparing the text itself.

    Compared rather than hashed: hashing 50-80 KB of chrome twice per page
    cost more than parsing the block. A hit needs an equal text and equal
    ``extra`` arguments, so it is never wrong. The site sends the same chrome
    on every check, and the same booking block for as long as the calendar
    stays full: each distinct text is parsed and read once.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: list[tuple[str, object, _V]] = []
        """(text, extra, result), most recent first."""
        self._lock = threading.Lock()

    def get(self, length: int, extra: object, text: Callable[[], str]) -> _V | _Miss:
        """The result for the text ``text()`` (of ``length`` characters) and ``extra``.

        ``text`` is called only when an entry of that length and extra is
        there to compare with: a page's part is sliced out only then.
        """
        with self._lock:
            for i, (known, known_extra, result) in enumerate(self._entries):
                if len(known) == length and known_extra == extra and text() == known:
                    if i:
                        self._entries.insert(0, self._entries.pop(i))
                    return result
        return _Miss.MISS

    def put(self, text: str, extra: object, result: _V) -> None:
        with self._lock:
            self._entries.insert(0, (text, extra, result))
            del self._entries[self._size :]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_chromes: _ExactMemo[Chrome | None] = _ExactMemo(8)
_blocks: _ExactMemo[_Part | None] = _ExactMemo(8)


def forget(*, chrome: bool = True) -> None:
    """Empty the memos: the pages' blocks, and their chrome unless ``chrome`` is False.

    Every page is then read as if its parts had never been seen (or, with
    ``chrome=False``, as a page that changed on a known site). For measuring
    those cases (``bench/bench_classify.py``) and for tests that compare a
    first reading with a memoized one; the daemon never needs it.
    """
    _blocks.clear()
    if chrome:
        _chromes.clear()


def _chrome(html: str, cut: int, doctype: str | None, stack: tuple[str, ...]) -> Chrome | None:
    """:func:`read_chrome` of ``html``'s prefix before ``cut`` (``doctype`` None) or suffix after.

    The part is sliced out before comparing: an ASCII chrome in a page with
    one accent is stored narrower than the page, and ``startswith`` across the
    two widths compares character by character, twice the cost of the slice
    and a memcmp.
    """

    def part() -> str:
        return html[:cut] if doctype is None else html[cut:]

    length = cut if doctype is None else len(html) - cut
    known = _chromes.get(length, (doctype, stack), part)
    if not isinstance(known, _Miss):
        return known
    source = part()
    chrome = read_chrome(source, doctype, stack)
    _chromes.put(source, (doctype, stack), chrome)
    return chrome


def _middle(opening: str, block: str, probe: bool) -> _Part | None:
    """The block parsed and read behind ``opening``, or None if it does not stand alone.

    Memoized like the chrome; a result from the memo has no tree (see :attr:`Block.tree`).
    """
    known = _blocks.get(len(block), (opening, probe), lambda: block)
    if not isinstance(known, _Miss):
        return known
    part = None
    # ascii_lowered works character by character: the block's bytes, lowered once, serve twice.
    lowered = ascii_lowered(block)
    if not _resets(block, lowered):
        lowered = ascii_lowered(opening) + lowered
        part = _read_part(opening + block, probe=probe, lowered=lowered)
    _blocks.put(block, (opening, probe), None if part is None else part._replace(tree=None))
    return part


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
    begin = len(prefix) - len(prefix.lstrip(_HTML_SPACE))
    doctype, rest = "", begin
    if _spells_doctype(prefix, begin):
        gt = prefix.find(">", begin)
        if gt < 0:
            return None
        doctype, rest = prefix[begin : gt + 1], gt + 1
    # Each "<!" (comments mostly) is looked at, in place: lowering or slicing a 50 KB
    # prefix cost more than the rest of this function.
    at = prefix.find("<!", rest)
    while at >= 0:
        if _spells_doctype(prefix, at):
            return None
        at = prefix.find("<!", at + 2)
    return doctype


def _spells_doctype(source: str, at: int) -> bool:
    """``source`` has ``<!doctype`` at ``at``, in any ASCII case (as the tokenizer reads it)."""
    word = source[at : at + 9]
    return word.isascii() and word.lower() == "<!doctype"


class _Part(NamedTuple):
    reading: Reading
    stack: tuple[str, ...]
    tree: LexborHTMLParser | None
    untouched: bool
    labels: tuple[tuple[str, str], ...] = ()
    booking_form: bool = False


def _parse(source: str, *, probe: bool) -> tuple[LexborHTMLParser, tuple[str, ...] | None]:
    """``source`` parsed alone, and the containers open at its end (None: not a clean end).

    With ``probe``, the probe is appended, checked and removed (see the module
    docstring); without, the end is not looked at and the stack is empty.
    """
    tree = LexborHTMLParser(source + _PROBE if probe else source)
    if not probe:
        return tree, ()
    # A clean probe is the document's last div (no CSS: see read_tree).
    divs = tree.tags("div")
    node = divs[-1] if divs else None
    if node is None or node.id != _PROBE_ID:
        return tree, None
    stack = _open_containers(node)
    node.decompose()
    return tree, stack


def _read_part(
    source: str, *, probe: bool, chrome: bool = False, lowered: bytes | None = None
) -> _Part | None:
    """Parse ``source`` alone and read it, with the containers open at its end.

    With ``probe``, None unless the source ends cleanly (see the module
    docstring). With ``chrome``, also what the form reader needs of it.
    ``lowered`` is :func:`~monitor.sites.ezbooking.reading.ascii_lowered` of
    ``source`` when the caller has it.
    """
    tree, stack = _parse(source, probe=probe)
    if stack is None:
        return None
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
