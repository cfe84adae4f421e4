"""The one query layer: REST, GraphQL and the CLI all parse and run lists through here."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vellum.errors import InvalidParameter, ModelNotFound, RecordNotFound, SiteError
from vellum.site.audience import Audience
from vellum.site.models import Field, FieldError, coerce, parse_date, parse_datetime
from vellum.site.site import Site
from vellum.store import media
from vellum.store.catalog import Catalog, relation_ids
from vellum.store.records import Record

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# A filter's cost grows with its conditions times the records: vellum.yml's
# limits.max_conditions and limits.max_values bound what one request may ask.
MAX_CONDITIONS = 100
MAX_VALUES = 1000
# The largest offset (and any unbounded integer parameter): GraphQL's Int, so that REST and
# GraphQL page alike and every number the API echoes fits any client's integers.
MAX_OFFSET = 2**31 - 1
OPERATORS = (
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte",
    "$in", "$nin", "$contains", "$startsWith", "$endsWith",
)  # fmt: skip
TEXT_OPERATORS = {"$contains", "$startsWith", "$endsWith"}
ORDER_OPERATORS = {"$gt", "$gte", "$lt", "$lte"}
# Fields every record has besides its model's: their types for filtering and sorting.
SYSTEM = {
    "id": Field("id", "string"),
    "locale": Field("locale", "string"),
    "createdAt": Field("createdAt", "datetime"),
    "updatedAt": Field("updatedAt", "datetime"),
    "version": Field("version", "string"),
}
EXTRA_OUTPUT = {"body", "html", "type"}
FILTER_KEY = re.compile(r"^filters?((?:\[[^\[\]]+\])+)$")


@dataclass(frozen=True)
class Filter:
    """One condition: a field path (through relations), an operator and typed operand."""

    path: tuple[str, ...]
    op: str
    value: Any
    param: str


@dataclass(frozen=True)
class FilterGroup:
    """Conditions joined by `and` or `or` (GraphQL's and/or); REST's filters are all and-ed."""

    op: str  # "and" | "or"
    items: tuple[Filter | FilterGroup, ...]


@dataclass(frozen=True)
class FilterLimits:
    """The most one list's filter may hold: conditions, and values in one $in or $nin."""

    conditions: int = MAX_CONDITIONS
    values: int = MAX_VALUES


def filter_limits(site: Site) -> FilterLimits:
    """vellum.yml's limits.max_conditions and limits.max_values, checked."""
    section = site.settings.get("limits") or {}
    if not isinstance(section, dict):
        raise SiteError("vellum.yml: limits must be a mapping")
    values = {}
    for attr, name, default in (
        ("conditions", "max_conditions", MAX_CONDITIONS),
        ("values", "max_values", MAX_VALUES),
    ):
        raw = section.get(name, default)
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            raise SiteError(f"vellum.yml: limits.{name} must be a positive integer")
        values[attr] = raw
    return FilterLimits(**values)


def limits_in_force(site: Site) -> FilterLimits:
    """The filter limits a request is held to; a wrong value in a vellum.yml changed while
    serving (which `vellum validate` and /api/_status report) leaves the defaults."""
    try:
        return filter_limits(site)
    except SiteError:
        return FilterLimits()


def check_conditions(param: str, count: int, limits: FilterLimits) -> None:
    """Refuse a filter of more conditions than limits.max_conditions allows."""
    if count > limits.conditions:
        raise InvalidParameter(
            param,
            f"a filter holds at most {limits.conditions} conditions"
            " (limits.max_conditions in vellum.yml)",
        )


def check_values(param: str, count: int, limits: FilterLimits) -> None:
    """Refuse an $in or $nin of more values than limits.max_values allows."""
    if count > limits.values:
        raise InvalidParameter(
            param,
            f"$in and $nin take at most {limits.values} values (limits.max_values in vellum.yml)",
        )


@dataclass(frozen=True)
class ListQuery:
    filters: tuple[Filter | FilterGroup, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    fields: tuple[str, ...] | None = None
    populate: tuple[str, ...] = ()
    q: str | None = None
    locale: str | None = None
    # Who the records are for: without drafts, only published ones (Catalog.published),
    # and their relations only to published ones. Never defaulted: see vellum.site.audience.
    audience: Audience = field(kw_only=True)


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


# -- parsing ------------------------------------------------------------------------
def parse_list_query(
    catalog: Catalog, model: str, args: Mapping[str, list[str]], audience: Audience
) -> ListQuery:
    """Turn request parameters (each name → its values) into a checked ListQuery."""
    fields = model_fields(catalog, model)
    limits = limits_in_force(catalog.site)
    check_conditions("filter", count_filters(args), limits)
    filters = []
    for key, values in args.items():
        match = FILTER_KEY.match(key)
        if match:
            for raw in values:
                filters.append(_parse_filter(catalog, model, key, match.group(1), raw, limits))
        elif key.startswith("filter"):
            raise InvalidParameter(key, "expected filter[field]=value or filter[field][$op]=value")
    return ListQuery(
        filters=tuple(filters),
        sort=parse_sort(fields, first_value(args, "sort")),
        limit=parse_int(args, "limit", DEFAULT_LIMIT, 0, MAX_LIMIT),
        offset=parse_int(args, "offset", 0, 0, None),
        fields=_parse_fields(catalog, model, fields, first_value(args, "fields")),
        populate=_parse_populate(catalog, model, first_value(args, "populate")),
        q=(first_value(args, "q") or "").strip() or None,
        locale=parse_locale(catalog, first_value(args, "locale")),
        audience=audience,
    )


def count_filters(args: Mapping[str, list[str]]) -> int:
    """The conditions among request parameters, counted as GraphQL's are: one per
    filter[…] value, and one more per relation its path goes through."""
    count = 0
    for key, values in args.items():
        match = FILTER_KEY.match(key)
        if match:
            parts = [p for p in match.group(1)[1:-1].split("][") if not p.startswith("$")]
            count += len(values) * max(1, sum(len(p.split(".")) for p in parts))
    return count


def parse_search_query(
    catalog: Catalog, args: Mapping[str, list[str]], audience: Audience
) -> ListQuery:
    """Paging, locale and the words of a search across models."""
    q = (first_value(args, "q") or "").strip()
    if not q:
        raise InvalidParameter("q", "a search needs q=<words>")
    return ListQuery(
        limit=parse_int(args, "limit", DEFAULT_LIMIT, 0, MAX_LIMIT),
        offset=parse_int(args, "offset", 0, 0, None),
        q=q,
        locale=parse_locale(catalog, first_value(args, "locale")),
        audience=audience,
    )


def model_fields(catalog: Catalog, model: str) -> dict[str, Field]:
    if model not in catalog.site.models:
        raise ModelNotFound(model)
    return catalog.fields[model]


def first_value(args: Mapping[str, list[str]], name: str) -> str | None:
    """The last value a request gave for a parameter (?a=1&a=2 → "2"), or None."""
    values = args.get(name)
    return values[-1] if values else None


def parse_int(args, name: str, default: int, low: int, high: int | None) -> int:
    """An integer parameter within bounds (high None: MAX_OFFSET), else a 400 naming it."""
    raw = first_value(args, name)
    if raw is None or raw == "":
        return default
    high = MAX_OFFSET if high is None else high
    if not re.fullmatch(r"[+-]?[0-9]{1,30}", raw.strip()):
        raise InvalidParameter(name, f"expected an integer, got {raw[:40]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise InvalidParameter(name, f"must be between {low} and {high}, got {value}")
    return value


def parse_locale(catalog: Catalog, raw: str | None) -> str | None:
    """A locale the site declares (400 otherwise), or None."""
    if not raw:
        return None
    locales = catalog.site.locales
    if locales and raw not in locales:
        raise InvalidParameter(
            "locale", f"unknown locale {raw!r}; this site has {', '.join(locales)}"
        )
    return raw


def parse_sort(fields: dict[str, Field], raw: str | None) -> tuple[tuple[str, bool], ...]:
    """`-publishedAt,title` → ((field, descending), …), checked against the fields."""
    if not raw:
        return ()
    keys: dict[str, bool] = {}
    for part in raw.split(","):
        part = part.strip()
        desc = part.startswith("-")
        name = part.lstrip("-+")
        if ":" in name:  # also accept field:desc / field:asc
            name, _, direction = name.partition(":")
            desc = direction.lower() == "desc"
        f = fields.get(name) or SYSTEM.get(name)
        if f is None:
            raise InvalidParameter("sort", f"unknown field {name!r}")
        if f.type in {"list", "object"} or (f.type == "relation" and f.many):
            raise InvalidParameter("sort", f"cannot sort by {name!r} ({f.type})")
        # A field named again cannot change the order, only cost another pass.
        keys.setdefault(name, desc)
    return tuple(keys.items())


def _parse_fields(catalog, model, fields, raw: str | None) -> tuple[str, ...] | None:
    if not raw:
        return None
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    for name in names:
        if name not in fields and name not in SYSTEM and name not in EXTRA_OUTPUT:
            raise InvalidParameter("fields", f"unknown field {name!r} in {model}")
    return names


def _parse_populate(catalog: Catalog, model: str, raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    relations = [f.name for f in catalog.fields[model].values() if f.type in ("relation", "media")]
    if raw.strip() == "*":
        return tuple(relations)
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    for name in names:
        if name not in relations:
            known = ", ".join(relations) or "none"
            raise InvalidParameter("populate", f"{name!r} is not a relation of {model} ({known})")
    return names


def _parse_filter(
    catalog: Catalog, model: str, param: str, brackets: str, raw: str, limits: FilterLimits
) -> Filter:
    parts = brackets[1:-1].split("][")
    op = "$eq"
    if parts[-1].startswith("$"):
        op = parts.pop()
    if op not in OPERATORS:
        raise InvalidParameter(param, f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    if not parts or any(p.startswith("$") for p in parts):
        raise InvalidParameter(param, "the operator must come last: filter[field][$op]=value")
    path = tuple(seg for p in parts for seg in p.split("."))
    f = _resolve_path(catalog, model, path, param)
    if op in {"$in", "$nin"}:
        check_values(param, raw.count(",") + 1, limits)
    return Filter(path=path, op=op, value=_operand(f, op, raw, param), param=param)


def make_filter(
    catalog: Catalog, model: str, path: tuple[str, ...], op: str, value: Any, param: str
) -> Filter:
    """A Filter from a typed value (GraphQL's), checked and coerced as REST's strings are."""
    if op not in OPERATORS:
        raise InvalidParameter(param, f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    return Filter(
        path, op, typed_operand(_resolve_path(catalog, model, path, param), op, value, param), param
    )


def typed_operand(f: Field, op: str, value: Any, param: str) -> Any:
    """The operand of a filter on field f from a typed value (a list for $in and $nin)."""
    if op in {"$in", "$nin"}:
        items = value if isinstance(value, list | tuple) else [value]
        kind = f.of if f.type == "list" and f.of else f.type
        return frozenset(_scalar(kind, f, _raw(item), param) for item in items)
    return _operand(f, op, _raw(value), param)


def _raw(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _resolve_path(catalog: Catalog, model: str, path: tuple[str, ...], param: str) -> Field:
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


def _operand(f: Field, op: str, raw: str, param: str) -> Any:
    kind = f.of if f.type == "list" and f.of else f.type
    if op in TEXT_OPERATORS and kind in {"integer", "number", "boolean"}:
        raise InvalidParameter(param, f"{op} applies to text, not to {kind} fields")
    if op in ORDER_OPERATORS and kind in {"boolean", "object"}:
        raise InvalidParameter(param, f"{op} does not apply to {kind} fields")
    if op in {"$in", "$nin"}:
        return frozenset(_scalar(kind, f, item.strip(), param) for item in raw.split(","))
    if op in TEXT_OPERATORS:
        return raw.lower()
    return _scalar(kind, f, raw, param)


def _scalar(kind: str, f: Field, raw: str, param: str) -> Any:
    try:
        if kind == "integer" or kind == "number":
            number = float(raw)
            return int(number) if number.is_integer() else number
        if kind == "boolean":
            lowered = raw.lower()
            if lowered not in {"true", "false", "1", "0"}:
                raise FieldError(f"expected true or false, got {raw!r}")
            return lowered in {"true", "1"}
        if kind == "datetime":
            return parse_datetime(raw)
        if kind == "date":
            return parse_date(raw)
        if kind == "enum":
            return coerce(f, raw)
    except (ValueError, FieldError) as exc:
        message = str(exc) if isinstance(exc, FieldError) else f"expected a number, got {raw!r}"
        raise InvalidParameter(param, message) from None
    return raw


# -- running ------------------------------------------------------------------------
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
        records = [r for r in records if r.id in position]
        if not query.sort:
            records.sort(key=lambda r: position[r.id])
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


# -- shaping ------------------------------------------------------------------------
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
    if rec.body is not None:
        out["body"] = rec.body
        out["html"] = catalog.html(rec)
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
