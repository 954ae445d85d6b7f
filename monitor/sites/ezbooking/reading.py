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
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.page import squash

__all__ = ["Cells", "Heading", "Reading", "fold", "join", "quote", "read_tree"]

_SLOT_HREF = re.compile(r"/booking/create/\d{1,12}/5/(\d{1,20})(?=[/?#]|\s*$)")
_ACTIVE_IMAGE = re.compile(r"etape_(\d{1,2})r\.png(?:[?#]|$)", re.IGNORECASE)
_QUOTE_MAX = 120

BOOKABLE_CLASSES = frozenset({"status-1", "free"})
UNBOOKABLE_CLASSES = frozenset({"status-0"})
CLOSED_CLASSES = frozenset({"status-2"})
COMPLETE_CLASSES = frozenset({"complete"})

_JUNK = "script, style, noscript, template"
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
_MAY_NAME_CAPTCHA = re.compile(
    r"captcha|&#(?:x0*[4-7][0-9a-f](?![0-9a-f])|0*(?:6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])(?![0-9]))",
    re.IGNORECASE,
)
"""Every captcha selector names "captcha" (ASCII, any case): an element can match only if the
source spells the word, or writes an ASCII letter as a numeric character reference."""
_LANDING = 'input[name="condition"], #condition_Booking'
_STEP1 = 'input[name="planning"], #fchoix_Booking'
_SUBMIT = '#FormBookingCreate #submit_Booking [name="nextButton"]'


def fold(text: str) -> str:
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


@dataclass(frozen=True, slots=True)
class Heading:
    """A ``title``, ``h1`` or ``h2``: its tag, its squashed text and its text as quoted."""

    tag: str
    squashed: str
    quoted: str


@dataclass(frozen=True, slots=True)
class Reading:
    """What the classifier reads of a page's tree (scripts and styles dropped)."""

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


def drop_junk(tree: LexborHTMLParser) -> None:
    """Remove scripts, styles, noscript and templates from the body: they are not visible."""
    root = tree.body or tree.root
    if root is not None:
        for junk in root.css(_JUNK):
            junk.decompose()


def read_tree(tree: LexborHTMLParser, squashed: str, source: str) -> Reading:
    """Read ``tree``, parsed from ``source``, whose junk is dropped and visible text squashed.

    Few CSS queries (lexbor compiles each one on every call): tag lists where a
    tag is enough, one query for the three navigation marks (rarely present),
    and the costly captcha query only where a widget can be.
    """
    step_node = tree.css_first("#inner_Booking > h2") or tree.css_first("#FormBookingCreate h2")
    step = quote(fold(step_node.text(separator=" "))) or None if step_node is not None else None
    block_node = tree.css_first("#inner_Booking")
    headings = tuple(
        Heading(node.tag or "", squash(text := node.text(separator=" ")), quote(fold(text)))
        for node in tree.css("title, h1, h2")
    )
    marks = tree.css_first(f"{_LANDING}, {_STEP1}, {_SUBMIT}") is not None
    return Reading(
        squashed=squashed,
        headings=headings,
        step=step,
        progress=_progress(tree),
        block=squash(block_node.text(separator=" ")) if block_node is not None else "",
        captcha=_captcha(tree) if _MAY_NAME_CAPTCHA.search(source) is not None else None,
        landing=marks and tree.css_first(_LANDING) is not None,
        step1=marks and tree.css_first(_STEP1) is not None,
        submit=marks and tree.css_first(_SUBMIT) is not None,
        cells=read_cells(tree),
        table=bool(tree.tags("table")),
    )


def _progress(tree: LexborHTMLParser) -> frozenset[int]:
    found: set[int] = set()
    for img in tree.css('#Progress_Booking img[src*="etape_"]'):
        if m := _ACTIVE_IMAGE.search(img.attributes.get("src") or ""):
            found.add(int(m.group(1)))
    return frozenset(found)


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
    for link in cell.css("a[href]"):
        href = (link.attributes.get("href") or "").strip()
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
