"""The words of the booking module and of the servers in front of it, and how they are found.

Verbatim messages as the sites write them (checked against the real pages in
``shared/real-pages/``), and :class:`Phrase`, which finds one in *squashed*
text (:func:`monitor.page.squash`) whatever its apostrophe, entities, case,
spacing or mojibake. Everything here is built once at import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "BLOCK_HEADINGS",
    "BLOCK_TEXTS",
    "CAPTCHA_TEXT",
    "CLOSED",
    "CLOSED_MESSAGE",
    "DENY_MESSAGE",
    "DOWN_HEADINGS",
    "DOWN_TEXTS",
    "FULL",
    "FULL_MESSAGE",
    "FULL_MESSAGE_TYPO",
    "INVALID_RESPONSE_MESSAGE",
    "NO_RESPONSE_IN_TIME_MESSAGE",
    "NO_SERVER_MESSAGE",
    "OVERLOAD_MESSAGE",
    "RETRY_LATER_MESSAGE",
    "SECURITY_STEP",
    "SECURITY_STEP_TITLES",
    "STEP1_TITLE",
    "STEP2_TITLE",
    "STEP3_TITLE",
    "STEP4_TITLE",
    "STEP_TITLES",
    "WEAK_DOWN",
    "Phrase",
    "any_found",
]

FULL_MESSAGE = (
    "Il n'existe plus de plage horaire libre pour votre demande de rendez-vous. "
    "Veuillez recommencer ultérieurement."
)
FULL_MESSAGE_TYPO = FULL_MESSAGE.replace("votre demande", "votre a demande")
"""The typo of Hauts-de-Seine (2019)."""
CLOSED_MESSAGE = "Attention : Cette page n'est pas disponible pour le moment !"
RETRY_LATER_MESSAGE = "Veuillez réessayer ultérieurement."
NO_SERVER_MESSAGE = "No server is available to handle this request."
INVALID_RESPONSE_MESSAGE = "The server returned an invalid or incomplete response."
NO_RESPONSE_IN_TIME_MESSAGE = "The server didn't respond in time."
DENY_MESSAGE = "Request forbidden by administrative rules."
OVERLOAD_MESSAGE = (
    "Le service que vous avez demandé est actuellement surchargé et/ou il n'y plus de "
    "créneaux de rendez-vous disponibles pour le moment."
)
"""The body of the real « Service surchargé » page (Val-d'Oise). It hedges, so it is not FULL."""

STEP1_TITLE = "Choix de la nature du rendez-vous"
STEP2_TITLE = "Vérification de disponibilité"
STEP3_TITLE = "Description de la nature du rendez-vous"
STEP4_TITLE = "Choix d'une plage horaire"
SECURITY_STEP_TITLES = ("Vérification de sécurité", "Contrôle de sécurité")

_GAP = "[a-z0-9]{0,3}"
"""What an accented letter or an apostrophe may squash to: "e", "" or mojibake ("a", "atm")."""


@dataclass(frozen=True, slots=True)
class Phrase:
    """A phrase found in squashed text: a fast ``in`` test, confirmed by a tolerant regex.

    Accented letters and apostrophes become a short gap, so the phrase is still
    found when UTF-8 was decoded as windows-1252 (« n’existe » → ``natmexiste``).
    """

    anchor: str
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, text: str) -> Phrase:
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


def any_found(phrases: Iterable[Phrase], squashed: str) -> bool:
    return any(p.found_in(squashed) for p in phrases)


def _first_sentence(text: str) -> str:
    return text.split(". ", 1)[0]


FULL = (Phrase.of(_first_sentence(FULL_MESSAGE)), Phrase.of(_first_sentence(FULL_MESSAGE_TYPO)))
STEP_TITLES = (
    (3, Phrase.of(STEP3_TITLE)),
    (4, Phrase.of(STEP4_TITLE)),
    (1, Phrase.of(STEP1_TITLE)),
    (2, Phrase.of(STEP2_TITLE)),
)
"""Step number by its ``h2``; 3 and 4 first, the titles that prove slots."""
SECURITY_STEP = tuple(Phrase.of(t) for t in SECURITY_STEP_TITLES)
CAPTCHA_TEXT = Phrase.of("code de sécurité")

DOWN_TEXTS = (
    (Phrase.of(NO_SERVER_MESSAGE), "no server is available"),
    (Phrase.of(INVALID_RESPONSE_MESSAGE), "the server returned an invalid or incomplete response"),
    (Phrase.of(NO_RESPONSE_IN_TIME_MESSAGE), "the server did not respond in time"),
    (Phrase.of("eZ Publish did not finish its request"), "the CMS crashed (PHP fatal error)"),
    (
        Phrase.of("est actuellement surchargé"),
        "the site says it is overloaded (« Service surchargé »)",
    ),
)
"""Error documents: (phrase, short English gloss), looked for in the whole visible text."""
CLOSED = Phrase.of("Cette page n'est pas disponible pour le moment")
BLOCK_TEXTS = (
    (Phrase.of(DENY_MESSAGE), "« Request forbidden by administrative rules »"),
    (Phrase.of("You don't have permission to access"), "« You don't have permission to access »"),
    (Phrase.of("The requested URL was rejected"), "« The requested URL was rejected »"),
    (Phrase.of("Sorry, you have been blocked"), "« Sorry, you have been blocked »"),
)
DOWN_HEADINGS = tuple(
    Phrase.of(t)
    for t in (
        "Bad Gateway",
        "Gateway Time-out",
        "Service Unavailable",
        "Service Temporarily Unavailable",
        "Internal Server Error",
        "Service surchargé",
    )
)
"""Error headings: looked for only in the title and h1 (they are common words)."""
BLOCK_HEADINGS = tuple(
    Phrase.of(t)
    for t in ("Forbidden", "Access Denied", "Accès refusé", "Accès interdit", "Too Many Requests")
)
WEAK_DOWN = tuple(
    (Phrase.of(words), words)
    for words in (
        RETRY_LATER_MESSAGE.rstrip("."),
        "site indisponible",
        "service indisponible",
        "temporairement indisponible",
        "maintenance",
    )
)
"""Weak words: only in headings, the booking block, or a short page."""
