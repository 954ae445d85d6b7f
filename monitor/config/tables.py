"""The table builder: a TOML table read into a frozen dataclass, with every problem kept.

A model is a class decorated with :func:`table`; each of its fields is a key of
the table, declared with :func:`key`: the parser of its value (a function of
:mod:`monitor.config.values` that returns the typed value or raises
:class:`Invalid` with a sentence for the user) and its default. That one
declaration is all the builder needs: :meth:`Table.model_validate` refuses
unknown keys (with "did you mean"), names missing required keys, parses every
value, and reports the problems of all keys at once, each with its location
(``("watch", 1, "calendars", 0, "label")``), in a :class:`ValidationError`.

A model may adapt its input first (``_before``: ``"3.1"`` → ``{label = "3.1"}``)
and check its fields together last (``_after``); a key may check its value
against the keys before it (``key(..., check=...)``).

This replaces pydantic, which cost the daemon about 8 MiB of its 55 MB budget
for rules that were already written by hand (issue 12). The method names
(``model_validate``, ``model_copy``, ``model_dump``, ``model_construct``,
``model_fields``) are pydantic's, so callers did not change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

from monitor.config.words import EXAMPLES, kind_of, suggest

__all__ = [
    "Invalid",
    "Loc",
    "Mismatch",
    "Table",
    "ValidationError",
    "dict_of",
    "key",
    "model",
    "optional",
    "table",
    "tuple_of",
    "unknown_key",
]

Loc = tuple[str | int, ...]
"""Where a value is: table keys and item indexes, outermost first."""

T = TypeVar("T")
M = TypeVar("M", bound="Table")

_HIDDEN = "(hidden: it may hold a secret)"


class Invalid(ValueError):
    """A value refused with one sentence, shown to the user as written after its key path."""

    def __init__(self, message: str, loc: Loc = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc

    def __str__(self) -> str:
        return self.message


class Mismatch(Invalid):
    """A value of the wrong kind ("expected a list in square brackets, got text").

    Its sentence is finished where the key is known: the key's example follows
    ("e.g. calendars = [...]") and a key that may hold a secret hides the value.
    """

    def __init__(self, expected: str, value: object, *, example: bool = True) -> None:
        super().__init__(f"expected {expected}, got {kind_of(value)}.")
        self.expected = expected
        self.value = value
        self.example = example

    def worded(self, key: str, secret: bool) -> Invalid:
        shown = _HIDDEN if secret else kind_of(self.value)
        example = EXAMPLES.get(key) if self.example else None
        eg = f"; e.g. {example}" if example else ""
        return Invalid(f"expected {self.expected}, got {shown}{eg}.", self.loc)


class ValidationError(ValueError):
    """Every problem found in one table: ``errors``, each with its ``loc`` and ``message``."""

    def __init__(self, errors: Sequence[Invalid]) -> None:
        self.errors = tuple(errors)
        super().__init__(
            "; ".join(f"{'.'.join(map(str, e.loc)) or 'table'}: {e.message}" for e in self.errors)
        )


def _problems(exc: Invalid | ValidationError, *outer: str | int) -> list[Invalid]:
    """The problems of ``exc``, moved under ``outer`` (a key or an item index)."""
    errors = list(exc.errors) if isinstance(exc, ValidationError) else [exc]
    for error in errors:
        error.loc = (*outer, *error.loc)
    return errors


def unknown_key(name: str, allowed: Sequence[str]) -> str:
    """The sentence for a key the table does not have: the closest one, and all of them."""
    guess = suggest(name, allowed)
    text = f"key '{name}' is not known"
    text += f"; did you mean '{guess}'?" if guess else "."
    if allowed:
        text += f" The keys allowed here are: {', '.join(allowed)}."
    return text


# --------------------------------------------------------------------------- declaring keys


@dataclass(frozen=True, slots=True)
class _Key:
    parse: Callable[[object], Any]
    secret: bool
    check: Callable[[Any, Mapping[str, Any]], None] | None


def key(
    parse: Callable[[object], Any],
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | None = None,
    secret: bool = False,
    repr: bool = True,
    check: Callable[[Any, Mapping[str, Any]], None] | None = None,
) -> Any:
    """One key of a table: ``parse`` reads what the user wrote; without a default the key
    is required. ``secret``: a value of the wrong kind is not shown in messages.
    ``check(value, earlier)`` may refuse the value given the keys parsed before it."""
    spec = {"key": _Key(parse, secret, check)}
    if default_factory is not None:
        return field(default_factory=default_factory, repr=repr, metadata=spec)
    return field(default=default, repr=repr, metadata=spec)


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(key,))
def table(cls: type[M]) -> type[M]:
    """Make ``cls`` a frozen dataclass whose fields are the keys of its table."""
    return dataclass(frozen=True, slots=True, kw_only=True)(cls)


class _Fields:
    """``Model.model_fields``: each key's :class:`dataclasses.Field` (``.default``), by name."""

    def __get__(self, obj: object, owner: type) -> Mapping[str, dataclasses.Field[Any]]:
        return {f.name: f for f in fields(owner)}


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not MISSING:
        return f.default_factory()
    return f.default


class Table:
    """The base of the config's models: build from a table, copy, dump."""

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    model_fields = _Fields()

    @classmethod
    def _before(cls, value: object) -> object:
        """What the user wrote, turned into a table (a model written as text overrides this)."""
        return value

    def _after(self) -> None:
        """Checks across the keys, once each is valid; raise :class:`Invalid` to refuse."""

    def __post_init__(self) -> None:
        # Building a model by hand validates it as reading a file does (Watch(calendars=
        # ("3.1",)) holds a CalendarRef); the builder itself uses model_construct.
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        defaults = {f.name for f in fields(self) if given[f.name] is f.default}
        values = _read(type(self), {k: v for k, v in given.items() if k not in defaults}, False)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        try:
            self._after()
        except Invalid as exc:
            raise ValidationError([exc]) from None

    @classmethod
    def model_validate(cls, data: object) -> Self:
        """A model read from ``data`` (a TOML table, or what ``_before`` accepts).

        Raises :class:`ValidationError` listing every problem, each with its location.
        """
        try:
            return _build(cls, data)
        except Invalid as exc:
            raise ValidationError([exc]) from None

    @classmethod
    def model_construct(cls, **values: Any) -> Self:
        """A model of ``values`` as they are, unchecked (missing keys take their default)."""
        obj = object.__new__(cls)
        for f in fields(cls):
            object.__setattr__(obj, f.name, values[f.name] if f.name in values else _default(f))
        return obj

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self:
        """A copy with the keys of ``update`` replaced (unchecked, like pydantic's)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return self.model_construct(**{**values, **(update or {})})

    def model_dump(self, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
        """The keys and values as plain data (nested models as dicts), but ``exclude``."""
        skip = set(exclude)
        return {f.name: _dump(getattr(self, f.name)) for f in fields(self) if f.name not in skip}


def _dump(value: object) -> object:
    if isinstance(value, Table):
        return value.model_dump()
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_dump(v) for v in value)
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- reading tables


def _read(cls: type[Table], data: Mapping[str, object], whole: bool) -> dict[str, Any]:
    """Each key of ``cls`` parsed from ``data``; ``whole``: ``data`` is the whole table
    (missing keys take their default or are reported, unknown keys are reported)."""
    errors: list[Invalid] = []
    values: dict[str, Any] = {}
    for f in fields(cls):
        spec: _Key = f.metadata["key"]
        if f.name not in data:
            if not whole:
                continue
            if f.default is MISSING and f.default_factory is MISSING:
                example = EXAMPLES.get(f.name)
                eg = f"; e.g. {example}" if example else ""
                errors.append(Invalid(f"this key is required but missing{eg}.", (f.name,)))
            else:
                values[f.name] = _default(f)
            continue
        try:
            value = spec.parse(data[f.name])
            if spec.check is not None:
                spec.check(value, values)
        except (Invalid, ValidationError) as exc:
            for error in _problems(exc, f.name):
                if isinstance(error, Mismatch):
                    name = next(p for p in reversed(error.loc) if isinstance(p, str))
                    error = error.worded(name, spec.secret)
                errors.append(error)
            continue
        values[f.name] = value
    if whole:
        allowed = [f.name for f in fields(cls)]
        errors += [Invalid(unknown_key(str(k), allowed)) for k in data if k not in allowed]
    if errors:
        raise ValidationError(errors)
    return values


def _build(cls: type[M], data: object) -> M:
    value = cls._before(data)
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise Mismatch("a table of keys", value)
    obj = cls.model_construct(**_read(cls, value, True))
    obj._after()
    return obj


# --------------------------------------------------------------------------- composite values


def model(cls: type[M]) -> Callable[[object], M]:
    """A parser of a nested table (or of what ``cls._before`` accepts)."""

    def parse(value: object) -> M:
        return _build(cls, value)

    return parse


def optional(parse: Callable[[object], T]) -> Callable[[object], T | None]:
    """``parse``, or ``None`` left as is (a key whose default is "not set")."""

    def parse_optional(value: object) -> T | None:
        return None if value is None else parse(value)

    return parse_optional


def tuple_of(
    item: Callable[[object], T], *, after: Callable[[tuple[T, ...]], object] | None = None
) -> Callable[[object], tuple[T, ...]]:
    """A list in square brackets, each item parsed (every bad item reported), then
    ``after`` on the whole (e.g. "listed twice")."""

    def parse(value: object) -> tuple[T, ...]:
        if not isinstance(value, list | tuple):
            raise Mismatch("a list in square brackets", value)
        items: list[T] = []
        errors: list[Invalid] = []
        for i, raw in enumerate(value):
            try:
                items.append(item(raw))
            except (Invalid, ValidationError) as exc:
                errors += _problems(exc, i)
        if errors:
            raise ValidationError(errors)
        result = tuple(items)
        if after is not None:
            after(result)
        return result

    return parse


def dict_of(item: Callable[[object], T]) -> Callable[[object], dict[str, T]]:
    """A table of named tables (``[notify.templates.slot_opened]``), each item parsed."""

    def parse(value: object) -> dict[str, T]:
        if not isinstance(value, Mapping):
            raise Mismatch("a table of keys", value)
        items: dict[str, T] = {}
        errors: list[Invalid] = []
        for name, raw in value.items():
            try:
                items[str(name)] = item(raw)
            except (Invalid, ValidationError) as exc:
                errors += _problems(exc, str(name))
        if errors:
            raise ValidationError(errors)
        return items

    return parse
