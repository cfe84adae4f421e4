"""Records as JSON for an audience: relations to records it cannot see left out, relations
embedded where a query asks (populate), and only the fields it asks for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vellum.query.lists import ListQuery
from vellum.site.audience import Audience
from vellum.site.models import Field
from vellum.store import media
from vellum.store.catalog import Catalog, relation_ids
from vellum.store.records import Record


def shown_relation(catalog: Catalog, f: Field, value: Any, audience: Audience) -> Any:
    """A relation's value as the audience sees it: without drafts, ids of records it cannot
    see (drafts) are left out, so a reader never learns a draft's id from a published record."""
    if audience.drafts or value is None:
        return value
    shown = [t for t in relation_ids(value) if catalog.get(f.to, t, None, audience) is not None]
    return shown if f.many else (shown[0] if shown else None)


def visible_fields(
    catalog: Catalog, model: str, data: Mapping[str, Any], audience: Audience
) -> dict[str, Any]:
    """A record's fields (or some of them, as an event's changes) as the audience sees
    them; keys that are not relation fields are left as they are."""
    if audience.drafts or model not in catalog.fields:
        return dict(data)
    out = dict(data)
    for f in catalog.fields[model].values():
        if f.type == "relation" and out.get(f.name) is not None:
            out[f.name] = shown_relation(catalog, f, out[f.name], audience)
    return out


def visible_data(catalog: Catalog, rec: Record, audience: Audience) -> dict[str, Any]:
    """The record's fields as the audience sees them (see visible_fields)."""
    return rec.data if audience.drafts else visible_fields(catalog, rec.model, rec.data, audience)


def to_json(catalog: Catalog, rec: Record, query: ListQuery) -> dict:
    """A record as the API shows it to the query's audience: flat, with system fields,
    populated where asked (embedded records shown to the same audience)."""
    out: dict[str, Any] = {"id": rec.id, "type": rec.model, "locale": rec.locale}
    out.update(visible_data(catalog, rec, query.audience))
    body = rec.body
    if body is not None:
        out["body"] = body
        out["html"] = catalog.html(rec, body)
    out["createdAt"] = rec.created
    out["updatedAt"] = rec.updated
    out["version"] = rec.sha
    for name in query.populate:
        out[name] = _populate(catalog, catalog.fields[rec.model][name], out.get(name), query)
    if query.fields is not None:
        keep = {"id", "type", *query.fields}
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _populate(catalog: Catalog, f: Field, value, query: ListQuery):
    if f.type == "media":
        return media.describe(catalog.site, value) if isinstance(value, str) else None

    embedded = ListQuery(locale=query.locale, audience=query.audience)

    def one(rid):
        related = catalog.get(f.to, rid, query.locale, query.audience)
        return to_json(catalog, related, embedded) if related is not None else None

    if f.many:
        return [r for r in (one(rid) for rid in value or []) if r is not None]
    return one(value) if value is not None else None
