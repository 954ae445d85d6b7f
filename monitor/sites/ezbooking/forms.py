"""Read HTML forms the way a browser submits them. Pure functions, no I/O.

The booking module checks a per-session form token (``ezxform_token``) and
may add hidden fields at any time, so the adapter never builds a POST body by
hand: it submits the page's own form with every successful control, exactly
as a browser would, changing only what a person would click.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.page import Page
from monitor.sites.ezbooking.reading import BOOKING_FORM_ID, fold, labels, spells_booking_form
from monitor.sites.ezbooking.scoped import booking_block

__all__ = ["Choice", "Form", "find_booking_form"]


@dataclass(frozen=True, slots=True)
class Choice:
    """One radio button of a form, with the text of its label."""

    name: str
    value: str
    label: str
    checked: bool = False


@dataclass(frozen=True, slots=True)
class Form:
    """A form as a browser sees it: where it posts and what it would send."""

    action: str
    method: str
    fields: tuple[tuple[str, str], ...]
    """Successful controls submitted by default (hidden, text, checked boxes, selects…)."""
    checkboxes: tuple[tuple[str, str], ...]
    """Unchecked checkboxes (name, value): what a person could tick."""
    choices: tuple[Choice, ...]
    """Every radio button, checked or not."""
    buttons: tuple[tuple[str, str], ...]
    """Submit buttons (name, value): only the one clicked is sent."""

    def has_field(self, name: str) -> bool:
        return any(n == name for n, _ in self.fields) or any(n == name for n, _ in self.checkboxes)

    def has_button(self, name: str) -> bool:
        return any(n == name for n, _ in self.buttons)

    def radios(self, name: str) -> tuple[Choice, ...]:
        return tuple(c for c in self.choices if c.name == name)

    def refreshed(self, fresh: Form) -> Form:
        """This form with the values ``fresh`` gives to the same field names.

        A form kept from an earlier page of the site carries that session's
        hidden values (``ezxform_token``); the page just shown carries the
        current ones. Only fields this form already has are taken.
        """
        newer = dict(fresh.fields)
        return replace(self, fields=tuple((n, newer.get(n, v)) for n, v in self.fields))

    def submission(
        self,
        *,
        button: str,
        tick: tuple[str, ...] = (),
        choose: dict[str, str] | None = None,
    ) -> list[tuple[str, str]]:
        """The body a browser sends after ticking ``tick``, choosing radios, clicking ``button``."""
        choose = choose or {}
        data = [(n, v) for n, v in self.fields if n not in choose]
        data += [(n, v) for n, v in self.checkboxes if n in tick]
        data += list(choose.items())
        data += [(n, v) for n, v in self.buttons if n == button][:1]
        return data


def find_booking_form(page: Page, base_url: str, *, whole_page: bool = False) -> Form | None:
    """The booking form of a page (``form#FormBookingCreate``), or the likeliest POST form.

    Read from the booking block the classifier parsed
    (:func:`~monitor.sites.ezbooking.scoped.booking_block`) when that gives
    what the whole page gives, so a booking page is parsed once; from the
    whole page otherwise, or always with ``whole_page=True`` (the reference
    the tests hold the block route to).
    """
    if not whole_page and (from_block := _from_block(page, base_url)) is not None:
        return from_block
    tree = page.tree
    node = _booking_form(tree)
    forms = tree.tags("form")
    if node is None:
        node = next((f for f in forms if f.attributes.get("name") == "create"), None)
    if node is None:
        node = next((f for f in forms if _has_navigation(f)), None)
    return None if node is None else read_form(node, dict(labels(tree)), base_url)


def _from_block(page: Page, base_url: str) -> Form | None:
    """The booking form read from the block alone, or None when that might differ from the page.

    Exact when the block holds ``form#FormBookingCreate``, nothing invisible
    was dropped from it, and the chrome before it holds no form by that id;
    the labels of the chrome and the block are merged in document order.
    """
    block = booking_block(page)
    if block is None or not block.untouched or block.before.booking_form:
        return None
    node = _booking_form(block.tree)
    if node is None:
        return None
    after = block.after.labels if block.after is not None else ()
    found = dict((*block.before.labels, *labels(block.tree), *after))
    return read_form(node, found, base_url)


def _booking_form(tree: LexborHTMLParser) -> LexborNode | None:
    """``form#FormBookingCreate``: the first form with that id (any case in quirks mode)."""
    for form in tree.tags("form"):
        if spells_booking_form(form):
            if form.id == BOOKING_FORM_ID:
                return form
            # Another spelling: only lexbor knows whether the document is in quirks mode.
            return tree.css_first(f"form#{BOOKING_FORM_ID}")
    return None


_NAVIGATION = frozenset({"nextButton", "condition", "planning"})
_CONTROLS = frozenset({"input", "select", "textarea", "button"})


def _has_navigation(form: LexborNode) -> bool:
    """``form`` holds an ``input`` named ``nextButton``, ``condition`` or ``planning``."""
    return any(
        node.tag == "input" and node.attributes.get("name") in _NAVIGATION
        for node in form.traverse()
        if node.mem_id != form.mem_id
    )


def read_form(node: LexborNode, labels_by_id: dict[str, str], base_url: str) -> Form:
    """What a browser would submit of the form ``node``; radios labelled from ``labels_by_id``.

    Walks the form's elements in document order (as ``input, select, textarea,
    button`` selects them) without the CSS engine, whose setup on a fresh
    document costs more than the walk.
    """
    attrs = node.attributes
    action = _resolve(base_url, (attrs.get("action") or "").strip())
    method = (attrs.get("method") or "get").strip().upper()
    fields: list[tuple[str, str]] = []
    checkboxes: list[tuple[str, str]] = []
    choices: list[Choice] = []
    buttons: list[tuple[str, str]] = []

    for control in node.traverse():
        tag = control.tag
        if tag not in _CONTROLS or control.mem_id == node.mem_id:
            continue
        a = control.attributes
        name = (a.get("name") or "").strip()
        if not name or "disabled" in a:
            continue
        kind = (a.get("type") or ("submit" if tag == "button" else "text")).strip().lower()
        if tag == "select":
            selected = _selected_option(control)
            if selected is not None:
                value = selected.attributes.get("value")
                fields.append((name, value if value is not None else selected.text(strip=True)))
        elif tag == "textarea":
            fields.append((name, control.text() or ""))
        elif kind in ("submit", "image") or (tag == "button" and kind == "submit"):
            buttons.append((name, a.get("value") or control.text(strip=True) or ""))
        elif kind == "radio":
            value = a.get("value") or "on"
            label = labels_by_id.get(a.get("id") or "") or _enclosing_text(control)
            choices.append(Choice(name, value, label, "checked" in a))
            if "checked" in a:
                fields.append((name, value))
        elif kind == "checkbox":
            pair = (name, a.get("value") or "on")
            (fields if "checked" in a else checkboxes).append(pair)
        elif kind in ("button", "reset", "file"):
            continue
        else:
            fields.append((name, a.get("value") or ""))
    return Form(action, method, tuple(fields), tuple(checkboxes), tuple(choices), tuple(buttons))


def _selected_option(select: LexborNode) -> LexborNode | None:
    """``option[selected]`` below ``select``, else its first ``option``."""
    options = [n for n in select.traverse() if n.tag == "option" and n.mem_id != select.mem_id]
    return next((o for o in options if "selected" in o.attributes), options[0] if options else None)


def _resolve(base_url: str, action: str) -> str:
    """``action`` made absolute against the page, as a browser does (empty: the page itself).

    An action that cannot even be joined (``http://[::1``) is returned as
    written: reading a form never raises, and the adapter refuses to submit
    to an address that is not a valid URL of the booking's site.
    """
    if not action:
        return base_url
    try:
        return urljoin(base_url, action)
    except ValueError:
        return action


def _enclosing_text(node: LexborNode) -> str:
    parent = node.parent
    return fold(parent.text(separator=" ")) if parent is not None else ""
