"""What the classifier reads of a parsed page: one :class:`Reading`, taken in one go.

A :class:`Reading` holds everything the decision needs from the *tree* (the
visible text squashed, the headings, the step title, the progress marks, the
captcha widget, the navigation inputs, the submit button, the week-table
cells); what it needs from the *source* (does the document reach its end) is
read from the HTML string by :class:`~monitor.sites.ezbooking.signals.Facts`.
Readings of consecutive parts of one document join with :func:`join` into the
reading of the whole (see :mod:`~monitor.sites.ezbooking.scoped`, which relies
on that to skip re-parsing a site's unchanging chrome).

Slots are read only from **bookable cells** of the week table (``td.status-1``
or ``td.free``): a ``td.status-0`` cell keeps a link that CSS hides, and the
legend ``#caption_Booking`` says « libre » too; neither is a slot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.page import squash

__all__ = [
    "BOOKING_FORM_ID",
    "Cells",
    "Heading",
    "Reading",
    "ascii_lowered",
    "fold",
    "join",
    "labels",
    "quote",
    "read_tree",
    "spells_booking_form",
]

_SLOT_HREF = re.compile(r"/booking/create/\d{1,12}/5/(\d{1,20})(?=[/?#]|\s*$)")
_ACTIVE_IMAGE = re.compile(r"etape_(\d{1,2})r\.png(?:[?#]|$)", re.IGNORECASE)
_QUOTE_MAX = 120

BOOKABLE_CLASSES = frozenset({"status-1", "free"})
UNBOOKABLE_CLASSES = frozenset({"status-0"})
CLOSED_CLASSES = frozenset({"status-2"})
COMPLETE_CLASSES = frozenset({"complete"})

_CAPTCHA_SELECTOR = ", ".join(
    (
        '[name="eZHumanCAPTCHACode" i]',
        '[id="eZHumanCAPTCHACode" i]',
        ".g-recaptcha",
        '[name="g-recaptcha-response"]',
        'iframe[src*="recaptcha"]',
        ".h-captcha",
        '[name="h-captcha-response"]',
        "#captchaFormulaireExtInput",
        '[name="captchaFormulaireExtInput"]',
    )
)
_LETTER_REFERENCE = re.compile(
    r"&#(?:[xX]0*[4-7][0-9a-fA-F](?![0-9a-fA-F])|0*(?:6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])(?![0-9]))"
)
"""A numeric character reference to an ASCII letter (or a few punctuation marks near them)."""


def _may_name_captcha(source: str, lowered: bytes | None = None) -> bool:
    """Whether an element of ``source`` can match a captcha selector.

    Every captcha selector names "captcha" (ASCII, any case): an element can
    match only if the source spells the word, or writes an ASCII letter as a
    numeric character reference. A plain find on the lowered bytes
    (``lowered``, :func:`ascii_lowered` of ``source``, when the caller has
    them already): a case-blind regex over a booking block cost more than
    parsing it.
    """
    if b"captcha" in (ascii_lowered(source) if lowered is None else lowered):
        return True
    return "&#" in source and _LETTER_REFERENCE.search(source) is not None


def ascii_lowered(source: str) -> bytes:
    """``source`` in UTF-8 with its ASCII letters lowered: what a case-blind find of an ASCII
    word needs, several times cheaper than ``str.lower`` on a non-ASCII page."""
    return source.encode("utf-8", "surrogatepass").lower()


def fold(text: str) -> str:
    """``text`` with its whitespace runs (nbsp too) folded to single spaces."""
    return " ".join(text.replace("\xa0", " ").split())


def quote(text: str) -> str:
    return text if len(text) <= _QUOTE_MAX else text[: _QUOTE_MAX - 1] + "…"


@dataclass(frozen=True, slots=True)
class Cells:
    """The week table's cells by state (see the module docstring)."""

    bookable: int = 0
    unbookable: int = 0
    closed: int = 0
    complete: int = 0
    libre_text: int = 0
    """Cells saying « libre » with no state class: not enough to count as bookable."""
    stamps: tuple[tuple[str, int], ...] = ()
    """(digits, value) of the slot links inside bookable cells."""
    hidden_links: int = 0
    """Slot links inside unbookable cells (hidden by the site's CSS)."""

    def __add__(self, other: Cells) -> Cells:
        if other is NO_CELLS or self is NO_CELLS:
            return self if other is NO_CELLS else other
        return Cells(
            self.bookable + other.bookable,
            self.unbookable + other.unbookable,
            self.closed + other.closed,
            self.complete + other.complete,
            self.libre_text + other.libre_text,
            self.stamps + other.stamps,
            self.hidden_links + other.hidden_links,
        )


NO_CELLS = Cells()


class Heading(NamedTuple):
    """A ``title``, ``h1`` or ``h2``: its tag, its squashed text and its text as quoted.

    A named tuple rather than a frozen dataclass: as immutable, several times
    cheaper to build, and every heading of every page is built.
    """

    tag: str
    squashed: str
    quoted: str


class Reading(NamedTuple):
    """What the classifier reads of a page's tree (scripts and styles dropped).

    A named tuple for the cost of building it (three per scoped page): as
    immutable as a frozen dataclass, without its per-field ``__setattr__``.
    """

    squashed: str
    """:func:`~monitor.page.squash` of the visible text of the body."""
    headings: tuple[Heading, ...]
    """Every title, h1 and h2, in document order."""
    step: str | None
    """The step title (``#inner_Booking > h2``, else ``#FormBookingCreate h2``), as quoted."""
    progress: frozenset[int]
    """Steps whose active image (``etape_<N>r.png``) is in ``#Progress_Booking``."""
    block: str
    """Squashed text of the first ``#inner_Booking``."""
    captcha: str | None
    """The kind of the first captcha widget, or None."""
    landing: bool
    """A conditions checkbox (``input[name=condition]``, ``#condition_Booking``)."""
    step1: bool
    """Calendar radios (``input[name=planning]``, ``#fchoix_Booking``)."""
    submit: bool
    """Step 3's ``nextButton`` inside ``#FormBookingCreate #submit_Booking``."""
    cells: Cells
    table: bool
    """The tree holds a ``table`` element."""

    @property
    def booking_free(self) -> bool:
        """Nothing here is booking markup the decision reads besides the text and headings."""
        return (
            self.step is None
            and not self.progress
            and not self.block
            and not self.submit
            and self.cells == NO_CELLS
            and not self.table
        )


def join(first: Reading, second: Reading) -> Reading:
    """The reading of a document made of ``first``'s part followed by ``second``'s.

    Exact when the parts parse alone as they do together (the caller's duty)
    and only ``second`` may hold the step's markup: a document's first step
    title, image, block and submit are then ``second``'s if ``first`` has none.
    """
    return Reading(
        squashed=first.squashed + second.squashed,
        headings=first.headings + second.headings,
        step=first.step if first.step is not None else second.step,
        progress=first.progress or second.progress,
        block=first.block or second.block,
        captcha=first.captcha or second.captcha,
        landing=first.landing or second.landing,
        step1=first.step1 or second.step1,
        submit=first.submit or second.submit,
        cells=first.cells + second.cells,
        table=first.table or second.table,
    )


def read_tree(
    tree: LexborHTMLParser, text: str, source: str, lowered: bytes | None = None
) -> Reading:
    """Read ``tree``, parsed from ``source``, whose junk is dropped and visible text is ``text``.

    One walk over the elements in Python (:func:`_walk`) instead of CSS
    queries: lexbor sets up its selector engine on the first query of every
    document, which cost more than parsing a booking block. The walk keeps the
    selectors' semantics, including the case-blind ids of a quirks-mode
    document (lexbor is asked only when an id is spelt in another case). The
    captcha widget is still looked for with CSS, only where the source can
    name one (``lowered``: :func:`ascii_lowered` of ``source``, if known).
    """
    reading, respelt = _walk(tree, text, source, lowered, fold_ids=False)
    if respelt is not None and _quirks(tree, respelt):
        reading, _ = _walk(tree, text, source, lowered, fold_ids=True)
    return reading


def _squash_around(text: str, part: str) -> tuple[str, str]:
    """(:func:`squash` of ``text``, of ``part``), squashing ``part``'s characters once.

    ``part`` (the block's text) is most of a booking part's visible text:
    squashing is the costly step, and the squash of a concatenation is the
    concatenation of the squashes, so ``text`` is squashed around any
    occurrence of ``part`` in it (exact wherever the occurrence is).
    """
    squashed_part = squash(part)
    pos = text.find(part) if part else -1
    if pos < 0:
        return squash(text), squashed_part
    return squash(text[:pos]) + squashed_part + squash(text[pos + len(part) :]), squashed_part


_INNER, _FORM, _PROGRESS, _SUBMIT_ID, _LANDING_ID, _STEP1_ID = _IDS = (
    "inner_Booking",
    "FormBookingCreate",
    "Progress_Booking",
    "submit_Booking",
    "condition_Booking",
    "fchoix_Booking",
)


def _tag_ids() -> dict[str, int]:
    """lexbor's ids of the tags the walk looks at, read from a parse (fixed for known tags).

    Comparing a node's ``tag_id`` (an int) skips building its name as a string,
    which cost more than the rest of the walk's test of an element.
    """
    tree = LexborHTMLParser("<title></title><h1></h1><h2></h2><input><img>")
    return {node.tag or "": node.tag_id for node in tree.tags("*") if node.tag_id is not None}


_TAG_IDS = _tag_ids()
_HEADINGS = {_TAG_IDS[name]: name for name in ("title", "h1", "h2")}
_H2 = _TAG_IDS["h2"]
_INPUT = _TAG_IDS["input"]
_IMG = _TAG_IDS["img"]
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_FOLDED = {i.translate(_ASCII_LOWER): i for i in _IDS}


def _walk(
    tree: LexborHTMLParser, text: str, source: str, lowered: bytes | None, *, fold_ids: bool
) -> tuple[Reading, str | None]:
    """The reading, and one of :data:`_IDS` some element spells in another case (or None).

    Finds in one walk what these selectors select (ids ASCII case-blind with
    ``fold_ids``): ``#inner_Booking > h2``, else ``#FormBookingCreate h2``;
    ``#inner_Booking``; ``title, h1, h2``; ``#Progress_Booking img[src*="etape_"]``;
    ``input[name="condition"], #condition_Booking``; ``input[name="planning"],
    #fchoix_Booking``; ``#FormBookingCreate #submit_Booking [name="nextButton"]``.
    """

    def ident(node: LexborNode) -> str | None:
        value = node.id
        if value is None or not fold_ids:
            return value
        return _FOLDED.get(value.translate(_ASCII_LOWER), value)

    headings: list[Heading] = []
    h2s: list[LexborNode] = []
    bars: list[LexborNode] = []
    submits: list[LexborNode] = []
    block_node: LexborNode | None = None
    landing = step1 = False
    respelt: str | None = None
    root = tree.root
    for node in root.traverse() if root is not None else ():
        tag = node.tag_id
        value = node.id
        if value is not None:
            if fold_ids:
                value = _FOLDED.get(value.translate(_ASCII_LOWER), value)
            if value == _INNER:
                block_node = block_node or node
            elif value == _PROGRESS:
                bars.append(node)
            elif value == _SUBMIT_ID:
                submits.append(node)
            elif value == _LANDING_ID:
                landing = True
            elif value == _STEP1_ID:
                step1 = True
            elif respelt is None and not fold_ids and value != _FORM:
                respelt = _FOLDED.get(value.translate(_ASCII_LOWER))
        if tag in _HEADINGS:
            said = node.text(separator=" ")
            headings.append(Heading(_HEADINGS[tag], squash(said), quote(fold(said))))
            if tag == _H2:
                h2s.append(node)
        elif tag == _INPUT and not (landing and step1):
            name = node.attrs.get("name")
            landing = landing or name == "condition"
            step1 = step1 or name == "planning"
    step_node = next(
        (h for h in h2s if (p := h.parent) is not None and ident(p) == _INNER), None
    ) or next((h for h in h2s if _under(h, _FORM, ident)), None)
    step = None
    if step_node is not None:
        step = quote(fold(step_node.text(separator=" "))) or None
    submit = any(
        _under(node, _FORM, ident)
        and any(
            below.attributes.get("name") == "nextButton"
            for below in node.traverse()
            if below.mem_id != node.mem_id
        )
        for node in submits
    )
    block_text = block_node.text(separator=" ") if block_node is not None else ""
    squashed, block = _squash_around(text, block_text)
    reading = Reading(
        squashed=squashed,
        headings=tuple(headings),
        step=step,
        progress=_progress(bars) if bars else _NO_STEPS,
        block=block,
        captcha=_captcha(tree) if _may_name_captcha(source, lowered) else None,
        landing=landing,
        step1=step1,
        submit=submit,
        cells=read_cells(tree),
        table=bool(tree.tags("table")),
    )
    return reading, respelt


_NO_STEPS: frozenset[int] = frozenset()


def _progress(bars: list[LexborNode]) -> frozenset[int]:
    """Steps of the active images (``img[src*="etape_"]``) below any of ``bars``.

    ``r.png`` in the lowered source is a plain find that the (case-blind)
    pattern needs, none of whose letters has a non-ASCII case variant: most
    images of a bar (done or later steps) are set aside without the regex.
    """
    found: set[int] = set()
    for bar in bars:
        top = bar.mem_id
        for img in bar.traverse():
            if img.tag_id != _IMG or img.mem_id == top:
                continue
            src = img.attrs.get("src") or ""
            if (
                "etape_" in src
                and "r.png" in src.lower()
                and (m := _ACTIVE_IMAGE.search(src)) is not None
            ):
                found.add(int(m.group(1)))
    return frozenset(found) if found else _NO_STEPS


def _under(node: LexborNode, wanted: str, ident: Callable[[LexborNode], str | None]) -> bool:
    """``node`` has an ancestor element whose id, as ``ident`` reads it, is ``wanted``."""
    parent = node.parent
    while parent is not None:
        if ident(parent) == wanted:
            return True
        parent = parent.parent
    return False


def _quirks(tree: LexborHTMLParser, respelt: str) -> bool:
    """Whether lexbor matches ids case-blind in ``tree`` (a quirks-mode document)."""
    return any(node.id != respelt for node in tree.css(f"#{respelt}"))


def _captcha(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first(_CAPTCHA_SELECTOR)
    if node is None:
        return None
    attributes = node.attributes
    marks = " ".join(
        str(v)
        for v in (
            attributes.get("name"),
            attributes.get("id"),
            attributes.get("class"),
            attributes.get("src"),
        )
        if v
    ).lower()
    if "ezhumancaptcha" in marks:
        return "eZ image captcha eZHumanCAPTCHACode"
    if "recaptcha" in marks:
        return "reCAPTCHA"
    if "h-captcha" in marks:
        return "hCaptcha"
    return "CaptchEtat security code"


def _slot_links(cell: LexborNode) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    # ``a[href]`` below the cell, walked rather than selected (see read_tree).
    for link in cell.traverse():
        if link.tag != "a" or "href" not in (attributes := link.attributes):
            continue
        href = (attributes["href"] or "").strip()
        if (m := _SLOT_HREF.search(href)) is not None:
            out.append((m.group(1), int(m.group(1))))
    return out


def read_cells(tree: LexborHTMLParser) -> Cells:
    """Sort every ``td`` of the tree by its state class (text only as a fallback)."""
    bookable = unbookable = closed = complete = libre = hidden = 0
    stamps: list[tuple[str, int]] = []
    for cell in tree.tags("td"):
        classes = frozenset((cell.attributes.get("class") or "").split())
        if classes & UNBOOKABLE_CLASSES:
            unbookable += 1
            hidden += len(_slot_links(cell))
        elif classes & BOOKABLE_CLASSES:
            bookable += 1
            stamps.extend(_slot_links(cell))
        elif classes & CLOSED_CLASSES:
            closed += 1
        elif classes & COMPLETE_CLASSES:
            complete += 1
        else:
            text = squash(cell.text(separator=" "))
            if text == "complet":
                complete += 1
            elif text == "libre":
                libre += 1
    if not (bookable or unbookable or closed or complete or libre):
        return NO_CELLS
    return Cells(bookable, unbookable, closed, complete, libre, tuple(stamps), hidden)


BOOKING_FORM_ID = "FormBookingCreate"


def labels(tree: LexborHTMLParser) -> tuple[tuple[str, str], ...]:
    """Every ``label[for]`` of ``tree`` as (target id, text folded), in document order."""
    out: list[tuple[str, str]] = []
    for label in tree.tags("label"):
        attributes = label.attributes
        if "for" in attributes and (target := (attributes["for"] or "").strip()):
            out.append((target, fold(label.text(separator=" "))))
    return tuple(out)


def spells_booking_form(node: LexborNode) -> bool:
    """``node``'s id is ``FormBookingCreate`` in some case (what a quirks-mode ``#id`` matches)."""
    ident = node.id
    return ident is not None and ident.translate(_ASCII_LOWER) == "formbookingcreate"
