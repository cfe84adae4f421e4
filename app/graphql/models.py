"""One GraphQL type per model, with its enums, filter, connection and query fields.

The names come from vellum.graphql.names, which also decides which models can have them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import graphene

from vellum.graphql.filters import enum_filter, filter_input, to_filters
from vellum.graphql.names import enum_key, type_name, usable_fields
from vellum.graphql.types import SCALARS, DateTime, Media, PageInfo, Version
from vellum.query.lists import MAX_OFFSET, check_int, check_locale, list_query, sort_keys
from vellum.query.render import shown_relation
from vellum.query.run import get_record
from vellum.site.models import Field, Model
from vellum.store import history, media
from vellum.store.records import Record


@dataclass
class ModelTypes:
    """Everything generated for one model."""

    model: Model
    name: str
    fields: dict[str, Field]
    enums: dict[str, Any] = field(default_factory=dict)
    object: Any = None
    filter: Any = None
    connection: Any = None


class Registry:
    """The generated types of every model, so relations can point at each other lazily."""

    def __init__(self, models: dict[str, Model], fields: dict[str, dict[str, Field]]) -> None:
        self.types: dict[str, ModelTypes] = {}
        for name, model in models.items():
            self.types[name] = ModelTypes(model, type_name(name), usable_fields(fields[name]))
        for t in self.types.values():
            t.enums = {
                f.name: graphene.Enum(
                    f"{t.name}{type_name(f.name)}",
                    [(enum_key(v), v) for v in dict.fromkeys(f.values)],
                    description=f"The values of {t.model.name}.{f.name}.",
                )
                for f in t.fields.values()
                if f.type == "enum"
            }
        for t in self.types.values():
            t.object = _object_type(self, t)
            t.filter = filter_input(
                t.name, self._filterable(t), self._scalar_filter(t), self.filter
            )
            t.connection = _connection(t)

    def object(self, model: str) -> Any:
        """The object type of a model."""
        return self.types[model].object

    def filter(self, model: str) -> Any:
        """The filter input of a model."""
        return self.types[model].filter

    def output_type(self, t: ModelTypes, f: Field) -> Any:
        """The GraphQL type of a plain (not relation, not media) field's values."""
        if f.type == "enum":
            return t.enums[f.name]
        if f.type == "list":
            return graphene.List(SCALARS.get(f.of or "string", SCALARS["string"])[0])
        return SCALARS[f.type][0]

    def _filterable(self, t: ModelTypes) -> dict[str, Field]:
        return {n: f for n, f in t.fields.items() if f.type != "relation" or f.to in self.types}

    def _scalar_filter(self, t: ModelTypes):
        def pick(f: Field) -> Any:
            if f.type == "enum":
                return enum_filter(f"{t.enums[f.name]._meta.name}Filter", t.enums[f.name])
            if f.type == "list":
                return SCALARS.get(f.of or "string", SCALARS["string"])[1]
            return SCALARS[f.type][1]

        return pick


# -- object types -------------------------------------------------------------------------
def _object_type(registry: Registry, t: ModelTypes) -> Any:
    attrs: dict[str, Any] = {
        "__doc__": f"{'An' if t.model.name[0] in 'aeiouAEIOU' else 'A'} {t.model.name} record.",
        "id": graphene.ID(required=True, resolver=lambda rec, info: rec.id),
        "type": graphene.String(required=True, resolver=lambda rec, info: rec.model),
        "locale": graphene.String(resolver=lambda rec, info: rec.locale),
        "createdAt": DateTime(resolver=lambda rec, info: rec.created),
        "updatedAt": DateTime(resolver=lambda rec, info: rec.updated),
        "version": graphene.String(required=True, resolver=lambda rec, info: rec.sha),
        "versions": graphene.List(
            graphene.NonNull(Version),
            required=True,
            limit=graphene.Int(default_value=20),
            offset=graphene.Int(default_value=0),
            resolver=_versions,
        ),
    }
    if t.model.format == "markdown":
        attrs["body"] = graphene.String(resolver=lambda rec, info: rec.body)
        attrs["html"] = graphene.String(resolver=lambda rec, info: info.context.catalog.html(rec))
    for f in t.fields.values():
        attrs[f.name] = _field(registry, t, f)
    return type(t.name, (graphene.ObjectType,), attrs)


def _field(registry: Registry, t: ModelTypes, f: Field) -> Any:
    if f.type == "relation" and f.to in registry.types:
        if f.many:
            target = graphene.NonNull(lambda: registry.object(f.to))
            return graphene.List(target, required=True, resolver=_many(f))
        return graphene.Field(lambda: registry.object(f.to), resolver=_one(f))
    if f.type == "relation":  # to a model left out of the schema: its ids, as REST shows them
        kind = graphene.List(graphene.ID) if f.many else graphene.ID
        return graphene.Field(kind, resolver=_ids(f))
    if f.type == "media":
        return graphene.Field(Media, resolver=_media(f.name))
    kind = registry.output_type(t, f)
    if isinstance(kind, graphene.List):
        return graphene.Field(kind, resolver=_value(f.name))
    # Every file of the model was validated: a required field always has a value.
    required = f.required and not t.model.inferred
    return kind(required=required, resolver=_value(f.name))


def _value(name: str):
    return lambda rec, info: rec.data.get(name)


def _ids(f: Field):
    def resolve(rec: Record, info) -> Any:
        ctx = info.context
        return shown_relation(ctx.catalog, f, rec.data.get(f.name), ctx.audience)

    return resolve


def _one(f: Field):
    def resolve(rec: Record, info) -> Record | None:
        return info.context.relations.one(rec, f)

    return resolve


def _many(f: Field):
    def resolve(rec: Record, info) -> list[Record]:
        return info.context.relations.many(rec, f)

    return resolve


def _media(name: str):
    def resolve(rec: Record, info) -> dict | None:
        value = rec.data.get(name)
        return media.describe(info.context.vellum.site, value) if isinstance(value, str) else None

    return resolve


def _versions(rec: Record, info, limit: int = 20, offset: int = 0) -> list[dict]:
    info.context.check("read:drafts")  # as REST's /versions, with its bounds
    limit, offset = check_int("limit", limit, 1, 100), check_int("offset", offset, 0, MAX_OFFSET)
    found = history.versions(info.context.vellum, rec.model, rec.id, rec.locale, limit, offset)
    return found["data"]


def _connection(t: ModelTypes) -> Any:
    return type(
        f"{t.name}Connection",
        (graphene.ObjectType,),
        {
            "__doc__": f"A page of {t.model.list_name}.",
            "nodes": graphene.List(graphene.NonNull(lambda: t.object), required=True),
            "pageInfo": graphene.Field(PageInfo, required=True),
        },
    )


# -- query fields ---------------------------------------------------------------------------
def query_fields(registry: Registry) -> dict[str, Any]:
    """`blogPost(id, locale)` and `blogPosts(limit, offset, sort, filter, q, locale)` per model."""
    out: dict[str, Any] = {}
    for name, t in registry.types.items():
        out[name] = graphene.Field(
            t.object, id=graphene.ID(required=True), locale=graphene.String(), resolver=_get(name)
        )
        out[t.model.list_name] = graphene.Field(
            graphene.NonNull(t.connection),
            limit=graphene.Int(default_value=20),
            offset=graphene.Int(default_value=0),
            sort=graphene.String(),
            filter=t.filter(),
            q=graphene.String(),
            locale=graphene.String(),
            resolver=_list(name),
        )
    return out


def _get(model: str):
    def resolve(root, info, id: str, locale: str | None = None) -> Record:
        ctx = info.context
        ctx.check("read")
        locale = check_locale(ctx.catalog, locale)
        rec = get_record(ctx.catalog, model, id, locale, ctx.audience)
        return ctx.level([rec], locale)[0]

    return resolve


def _list(model: str):
    def resolve(
        root, info, filter=None, sort=None, limit=None, offset=None, q=None, locale=None
    ) -> dict:
        ctx = info.context
        ctx.check("read")
        query = list_query(
            ctx.catalog,
            model,
            filters=to_filters(ctx.catalog, model, filter),
            sort=sort_keys(sort),
            limit=limit,
            offset=offset,
            q=q,
            locale=locale,
            audience=ctx.audience,
        )
        page = ctx.vellum.list(model, query)
        return {
            "nodes": ctx.level(page.records, query.locale),
            "pageInfo": {
                "hasNextPage": page.meta["hasMore"],
                "hasPreviousPage": query.offset > 0,
                "total": page.total,
            },
        }

    return resolve
