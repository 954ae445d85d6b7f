"""Every config mistake in user words: pydantic's errors and tomllib's, rewritten.

The raw messages of pydantic and tomllib are never shown. :func:`explain` turns
one pydantic error into an :class:`Issue` (a key path and a sentence, with "did
you mean" for a mistyped key); :func:`format_issues` lists them under the file
name, as the file reads (``[[watch]] #2 ("Premier titre") calendars, item 1``);
:func:`toml_message` does the same for a file that is not valid TOML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from monitor.config.models import (
    MonitorSettings,
    NotifySettings,
    NotifyTarget,
    SurgeWindow,
    Template,
    WatchIn,
)
from monitor.config.words import EXAMPLES, kind_of, quoted, suggest
from monitor.secrets import mask_urls_in_text

__all__ = ["TABLE_KEYS", "Issue", "Loc", "explain", "format_issues", "issue_order", "toml_message"]

Loc = tuple[str | int, ...]


class Issue(NamedTuple):
    """One problem: where (a pydantic location) and what, in user words."""

    loc: Loc
    message: str


TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "top": ("monitor", "notify", "watch"),
    "monitor": tuple(MonitorSettings.model_fields),
    "surge": tuple(SurgeWindow.model_fields),
    "notify": tuple(NotifySettings.model_fields),
    "target": tuple(NotifyTarget.model_fields),
    "template": tuple(Template.model_fields),
    "watch": tuple(WatchIn.model_fields),
    "calendar": ("planning", "name", "label"),
}


def _table_kind(loc: Loc) -> str:
    """Which table a location is in (for listing its valid keys)."""
    match loc:
        case ():
            return "top"
        case ("monitor",):
            return "monitor"
        case ("monitor", "surge", int()):
            return "surge"
        case ("notify",):
            return "notify"
        case ("notify", "urls", int()):
            return "target"
        case ("notify", "templates", str()):
            return "template"
        case ("watch", int()):
            return "watch"
        case ("watch", int(), "calendars", int()):
            return "calendar"
    return ""


def _where(loc: Loc, data: Mapping[str, Any]) -> str:
    """A location as the user sees the file: ``[[watch]] #2 ("Premier titre") interval``."""

    def rest(parts: Loc) -> str:
        return ", ".join(f"item {p + 1}" if isinstance(p, int) else str(p) for p in parts)

    match loc:
        case ():
            return "top level"
        case ("monitor", "surge", int(i), *tail):
            head = f"[[monitor.surge]] #{i + 1}"
            return f"{head} {rest(tuple(tail))}".rstrip()
        case ("notify", "urls", int(i), "url"):
            notify = data.get("notify")
            urls = notify.get("urls") if isinstance(notify, dict) else None
            if isinstance(urls, list) and i < len(urls) and isinstance(urls[i], str):
                return f"[notify] urls, item {i + 1}"
            return f"[notify] urls, item {i + 1}, url"
        case ("notify", "templates", str(event), *tail):
            return f"[notify.templates.{event}] {rest(tuple(tail))}".rstrip()
        case ("watch", int(i), *tail):
            head = f"[[watch]] #{i + 1}"
            watches = data.get("watch")
            if isinstance(watches, list) and i < len(watches) and isinstance(watches[i], dict):
                name = watches[i].get("name")
                if isinstance(name, str) and name.strip():
                    head += f" ({quoted(name.strip())})"
            return f"{head} {rest(tuple(tail))}".rstrip()
        case ("watch",):
            return "[[watch]]"
        case (str(section), *tail):
            return f"[{section}] {rest(tuple(tail))}".rstrip()
    return rest(loc)


def explain(err: Mapping[str, Any], data: Mapping[str, Any]) -> Issue:
    """Rewrite one pydantic error into user words (never its type names or links)."""
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    key = next((p for p in reversed(loc) if isinstance(p, str)), "")
    example = EXAMPLES.get(key)
    eg = f"; e.g. {example}" if example else ""
    secret = loc[:2] == ("notify", "urls")
    shown = "(hidden: it may hold a secret)" if secret else kind_of(value)
    if kind == "rdv":
        return Issue(loc, err["msg"])
    if kind == "extra_forbidden":
        where = loc[:-1]
        table = TABLE_KEYS.get(_table_kind(where), ())
        unknown = str(loc[-1])
        guess = suggest(unknown, table)
        text = f"key '{unknown}' is not known"
        text += f"; did you mean '{guess}'?" if guess else "."
        if table:
            text += f" The keys allowed here are: {', '.join(table)}."
        return Issue(where, text)
    if kind == "missing":
        return Issue(loc, f"this key is required but missing{eg}.")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return Issue(loc, f"expected a table of keys, got {shown}{eg}.")
    if kind in ("tuple_type", "list_type", "iterable_type"):
        return Issue(loc, f"expected a list in square brackets, got {shown}{eg}.")
    if kind in ("string_type", "string_too_short"):
        if kind == "string_too_short":
            return Issue(loc, f"must not be empty{eg}.")
        return Issue(loc, f"expected text in double quotes, got {shown}{eg}.")
    if kind in ("bool_type", "bool_parsing"):
        return Issue(loc, f"expected true or false (without quotes), got {shown}.")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return Issue(loc, f"expected a whole number, got {shown}{eg}.")
    if kind in ("float_type", "float_parsing"):
        return Issue(loc, f"expected a number, got {shown}{eg}.")
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return Issue(loc, f"{shown} is not allowed here; write {expected}.")
    message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    if secret:
        message = mask_urls_in_text(message)
    return Issue(loc, f"{message[:1].lower()}{message[1:]}{eg}.".replace("..", "."))


def format_issues(source: str, issues: Sequence[Issue], data: Mapping[str, Any]) -> str:
    """Every issue, one line each, under the file name (one line for a single issue)."""
    lines = []
    for issue in issues:
        where = _where(issue.loc, data)
        lines.append(f"{where}: {issue.message}")
    if len(lines) == 1:
        return f"{source}: {lines[0]}"
    body = "\n".join(f"  - {line}" for line in lines)
    return f"{source}: {len(lines)} problems:\n{body}"


def issue_order(issue: Issue, order: Mapping[str, int]) -> tuple[int, int]:
    """Sort key: file order of the section (``order``), then item number."""
    section = issue.loc[0] if issue.loc else ""
    index = issue.loc[1] if len(issue.loc) > 1 and isinstance(issue.loc[1], int) else -1
    return order.get(str(section), -1), index


# --------------------------------------------------------------------------- TOML syntax errors


_TOML_HINTS = {
    "invalid value": (
        'text must be in double quotes (interval = "5m", name = "Renouvellement"); '
        "numbers and true/false are written without quotes."
    ),
    "cannot overwrite a value": "a key is given twice; keep only one.",
    "cannot declare": "this section appears twice; merge the two into one.",
    "cannot mutate": "this section appears twice; merge the two into one.",
    "unclosed array": "a list opened with [ is not closed with ].",
    "unclosed inline table": "a table opened with { is not closed with }.",
    "unterminated string": 'a text value is missing its closing double quote ".',
    "illegal character": 'a text value is missing its closing double quote ".',
    "expected '=' after a key": 'each line must be key = value, e.g. interval = "5m".',
    "invalid statement": 'each line must be key = value, e.g. interval = "5m", or a [section].',
    "expected newline or end of document": "put each key = value on its own line.",
    "expected ']' at the end of a table": "a [section] name is missing its closing ].",
}

_UNQUOTED = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*([^\"'\[{\s][^#]*?)\s*(?:#.*)?$")
_TOML_BARE_VALUE = re.compile(
    r"^(true|false|[+-]?(\d[\d_]*)(\.\d+)?([eE][+-]?\d+)?|\d{4}-\d{2}-\d{2}.*|\d{2}:\d{2}.*)$"
)


def _toml_what(what: str) -> str:
    """tomllib's phrase in user words (no Python reprs)."""
    what = what[:1].lower() + what[1:]
    if m := re.match(r"cannot (?:declare|mutate) \((.*)\)", what):
        name = ".".join(re.findall(r"'([^']*)'", m.group(1)))
        return f"the section [{name}] appears twice"
    if what.startswith("illegal character '\\n'"):
        return "the line ends inside a text value"
    return what


def toml_message(source: str, text: str, raw_message: str) -> str:
    """tomllib's error as one user paragraph: where, the line (URLs masked), the fix."""
    m = re.match(r"^(.*?)\s*\(at line (\d+), column (\d+)\)\s*$", raw_message)
    shown = ""
    if m:
        what, line_no, column = m.group(1), int(m.group(2)), int(m.group(3))
        where = f"line {line_no}, column {column}"
        lines = text.splitlines()
        shown = lines[line_no - 1].strip() if 0 < line_no <= len(lines) else ""
    else:
        what = re.sub(r"\s*\(at end of document\)", "", raw_message)
        where = "at the end of the file" if "end of document" in raw_message else "syntax error"
    hint = next((h for k, h in _TOML_HINTS.items() if what.lower().startswith(k)), "")
    if shown and (bare := _UNQUOTED.match(shown)):
        key, value = bare.group(1), bare.group(2)
        if not _TOML_BARE_VALUE.match(value):
            hint = (
                f'text must be in double quotes: write {key} = "{value}"; numbers and '
                "true/false are written without quotes."
            )
    message = f"{source}: {where}: this is not valid TOML ({_toml_what(what)})."
    if shown:
        message += f" The line reads: {mask_urls_in_text(shown)[:120]}"
    if hint:
        message += f" — {hint[:1].upper()}{hint[1:]}"
    return message
