"""The model-agnostic GraphQL API: Content, content(id, type), contents, search, and writes."""

from __future__ import annotations

from typing import Any

import graphene

from vellum.auth import access
from vellum.graphql.types import (
    JSON,
    OPERATORS,
    ContentAuthor,
    DateTime,
    DateTimeFilter,
    IDFilter,
    StringFilter,
    plain,
)
from vellum.query import content
from vellum.query.filters import FilterGroup
from vellum.query.lists import search_query, sort_keys
from vellum.query.render import visible_data
from vellum.store import writes
from vellum.store.records import Record


def _data(rec: Record, info) -> dict:
    """The record's fields as the caller may see them (relations to drafts left out)."""
    return visible_data(info.context.catalog, rec, info.context.audience)


def _author(rec: Record, info) -> dict | None:
    ctx = info.context
    f = ctx.catalog.fields[rec.model].get("author")
    if f is not None and f.type == "relation" and not f.many:
        person = ctx.relations.one(rec, f)
        if person is not None and person.data.get("name"):
            return {"name": person.data["name"], "email": person.data.get("email")}
    return content.git_author(ctx.vellum, rec, ctx.authors)


class Content(graphene.ObjectType):
    """Any record, whatever its model."""

    id = graphene.ID(required=True, resolver=lambda rec, info: rec.id)
    type = graphene.String(required=True, resolver=lambda rec, info: rec.model)
    locale = graphene.String(resolver=lambda rec, info: rec.locale)
    title = graphene.String(resolver=lambda rec, info: content.title_of(rec))
    body = graphene.String(resolver=lambda rec, info: rec.body)
    status = graphene.String(
        resolver=lambda rec, info: content.status_of(info.context.catalog, rec)
    )
    author = graphene.Field(ContentAuthor, resolver=_author)
    createdAt = DateTime(resolver=lambda rec, info: rec.created)
    updatedAt = DateTime(resolver=lambda rec, info: rec.updated)
    version = graphene.String(resolver=lambda rec, info: rec.sha)
    data = JSON(resolver=_data)


class SearchHit(graphene.ObjectType):
    """One search result: the record, a snippet with the words marked, and its score."""

    content = graphene.Field(graphene.NonNull(Content))
    snippet = graphene.String()
    score = graphene.Float()


class ContentFilter(graphene.InputObjectType):
    """Conditions on any record; all must hold."""

    type = StringFilter()
    id = IDFilter()
    status = StringFilter()
    createdAt = DateTimeFilter()
    updatedAt = DateTimeFilter()
    and_ = graphene.List(graphene.NonNull(lambda: ContentFilter), name="and")
    or_ = graphene.List(graphene.NonNull(lambda: ContentFilter), name="or")


class ContentInput(graphene.InputObjectType):
    """A record to write: `type` defaults to the site's default_model."""

    type = graphene.String()
    id = graphene.ID()
    title = graphene.String()
    body = graphene.String()
    status = graphene.String()
    data = JSON()
    locale = graphene.String()


def to_content_filters(value: dict | None) -> list:
    """A ContentFilter as the query layer's filters."""
    out: list = []
    for key, cond in (value or {}).items():
        if cond is None:
            continue
        if key in ("and_", "or_"):
            parts = [FilterGroup("and", tuple(to_content_filters(c))) for c in cond]
            out.append(FilterGroup(key.rstrip("_"), tuple(parts)))
            continue
        for op, operand in cond.items():
            if operand is not None:
                param = f"filter.{key}.{op}"
                out.append(content.content_filter(key, OPERATORS[op], plain(operand), param))
    return out


def query_fields() -> dict[str, Any]:
    """content(id, type), contents(filter, limit, offset, sort, q, locale), search(q, limit)."""
    return {
        "content": graphene.Field(
            Content, id=graphene.ID(required=True), type=graphene.String(), resolver=_content
        ),
        "contents": graphene.Field(
            graphene.NonNull(graphene.List(Content)),
            filter=ContentFilter(),
            limit=graphene.Int(default_value=20),
            offset=graphene.Int(default_value=0),
            sort=graphene.String(),
            q=graphene.String(),
            locale=graphene.String(),
            resolver=_contents,
        ),
        "search": graphene.Field(
            graphene.NonNull(graphene.List(graphene.NonNull(SearchHit))),
            q=graphene.String(required=True),
            limit=graphene.Int(),
            locale=graphene.String(),
            resolver=_search,
        ),
    }


def _content(root, info, id: str, type: str | None = None) -> Record:
    ctx = info.context
    ctx.check("read")
    rec = content.find(ctx.catalog, id, type, ctx.audience)
    return ctx.level([rec], rec.locale)[0]


def _contents(
    root, info, filter=None, sort=None, limit=None, offset=None, q=None, locale=None
) -> list[Record]:
    ctx = info.context
    ctx.check("read")
    query = content.content_query(
        ctx.catalog,
        filters=to_content_filters(filter),
        sort=sort_keys(sort),
        limit=limit,
        offset=offset,
        q=q,
        locale=locale,
        audience=ctx.audience,
    )
    return ctx.level(content.list_content(ctx.vellum, query).records, query.locale)


def _search(root, info, q: str, limit: int | None = None, locale: str | None = None) -> list:
    ctx = info.context
    ctx.check("read")
    query = search_query(ctx.catalog, q, limit=limit, locale=locale, audience=ctx.audience)
    page, _ = ctx.vellum.search(
        query.q, limit=query.limit, offset=0, locale=query.locale, audience=ctx.audience
    )
    ctx.level([rec for rec, _, _ in page], query.locale)
    return [{"content": rec, "score": score, "snippet": snip} for rec, score, snip in page]


# -- writes --------------------------------------------------------------------------------
def mutation_fields() -> dict[str, Any]:
    """createContent(input), updateContent(id, input), deleteContent(id, type)."""
    return {
        # Non-null, as the per-model mutations: a refused write fails the whole operation
        # and answers REST's status (401, 403, 404, 409, 412, 422).
        "createContent": graphene.Field(
            graphene.NonNull(Content), input=graphene.NonNull(ContentInput), resolver=_create
        ),
        "updateContent": graphene.Field(
            graphene.NonNull(Content),
            id=graphene.ID(required=True),
            input=graphene.NonNull(ContentInput),
            resolver=_update,
        ),
        "deleteContent": graphene.Field(
            graphene.NonNull(graphene.Boolean),
            id=graphene.ID(required=True),
            type=graphene.String(),
            resolver=_delete,
        ),
    }


def _create(root, info, input) -> Record:
    ctx = info.context
    author = access.commit_author(ctx.check("write"))
    values = plain(dict(input))
    model = content.model_for_write(ctx.vellum, None, values.get("type"))
    request = content.write_request(ctx.vellum, model, values)
    rec = writes.create(ctx.vellum, model, request, author)
    ctx.refresh()
    return ctx.level([rec], rec.locale)[0]


def _update(root, info, id: str, input) -> Record:
    ctx = info.context
    author = access.commit_author(ctx.check("write"))
    values = plain(dict(input))
    model = content.model_for_write(ctx.vellum, id, values.get("type"))
    request = content.write_request(ctx.vellum, model, {**values, "id": None})
    rec = writes.update(ctx.vellum, model, id, request, author, merge=True)
    ctx.refresh()
    return ctx.level([rec], rec.locale)[0]


def _delete(root, info, id: str, type: str | None = None) -> bool:
    ctx = info.context
    author = access.commit_author(ctx.check("write"))
    model = content.model_for_write(ctx.vellum, id, type)
    writes.delete(ctx.vellum, model, id, author)
    ctx.refresh()
    return True
