"""Running a ListQuery over the catalog: filter, order and slice one model's records, each
condition a predicate built once per list."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vellum.errors import RecordNotFound
from vellum.query.filters import SYSTEM, Filter, FilterGroup, model_fields
from vellum.query.lists import ListQuery
from vellum.query.render import shown_relation
from vellum.site.audience import Audience
from vellum.site.models import Field
from vellum.store.catalog import Catalog, relation_ids
from vellum.store.records import Record


@dataclass
class Page:
    """A page of records and what a client needs to fetch the next one."""

    records: list[Record]
    total: int
    query: ListQuery
    extra: dict = field(default_factory=dict)

    @property
    def meta(self) -> dict:
        q = self.query
        meta = {
            "total": self.total,
            "limit": q.limit,
            "offset": q.offset,
            "hasMore": q.offset + len(self.records) < self.total,
        }
        if q.locale:
            meta["locale"] = q.locale
        meta.update(self.extra)
        return meta


def run_list(catalog: Catalog, model: str, query: ListQuery, search=None) -> Page:
    """Filter, order and slice one model's records. `search(q, model)` → ranked ids."""
    model_fields(catalog, model)
    # Sorted views and filter results are memoised per catalog inside _matching, except
    # with q: full-text results move with the text index.
    records = _matching(catalog, model, query, search)
    page = records[query.offset : query.offset + query.limit]
    return Page(records=page, total=len(records), query=query)


def _matching(catalog: Catalog, model: str, query: ListQuery, search) -> list[Record]:
    if query.sort:
        key = ("sorted", model, query.locale, query.audience, query.sort)
        view = catalog.view(model, query.locale, query.audience)
        shown = _shown_value(catalog, query.audience)
        records = catalog.memo(key, lambda: sorter(query.sort, shown)(view))
    else:
        records = catalog.view(model, query.locale, query.audience)
    if query.q:
        ranked = search(query.q, model) if search else []
        position = {rid: n for n, rid in enumerate(ranked)}
        if query.sort:
            records = [r for r in records if r.id in position]
        else:  # the hits in rank order, without a pass over every record of the model
            by_id = catalog.memo(
                ("by id", model, query.locale, query.audience), lambda: {r.id: r for r in records}
            )
            records = sorted(
                (by_id[i] for i in position if i in by_id), key=lambda r: position[r.id]
            )
    for n, flt in enumerate(query.filters):
        if query.q:
            test = _condition(catalog, model, flt, query)
            records = [r for r in records if test(r)]
            continue
        # Each prefix of the filters is remembered: pages of one list, or lists that
        # share their first filters (status=published…), skip the passes already made.
        key = ("filtered", model, query.locale, query.audience, query.sort, query.filters[: n + 1])
        records = catalog.memo(key, functools.partial(_apply, catalog, model, flt, query, records))
    return records


def _apply(catalog: Catalog, model: str, flt, query: ListQuery, records: list) -> list:
    test = _condition(catalog, model, flt, query)
    return [r for r in records if test(r)]


def get_record(
    catalog: Catalog, model: str, record_id: str, locale: str | None, audience: Audience
) -> Record:
    """One record; a draft the caller may not see is as absent as a missing one."""
    model_fields(catalog, model)
    rec = catalog.get(model, record_id, locale, audience)
    if rec is None:
        raise RecordNotFound(model, record_id)
    return rec


def value_of(rec: Record, name: str) -> Any:
    if name == "id":
        return rec.id
    if name == "type":  # only the model-agnostic content list filters and sorts by it
        return rec.model
    if name == "locale":
        return rec.locale
    if name == "createdAt":
        return rec.created
    if name == "updatedAt":
        return rec.updated
    if name == "version":
        return rec.sha
    return rec.data.get(name)


def _collate(value: Any) -> Any:
    """Text sorts as people read it: case does not split "apple" from "Banana"."""
    return (value.casefold(), value) if isinstance(value, str) else value


def sorter(
    sort: tuple[tuple[str, bool], ...], value: Callable[[Record, str], Any] = value_of
) -> Callable[[list[Record]], list[Record]]:
    """Order records by several keys (`value` reads a key's value from a record); records
    without a value come last whatever the direction."""

    def apply(records: list[Record]) -> list[Record]:
        ordered = list(records)
        for name, desc in reversed(sort):  # stable sorts, last key first
            present = [r for r in ordered if value(r, name) is not None]
            missing = [r for r in ordered if value(r, name) is None]
            try:
                present.sort(key=lambda r: _collate(value(r, name)), reverse=desc)
            except TypeError:  # mixed types in an inferred field
                present.sort(key=lambda r: str(value(r, name)), reverse=desc)
            ordered = present + missing  # records without the field always come last
        return ordered

    return apply


def _condition(catalog: Catalog, model: str, flt: Filter, query: ListQuery):
    """A predicate for one filter; plain fields get a fast path without fan-out."""
    if isinstance(flt, FilterGroup):
        tests = [_condition(catalog, model, item, query) for item in flt.items]
        if flt.op == "or":
            return lambda rec: any(test(rec) for test in tests)
        return lambda rec: all(test(rec) for test in tests)
    match = _MATCHERS[flt.op]
    operand = flt.value
    negative = flt.op in {"$ne", "$nin"}
    name = flt.path[0]
    # A field the model lacks (the content list's `status` on a model without one) is None.
    f = catalog.fields[model].get(name) or SYSTEM.get(name) or Field(name, "string")
    # A relation compares as its reader sees it: without drafts, ids of drafts are not there.
    hides = f.type == "relation" and not query.audience.drafts
    if len(flt.path) == 1 and f.type != "list" and not f.many and not hides:
        if catalog.site.models[model].inferred:  # values of mixed types may not compare
            inner = match
            match = lambda v, x: _safe(inner, v, x)  # noqa: E731
        if name in SYSTEM or name == "type":
            get = _direct(name)
            if negative:
                return lambda rec: (v := get(rec)) is None or match(v, operand)
            return lambda rec: (v := get(rec)) is not None and match(v, operand)
        # Model fields: one lambda, no getter call per record.
        if negative:
            return lambda rec: (v := rec.data.get(name)) is None or match(v, operand)
        return lambda rec: (v := rec.data.get(name)) is not None and match(v, operand)
    getter = _getter(catalog, flt.path, query.locale, query.audience)

    def test(rec: Record) -> bool:
        values = getter(rec)
        if negative:
            return all(v is None or _safe(match, v, operand) for v in values)
        return any(v is not None and _safe(match, v, operand) for v in values)

    return test


def condition(catalog: Catalog, model: str, flt: Filter | FilterGroup, query: ListQuery):
    """The predicate a filter (or a group of them) applies to one model's records."""
    return _condition(catalog, model, flt, query)


def _direct(name: str) -> Callable[[Record], Any]:
    if name in SYSTEM or name == "type":
        return lambda rec: value_of(rec, name)
    return lambda rec: rec.data.get(name)


def _safe(match, value, operand) -> bool:
    try:
        return match(value, operand)
    except TypeError:
        return False


def _getter(catalog: Catalog, path: tuple[str, ...], locale: str | None, audience: Audience):
    """rec → the list of values at path (lists and many-relations fan out); a relation's
    ids are those the audience can see."""
    models = catalog.site.models

    def values_at(rec: Record, depth: int) -> list:
        value = value_of(rec, path[depth])
        items = value if isinstance(value, list) else [value]
        if depth == len(path) - 1:
            f = catalog.fields[rec.model].get(path[depth])
            if f is not None and f.type == "relation" and not audience.drafts:
                return relation_ids(shown_relation(catalog, f, value, audience))
            return items
        target = models[rec.model].fields[path[depth]].to
        out = []
        for rid in items:
            related = catalog.get(target, rid, locale, audience) if rid is not None else None
            if related is not None:
                out.extend(values_at(related, depth + 1))
        return out

    return lambda rec: values_at(rec, 0)


def _shown_value(catalog: Catalog, audience: Audience) -> Callable[[Record, str], Any]:
    """value_of as the audience sees it: sorting by a relation never tells of a draft."""
    if audience.drafts:
        return value_of

    def value(rec: Record, name: str) -> Any:
        found = value_of(rec, name)
        f = catalog.fields[rec.model].get(name)
        if found is None or f is None or f.type != "relation":
            return found
        return shown_relation(catalog, f, found, audience)

    return value


def _is_in(value: Any, values: frozenset) -> bool:
    """`$in`: an object's value (a dict cannot be hashed) is none of the values, as it
    equals none of them."""
    try:
        return value in values
    except TypeError:
        return False


_MATCHERS: dict[str, Callable[[Any, Any], bool]] = {
    # The operator module's comparisons run in C: a filter pass over 10k records is
    # dominated by these calls.
    "$eq": operator.eq,
    "$ne": operator.ne,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
    "$in": lambda v, x: _is_in(v, x),
    "$nin": lambda v, x: not _is_in(v, x),
    "$contains": lambda v, x: x in str(v).lower(),
    "$startsWith": lambda v, x: str(v).lower().startswith(x),
    "$endsWith": lambda v, x: str(v).lower().endswith(x),
}
