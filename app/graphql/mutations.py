"""Per-model mutations: createBlogPost, updateBlogPost, deleteBlogPost, through vellum.store.writes.

Inputs take a relation's id(s) under the field's own name (`author: ID`,
`categories: [ID!]`); a one-relation also as `<field>Id` (`authorId`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import graphene

from vellum.auth import access
from vellum.errors import Detail, ValidationError
from vellum.graphql.models import ModelTypes, Registry
from vellum.graphql.types import plain
from vellum.site.models import Field
from vellum.store import writes
from vellum.store.records import Record
from vellum.store.write_request import WriteRequest


def inputs(registry: Registry, t: ModelTypes, kind: str) -> Any:
    """`CreateBlogPostInput` / `UpdateBlogPostInput`: every field optional."""
    attrs: dict[str, Any] = {"__doc__": f"The fields of a {t.model.name} to {kind.lower()}."}
    if kind == "Create":
        attrs["id"] = graphene.ID(description="Made from the slug or title when not given")
    if t.model.format == "markdown":
        attrs["body"] = graphene.String(description="The Markdown body")
    for f in t.fields.values():
        attrs[f.name] = _input_type(registry, t, f)
        if f.type == "relation" and not f.many and f"{f.name}Id" not in t.fields:
            attrs[f"{f.name}Id"] = graphene.ID(description=f"Same as {f.name}")
    return type(f"{kind}{t.name}Input", (graphene.InputObjectType,), attrs)


def _input_type(registry: Registry, t: ModelTypes, f: Field) -> Any:
    if f.type == "relation":
        return graphene.List(graphene.NonNull(graphene.ID)) if f.many else graphene.ID()
    if f.type == "media":
        return graphene.String(description="A media id (see /api/media)")
    kind = registry.output_type(t, f)
    return kind if isinstance(kind, graphene.List) else kind()


def mutation_fields(registry: Registry) -> dict[str, Any]:
    """create<Type>(data), update<Type>(id, data), delete<Type>(id) for every model."""
    out: dict[str, Any] = {}
    for name, t in registry.types.items():
        out[f"create{t.name}"] = graphene.Field(
            graphene.NonNull(t.object),
            data=graphene.NonNull(inputs(registry, t, "Create")),
            resolver=_create(name),
            **_extra(),
        )
        out[f"update{t.name}"] = graphene.Field(
            graphene.NonNull(t.object),
            id=graphene.ID(required=True),
            data=graphene.NonNull(inputs(registry, t, "Update")),
            resolver=_update(name),
            **_extra(),
        )
        out[f"delete{t.name}"] = graphene.Field(
            graphene.NonNull(graphene.Boolean),
            id=graphene.ID(required=True),
            resolver=_delete(name),
            **_extra(),
        )
    return out


def _extra() -> dict[str, Any]:
    return {"locale": graphene.String(), "message": graphene.String()}


def write_request(
    fields: dict[str, Field], data: Mapping[str, Any], locale=None, message=None
) -> WriteRequest:
    """An input's values as the WriteRequest REST would build from the same JSON."""
    values = plain(dict(data))
    for f in fields.values():
        alias = f"{f.name}Id"
        if f.type == "relation" and not f.many and alias in values and alias not in fields:
            aliased = values.pop(alias)
            if values.get(f.name) not in (None, aliased):
                detail = Detail(alias, f"differs from {f.name}; send one of them")
                raise ValidationError("Conflicting values", [detail])
            values.setdefault(f.name, aliased)
    body = values.pop("body", None)
    record_id = values.pop("id", None)
    return WriteRequest(fields=values, body=body, locale=locale, message=message, id=record_id)


def _author(info) -> tuple[str, str]:
    return access.commit_author(info.context.check("write"))


def _create(model: str):
    def resolve(root, info, data, locale=None, message=None) -> Record:
        author = _author(info)
        request = write_request(info.context.catalog.fields[model], data, locale, message)
        rec = writes.create(info.context.vellum, model, request, author)
        info.context.refresh()
        return info.context.level([rec], rec.locale)[0]

    return resolve


def _update(model: str):
    def resolve(root, info, id, data, locale=None, message=None) -> Record:
        author = _author(info)
        request = write_request(info.context.catalog.fields[model], data, locale, message)
        rec = writes.update(info.context.vellum, model, id, request, author, merge=True)
        info.context.refresh()
        return info.context.level([rec], rec.locale)[0]

    return resolve


def _delete(model: str):
    def resolve(root, info, id, locale=None, message=None) -> bool:
        author = _author(info)
        writes.delete(info.context.vellum, model, id, author, locale=locale, message=message)
        info.context.refresh()
        return True

    return resolve
