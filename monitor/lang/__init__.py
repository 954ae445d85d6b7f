"""Languages: one phrase catalogue per language, a module each.

``monitor/lang/fr.py`` holds every French word rdv-monitor writes, ``en.py``
every English one (see :class:`~monitor.lang.phrases.Phrases` for what a
catalogue holds). The accepted values of ``[notify] language`` and of
``rdv-monitor procedures --lang`` are the catalogues present: adding a language
is adding one module here, with a ``PHRASES`` constant.

French comes first and is the default: the people who book are in France.
"""

from __future__ import annotations

import importlib
import pkgutil

from monitor.lang.phrases import Phrases

__all__ = [
    "CATALOGUES",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Phrases",
    "languages",
    "phrases_for",
    "register",
]

DEFAULT_LANGUAGE = "fr"

CATALOGUES: dict[str, Phrases] = {}
"""Every known language's catalogue, by code, the default first."""


def register(catalogue: Phrases) -> Phrases:
    """Add ``catalogue`` to :data:`CATALOGUES` (a language module is registered on import)."""
    if catalogue.code in CATALOGUES:
        raise ValueError(f"language {catalogue.code!r} is already registered")
    CATALOGUES[catalogue.code] = catalogue
    return catalogue


def _discover() -> None:
    """Register the ``PHRASES`` of every module of this package, the default first."""
    names = sorted(
        (m.name for m in pkgutil.iter_modules(__path__) if m.name != "phrases"),
        key=lambda name: (name != DEFAULT_LANGUAGE, name),
    )
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        catalogue = getattr(module, "PHRASES", None)
        if not isinstance(catalogue, Phrases) or catalogue.code != name:
            raise ImportError(
                f"monitor/lang/{name}.py must define PHRASES = Phrases(code={name!r}, ...)"
            )
        register(catalogue)


_discover()

LANGUAGES: tuple[str, ...] = tuple(CATALOGUES)
"""The codes of the languages shipped with rdv-monitor, the default first."""


def languages() -> tuple[str, ...]:
    """The codes of every known language now, including any registered at run time."""
    return tuple(CATALOGUES)


def phrases_for(code: str) -> Phrases:
    """The catalogue of ``code``; ``KeyError`` naming the known languages otherwise."""
    try:
        return CATALOGUES[code]
    except KeyError:
        known = ", ".join(CATALOGUES)
        raise KeyError(f"unknown language {code!r}; known: {known}") from None
