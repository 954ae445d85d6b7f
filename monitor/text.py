"""Text helpers shared by the config and the site plugins, with no dependency of their own.

A module of its own (standard library only) so that the config can use it without
importing a site plugin or an HTML parser, and a plugin without importing the config.
"""

from __future__ import annotations

import unicodedata

__all__ = ["normalize_space"]


def normalize_space(text: str) -> str:
    """NFKC (so no-break and thin spaces become spaces) and collapsed whitespace.

    Names written in a config and labels read on a page are compared after this, so
    that a no-break space or a doubled space never makes two equal names differ.
    """
    return " ".join(unicodedata.normalize("NFKC", text).split())
