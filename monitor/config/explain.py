"""Every config mistake where the user reads it: the key path as the file reads, and TOML.

Each problem is worded where it is found (:mod:`monitor.config.tables` and the
parsers of :mod:`monitor.config.values`); :func:`format_issues` lists them under
the file name, each after its place in the file (``[[watch]] #2 ("Premier titre")
calendars, item 1``); :func:`toml_message` rewrites tomllib's error for a file
that is not valid TOML (its raw message is never shown).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.config.tables import Invalid, Loc
from monitor.config.words import quoted
from monitor.secrets import mask_urls_in_text

__all__ = ["format_issues", "issue_order", "toml_message"]


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


def format_issues(source: str, issues: Sequence[Invalid], data: Mapping[str, Any]) -> str:
    """Every issue, one line each, under the file name (one line for a single issue)."""
    lines = []
    for issue in issues:
        where = _where(issue.loc, data)
        lines.append(f"{where}: {issue.message}")
    if len(lines) == 1:
        return f"{source}: {lines[0]}"
    body = "\n".join(f"  - {line}" for line in lines)
    return f"{source}: {len(lines)} problems:\n{body}"


def issue_order(issue: Invalid, order: Mapping[str, int]) -> tuple[int, int]:
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
