"""Read one HTTP response of a prefecture booking page and say what it shows.

The classifier is pure: status code, headers and body in, one
:class:`~monitor.observation.Verdict` out. It never raises, whatever the bytes.

Its first rule: **never a false "slot available"**. Only complete, positive
evidence of free slots gives :attr:`Status.AVAILABLE`; a page that shows
neither the FULL message nor such evidence is :attr:`Status.UNKNOWN`, never a
slot (the classic bug of ``if FULL_TEXT not in page: alert``).

What counts as evidence
-----------------------
* **Step 3**: the booking ``h2`` « Description de la nature du rendez-vous »
  (the site only shows it when slots exist), with the booking form *and* its
  submit block (``div#submit_Booking`` holding ``nextButton``). Slots exist but
  are not listed yet: ``slot_count`` is ``None``.
* **Step 4**: the ``h2`` « Choix d'une plage horaire » with at least one link
  ``…/booking/create/<id>/5/<unix_ts>`` (``/index.php`` prefix and absolute
  URLs accepted) whose timestamp is a sane time. A « libre » cell without such a
  link is *not* evidence: the legend under the table says "libre" too, and a cell
  we cannot follow proves nothing; such a page is ``unknown``.
* **ezjscore week table** (a fragment, no ``<html>``/``<body>``): a ``table``
  holding at least one such free-slot link.

Evidence must be *complete*: a document must reach its ``</html>`` after the
evidence (the step-3 submit block must also be followed by ``</form>``); a
fragment's last ``</table>`` must come after the last free-slot link. A
response cut anywhere before that is not ``available``.

Decision order (first match wins)
---------------------------------
1. **Status outside 100-599, 1xx, 3xx → unknown.** A redirect is the client's to
   follow; its body is not the page.
2. **403, 429, 451 → blocked; 5xx and 408 → down** — whatever the body shows,
   because a server that refuses or fails does not give a trustworthy reading
   of the calendar (a step-4 page served with 500, a FULL page served with 403).
   Exception: a captcha in the body makes it ``captcha``, since WAF challenges
   are commonly served with 403/429/503 and the remedy is a human, not waiting.
3. From here on, only status **200** may give ``available`` or ``full``; other
   2xx (206 partial content…) and other 4xx can only give trouble states or
   ``unknown``.
4. **The FULL message → full**, even if slot links are also present: the site's
   own words win over our inference. It is recognised in the visible text,
   whatever its container, apostrophe, entities, case, spacing, split into
   elements, the "pour votre a demande" typo, and even through UTF-8 read as
   windows-1252 (a lying ``Content-Type``). Only its first sentence is required.
   Exception: on a *navigation page* (landing page with the conditions checkbox,
   step 1 with the calendar radios) the message can only be a quotation in the
   prefecture's explanatory text; that page stays ``unknown`` (rule 9).
5. **Error-page signatures → blocked / down** (``captcha`` if one is present):
   the front proxy's texts (« No server is available to handle this request »,
   « The server returned an invalid or incomplete response. », « Request
   forbidden by administrative rules »), error headings ("502 Bad Gateway",
   "504 Gateway Time-out", "Forbidden", "Access Denied", « Service surchargé »),
   and the closed page « Cette page n'est pas disponible pour le moment ».
   They come before evidence: a page carrying an error document's words is an
   error document, even when served with 200.
6. **Complete positive evidence → available**, even if a captcha widget is also
   on the page (a step-3/4 page proves slots exist; the captcha guards the next
   step and the detail says so).
7. **Captcha → captcha**: eZ ``eZHumanCAPTCHACode``, reCAPTCHA (``g-recaptcha``,
   ``g-recaptcha-response``), hCaptcha, CaptchEtat (``#captchaFormulaireExtInput``,
   "code de sécurité"), or a « Vérification/Contrôle de sécurité » step.
8. **Week table with « complet » cells only → full** (step 4 or ezjscore
   fragment, complete, no free link and no bare « libre » cell).
9. **Navigation pages → unknown** (landing, step 1): they are a way in, not a
   reading of the calendar.
10. **Weak closed/maintenance words → down**: « Veuillez réessayer
    ultérieurement », "site indisponible", "maintenance"… only when they are in
    the title, a main heading, the booking block, or a short page, so that a
    news item mentioning "maintenance" does not hide a redesigned page.
11. **Anything else → unknown**, with a detail saying what was missing (cut-off
    step 4, « libre » cells without links, an unknown step, an empty page…).

Performance: one parse (done by :func:`~monitor.page.parse_page`), the visible
text squashed once, a handful of CSS queries, substring tests on the squashed
text (a regex only to confirm a hit found by a plain ``in`` test), and a few
literal-led searches of the source for the completeness checks. Each fact is
computed lazily, so an HAProxy 503 costs a fraction of a step-4 page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from http import HTTPStatus
from typing import Protocol

from monitor.observation import Status, Verdict
from monitor.page import Page, header, parse_page, squash

__all__ = [
    "CLOSED_MESSAGE",
    "DENY_MESSAGE",
    "FULL_MESSAGE",
    "FULL_MESSAGE_TYPO",
    "INVALID_RESPONSE_MESSAGE",
    "NO_RESPONSE_IN_TIME_MESSAGE",
    "NO_SERVER_MESSAGE",
    "RETRY_LATER_MESSAGE",
    "SECURITY_STEP_TITLES",
    "STEP1_TITLE",
    "STEP2_TITLE",
    "STEP3_TITLE",
    "STEP4_TITLE",
    "classify",
    "classify_page",
    "read_slots",
]

# ── Verbatim messages (as the sites write them) ─────────────────────────────

FULL_MESSAGE = (
    "Il n'existe plus de plage horaire libre pour votre demande de rendez-vous. "
    "Veuillez recommencer ultérieurement."
)
FULL_MESSAGE_TYPO = FULL_MESSAGE.replace("votre demande", "votre a demande")
"""One site had this typo."""
CLOSED_MESSAGE = "Attention : Cette page n'est pas disponible pour le moment !"
RETRY_LATER_MESSAGE = "Veuillez réessayer ultérieurement."
NO_SERVER_MESSAGE = "No server is available to handle this request."
INVALID_RESPONSE_MESSAGE = "The server returned an invalid or incomplete response."
NO_RESPONSE_IN_TIME_MESSAGE = "The server didn't respond in time."
DENY_MESSAGE = "Request forbidden by administrative rules."

STEP1_TITLE = "Choix de la nature du rendez-vous"
STEP2_TITLE = "Vérification de disponibilité"
STEP3_TITLE = "Description de la nature du rendez-vous"
STEP4_TITLE = "Choix d'une plage horaire"
SECURITY_STEP_TITLES = ("Vérification de sécurité", "Contrôle de sécurité")

_GAP = "[a-z0-9]{0,3}"
"""What an accented letter or an apostrophe may squash to: "e", "" or mojibake ("a", "atm")."""


@dataclass(frozen=True, slots=True)
class _Phrase:
    """A phrase found in squashed text: a fast ``in`` test, confirmed by a tolerant regex.

    Built once at import from the verbatim text. Accented letters and apostrophes
    become a short gap, so the phrase is still found when UTF-8 was decoded as
    windows-1252 (« n’existe » → "nâ€™existe" → ``natmexiste``).
    """

    anchor: str
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, text: str) -> _Phrase:
        parts: list[str] = []
        runs: list[str] = [""]
        loose = False
        for ch in text.casefold():
            if ch.isascii() and ch.isalnum():
                parts.append(ch)
                runs[-1] += ch
            elif ch.isascii() and ch not in "'`":
                continue  # spaces and ASCII punctuation vanish in squash()
            else:  # accented letter, typographic or straight apostrophe
                loose = True
                parts.append(_GAP)
                runs.append("")
        anchor = max(runs, key=len)
        return cls(anchor, re.compile("".join(parts)) if loose else None)

    def found_in(self, squashed: str) -> bool:
        if self.anchor not in squashed:
            return False
        return self.pattern is None or self.pattern.search(squashed) is not None


def _phrases(*texts: str) -> tuple[_Phrase, ...]:
    return tuple(_Phrase.of(t) for t in texts)


def _first_sentence(text: str) -> str:
    return text.split(". ", 1)[0]


_FULL = _phrases(_first_sentence(FULL_MESSAGE), _first_sentence(FULL_MESSAGE_TYPO))
_STEP1 = _Phrase.of(STEP1_TITLE)
_STEP2 = _Phrase.of(STEP2_TITLE)
_STEP3 = _Phrase.of(STEP3_TITLE)
_STEP4 = _Phrase.of(STEP4_TITLE)
_SECURITY_STEP = _phrases(*SECURITY_STEP_TITLES)
_CAPTCHA_TEXT = _Phrase.of("code de sécurité")

# Error documents: (phrase, short English gloss), looked for in the whole visible text.
_DOWN_TEXTS = (
    (_Phrase.of(NO_SERVER_MESSAGE), "no server is available"),
    (_Phrase.of(INVALID_RESPONSE_MESSAGE), "the server returned an invalid or incomplete response"),
    (_Phrase.of(NO_RESPONSE_IN_TIME_MESSAGE), "the server did not respond in time"),
    (_Phrase.of("eZ Publish did not finish its request"), "the CMS crashed (PHP fatal error)"),
)
_CLOSED = _Phrase.of("Cette page n'est pas disponible pour le moment")
_BLOCK_TEXTS = (
    (_Phrase.of(DENY_MESSAGE), "« Request forbidden by administrative rules »"),
    (_Phrase.of("You don't have permission to access"), "« You don't have permission to access »"),
    (_Phrase.of("The requested URL was rejected"), "« The requested URL was rejected »"),
    (_Phrase.of("Sorry, you have been blocked"), "« Sorry, you have been blocked »"),
)
# Error headings: looked for only in the title and h1 (they are common words).
_DOWN_HEADINGS = _phrases(
    "Bad Gateway",
    "Gateway Time-out",
    "Service Unavailable",
    "Service Temporarily Unavailable",
    "Internal Server Error",
    "Service surchargé",
)
_BLOCK_HEADINGS = _phrases(
    "Forbidden", "Access Denied", "Accès refusé", "Accès interdit", "Too Many Requests"
)
# Weak words: only in headings, the booking block, or a short page.
_WEAK_DOWN = tuple(
    (_Phrase.of(words), words)
    for words in (
        RETRY_LATER_MESSAGE.rstrip("."),
        "site indisponible",
        "service indisponible",
        "temporairement indisponible",
        "maintenance",
    )
)
_SHORT_PAGE = 500
"""Squashed visible text shorter than this is a "short page" for the weak words."""

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

_DOCUMENT = re.compile(r"<(?:!doctype|html|body)[\s>]", re.IGNORECASE)
_END_HTML = re.compile(r"</html\s*>", re.IGNORECASE)
_END_FORM = re.compile(r"</form\s*>", re.IGNORECASE)
_END_TABLE = re.compile(r"</table\s*>", re.IGNORECASE)
_SLOT_HREF = re.compile(r"/booking/create/\d{1,12}/5/(\d{1,20})(?=[/?#]|\s*$)")
_EARLIEST_SLOT = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST_SLOT_AHEAD = timedelta(days=5 * 366)
_BLOCKED_CODES = frozenset({403, 429, 451})
_DOWN_CODES = frozenset({408})
_QUOTE_MAX = 120


# ── Public API ──────────────────────────────────────────────────────────────


def classify(status_code: int, headers: Mapping[str, str], body: bytes) -> Verdict:
    """Classify a raw HTTP response (see the module docstring for the rules). Never raises."""
    try:
        page = parse_page(headers, body)
    except Exception:  # parse_page is meant never to raise; this is the last guard
        return Verdict(Status.UNKNOWN, "The response body could not be read as a page.")
    return classify_page(status_code, headers, page)


def classify_page(status_code: int, headers: Mapping[str, str], page: Page) -> Verdict:
    """Classify an already parsed page (the adapters parse once). Never raises."""
    try:
        return _decide(int(status_code), headers, page)
    except Exception as exc:  # never raise: a surprise is an unknown page, never a slot
        return Verdict(Status.UNKNOWN, f"The page could not be classified ({type(exc).__name__}).")


def read_slots(page: Page, *, now: datetime | None = None) -> tuple[datetime, ...]:
    """Free-slot times from links ``…/booking/create/<id>/5/<unix_ts>``.

    Aware UTC datetimes, sorted, deduplicated. Timestamps before 2000 or more
    than five years after ``now`` (default: the current time; a naive ``now``
    is taken as UTC) are ignored.
    """
    return _valid_slots(_slot_stamps(page), now)


# ── Reading the page ────────────────────────────────────────────────────────


def _slot_stamps(page: Page, within: str = "") -> list[tuple[str, int]]:
    """(timestamp digits, as int) of every free-slot link (``within``: a CSS scope)."""
    out: list[tuple[str, int]] = []
    for link in page.tree.css(f'{within} a[href*="/5/"]'.strip()):
        href = link.attributes.get("href") or ""
        if (m := _SLOT_HREF.search(href.strip())) is not None:
            out.append((m.group(1), int(m.group(1))))
    return out


def _valid_slots(stamps: Iterable[tuple[str, int]], now: datetime | None) -> tuple[datetime, ...]:
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


def _fold(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE_MAX else text[: _QUOTE_MAX - 1] + "…"


def _any(phrases: Iterable[_Phrase], squashed: str) -> bool:
    return any(p.found_in(squashed) for p in phrases)


class _Facts:
    """Lazy facts about one page; each is computed at most once, and only if asked."""

    def __init__(self, page: Page) -> None:
        self.page = page
        # Page.text drops scripts and styles from the tree; do it first so that
        # every later reading of the tree sees the same, visible-only, document.
        self.squashed = page.squashed

    @cached_property
    def is_empty(self) -> bool:
        return not self.page.html.strip()

    @cached_property
    def is_document(self) -> bool:
        """A whole document (as opposed to the ezjscore fragment): it must reach ``</html>``."""
        return _DOCUMENT.search(self.page.html) is not None

    # Headings and blocks

    @cached_property
    def step(self) -> str | None:
        node = self.page.tree.css_first("#inner_Booking h2") or self.page.tree.css_first(
            "#FormBookingCreate h2"
        )
        if node is None:
            return None
        return _quote(_fold(node.text(separator=" "))) or None

    @cached_property
    def step_squashed(self) -> str:
        return squash(self.step or "")

    @cached_property
    def headings(self) -> str:
        """Squashed title, h1 and h2 texts, "|"-separated so nothing matches across two."""
        return "|".join(squash(n.text(separator=" ")) for n in self.page.tree.css("title, h1, h2"))

    @cached_property
    def booking_block(self) -> str:
        node = self.page.tree.css_first("#inner_Booking")
        return squash(node.text(separator=" ")) if node is not None else ""

    # Messages

    @cached_property
    def full_message(self) -> bool:
        return _any(_FULL, self.squashed)

    @cached_property
    def down_text(self) -> str | None:
        for phrase, gloss in _DOWN_TEXTS:
            if phrase.found_in(self.squashed):
                return gloss
        return None

    @cached_property
    def closed(self) -> bool:
        return _CLOSED.found_in(self.squashed)

    @cached_property
    def block_text(self) -> str | None:
        for phrase, quoted in _BLOCK_TEXTS:
            if phrase.found_in(self.squashed):
                return quoted
        return None

    @cached_property
    def error_heading(self) -> tuple[Status, str] | None:
        """An error page's name in the title or an h1 ("502 Bad Gateway", "Forbidden"…)."""
        for node in self.page.tree.css("title, h1"):
            squashed = squash(node.text(separator=" "))
            for status, phrases in (
                (Status.BLOCKED, _BLOCK_HEADINGS),
                (Status.DOWN, _DOWN_HEADINGS),
            ):
                if _any(phrases, squashed):
                    return status, _quote(_fold(node.text(separator=" ")))
        return None

    @cached_property
    def weak_down(self) -> str | None:
        """The closed/maintenance words seen in a heading, the booking block or a short page."""
        scopes = [self.headings, self.booking_block]
        if len(self.squashed) < _SHORT_PAGE:
            scopes.append(self.squashed)
        for phrase, words in _WEAK_DOWN:
            if any(phrase.found_in(scope) for scope in scopes):
                return words
        return None

    # Captcha

    @cached_property
    def captcha(self) -> str | None:
        """What kind of captcha the page shows, or None."""
        node = self.page.tree.css_first(_CAPTCHA_SELECTOR)
        if node is not None:
            marks = " ".join(
                str(v)
                for v in (
                    node.attributes.get("name"),
                    node.attributes.get("id"),
                    node.attributes.get("class"),
                    node.attributes.get("src"),
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
        if _any(_SECURITY_STEP, self.step_squashed):
            return f"security-check step « {self.step} »"
        if _CAPTCHA_TEXT.found_in(self.squashed):
            return "« code de sécurité » to type"
        return None

    # Navigation

    @cached_property
    def nav(self) -> str | None:
        tree = self.page.tree
        if tree.css_first('input[name="condition"], #condition_Booking') is not None:
            return "The booking's landing page with its conditions checkbox"
        if tree.css_first('input[name="planning"], #fchoix_Booking') is not None:
            step = f" « {self.step} »" if self.step else ""
            return f"Step 1{step}, the choice of calendar,"
        return None

    # Steps and evidence

    @cached_property
    def step_number(self) -> int | None:
        sq = self.step_squashed
        if not sq:
            return None
        for number, phrase in ((3, _STEP3), (4, _STEP4), (1, _STEP1), (2, _STEP2)):
            if phrase.found_in(sq):
                return number
        return None

    def _ends_after(self, end: re.Pattern[str], pos: int) -> bool:
        """The source has ``end`` after position ``pos`` (False when ``pos`` is unknown)."""
        return pos >= 0 and end.search(self.page.html, pos) is not None

    def _last_position(self, stamps: list[tuple[str, int]]) -> int:
        """Where the last free-slot link is in the source (-1 when one cannot be found)."""
        positions = [self.page.html.rfind(f"/5/{digits}") for digits, _ in stamps]
        return -1 if not positions or min(positions) < 0 else max(positions)

    @cached_property
    def step3_complete(self) -> bool:
        submit = self.page.tree.css_first('#FormBookingCreate #submit_Booking [name="nextButton"]')
        if submit is None:
            return False
        # The last mention of the block (ids are case-sensitive, as in the CSS query):
        # the form and the document must end after it.
        pos = self.page.html.rfind("submit_Booking")
        if not self._ends_after(_END_FORM, pos):
            return False
        return not self.is_document or self._ends_after(_END_HTML, pos)

    @cached_property
    def stamps(self) -> list[tuple[str, int]]:
        if self.is_document:
            return _slot_stamps(self.page)
        return _slot_stamps(self.page, "table")

    @cached_property
    def slots(self) -> tuple[datetime, ...]:
        return _valid_slots(self.stamps, None)

    @cached_property
    def table_complete(self) -> bool:
        """The week table (and the document) reach their end after the last cell and link."""
        html = self.page.html
        last = max(html.rfind("<td"), html.rfind("<TD"))
        if self.stamps:
            links = self._last_position(self.stamps)
            last = -1 if links < 0 else max(last, links)
        return self._ends_after(_END_HTML if self.is_document else _END_TABLE, last)

    @cached_property
    def cells(self) -> tuple[int, int]:
        """(« libre » cells, « complet » cells) by exact cell text."""
        libre = complet = 0
        for cell in self.page.tree.css("td"):
            text = squash(cell.text(separator=" "))
            if text == "libre":
                libre += 1
            elif text == "complet":
                complet += 1
        return libre, complet

    @cached_property
    def week_table(self) -> bool:
        """A step-4 page, or a fragment that holds a table (the ezjscore answer)."""
        if self.step_number == 4:
            return True
        return not self.is_document and self.page.tree.css_first("table") is not None

    @cached_property
    def table_full(self) -> bool:
        if not self.week_table or self.stamps or not self.table_complete:
            return False
        libre, complet = self.cells
        return complet > 0 and libre == 0


# ── Deciding ────────────────────────────────────────────────────────────────


class _VerdictFn(Protocol):
    def __call__(self, status: Status, detail: str, **more: object) -> Verdict: ...


def _reason(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _decide(code: int, headers: Mapping[str, str], page: Page) -> Verdict:
    if not 100 <= code <= 599:
        return Verdict(Status.UNKNOWN, f"The server answered with an invalid HTTP status ({code}).")
    if code < 200:
        return Verdict(Status.UNKNOWN, f"The server answered {_reason(code)}, not a page.")
    if 300 <= code < 400:
        target = header(headers, "location")
        where = f" to {_quote(target)}" if target else ""
        return Verdict(
            Status.UNKNOWN,
            f"The server answered {_reason(code)}{where}; the redirect was not followed.",
        )

    facts = _Facts(page)
    step = facts.step

    def verdict(status: Status, detail: str, **more: object) -> Verdict:
        return Verdict(status, detail, step, **more)  # type: ignore[arg-type]

    def captcha() -> Verdict:
        return verdict(
            Status.CAPTCHA, f"A captcha stands in the way ({facts.captcha}): a human must look."
        )

    # 2. Refusing or failing status codes win over whatever the body shows.
    if code in _BLOCKED_CODES or code >= 500 or code in _DOWN_CODES:
        if facts.captcha:
            return captcha()
        return _by_status(code, facts, verdict)

    trusted = code == 200

    # 4. The site's own words.
    if trusted and facts.full_message and not facts.nav:
        return verdict(
            Status.FULL,
            "The site says no slot is free (« Il n'existe plus de plage horaire libre … »).",
        )

    # 5. Error documents, even served with 200.
    if blocked := _block_signature(facts):
        return (
            captcha()
            if facts.captcha
            else verdict(Status.BLOCKED, f"{blocked}, served with {_reason(code)}.")
        )
    if down := _down_signature(facts):
        return (
            captcha()
            if facts.captcha
            else verdict(Status.DOWN, f"{down}, served with {_reason(code)}.")
        )

    # 6. Positive evidence.
    if trusted and (available := _evidence(facts, verdict)) is not None:
        return available

    # 7-8.
    if facts.captcha:
        return captcha()
    if trusted and facts.table_full:
        where = f"Step 4 « {step} »" if facts.step_number == 4 else "The week table"
        return verdict(Status.FULL, f"{where} shows only « complet » cells and no free slot.")

    # 9-11.
    if facts.nav:
        quoted = "; the FULL message on it is only quoted" if facts.full_message else ""
        return verdict(
            Status.UNKNOWN, f"{facts.nav} is a navigation page, not evidence of slots{quoted}."
        )
    if facts.weak_down:
        seen = f" (« {facts.weak_down} »)"
        return verdict(
            Status.DOWN, f"The page says the site is unavailable or under maintenance{seen}."
        )
    if not trusted:
        return verdict(
            Status.UNKNOWN, f"The server answered {_reason(code)}; no reading of the calendar."
        )
    return verdict(Status.UNKNOWN, _why_unknown(facts))


def _by_status(code: int, facts: _Facts, verdict: _VerdictFn) -> Verdict:
    reason = _reason(code)
    looks = ""
    if facts.full_message or facts.step_number in (3, 4) or facts.stamps:
        looks = "; the booking page in its body is not trusted"
    if code in _BLOCKED_CODES:
        if facts.block_text:
            return verdict(
                Status.BLOCKED,
                f"The site refused the request with {reason} ({facts.block_text}){looks}.",
            )
        if code == 429:
            return verdict(
                Status.BLOCKED, f"The site answered {reason}: we are being throttled{looks}."
            )
        return verdict(Status.BLOCKED, f"The site refused the request with {reason}{looks}.")
    if facts.down_text:
        return verdict(Status.DOWN, f"The front proxy answered {code}: {facts.down_text}{looks}.")
    if facts.is_empty:
        return verdict(Status.DOWN, f"The server answered {reason} with an empty body.")
    if facts.closed:
        return verdict(
            Status.DOWN, f"The site answered {reason}: the page is closed for now{looks}."
        )
    if facts.error_heading and squash(reason) not in squash(facts.error_heading[1]):
        return verdict(
            Status.DOWN, f"The server answered {reason} (« {facts.error_heading[1]} »){looks}."
        )
    return verdict(Status.DOWN, f"The server answered {reason}{looks}.")


def _block_signature(facts: _Facts) -> str | None:
    if facts.block_text:
        return f"A deny page ({facts.block_text})"
    if facts.error_heading and facts.error_heading[0] is Status.BLOCKED:
        return f"A refusal page (« {facts.error_heading[1]} »)"
    return None


def _down_signature(facts: _Facts) -> str | None:
    if facts.down_text:
        return f"The front proxy's error page ({facts.down_text})"
    if facts.closed:
        return (
            "The site says the page is closed for now "
            "(« Cette page n'est pas disponible pour le moment »)"
        )
    if facts.error_heading and facts.error_heading[0] is Status.DOWN:
        return f"A server error page (« {facts.error_heading[1]} »)"
    return None


def _evidence(facts: _Facts, verdict: _VerdictFn) -> Verdict | None:
    guarded = ", and a captcha guards the next step" if facts.captcha else ""
    if facts.step_number == 3 and facts.step3_complete:
        return verdict(
            Status.AVAILABLE,
            f"Step 3 « {facts.step} » is shown, which the site only does when slots are free "
            f"(not yet listed){guarded}.",
            slot_count=None,
        )
    if not facts.week_table or not facts.slots or not facts.table_complete:
        return None
    where = f"Step 4 « {facts.step} »" if facts.step_number == 4 else "The week table"
    slots = facts.slots
    first = slots[0].strftime("%Y-%m-%d at %H:%M UTC")
    count = (
        f"{len(slots)} free slots, the earliest on {first}"
        if len(slots) > 1
        else f"1 free slot, on {first}"
    )
    return verdict(
        Status.AVAILABLE, f"{where} shows {count}{guarded}.", slots=slots, slot_count=len(slots)
    )


def _why_unknown(facts: _Facts) -> str:
    step = facts.step
    if facts.is_empty:
        return "The page is empty."
    if facts.step_number == 4:
        libre, complet = facts.cells
        if facts.stamps and not facts.slots:
            return f"Step 4 « {step} » links to free slots whose times cannot be read; not trusted."
        if facts.stamps:
            return f"Step 4 « {step} » looks cut off (it does not reach its end); not trusted."
        if libre:
            return f"Step 4 « {step} » shows « libre » cells but no free-slot link; not trusted."
        if complet:
            return f"Step 4 « {step} » shows « complet » cells but looks cut off; not trusted."
        return (
            f"Step 4 « {step} » shows no free-slot link and no « complet » cell "
            "(cut off or changed page)."
        )
    if facts.step_number == 3:
        return f"Step 3 « {step} » is incomplete (no submit block, or cut off); not trusted."
    if facts.step_number == 2:
        return f"Step 2 « {step} » does not show the known FULL message."
    if facts.week_table:  # a fragment holding a table: the ezjscore answer
        if facts.stamps:
            return "The week table is cut off or its slot times cannot be read; not trusted."
        return "The week table shows no free-slot link and is cut off or not all « complet »."
    if facts.stamps:
        return "The page links to free slots but is not a known booking step; not trusted."
    if step:
        return f"Booking step « {step} » is not one the classifier knows."
    return "The page was not recognised: neither the FULL message nor evidence of free slots."
