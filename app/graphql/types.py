"""The GraphQL types every site shares: scalars, Media, PageInfo, versions, operator inputs."""

from __future__ import annotations

import enum
from typing import Any

import graphene
from graphql.language import ast
from graphql.utilities import value_from_ast_untyped

from vellum.site.models import FieldError, parse_date, parse_datetime

# GraphQL's operator names → the query layer's (the REST ones).
OPERATORS = {
    "eq": "$eq",
    "ne": "$ne",
    "gt": "$gt",
    "gte": "$gte",
    "lt": "$lt",
    "lte": "$lte",
    "in": "$in",
    "nin": "$nin",
    "contains": "$contains",
    "startsWith": "$startsWith",
    "endsWith": "$endsWith",
}
TEXT_OPERATORS = ("contains", "startsWith", "endsWith")


def _checked(parse):
    def parse_value(value: Any) -> str:
        try:
            return parse(str(value))
        except (ValueError, FieldError) as exc:
            raise ValueError(str(exc)) from None

    return parse_value


def _string_literal(parse):
    def parse_literal(node: ast.ValueNode, _variables=None) -> str:
        if not isinstance(node, ast.StringValueNode):
            raise ValueError("expected a string")
        return parse(node.value)

    return parse_literal


class DateTime(graphene.Scalar):
    """An ISO 8601 date and time, normalised to UTC ("2024-01-01T10:00:00Z")."""

    serialize = staticmethod(lambda value: value)
    parse_value = staticmethod(_checked(parse_datetime))
    parse_literal = staticmethod(_string_literal(_checked(parse_datetime)))


class Date(graphene.Scalar):
    """An ISO 8601 date ("2024-01-01")."""

    serialize = staticmethod(lambda value: value)
    parse_value = staticmethod(_checked(parse_date))
    parse_literal = staticmethod(_string_literal(_checked(parse_date)))


class JSON(graphene.Scalar):
    """Any JSON value: objects, lists, strings, numbers, booleans, null."""

    serialize = staticmethod(lambda value: value)
    parse_value = staticmethod(lambda value: value)
    parse_literal = staticmethod(
        lambda node, variables=None: value_from_ast_untyped(node, variables)
    )


class Media(graphene.ObjectType):
    """A media file a record points at."""

    id = graphene.ID()
    url = graphene.String()
    mimeType = graphene.String()
    size = graphene.Int()
    alt = graphene.String()
    width = graphene.Int()
    height = graphene.Int()
    filename = graphene.String()


class PageInfo(graphene.ObjectType):
    """Where a page sits in the whole list."""

    hasNextPage = graphene.Boolean(required=True)
    hasPreviousPage = graphene.Boolean(required=True)
    total = graphene.Int(required=True)


class ContentAuthor(graphene.ObjectType):
    """Who wrote something: a record's author, or a commit's Git author."""

    name = graphene.String()
    email = graphene.String()


class Version(graphene.ObjectType):
    """One commit that changed a record."""

    version = graphene.String(required=True)
    author = graphene.Field(ContentAuthor)
    date = DateTime()
    message = graphene.String()
    deleted = graphene.Boolean()


def operator_input(name: str, scalar: Any) -> type[graphene.InputObjectType]:
    """An input with every REST operator over one scalar type (text operators take String)."""
    attrs: dict[str, Any] = {"__doc__": f"Conditions on a {name.removesuffix('Filter')} field."}
    for op in OPERATORS:
        if op in TEXT_OPERATORS:
            attrs[op] = graphene.String()
        elif op in ("in", "nin"):
            attrs[op] = graphene.List(graphene.NonNull(scalar))
        else:
            attrs[op] = scalar()
    return type(name, (graphene.InputObjectType,), attrs)


StringFilter = operator_input("StringFilter", graphene.String)
IDFilter = operator_input("IDFilter", graphene.ID)
IntFilter = operator_input("IntFilter", graphene.Int)
FloatFilter = operator_input("FloatFilter", graphene.Float)
BooleanFilter = operator_input("BooleanFilter", graphene.Boolean)
DateFilter = operator_input("DateFilter", Date)
DateTimeFilter = operator_input("DateTimeFilter", DateTime)

SCALARS = {
    "string": (graphene.String, StringFilter),
    "text": (graphene.String, StringFilter),
    "markdown": (graphene.String, StringFilter),
    "integer": (graphene.Int, IntFilter),
    "number": (graphene.Float, FloatFilter),
    "boolean": (graphene.Boolean, BooleanFilter),
    "date": (Date, DateFilter),
    "datetime": (DateTime, DateTimeFilter),
    "object": (JSON, None),
    "media": (graphene.String, StringFilter),
}


def plain(value: Any) -> Any:
    """Graphene's input values as plain Python: enum members become their file values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
