"""What one booking page shows, read once: the facts the classifier decides on.

Each fact is computed lazily and at most once from one
:class:`~monitor.sites.ezbooking.reading.Reading` of the tree (read whole, or
scoped to the booking block by :mod:`~monitor.sites.ezbooking.scoped`) and the
page's source, where the completeness of the evidence is judged.

The step a page is at has three independent marks, as bots read them:

* its **title**, the direct ``h2`` child of ``#inner_Booking`` (the second
  ``h2``, « Contacts », sits deeper, in ``#contact_box``);
* the **active progress image**, ``#Progress_Booking img[src$="etape_<N>r.png"]``
  (done steps end in ``G``, others have no suffix; step 2 has no image);
* the **step in the URL** the site sent us to, ``…/booking/create/<id>/<N>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cached_property

from monitor.page import Page, squash
from monitor.sites.ezbooking import phrases as ph
from monitor.sites.ezbooking.reading import Cells, Reading, quote, read_cells

__all__ = ["Cells", "Facts", "quote", "read_slots", "step_in_url"]

_DOCUMENT = re.compile(r"<(?:!doctype|html|body)[\s>]", re.IGNORECASE)
_END_HTML = re.compile(r"</html\s*>", re.IGNORECASE)
_END_FORM = re.compile(r"</form\s*>", re.IGNORECASE)
_END_TABLE = re.compile(r"</table\s*>", re.IGNORECASE)
_END_TAG_START = {_END_HTML: "</html", _END_FORM: "</form", _END_TABLE: "</table"}
_URL_STEP = re.compile(r"/booking/create/\d{1,12}/(\d{1,2})(?:[/?#]|$)")
_EARLIEST_SLOT = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST_SLOT_AHEAD = timedelta(days=5 * 366)
_SHORT_PAGE = 500
"""Squashed visible text shorter than this is a "short page" for the weak words."""


def step_in_url(url: str | None) -> int | None:
    """The step number in a booking URL (``…/booking/create/<id>/<N>``), or None."""
    if not url:
        return None
    path = url.split("?", 1)[0]
    m = _URL_STEP.search(path)
    return int(m.group(1)) if m else None


def read_slots(page: Page, *, now: datetime | None = None) -> tuple[datetime, ...]:
    """Free-slot times from the bookable cells' links ``…/booking/create/<id>/5/<unix_ts>``.

    Aware UTC datetimes, sorted, deduplicated. Timestamps before 2000 or more
    than five years after ``now`` (default: the current time; a naive ``now``
    is taken as UTC) are ignored. Links in unbookable cells, in the legend or
    outside the table are never slots.
    """
    return valid_slots(read_cells(page.tree).stamps, now)


def valid_slots(stamps: Iterable[tuple[str, int]], now: datetime | None) -> tuple[datetime, ...]:
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    latest = now + _LATEST_SLOT_AHEAD
    slots: set[datetime] = set()
    for _, ts in stamps:
        try:
            when = datetime.fromtimestamp(ts, UTC)
        except (OverflowError, OSError, ValueError):
            continue
        if _EARLIEST_SLOT <= when <= latest:
            slots.add(when)
    return tuple(sorted(slots))


class Facts:
    """Lazy facts about one page; each is computed at most once, and only if asked.

    ``reading`` is what was read of the page's tree
    (:func:`~monitor.sites.ezbooking.scoped.read_page`), ``html`` its source,
    from which the completeness of the evidence is judged.
    """

    def __init__(self, reading: Reading, html: str, url: str | None = None) -> None:
        self.reading = reading
        self.html = html
        self.url = url
        self.squashed = reading.squashed
        self.step = reading.step
        self.progress_steps = reading.progress
        self.booking_block = reading.block
        self.cells = reading.cells

    @cached_property
    def is_empty(self) -> bool:
        return not self.html.strip()

    @cached_property
    def is_document(self) -> bool:
        """A whole document (as opposed to the ezjscore fragment): it must reach ``</html>``."""
        return _DOCUMENT.search(self.html) is not None

    # ── the step and its three marks ────────────────────────────────────────

    @cached_property
    def step_squashed(self) -> str:
        return squash(self.step or "")

    @cached_property
    def title_step(self) -> int | None:
        sq = self.step_squashed
        if not sq:
            return None
        for number, phrase in ph.STEP_TITLES:
            if phrase.found_in(sq):
                return number
        return None

    @cached_property
    def url_step(self) -> int | None:
        return step_in_url(self.url)

    def marks_disagree(self, step: int) -> str | None:
        """Why the progress image or the URL contradicts the title's ``step``, or None."""
        if self.progress_steps and step not in self.progress_steps:
            shown = ", ".join(f"etape_{n}r" for n in sorted(self.progress_steps))
            return f"its active progress image ({shown}) is another step's"
        # Step 3's form posts to /3 and the site may answer there with step 4.
        allowed = {3, 4} if step in (3, 4) else {step}
        if self.url_step is not None and self.url_step not in allowed:
            return f"the site sent us to step /{self.url_step} of the booking"
        return None

    # ── headings ────────────────────────────────────────────────────────────

    @cached_property
    def headings(self) -> str:
        """Squashed title, h1 and h2 texts, "|"-separated so nothing matches across two."""
        return "|".join(h.squashed for h in self.reading.headings)

    # ── messages ────────────────────────────────────────────────────────────

    @cached_property
    def full_message(self) -> bool:
        return ph.any_found(ph.FULL, self.squashed)

    @cached_property
    def down_text(self) -> str | None:
        for phrase, gloss in ph.DOWN_TEXTS:
            if phrase.found_in(self.squashed):
                return gloss
        return None

    @cached_property
    def closed(self) -> bool:
        return ph.CLOSED.found_in(self.squashed)

    @cached_property
    def block_text(self) -> str | None:
        for phrase, quoted in ph.BLOCK_TEXTS:
            if phrase.found_in(self.squashed):
                return quoted
        return None

    @cached_property
    def error_heading(self) -> tuple[bool, str] | None:
        """An error page's name in the title or an h1: (is a refusal, the heading quoted)."""
        for heading in self.reading.headings:
            if heading.tag not in ("title", "h1"):
                continue
            if ph.any_found(ph.BLOCK_HEADINGS, heading.squashed):
                return True, heading.quoted
            if ph.any_found(ph.DOWN_HEADINGS, heading.squashed):
                return False, heading.quoted
        return None

    @cached_property
    def weak_down(self) -> str | None:
        """The closed/maintenance words seen in a heading, the booking block or a short page."""
        scopes = [self.headings, self.booking_block]
        if len(self.squashed) < _SHORT_PAGE:
            scopes.append(self.squashed)
        for phrase, words in ph.WEAK_DOWN:
            if any(phrase.found_in(scope) for scope in scopes):
                return words
        return None

    # ── captcha and navigation ──────────────────────────────────────────────

    @cached_property
    def captcha(self) -> str | None:
        """What kind of captcha the page shows, or None."""
        if self.reading.captcha is not None:
            return self.reading.captcha
        if ph.any_found(ph.SECURITY_STEP, self.step_squashed):
            return f"security-check step « {self.step} »"
        if ph.CAPTCHA_TEXT.found_in(self.squashed):
            return "« code de sécurité » to type"
        return None

    @cached_property
    def nav(self) -> str | None:
        if self.reading.landing:
            return "The booking's landing page with its conditions checkbox"
        if self.reading.step1:
            step = f" « {self.step} »" if self.step else ""
            return f"Step 1{step}, the choice of calendar,"
        return None

    # ── evidence ────────────────────────────────────────────────────────────

    def _ends_after(self, end: re.Pattern[str], pos: int) -> bool:
        """The source has ``end`` after position ``pos`` (False when ``pos`` is unknown)."""
        if pos < 0:
            return False
        # Sites write end tags in lower case: find that spelling first (a plain find is
        # many times faster than a case-blind regex over the rest of a 80 KB page).
        lower = self.html.find(_END_TAG_START[end], pos)
        if lower >= 0 and end.match(self.html, lower) is not None:
            return True
        return end.search(self.html, pos) is not None

    @cached_property
    def step3_complete(self) -> bool:
        if not self.reading.submit:
            return False
        # The form and the document must end after the last mention of the block.
        pos = self.html.rfind("submit_Booking")
        if not self._ends_after(_END_FORM, pos):
            return False
        return not self.is_document or self._ends_after(_END_HTML, pos)

    @cached_property
    def slots(self) -> tuple[datetime, ...]:
        return valid_slots(self.cells.stamps, None)

    @cached_property
    def table_complete(self) -> bool:
        """The week table (and the document) reach their end after the last cell and link."""
        html = self.html
        last = max(html.rfind("<td"), html.rfind("<TD"))
        for digits, _ in self.cells.stamps:
            pos = html.rfind(f"/5/{digits}")
            if pos < 0:
                return False
            last = max(last, pos)
        return self._ends_after(_END_HTML if self.is_document else _END_TABLE, last)

    @cached_property
    def week_table(self) -> bool:
        """A step-4 page, or a fragment that holds a table (the ezjscore answer)."""
        if self.title_step == 4:
            return True
        return not self.is_document and self.reading.table

    @cached_property
    def table_full(self) -> bool:
        """Only « complet » cells (besides closed/unbookable ones), complete, no bookable cell."""
        if not self.week_table or not self.table_complete:
            return False
        c = self.cells
        return c.complete > 0 and c.bookable == 0 and c.libre_text == 0
