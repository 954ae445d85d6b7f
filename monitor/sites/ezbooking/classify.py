"""Read one HTTP response of a prefecture booking page and say what it shows.

The classifier is pure: status code, headers, body and (optionally) the URL
the site sent us to in, one :class:`~monitor.observation.Verdict` out. It
never raises, whatever the bytes.

Its first rule: **never a false "slot available"**. Only complete, positive
evidence of free slots gives :attr:`Status.AVAILABLE`; a page that shows
neither the FULL message nor such evidence is :attr:`Status.UNKNOWN`, never a
slot (the classic bug of ``if FULL_TEXT not in page: alert``). The words it
looks for are in :mod:`~monitor.sites.ezbooking.phrases`; what it reads of the
page (step marks, week-table cells) is in :mod:`~monitor.sites.ezbooking.reading`
and :mod:`~monitor.sites.ezbooking.signals`. A booking page is read through its
booking block only, its chrome from a memo (:mod:`~monitor.sites.ezbooking.scoped`),
whenever that gives exactly what the whole page gives.

The decision table
------------------
Read top to bottom; the first row that matches gives the verdict. *Title* is
the step ``h2`` (``#inner_Booking > h2``), *image* the active progress image
(``etape_<N>r.png`` inside ``#Progress_Booking``; step 2 has none), *URL* the
step in the final URL (``…/booking/create/<id>/<N>``). "—" means "absent or
not looked at"; a mark that is present must agree with the title
("disagree" below: an image of another step, or a URL step other than the
title's, where /3 and /4 are interchangeable for steps 3 and 4).

======  ==================================================  ===========  ===================
 row     what the page shows                                 code         verdict
======  ==================================================  ===========  ===================
 1       status outside 100-599, 1xx, 3xx                    any          unknown
 2       a captcha widget or security step                   403/429/5xx  captcha
 3       anything                                            403/429/451  blocked
 4       anything                                            5xx, 408     down
 5       the FULL message (typo too), not a landing/step 1   200          full (whatever the
                                                                          title, image or URL:
                                                                          a /3 URL or a planted
                                                                          etape_3r stays full)
 6       deny texts, « Forbidden »-like h1/title             2xx, 4xx     blocked (captcha if
                                                                          a widget is present)
 7       proxy texts, « Service surchargé », the closed      2xx, 4xx     down (idem)
         sentence, 5xx-like h1/title
 8       title step 3 + complete ``#submit_Booking``         200          available, count
         ``nextButton``; image and URL do not disagree                    unknown
 9       title step 4 + bookable cells (``status-1``/        200          available, count =
         ``free``) with ``/5/<ts>`` links, complete;                      bookable links
         image and URL do not disagree
         (a step-4 page whose table is not loaded yet, or
         holds no bookable cell, is *not* evidence: the
         adapter reads the table from ``a#ezplanning-url``)
 10      ezjscore fragment: a table with bookable links      200          available, count
 11      title 3 or 4 but the image or URL disagree          200          unknown
 12      a captcha widget or security step                   200, 4xx     captcha
 13      week table: « complet » cells, no bookable cell,    200          full
         complete (status-0/2 cells do not count)
 14      landing (conditions) or step 1 (radios)             any          unknown
 15      weak words (maintenance, « réessayer … ») in a      2xx, 4xx     down
         heading, the booking block or a short page
 16      anything else (status-0 cells only, libre text      any          unknown
         without a state class, cut-off pages, step 2
         without the FULL message, an empty page…)
======  ==================================================  ===========  ===================

Row 5 comes before evidence because the site's own words win over our
inference; rows 6-7 come before evidence because a page carrying an error
document's words is an error document, even served with 200. The image and
the URL never *give* ``available`` on their own: they can only veto it. A
step-3/4 page proves slots exist even when a captcha guards the next step.
Evidence must be complete: a document must reach its ``</html>`` after the
evidence (the step-3 submit block must also be followed by ``</form>``); a
fragment's last ``</table>`` must come after the last bookable link.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Protocol
from zoneinfo import ZoneInfo

from monitor.observation import Status, Verdict
from monitor.page import Page, header, parse_page, squash
from monitor.sites.ezbooking.phrases import (
    CLOSED_MESSAGE,
    DENY_MESSAGE,
    FULL_MESSAGE,
    FULL_MESSAGE_TYPO,
    INVALID_RESPONSE_MESSAGE,
    NO_RESPONSE_IN_TIME_MESSAGE,
    NO_SERVER_MESSAGE,
    RETRY_LATER_MESSAGE,
    SECURITY_STEP_TITLES,
    STEP1_TITLE,
    STEP2_TITLE,
    STEP3_TITLE,
    STEP4_TITLE,
)
from monitor.sites.ezbooking.scoped import read_page
from monitor.sites.ezbooking.signals import Facts, quote, read_slots

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

_BLOCKED_CODES = frozenset({403, 429, 451})
_SITE_ZONE = ZoneInfo("Europe/Paris")
_DOWN_CODES = frozenset({408})


def classify(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    url: str | None = None,
    whole_page: bool = False,
) -> Verdict:
    """Classify a raw HTTP response (see the decision table above). Never raises.

    ``url`` is the address the response came from after redirects; its step
    number is one of the marks that must agree with the page's title.
    """
    try:
        page = parse_page(headers, body)
    except Exception:  # parse_page is meant never to raise; this is the last guard
        return Verdict(Status.UNKNOWN, "The response body could not be read as a page.")
    return classify_page(status_code, headers, page, url=url, whole_page=whole_page)


def classify_page(
    status_code: int,
    headers: Mapping[str, str],
    page: Page,
    *,
    url: str | None = None,
    whole_page: bool = False,
) -> Verdict:
    """Classify an already decoded page (the adapters decode once). Never raises.

    ``whole_page=True`` reads the whole parsed document instead of only the
    booking block (:mod:`~monitor.sites.ezbooking.scoped`); the verdict is the
    same, which the tests check with it.
    """
    try:
        return _decide(int(status_code), headers, page, url, whole_page)
    except Exception as exc:  # never raise: a surprise is an unknown page, never a slot
        return Verdict(Status.UNKNOWN, f"The page could not be classified ({type(exc).__name__}).")


class _VerdictFn(Protocol):
    def __call__(self, status: Status, detail: str, **more: object) -> Verdict: ...


def _reason(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _decide(
    code: int, headers: Mapping[str, str], page: Page, url: str | None, whole_page: bool
) -> Verdict:
    if not 100 <= code <= 599:
        return Verdict(Status.UNKNOWN, f"The server answered with an invalid HTTP status ({code}).")
    if code < 200:
        return Verdict(Status.UNKNOWN, f"The server answered {_reason(code)}, not a page.")
    if 300 <= code < 400:
        target = header(headers, "location")
        where = f" to {quote(target)}" if target else ""
        return Verdict(
            Status.UNKNOWN,
            f"The server answered {_reason(code)}{where}; the redirect was not followed.",
        )

    facts = Facts(read_page(page, whole_page=whole_page), page.html, url)
    step = facts.step

    def verdict(status: Status, detail: str, **more: object) -> Verdict:
        return Verdict(status, detail, step, **more)  # type: ignore[arg-type]

    def captcha() -> Verdict:
        return verdict(
            Status.CAPTCHA, f"A captcha stands in the way ({facts.captcha}): a human must look."
        )

    # Rows 2-4: refusing or failing status codes win over whatever the body shows.
    if code in _BLOCKED_CODES or code >= 500 or code in _DOWN_CODES:
        if facts.captcha:
            return captcha()
        return _by_status(code, facts, verdict)

    trusted = code == 200

    # Row 5: the site's own words.
    if trusted and facts.full_message and not facts.nav:
        return verdict(
            Status.FULL,
            "The site says no slot is free (« Il n'existe plus de plage horaire libre … »).",
        )

    # Rows 6-7: error documents, even served with 200.
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

    # Rows 8-11: positive evidence, vetoed by a disagreeing mark.
    if trusted and (available := _evidence(facts, verdict)) is not None:
        return available

    # Rows 12-13.
    if facts.captcha:
        return captcha()
    if trusted and facts.table_full:
        where = f"Step 4 « {step} »" if facts.title_step == 4 else "The week table"
        return verdict(Status.FULL, f"{where} shows only « complet » cells and no free slot.")

    # Rows 14-16.
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


def _by_status(code: int, facts: Facts, verdict: _VerdictFn) -> Verdict:
    reason = _reason(code)
    looks = ""
    if facts.full_message or facts.title_step in (3, 4) or facts.cells.stamps:
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


def _block_signature(facts: Facts) -> str | None:
    if facts.block_text:
        return f"A deny page ({facts.block_text})"
    if facts.error_heading and facts.error_heading[0]:
        return f"A refusal page (« {facts.error_heading[1]} »)"
    return None


def _down_signature(facts: Facts) -> str | None:
    if facts.down_text:
        return f"The front proxy's error page ({facts.down_text})"
    if facts.closed:
        return (
            "The site says the page is closed for now "
            "(« Cette page n'est pas disponible pour le moment »)"
        )
    if facts.error_heading and not facts.error_heading[0]:
        return f"A server error page (« {facts.error_heading[1]} »)"
    return None


def _evidence(facts: Facts, verdict: _VerdictFn) -> Verdict | None:
    guarded = ", and a captcha guards the next step" if facts.captcha else ""
    title = facts.title_step
    if title in (3, 4) and facts.marks_disagree(title) is not None:
        return None  # row 11: explained by _why_unknown
    if title == 3 and facts.step3_complete:
        return verdict(
            Status.AVAILABLE,
            f"Step 3 « {facts.step} » is shown, which the site only does when slots are free "
            f"(not yet listed){guarded}.",
            slot_count=None,
        )
    if not facts.week_table or not facts.slots or not facts.table_complete:
        return None
    where = f"Step 4 « {facts.step} »" if title == 4 else "The week table"
    slots = facts.slots
    # The classifier knows no configured zone; the booking module is a French service
    # whose calendar is in Paris time, so the detail says what the site shows, with
    # the offset that makes it unambiguous (messages render Verdict.slots in the
    # person's zone).
    local = slots[0].astimezone(_SITE_ZONE)
    offset = local.strftime("%z")
    first = f"{local:%Y-%m-%d at %H:%M} Paris time (UTC{offset[:3]}:{offset[3:]})"
    count = (
        f"{len(slots)} free slots, the earliest on {first}"
        if len(slots) > 1
        else f"1 free slot, on {first}"
    )
    return verdict(
        Status.AVAILABLE, f"{where} shows {count}{guarded}.", slots=slots, slot_count=len(slots)
    )


def _why_unknown(facts: Facts) -> str:
    step = facts.step
    title = facts.title_step
    if facts.is_empty:
        return "The page is empty."
    if title in (3, 4) and (why := facts.marks_disagree(title)) is not None:
        return f"Step {title} « {step} » is named, but {why}; the marks disagree, not trusted."
    cells = facts.cells
    if title == 4:
        if cells.stamps and not facts.slots:
            return f"Step 4 « {step} » links to free slots whose times cannot be read; not trusted."
        if cells.stamps:
            return f"Step 4 « {step} » looks cut off (it does not reach its end); not trusted."
        if cells.bookable or cells.libre_text:
            return f"Step 4 « {step} » shows « libre » cells but no free-slot link in them."
        if cells.unbookable:
            return (
                f"Step 4 « {step} » shows no bookable cell ({cells.unbookable} unbookable "
                "cells, whose hidden links are not slots); no free-slot link."
            )
        if cells.complete:
            return f"Step 4 « {step} » shows « complet » cells but looks cut off; not trusted."
        return (
            f"Step 4 « {step} » shows no free-slot link and no « complet » cell "
            "(cut off or changed page)."
        )
    if title == 3:
        return f"Step 3 « {step} » is incomplete (no submit block, or cut off); not trusted."
    if title == 2:
        return f"Step 2 « {step} » does not show the known FULL message."
    if facts.week_table:  # a fragment holding a table: the ezjscore answer
        if cells.stamps:
            return "The week table is cut off or its slot times cannot be read; not trusted."
        return "The week table shows no free-slot link and is cut off or not all « complet »."
    if cells.stamps:
        return "The page links to free slots but is not a known booking step; not trusted."
    if step:
        return f"Booking step « {step} » is not one the classifier knows."
    return "The page was not recognised: neither the FULL message nor evidence of free slots."
