"""Build one apprise plugin without loading apprise's ~190 plugins.

``apprise.Apprise.instantiate(url)`` asks apprise's plugin manager for the URL's
scheme, and the manager's first lookup imports *every* plugin module (and the
libraries they use: requests-oauthlib, paho, ...): about 10 MiB of resident
memory for a daemon that talks to one ``tgram://`` chat. apprise 2.3 has no way to
load one plugin on demand, so :func:`instantiate` does it itself:

1. find the plugin module that declares the scheme by reading the plugin sources
   as text (``protocol = ...`` / ``secure_protocol = ...``), once per process;
2. import only that module and pick its plugin class the way apprise's manager
   does (the first public name carrying an ``app_id``), and keep it only if the
   class itself says it serves the scheme (``schemas()``): the text scan is a
   hint, the class is the authority;
3. build the plugin as ``instantiate`` would: ``parse_url`` then the constructor,
   with apprise's default asset, and the same two "enabled" checks.

Anything off that happy path (a scheme the scan does not find, a class that does
not claim it, a URL the plugin cannot parse, a constructor that fails, a disabled
plugin) goes to ``apprise.Apprise.instantiate`` itself, so failures keep apprise's
own log records, which callers turn into the user's error message. The object
returned is always a complete apprise plugin instance: sending uses it exactly as
it would use one built by apprise.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["declared_schemes", "instantiate", "plugin_class"]

PLUGINS_PACKAGE = "apprise.plugins"

# Declarations are class attributes: an indented ``protocol``/``secure_protocol``
# assigned a string or a tuple of strings (possibly over several lines). Found by
# searching the word, then reading the line around it: a multi-line regex anchored
# at every line start takes 20 times longer over apprise's 4 MB of plugin sources.
_WORD = re.compile(r"protocol")
_VALUE = re.compile(r"\s*=\s*(\([^)]*\)|\"[^\"\n]*\"|'[^'\n]*')")
_LITERAL = re.compile(r"[\"']([^\"'\n]+)[\"']")
# apprise's own test of "where does the scheme end" (apprise.utils.parse.GET_SCHEMA_RE).
_SCHEME = re.compile(r"\s*(?P<schema>[a-z0-9]{1,32})://", re.IGNORECASE)


def _declarations(text: str) -> Iterator[str]:
    """The right-hand sides of the class-level ``protocol``/``secure_protocol``
    assignments of a plugin source."""
    for word in _WORD.finditer(text):
        line_start = text.rfind("\n", 0, word.start()) + 1
        indent = text[line_start : word.start()].removesuffix("secure_")
        if not indent or indent.strip():
            continue  # not at the start of an indented line: a use, not a declaration
        value = _VALUE.match(text, word.end())
        if value:
            yield value.group(1)


@lru_cache(maxsize=1)
def declared_schemes() -> dict[str, str]:
    """Scheme (lower case) → the top-level plugin module apprise's manager would import
    for it (``"json"`` → ``"apprise.plugins.custom_json"``), from the plugin sources.

    A scheme declared in a way the scan cannot read (a variable, a computed list) is
    simply absent: :func:`instantiate` then lets apprise load everything, as before.
    """
    import apprise.plugins

    root = Path(apprise.plugins.__file__).parent
    found: dict[str, str] = {}
    # apprise's manager imports each top-level entry of plugins/ (a module or a
    # package) in directory order; sorting makes a duplicate scheme resolve the same
    # way on every machine, and the test against the full manager catches any clash.
    for path in sorted(root.rglob("*.py")):
        top = path.relative_to(root).parts[0].removesuffix(".py")
        if top.startswith("_") or top == "base":
            continue  # the manager skips these too
        text = path.read_text(encoding="utf-8", errors="replace")
        for declaration in _declarations(text):
            for scheme in _LITERAL.findall(declaration):
                if _SCHEME.fullmatch(f"{scheme}://"):
                    found.setdefault(scheme.lower(), f"{PLUGINS_PACKAGE}.{top}")
    return found


def plugin_class(scheme: str) -> Any:
    """apprise's plugin class for ``scheme``, importing only its module; ``None`` when the
    scan does not know the scheme or the module's plugin does not serve it."""
    module_name = declared_schemes().get(scheme.lower())
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    from apprise.manager_plugins import NotificationManager

    # The manager's own rule (apprise.manager.PluginManager.load_modules): the first
    # name of the module, in dir() order, that its filter accepts and has an app_id.
    for name in dir(module):
        candidate = getattr(module, name)
        if not NotificationManager.module_filter_re.match(name) or not hasattr(candidate, "app_id"):
            continue
        schemes = (
            candidate.schemas(candidate) if callable(getattr(candidate, "schemas", None)) else ()
        )
        return candidate if scheme.lower() in {str(s).lower() for s in schemes} else None
    return None


def _lazy(url: str) -> Any:
    """The plugin built from one module, or ``None`` to let apprise do it."""
    match = _SCHEME.match(url)
    cls = plugin_class(match.group("schema")) if match else None
    if cls is None or not cls.enabled:
        return None
    from apprise import AppriseAsset

    # apprise.plugins.url_to_dict escapes "/#" before parsing: so must we.
    results = cls.parse_url(url.replace("/#", "/%23"))
    if not results:
        return None
    results["tag"] = set()
    results["asset"] = AppriseAsset()
    try:
        plugin = cls(**results)
    except Exception:  # apprise's own path reports why
        return None
    return plugin if plugin.enabled else None


def instantiate(url: str) -> Any:
    """apprise's plugin object for ``url`` (as ``apprise.Apprise.instantiate(url)``
    returns it), or ``None`` if apprise does not accept it; loads one plugin module
    when it can, all of them only when it must (see the module docstring)."""
    plugin = _lazy(url)
    if plugin is not None:
        return plugin
    import apprise

    return apprise.Apprise.instantiate(url)
