"""Turn raw HTTP bytes into something the classifier and adapters can read.

Real prefecture pages come in UTF-8 or ISO-8859-1/windows-1252, with or
without a charset in ``Content-Type``, with entities, typographic apostrophes,
non-breaking spaces and text split across elements. Everything that reads a
page goes through :func:`parse_page` so they all see it the same way.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = [
    "INVISIBLE",
    "Page",
    "decode_body",
    "header",
    "parse_page",
    "squash",
    "visible_text",
]

_CHARSET_IN_HEADER = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_CHARSET_IN_META = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_NOT_ALNUM = re.compile(r"[\W_]+")
# [\W_] is exactly "not str.isalnum()" (checked over every code point).
_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_ASCII_CHARS = frozenset(map(chr, range(128)))
_UNUSUAL = re.compile("[^\x00-\x7f\u0300-\u036f\u00a0\u00ab\u00bb\u2013\u2014\u2019\u2026\u202f]")
"""A character other than ASCII, combining accents and French punctuation (none alphanumeric)."""
_UNFOLDED = re.compile(
    "[^\x00-\x7f\u0300-\u0344\u0346-\u036f\u00a0\u00ab\u00bb\u2013\u2014\u2019\u2026\u202f]"
)
"""A character that casefolding may change, besides ASCII (:data:`_UNUSUAL` but for U+0345,
which folds to a Greek iota)."""
_ASCII_NOT_ALNUM = bytes(b for b in range(256) if not chr(b).isalnum() or b > 127)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip()).name
    except LookupError:
        return None
    # Browsers read "latin-1" pages as windows-1252 (WHATWG encoding spec); so do we,
    # so that curly quotes in the 0x80-0x9F range come out right.
    return "cp1252" if codec in ("latin-1", "iso8859-1", "ascii") else codec


def decode_body(headers: Mapping[str, str], body: bytes) -> str:
    """Decode ``body`` as a browser would: header charset, then ``<meta>``, then sniff.

    Never raises: undecodable bytes become U+FFFD.
    """
    declared = None
    content_type = header(headers, "content-type")
    if content_type and (in_header := _CHARSET_IN_HEADER.search(content_type)):
        declared = _codec(in_header.group(1))
    if declared is None and (in_meta := _CHARSET_IN_META.search(body[:4096])):
        declared = _codec(in_meta.group(1).decode("ascii", "replace"))
    if body.startswith(codecs.BOM_UTF8):
        declared, body = "utf-8", body[len(codecs.BOM_UTF8) :]
    if declared is not None:
        try:
            return body.decode(declared)
        except UnicodeDecodeError:
            pass  # a lying header is common; fall through to sniffing
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` (lower case), whatever the case of the key; never raises.

    The one lookup shared by the page decoder and the classifier. ``headers`` may
    be an :class:`httpx.Headers` (case-insensitive already) or a plain dict from a
    test or a hostile source, so it is scanned by hand and anything odd in it
    counts as "no such header" rather than an exception out of the classifier.
    """
    try:
        value = headers.get(name)
        if value is not None:
            return str(value)
        for key, val in headers.items():
            if str(key).lower() == name:
                return str(val)
    except Exception:
        return None
    return None


def squash(text: str) -> str:
    """Reduce text to lower-case letters and digits, accents and all else removed.

    Matching known messages on squashed text makes it immune to apostrophe
    style, entities, non-breaking spaces, case, line breaks and text split
    across elements (``plage <b>horaire</b>``): « Il n’existe plus » and
    "IL N'EXISTE  PLUS" both become ``ilnexisteplus``.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        # Casefolding leaves the accents and punctuation of French text as they are, and
        # the bytes pass below lowers ASCII: it is needed only for other characters. What
        # :data:`_UNUSUAL` finds, :data:`_UNFOLDED` finds too: French text takes one scan.
        if _UNFOLDED.search(text) is not None:
            text = text.casefold()
            # French text is ASCII once decomposed, but for its accents (combining marks)
            # and punctuation (’ « » nbsp), none of them alphanumeric: dropping every
            # non-ASCII character is then exact. Other letters (œ, Cyrillic…) take the
            # slow path, which keeps them.
            if (
                not text.isascii()
                and _UNUSUAL.search(text) is not None
                and any(c.isalnum() for c in set(text).difference(_ASCII_CHARS))
            ):
                return _NOT_ALNUM.sub("", text)
        text = text.encode("ascii", "ignore").decode("ascii")
    # ASCII: one C pass deletes what is not a letter or digit and lowers the rest
    # (several times faster than a Unicode regex over the whole page).
    return text.encode("ascii").translate(_ASCII_LOWER, _ASCII_NOT_ALNUM).decode("ascii")


def visible_text(tree: LexborHTMLParser) -> str:
    """The body's text with scripts, styles, noscript and templates removed from the tree.

    Text nodes are joined with a space, whitespace is left as it is. The tree
    is changed for good, so that every later reading of it sees the same,
    visible-only, document.
    """
    root = tree.body or tree.root
    if root is None:
        return ""
    _drop_invisible(tree, root)
    return root.text(separator=" ")


INVISIBLE = ("script", "style", "noscript", "template")
"""Elements whose content is not shown: dropped before reading text."""


def _drop_invisible(tree: LexborHTMLParser, root: LexborNode) -> None:
    """Remove the invisible elements inside ``root`` (or ``root`` itself).

    Tag lists rather than a CSS query: lexbor sets up its selector engine on
    the first query of each document, which costs as much as parsing a
    booking block. One inside another goes with the outer one.
    """
    found = [node for name in INVISIBLE for node in tree.tags(name)]
    if not found:
        return
    junk = {node.mem_id for node in found}
    top = root.mem_id
    # Every walk up is done before the first removal frees any node.
    doomed = [node for node in found if _outermost_inside(node, top, junk)]
    for node in doomed:
        node.decompose()


def _outermost_inside(node: LexborNode, top: int, junk: set[int]) -> bool:
    """``node`` is ``top`` or inside it, and inside no other node of ``junk``."""
    current: LexborNode | None = node
    while current is not None:
        if current.mem_id == top:
            return True
        if current is not node and current.mem_id in junk:
            return False
        current = current.parent
    return False


@dataclass(frozen=True)
class Page:
    """A decoded HTML page (or fragment), parsed the first time its tree is asked for.

    The classifier reads most booking pages without the whole tree (see
    :mod:`monitor.sites.ezbooking.scoped`), and the form reader then reads the
    booking block's tree kept in :attr:`derived`; the whole tree is parsed only
    for the pages whose block cannot be read alone.
    """

    html: str

    @cached_property
    def tree(self) -> LexborHTMLParser:
        """The whole document parsed by lexbor (once)."""
        return LexborHTMLParser(self.html)

    @cached_property
    def text(self) -> str:
        """Visible text (scripts and styles dropped), whitespace folded to single spaces."""
        raw = visible_text(self.tree)
        return " ".join(raw.replace("\xa0", " ").replace("\u202f", " ").split())

    @cached_property
    def squashed(self) -> str:
        """:func:`squash` of the whole visible text."""
        return squash(self.text)

    @cached_property
    def derived(self) -> dict[str, object]:
        """What readers of this page keep with it, by module name (e.g. its booking block's tree).

        A page is read by the classifier then by the form reader; keeping a
        partial parse here lets the second reuse the first's.
        """
        return {}


MAX_TAGS = 30_000
"""Tags parsed at most. Real booking pages have about a thousand; a hostile page of
deeply nested elements makes HTML parsing quadratic (100k nested divs: ~16 s)."""


def parse_page(headers: Mapping[str, str], body: bytes) -> Page:
    """Decode ``body`` into a page (parsed when its tree is first read); never raises on garbage.

    A page with more than :data:`MAX_TAGS` tags is cut there before parsing. That
    can never create a slot: positive evidence must reach ``</html>``.
    """
    html = decode_body(headers, body)
    # A page shorter than the limit cannot pass it: counting costs more than parsing a block.
    if len(html) > MAX_TAGS and html.count("<") > MAX_TAGS:
        cut = -1
        for _ in range(MAX_TAGS):
            cut = html.index("<", cut + 1)
        html = html[:cut]
    return Page(html=html)
