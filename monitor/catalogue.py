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

from monitor.config.tables import (
    Invalid,
    Mismatch,
    Table,
    ValidationError,
    dict_of,
    key,
    model,
    optional,
    table,
    tuple_of,
)
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


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise Mismatch("text", value, example=False)
    return value


def _text(value: object) -> str:
    if not _str(value):
        raise Invalid("must not be empty")
    return _str(value)


def _check_id(value: object) -> str:
    if not _ID_PATTERN.match(_str(value)):
        raise Invalid(f"{value!r} is not an id: lower-case letters and digits joined by '-'")
    return _str(value)


def _check_url(value: object) -> str:
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", _str(value)):
        raise Invalid(f"{value!r} is not an http(s) URL")
    return _str(value)


def _check_calendars(value: tuple[str, ...]) -> None:
    naming = naming_for()  # the booking module's rules: every catalogued booking uses it
    for label in value:
        try:
            token = naming.parse_label(label)
        except ValueError:
            token = None
        if token != label:
            raise Invalid(f"calendar {label!r} is not a label token such as '3.1'")
    if len(set(value)) != len(value):
        raise Invalid(f"calendars {list(value)} contain a duplicate")


_Calendars = tuple_of(_str, after=_check_calendars)
_Ids = tuple_of(_check_id)


@table
class Procedure(Table):
    """One kind of request, and the calendars of one booking that serve it (primary first)."""

    id: str = key(_check_id)
    prefecture: str = key(_check_id)
    booking: str = key(_check_id)
    url: str = key(_check_url)
    """The booking page (``…/booking/create/<id>``)."""
    title_fr: str = key(_text)
    title_en: str = key(_text)
    calendars: tuple[str, ...] = key(_Calendars)
    description_fr: str = key(_text)
    """Who this is for, in the prefecture's words."""
    description_en: str = key(_text)
    aliases: tuple[str, ...] = key(_Ids, default=())

    def title(self, language: Language = "en") -> str:
        """The title in ``language`` ("fr" or "en")."""
        return self.title_fr if language == "fr" else self.title_en

    def description(self, language: Language = "en") -> str:
        """Who the procedure is for, in ``language`` ("fr" or "en")."""
        return self.description_fr if language == "fr" else self.description_en


@table
class Booking(Table):
    """One booking page of a prefecture and the procedures it serves."""

    id: str = key(_check_id)
    url: str = key(_check_url)
    title_fr: str = key(_text)
    title_en: str = key(_text)
    source: str | None = key(optional(_str), default=None)
    procedures: tuple[Procedure, ...] = key(tuple_of(model(Procedure)), default=())

    def title(self, language: Language = "en") -> str:
        """The title in ``language`` ("fr" or "en")."""
        return self.title_fr if language == "fr" else self.title_en


@table
class Prefecture(Table):
    """A prefecture and its booking pages."""

    id: str = key(_check_id)
    name: str = key(_text)
    department: str | None = key(optional(_str), default=None)
    aliases: tuple[str, ...] = key(_Ids, default=())
    bookings: tuple[Booking, ...] = key(tuple_of(model(Booking)), default=())

    @property
    def procedures(self) -> tuple[Procedure, ...]:
        """Every procedure of every booking, in catalogue order."""
        return tuple(p for b in self.bookings for p in b.procedures)


# The TOML input shapes (ids are the table keys there).
@table
class _ProcedureIn(Table):
    title_fr: str = key(_text)
    title_en: str = key(_text)
    calendars: tuple[str, ...] = key(tuple_of(_str))
    description_fr: str = key(_text)
    description_en: str = key(_text)
    aliases: tuple[str, ...] = key(tuple_of(_str), default=())


@table
class _BookingIn(Table):
    url: str = key(_str)
    title_fr: str = key(_text)
    title_en: str = key(_text)
    source: str | None = key(optional(_str), default=None)
    procedures: dict[str, _ProcedureIn] = key(dict_of(model(_ProcedureIn)), default_factory=dict)


@table
class _PrefectureIn(Table):
    name: str = key(_text)
    department: str | None = key(optional(_str), default=None)
    aliases: tuple[str, ...] = key(tuple_of(_str), default=())
    bookings: dict[str, _BookingIn] = key(dict_of(model(_BookingIn)), default_factory=dict)


@table
class _CatalogueIn(Table):
    prefectures: dict[str, _PrefectureIn] = key(dict_of(model(_PrefectureIn)), default_factory=dict)


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
        return Catalogue(tuple(_prefectures(raw)))
    except ValidationError as exc:
        raise ValueError(f"{origin}: invalid catalogue: {exc}") from None


def _prefectures(raw: _CatalogueIn) -> Iterator[Prefecture]:
    """The validated prefectures (ids come from the table keys, checked here)."""
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
        yield Prefecture(
            id=pref_id,
            name=pref.name,
            department=pref.department,
            aliases=pref.aliases,
            bookings=tuple(bookings),
        )


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
