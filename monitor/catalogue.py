"""Known prefecture bookings, so a config can say *what* it wants, not *where* it is.

A ``[[watch]]`` may name ``prefecture = "haute-savoie"`` and
``procedure = "renewal"`` instead of a booking URL and calendar names. The
knowledge lives in ``monitor/catalogue.toml`` (data, not code): prefectures →
bookings (one booking page each) → procedures (who they are for, and which
calendars to watch, primary first). Adding a prefecture is adding TOML tables.

Calendars are recorded by the name the booking page prints ("3.1"), never by
planning id: the ids are not public and the site adapter resolves labels at run time.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from monitor.lang import CATALOGUES
from monitor.sites.registry import naming_for

__all__ = [
    "Booking",
    "Catalogue",
    "Prefecture",
    "Procedure",
    "UnknownCatalogueEntry",
    "format_catalogue",
    "load_catalogue",
    "normalize_id",
]

_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

Language = str
"""A language code of :mod:`monitor.lang` ("fr", "en")."""


def normalize_id(text: str) -> str:
    """The form in which ids are compared: trimmed, lower case, ``_`` and spaces as ``-``.

    So ``"Haute-Savoie"``, ``"haute_savoie"`` and ``" haute-savoie "`` all name
    the same prefecture; accents are not folded (ids are ASCII by construction).
    """
    return re.sub(r"[\s_]+", "-", text.strip().lower())


class UnknownCatalogueEntry(KeyError):
    """A prefecture or procedure name the catalogue does not know.

    ``kind`` is ``"prefecture"`` or ``"procedure"``; ``available`` lists the valid
    ids (in catalogue order) and ``suggestion`` the closest one, if any, so that
    callers (the config loader) can phrase their own message. ``str()`` gives a
    complete sentence (unlike a plain :class:`KeyError`, which shows a repr).
    """

    def __init__(
        self,
        kind: str,
        name: str,
        available: tuple[str, ...],
        suggestion: str | None,
        prefecture: str | None = None,
    ) -> None:
        super().__init__(name)
        self.kind = kind
        self.name = name
        self.available = available
        self.suggestion = suggestion
        self.prefecture = prefecture

    def __str__(self) -> str:
        where = f' of prefecture "{self.prefecture}"' if self.prefecture else ""
        text = f'"{self.name}" is not a known {self.kind}{where}'
        if self.suggestion:
            text += f'; did you mean "{self.suggestion}"?'
        else:
            text += "."
        listing = ", ".join(self.available) if self.available else "(none)"
        return f"{text} Known {self.kind}s{where}: {listing}."


def _check_id(value: str) -> str:
    if not _ID_PATTERN.match(value):
        raise ValueError(f"{value!r} is not an id: lower-case letters and digits joined by '-'")
    return value


def _check_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _check_calendars(value: tuple[str, ...]) -> tuple[str, ...]:
    naming = naming_for()  # the booking module's rules: every catalogued booking uses it
    for label in value:
        try:
            token = naming.parse_label(label)
        except ValueError:
            token = None
        if token != label:
            raise ValueError(f"calendar {label!r} is not a label token such as '3.1'")
    if len(set(value)) != len(value):
        raise ValueError(f"calendars {list(value)} contain a duplicate")
    return value


_Id = Annotated[str, AfterValidator(_check_id)]
_Text = Annotated[str, Field(min_length=1)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Procedure(_Frozen):
    """One kind of request, and the calendars of one booking that serve it (primary first)."""

    id: _Id
    prefecture: _Id
    booking: _Id
    url: Annotated[str, AfterValidator(_check_url)]
    """The booking page (``…/booking/create/<id>``)."""
    title_fr: _Text
    title_en: _Text
    calendars: Annotated[tuple[str, ...], AfterValidator(_check_calendars)]
    description_fr: _Text
    """Who this is for, in the prefecture's words."""
    description_en: _Text
    aliases: tuple[_Id, ...] = ()

    def title(self, language: Language = "en") -> str:
        """The title in ``language`` ("fr" or "en")."""
        return self.title_fr if language == "fr" else self.title_en

    def description(self, language: Language = "en") -> str:
        """Who the procedure is for, in ``language`` ("fr" or "en")."""
        return self.description_fr if language == "fr" else self.description_en


class Booking(_Frozen):
    """One booking page of a prefecture and the procedures it serves."""

    id: _Id
    url: Annotated[str, AfterValidator(_check_url)]
    title_fr: _Text
    title_en: _Text
    source: str | None = None
    procedures: tuple[Procedure, ...] = ()

    def title(self, language: Language = "en") -> str:
        """The title in ``language`` ("fr" or "en")."""
        return self.title_fr if language == "fr" else self.title_en


class Prefecture(_Frozen):
    """A prefecture and its booking pages."""

    id: _Id
    name: _Text
    department: str | None = None
    aliases: tuple[_Id, ...] = ()
    bookings: tuple[Booking, ...] = ()

    @property
    def procedures(self) -> tuple[Procedure, ...]:
        """Every procedure of every booking, in catalogue order."""
        return tuple(p for b in self.bookings for p in b.procedures)


# The TOML input shapes (ids are the table keys there).
class _ProcedureIn(_Frozen):
    title_fr: _Text
    title_en: _Text
    calendars: tuple[str, ...]
    description_fr: _Text
    description_en: _Text
    aliases: tuple[str, ...] = ()


class _BookingIn(_Frozen):
    url: str
    title_fr: _Text
    title_en: _Text
    source: str | None = None
    procedures: dict[str, _ProcedureIn] = Field(default_factory=dict)


class _PrefectureIn(_Frozen):
    name: _Text
    department: str | None = None
    aliases: tuple[str, ...] = ()
    bookings: dict[str, _BookingIn] = Field(default_factory=dict)


class _CatalogueIn(_Frozen):
    prefectures: dict[str, _PrefectureIn] = Field(default_factory=dict)


class Catalogue:
    """All known prefectures; look procedures up by id or alias.

    Build one with :func:`load_catalogue`. ``prefectures`` maps prefecture id →
    :class:`Prefecture`, in file order; it is read-only.
    """

    def __init__(self, prefectures: tuple[Prefecture, ...]) -> None:
        self.prefectures: Mapping[str, Prefecture] = MappingProxyType(
            {p.id: p for p in prefectures}
        )
        self._prefecture_names: dict[str, str] = {}
        self._procedure_names: dict[str, dict[str, Procedure]] = {}
        for pref in prefectures:
            for name in (pref.id, *pref.aliases):
                if self._prefecture_names.setdefault(name, pref.id) != pref.id:
                    raise ValueError(f"catalogue: prefecture name {name!r} is used twice")
            names: dict[str, Procedure] = {}
            for proc in pref.procedures:
                for name in (proc.id, *proc.aliases):
                    if names.setdefault(name, proc) is not proc:
                        raise ValueError(
                            f"catalogue: procedure name {name!r} is used twice in {pref.id!r}"
                        )
            self._procedure_names[pref.id] = names

    def __iter__(self) -> Iterator[Prefecture]:
        return iter(self.prefectures.values())

    def __repr__(self) -> str:
        return f"Catalogue({', '.join(self.prefectures)})"

    def prefecture(self, name: str) -> Prefecture:
        """The prefecture called ``name`` (id, alias or department number).

        Raises :class:`UnknownCatalogueEntry` (a :class:`KeyError`) with the known ids
        and the closest match.
        """
        key = normalize_id(name)
        if key in self._prefecture_names:
            return self.prefectures[self._prefecture_names[key]]
        available = tuple(self.prefectures)
        raise UnknownCatalogueEntry(
            "prefecture", name, available, _closest(key, self._prefecture_names)
        )

    def lookup(self, prefecture: str, procedure: str) -> Procedure:
        """The procedure ``procedure`` (id or alias) of prefecture ``prefecture``.

        Raises :class:`UnknownCatalogueEntry` (a :class:`KeyError`) naming what is
        unknown, the valid choices and the closest match.
        """
        pref = self.prefecture(prefecture)
        names = self._procedure_names[pref.id]
        key = normalize_id(procedure)
        if key in names:
            return names[key]
        available = tuple(p.id for p in pref.procedures)
        suggestion = _closest(key, names)
        if suggestion is not None:
            suggestion = names[suggestion].id
        raise UnknownCatalogueEntry("procedure", procedure, available, suggestion, pref.id)


def _closest(key: str, names: Mapping[str, object]) -> str | None:
    """The known name closest to ``key`` (resolved to its canonical id), if close enough."""
    matches = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
    if not matches:
        return None
    target = names[matches[0]]
    return target if isinstance(target, str) else matches[0]


def _build(data: Mapping[str, object], origin: str) -> Catalogue:
    try:
        raw = _CatalogueIn.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ValueError(f"{origin}: invalid catalogue: {problems}") from None
    prefectures = []
    try:
        for pref_id, pref in raw.prefectures.items():
            bookings = []
            for booking_id, booking in pref.bookings.items():
                procedures = tuple(
                    Procedure(
                        id=proc_id,
                        prefecture=pref_id,
                        booking=booking_id,
                        url=booking.url,
                        **proc.model_dump(),
                    )
                    for proc_id, proc in booking.procedures.items()
                )
                bookings.append(
                    Booking(
                        id=booking_id,
                        url=booking.url,
                        title_fr=booking.title_fr,
                        title_en=booking.title_en,
                        source=booking.source,
                        procedures=procedures,
                    )
                )
            prefectures.append(
                Prefecture(
                    id=pref_id,
                    name=pref.name,
                    department=pref.department,
                    aliases=pref.aliases,
                    bookings=tuple(bookings),
                )
            )
        return Catalogue(tuple(prefectures))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ValueError(f"{origin}: invalid catalogue: {problems}") from None


@lru_cache(maxsize=1)
def _packaged() -> Catalogue:
    text = resources.files("monitor").joinpath("catalogue.toml").read_text(encoding="utf-8")
    return _build(tomllib.loads(text), "monitor/catalogue.toml")


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load the catalogue shipped with the package, or the one at ``path``.

    The packaged catalogue is read once and cached. Raises :class:`ValueError`
    if the data is malformed (a packaging bug, caught by the tests).
    """
    if path is None:
        return _packaged()
    file = Path(path)
    return _build(tomllib.loads(file.read_text(encoding="utf-8")), str(file))


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string (JSON's escapes are all valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def _calendar_line(calendars: tuple[str, ...], words: Mapping[str, str]) -> str:
    if not calendars:
        return f"{words['calendars']}{words['colon']} {words['single']}"
    if len(calendars) == 1:
        return f"{words['calendar']}{words['colon']} {calendars[0]}"
    rest = ", ".join(calendars[1:])
    first = f"{calendars[0]} ({words['first']})"
    return f"{words['calendars']}{words['colon']} {first}, {words['then']} {rest}"


def format_catalogue(catalogue: Catalogue, language: Language = "en") -> str:
    """A listing for ``rdv-monitor procedures``: each prefecture and procedure with
    its title, calendars (primary first), who it is for, and the config lines to paste.

    ``language`` is "en" or "fr"; it picks titles, descriptions and the words around them.
    """
    if language not in CATALOGUES:  # the words come from the language catalogues
        known = " or ".join(f'"{code}"' for code in CATALOGUES)
        raise ValueError(f"language must be {known}, not {language!r}")
    words = CATALOGUES[language].procedures
    if not catalogue.prefectures:
        return words["none"]
    blocks: list[str] = []
    for pref in catalogue:
        dept = f" ({pref.department})" if pref.department else ""
        # The config's own key, in every language: it is meant to be pasted.
        head = [f"{pref.name}{dept} — prefecture = {_toml_string(pref.id)}"]
        if pref.aliases:
            head.append(f"  ({words['also']}{words['colon']} {', '.join(pref.aliases)})")
        blocks.append("\n".join(head))
        for booking in pref.bookings:
            blocks.append(f"  {booking.title(language)}\n  {booking.url}")
            for proc in booking.procedures:
                lines = [
                    f"  {proc.id} — {proc.title(language)}",
                    f"    {_calendar_line(proc.calendars, words)}",
                    f"    {words['for']}{words['colon']} {proc.description(language)}",
                ]
                if proc.aliases:
                    lines.append(f"    ({words['also']}{words['colon']} {', '.join(proc.aliases)})")
                lines += [
                    f"    {words['paste']}",
                    "      [[watch]]",
                    f"      name = {_toml_string(proc.title(language))}",
                    f"      prefecture = {_toml_string(pref.id)}",
                    f"      procedure = {_toml_string(proc.id)}",
                ]
                blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
