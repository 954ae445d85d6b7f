"""Read HTML forms the way a browser submits them. Pure functions, no I/O.

The booking module checks a per-session form token (``ezxform_token``) and
may add hidden fields at any time, so the adapter never builds a POST body by
hand: it submits the page's own form with every successful control, exactly
as a browser would, changing only what a person would click.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urljoin

from selectolax.lexbor import LexborNode

from monitor.page import Page

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


def find_booking_form(page: Page, base_url: str) -> Form | None:
    """The booking form of a page (``form#FormBookingCreate``), or the likeliest POST form."""
    tree = page.tree
    node = tree.css_first("form#FormBookingCreate") or tree.css_first('form[name="create"]')
    if node is None:
        for candidate in tree.css("form"):
            if candidate.css_first(
                'input[name="nextButton"], input[name="condition"], input[name="planning"]'
            ):
                node = candidate
                break
    return None if node is None else read_form(node, page, base_url)


def read_form(node: LexborNode, page: Page, base_url: str) -> Form:
    attrs = node.attributes
    action = _resolve(base_url, (attrs.get("action") or "").strip())
    method = (attrs.get("method") or "get").strip().upper()
    fields: list[tuple[str, str]] = []
    checkboxes: list[tuple[str, str]] = []
    choices: list[Choice] = []
    buttons: list[tuple[str, str]] = []
    labels = _labels_by_id(page)

    for control in node.css("input, select, textarea, button"):
        a = control.attributes
        name = (a.get("name") or "").strip()
        if not name or "disabled" in a:
            continue
        tag = control.tag
        kind = (a.get("type") or ("submit" if tag == "button" else "text")).strip().lower()
        if tag == "select":
            selected = control.css_first("option[selected]") or control.css_first("option")
            if selected is not None:
                value = selected.attributes.get("value")
                fields.append((name, value if value is not None else selected.text(strip=True)))
        elif tag == "textarea":
            fields.append((name, control.text() or ""))
        elif kind in ("submit", "image") or (tag == "button" and kind == "submit"):
            buttons.append((name, a.get("value") or control.text(strip=True) or ""))
        elif kind == "radio":
            value = a.get("value") or "on"
            label = labels.get(a.get("id") or "") or _enclosing_text(control)
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


def _labels_by_id(page: Page) -> dict[str, str]:
    out: dict[str, str] = {}
    for label in page.tree.css("label[for]"):
        target = (label.attributes.get("for") or "").strip()
        if target:
            out[target] = _clean(label.text(separator=" "))
    return out


def _enclosing_text(node: LexborNode) -> str:
    parent = node.parent
    return _clean(parent.text(separator=" ")) if parent is not None else ""


def _clean(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())
