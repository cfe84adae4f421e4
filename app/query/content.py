"""The model-agnostic content API: any record as a `Content`, across models, by bare id.

GraphQL (`content`, `contents`, `createContent` …) and REST (`/api/content`) both call
these functions; lists are ListQuery values like a model's (vellum.query.lists).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vellum.errors import BadRequest, Detail, InvalidParameter, RecordNotFound, ValidationError
from vellum.query.filters import Filter, FilterGroup, check_operator, operand
from vellum.query.lists import ListQuery, check_sort, window
from vellum.query.render import visible_data
from vellum.query.run import Page, condition, sorter, value_of
from vellum.site.audience import EDITORS, Audience
from vellum.site.models import Field
from vellum.store import journal, writes
from vellum.store.catalog import Catalog
from vellum.store.records import Record
from vellum.store.write_request import WriteRequest, check_message

if TYPE_CHECKING:
    from vellum.services import Vellum

# What a content filter or sort may name, whatever the model.
CONTENT_FIELDS = {
    "type": Field("type", "string"),
    "id": Field("id", "string"),
    "status": Field("status", "string"),
    "title": Field("title", "string"),
    "createdAt": Field("createdAt", "datetime"),
    "updatedAt": Field("updatedAt", "datetime"),
}
FILTERABLE = ("type", "id", "status", "createdAt", "updatedAt")
INPUT_KEYS = {"type", "id", "title", "body", "status", "data", "locale", "message"}


def content_filter(name: str, op: str, value: Any, param: str | None = None) -> Filter:
    """One condition on any record (type, id, status, createdAt, updatedAt), its value typed
    or text as make_filter takes it."""
    param = param or name
    if name not in FILTERABLE:
        raise InvalidParameter(param, f"content filters on {', '.join(FILTERABLE)}, not {name!r}")
    check_operator(op, param)
    return Filter((name,), op, operand(CONTENT_FIELDS[name], op, value, param), param)


def content_query(
    catalog: Catalog,
    *,
    filters: Iterable[Filter | FilterGroup] = (),
    sort: Iterable[tuple[str, bool]] = (),
    limit: int | None = None,
    offset: int | None = None,
    q: str | None = None,
    locale: str | None = None,
    audience: Audience,
) -> ListQuery:
    """A checked query across models (filters from content_filter), paged, ordered and
    localised exactly as a model's list is."""
    return ListQuery(
        filters=tuple(filters),
        sort=check_sort(CONTENT_FIELDS, sort),
        **window(catalog, limit, offset, q, locale),
        audience=audience,
    )


def list_content(vellum: Vellum, query: ListQuery) -> Page:
    """Records of every model that pass the filters: by type then id, or as sorted."""
    catalog = vellum.catalog()
    found: list[Record] = []
    for model in sorted(vellum.site.models):
        tests = [condition(catalog, model, f, query) for f in query.filters]
        view = catalog.view(model, query.locale, query.audience)
        found.extend(r for r in view if all(test(r) for test in tests))
    if query.q:
        hits, _ = vellum.store.search(query.q)
        rank = {h.key: n for n, h in enumerate(hits)}
        found = sorted((r for r in found if r.path in rank), key=lambda r: rank[r.path])
    if query.sort:

        def value(rec: Record, name: str) -> Any:  # what the Content type shows
            if name == "title":
                return title_of(rec)
            return status_of(catalog, rec) if name == "status" else value_of(rec, name)

        found = sorter(query.sort, value)(found)
    page = found[query.offset : query.offset + query.limit]
    return Page(records=page, total=len(found), query=replace(query, populate=()))


def find(
    catalog: Catalog,
    record_id: str,
    model: str | None,
    audience: Audience,
    locale: str | None = None,
) -> Record:
    """A record by bare id: the one model that has it, else `type` must say which. Only
    records the audience can see count, so a draft is as absent as a missing id."""
    if model is None:
        holders = [
            name
            for name in sorted(catalog.records)
            if catalog.get(name, record_id, locale, audience) is not None
        ]
        if len(holders) > 1:
            raise BadRequest(
                f"The id '{record_id}' is used by {', '.join(holders)}; say which with type",
                [Detail("type", f"one of {', '.join(holders)}")],
            )
        if not holders:
            raise RecordNotFound("content", record_id)
        model = holders[0]
    if model not in catalog.records:
        raise InvalidParameter("type", f"unknown model {model!r}")
    rec = catalog.get(model, record_id, locale, audience)
    if rec is None:
        raise RecordNotFound(model, record_id)
    return rec


def title_of(rec: Record) -> str:
    """The record's title field, else its name, else its id."""
    return rec.data.get("title") or rec.data.get("name") or rec.id


def status_of(catalog: Catalog, rec: Record) -> str | None:
    """The status field's value, or None for a model without one."""
    return rec.data.get("status") if "status" in catalog.fields[rec.model] else None


def git_author(vellum: Vellum, rec: Record, cache: dict) -> dict | None:
    """The Git author of the record's first commit (cached: it never changes)."""
    key = (rec.path, rec.created)
    if key not in cache:
        path = journal.repo_path(vellum, rec.path)
        total = vellum.repo.count_commits(path)
        log = vellum.repo.file_log(path, 1, total - 1) if total else []
        cache[key] = log[0]["author"] if log else None
    return cache[key]


def related_author(catalog: Catalog, rec: Record, audience: Audience) -> dict | None:
    """The record's `author` relation as {name, email}, when it points at a named record."""
    f = catalog.fields[rec.model].get("author")
    if f is None or f.type != "relation" or f.many or not rec.data.get("author"):
        return None
    person = catalog.get(f.to, rec.data["author"], rec.locale, audience)
    if person is None or not person.data.get("name"):
        return None
    return {"name": person.data["name"], "email": person.data.get("email")}


def to_content(vellum: Vellum, rec: Record, audience: Audience, authors: dict) -> dict:
    """A record as REST's /api/content shows it to an audience (GraphQL's Content type)."""
    catalog = vellum.catalog()
    author = related_author(catalog, rec, audience) or git_author(vellum, rec, authors)
    return {
        "id": rec.id,
        "type": rec.model,
        "locale": rec.locale,
        "title": title_of(rec),
        "body": rec.body,
        "status": status_of(catalog, rec),
        "author": author,
        "createdAt": rec.created,
        "updatedAt": rec.updated,
        "version": rec.sha,
        "data": visible_data(catalog, rec, audience),
    }


# -- writes ------------------------------------------------------------------------------
def default_model(vellum: Vellum) -> str:
    """vellum.yml's default_model, else the first model."""
    name = vellum.site.settings.get("default_model")
    if name in vellum.site.models:
        return name
    if not vellum.site.models:
        raise BadRequest("This site has no models to write to")
    return next(iter(vellum.site.models))


def write_request(vellum: Vellum, model: str, data: Mapping[str, Any]) -> WriteRequest:
    """ContentInput {title body status data} as the WriteRequest of one model."""
    unknown = sorted(set(data) - INPUT_KEYS)
    if unknown:
        details = [
            Detail(k, "not a content field; put the model's fields in data") for k in unknown
        ]
        raise ValidationError("Invalid content", details)
    if not isinstance(data.get("data") or {}, dict):
        raise ValidationError("Invalid content", [Detail("data", "expected an object")])
    fields = dict(data.get("data") or {})
    declared = vellum.site.models[model].fields
    if data.get("title") is not None:
        name = next((n for n in ("title", "name") if n in declared), None)
        if name is None and declared:
            raise ValidationError(
                f"The {model} is not valid", [Detail("title", f"{model} has no title field")]
            )
        fields[name or "title"] = data["title"]
    if data.get("status") is not None:
        fields["status"] = data["status"]
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise ValidationError(f"The {model} is not valid", [Detail("body", "expected a string")])
    check_message(data.get("message"))
    if body is not None and vellum.site.models[model].format != "markdown":
        raise ValidationError(
            f"The {model} is not valid", [Detail("body", f"{model} records have no body")]
        )
    return WriteRequest(
        fields=fields,
        body=body,
        locale=data.get("locale"),
        message=data.get("message"),
        id=str(fields.pop("id")) if fields.get("id") is not None else data.get("id"),
    )


def model_for_write(vellum: Vellum, record_id: str | None, model: str | None) -> str:
    """The model a write goes to: `type`, the one model holding the id, or the default."""
    if model:
        writes.model_of(vellum, model)
        return model
    if record_id is None:
        return default_model(vellum)
    return find(vellum.catalog(), record_id, None, EDITORS).model  # writers read drafts
