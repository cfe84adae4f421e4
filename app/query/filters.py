"""Filters as values: a field path, an operator and an operand of the field's type, checked
against the model when made, whoever builds them (REST, GraphQL, the CLI or Python code)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vellum.errors import InvalidParameter, ModelNotFound
from vellum.site.models import Field, FieldError, coerce, parse_date, parse_datetime
from vellum.store.catalog import Catalog

OPERATORS = (
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte",
    "$in", "$nin", "$contains", "$startsWith", "$endsWith",
)  # fmt: skip
TEXT_OPERATORS = {"$contains", "$startsWith", "$endsWith"}
ORDER_OPERATORS = {"$gt", "$gte", "$lt", "$lte"}
SET_OPERATORS = {"$in", "$nin"}
# Fields every record has besides its model's: their types for filtering and sorting.
SYSTEM = {
    "id": Field("id", "string"),
    "locale": Field("locale", "string"),
    "createdAt": Field("createdAt", "datetime"),
    "updatedAt": Field("updatedAt", "datetime"),
    "version": Field("version", "string"),
}


@dataclass(frozen=True)
class Filter:
    """One condition: a field path (through relations), an operator and typed operand;
    `param` is what an error about it names (the REST parameter, the GraphQL argument)."""

    path: tuple[str, ...]
    op: str
    value: Any
    param: str


@dataclass(frozen=True)
class FilterGroup:
    """Conditions joined by `and` or `or` (GraphQL's and/or); REST's filters are all and-ed."""

    op: str  # "and" | "or"
    items: tuple[Filter | FilterGroup, ...]


def model_fields(catalog: Catalog, model: str) -> dict[str, Field]:
    """A model's fields as the catalog knows them; a 404 for a model the site lacks."""
    if model not in catalog.site.models:
        raise ModelNotFound(model)
    return catalog.fields[model]


def make_filter(
    catalog: Catalog,
    model: str,
    path: str | Sequence[str],
    op: str,
    value: Any,
    param: str | None = None,
) -> Filter:
    """A Filter on one of model's fields, checked so that a mistake is a 400 naming `param`
    (default: the path) before anything runs.

    `path` is "views", "author.name" or ("author", "name"); `value` is of the field's type
    (100, True, a date) or text read as that type ("100", "true", "2024-01-01"). $in and $nin
    take a list, or text with commas between the values.
    """
    path = field_path(path)
    param = param or ".".join(path) or "filter"
    check_operator(op, param)
    if not path or not all(path):
        raise InvalidParameter(param, "a filter names a field: field or relation.field")
    return Filter(
        path, op, operand(resolve_path(catalog, model, path, param), op, value, param), param
    )


def field_path(path: str | Sequence[str]) -> tuple[str, ...]:
    """("author", "name") from "author.name", ["author.name"] or ("author", "name")."""
    parts = [path] if isinstance(path, str) else path
    return tuple(seg for part in parts for seg in part.split("."))


def check_operator(op: str, param: str) -> None:
    """Refuse an operator Vellum does not have, listing those it has."""
    if op not in OPERATORS:
        raise InvalidParameter(param, f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")


def resolve_path(catalog: Catalog, model: str, path: tuple[str, ...], param: str) -> Field:
    """The field at the end of path, each step before it a relation."""
    fields = model_fields(catalog, model)
    for depth, name in enumerate(path):
        f = fields.get(name) or SYSTEM.get(name)
        if f is None:
            raise InvalidParameter(param, f"unknown field {name!r} in {model}")
        if depth == len(path) - 1:
            return f
        if f.type != "relation":
            raise InvalidParameter(
                param, f"{name!r} is not a relation, so it has no {path[depth + 1]!r}"
            )
        model, fields = f.to, model_fields(catalog, f.to)
    raise AssertionError("unreachable")


def operand(f: Field, op: str, value: Any, param: str) -> Any:
    """The operand of a filter on field f: a frozenset of values for $in and $nin, lower-case
    text for the text operators, else one value of the field's type."""
    kind = f.of if f.type == "list" and f.of else f.type
    if op in TEXT_OPERATORS and kind in {"integer", "number", "boolean"}:
        raise InvalidParameter(param, f"{op} applies to text, not to {kind} fields")
    if op in ORDER_OPERATORS and kind in {"boolean", "object"}:
        raise InvalidParameter(param, f"{op} does not apply to {kind} fields")
    if op in SET_OPERATORS:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",")]
        items = value if isinstance(value, list | tuple | set | frozenset) else [value]
        return frozenset(_scalar(kind, f, item, param) for item in items)
    if isinstance(value, list | tuple | set | frozenset | dict):
        raise InvalidParameter(param, f"{op} takes one value; $in and $nin take several")
    if op in TEXT_OPERATORS:
        return _text(value).lower()
    return _scalar(kind, f, value, param)


def _scalar(kind: str, f: Field, value: Any, param: str) -> Any:
    try:
        if kind == "integer" or kind == "number":
            return _number(value)
        if kind == "boolean":
            return _boolean(value)
        if kind == "datetime":
            return parse_datetime(value if isinstance(value, str) else _dated(value))
        if kind == "date":
            return parse_date(value if isinstance(value, str) else _dated(value))
        if kind == "enum":
            return coerce(f, _text(value))
    except (ValueError, FieldError) as exc:
        message = (
            str(exc) if isinstance(exc, FieldError) else f"expected a number, got {_text(value)!r}"
        )
        raise InvalidParameter(param, message) from None
    return _text(value)


def _number(value: Any) -> int | float:
    """An int stays exact; a float or text reads as a number, whole ones as ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = value if isinstance(value, float) else float(_text(value))
    return int(number) if number.is_integer() else number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = _text(value).lower()
    if lowered not in {"true", "false", "1", "0"}:
        raise FieldError(f"expected true or false, got {_text(value)!r}")
    return lowered in {"true", "1"}


def _dated(value: Any) -> Any:
    """A date or datetime as itself (the parsers take them), anything else as its text."""
    return value if hasattr(value, "isoformat") else _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
