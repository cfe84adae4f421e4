"""`<Type>Filter` inputs, and their translation into the query layer's Filter objects."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import graphene

from vellum.graphql.types import (
    OPERATORS,
    DateTimeFilter,
    IDFilter,
    operator_input,
    plain,
)
from vellum.query.filters import Filter, FilterGroup, make_filter
from vellum.site.models import Field
from vellum.store.catalog import Catalog

Lookup = Callable[[str], Any]


def filter_input(
    type_name: str,
    fields: dict[str, Field],
    scalar_filter: Callable[[Field], Any],
    related: Lookup,
) -> type[graphene.InputObjectType]:
    """`<Type>Filter`: per field its operators, relations the related filter, and/or."""
    name = f"{type_name}Filter"
    attrs: dict[str, Any] = {
        "__doc__": f"Conditions on {type_name} records; all must hold.",
        "id": IDFilter(),
        "createdAt": DateTimeFilter(),
        "updatedAt": DateTimeFilter(),
    }
    for f in fields.values():
        if f.type == "relation":
            attrs[f.name] = graphene.InputField(lambda to=f.to: related(to))
            continue
        kind = scalar_filter(f)
        if kind is not None:
            attrs[f.name] = graphene.InputField(kind)
    holder: dict[str, Any] = {}
    attrs["and"] = graphene.List(graphene.NonNull(lambda: holder["type"]))
    attrs["or"] = graphene.List(graphene.NonNull(lambda: holder["type"]))
    holder["type"] = type(name, (graphene.InputObjectType,), attrs)
    return holder["type"]


def enum_filter(name: str, enum: Any) -> type[graphene.InputObjectType]:
    """The operators over an enum field's values (`BlogPostStatusFilter`)."""
    return operator_input(name, enum)


def to_filters(
    catalog: Catalog, model: str, value: Mapping[str, Any] | None
) -> tuple[Filter | FilterGroup, ...]:
    """A `<Type>Filter` value as the query layer's filters (and-ed, as REST's are)."""
    return tuple(_conditions(catalog, model, model, (), value or {}))


def _conditions(catalog: Catalog, root: str, model: str, prefix: tuple, value: Mapping) -> list:
    out: list = []
    for key, cond in value.items():
        if cond is None:
            continue
        if key in ("and", "or"):
            parts = [
                FilterGroup("and", tuple(_conditions(catalog, root, model, prefix, c)))
                for c in cond
            ]
            out.append(FilterGroup(key, tuple(parts)))
            continue
        f = catalog.fields[model].get(key)
        path = (*prefix, key)
        if f is not None and f.type == "relation":
            out.extend(_conditions(catalog, root, f.to, path, cond))
            continue
        for op, operand in cond.items():
            if operand is None:
                continue
            param = f"filter.{'.'.join(path)}.{op}"
            out.append(make_filter(catalog, root, path, OPERATORS[op], plain(operand), param))
    return out
