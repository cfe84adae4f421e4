"""A list query as typed values: which records (filters, words, locale, audience), in which
order, which page, and how each is shown (fields, populate), checked against the model.

REST reads these from its parameters (vellum.api.params), GraphQL from its arguments and the
CLI from its options; each builds a ListQuery with list_query() and runs it (vellum.query.run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vellum.errors import InvalidParameter, SiteError
from vellum.query.filters import SET_OPERATORS, SYSTEM, Filter, FilterGroup, model_fields
from vellum.site.audience import Audience
from vellum.site.models import Field
from vellum.site.schema import MAX_CONDITIONS, MAX_VALUES
from vellum.site.site import Site
from vellum.store.catalog import Catalog

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# A filter's cost grows with its conditions times the records: vellum.yml's
# limits.max_conditions and limits.max_values (MAX_CONDITIONS, MAX_VALUES by default) bound
# what one request may ask.
# The largest offset (and any unbounded integer parameter): GraphQL's Int, so that REST and
# GraphQL page alike and every number the API echoes fits any client's integers.
MAX_OFFSET = 2**31 - 1
EXTRA_OUTPUT = {"body", "html", "type"}
ALL = "*"  # populate every relation


@dataclass(frozen=True)
class FilterLimits:
    """The most one list's filter may hold: conditions, and values in one $in or $nin."""

    conditions: int = MAX_CONDITIONS
    values: int = MAX_VALUES


def filter_limits(site: Site) -> FilterLimits:
    """vellum.yml's limits.max_conditions and limits.max_values, typed (the schema checks them)."""
    section = site.setting("limits")
    return FilterLimits(section.max_conditions, section.max_values)


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


def check_filters(
    filters: Iterable[Filter | FilterGroup], limits: FilterLimits, param: str = "filter"
) -> None:
    """Hold built filters to the limits as REST holds its parameters: each condition counts
    one and one more per relation its path goes through; each $in or $nin its values."""
    count = 0
    pending = list(filters)
    while pending:
        item = pending.pop()
        if isinstance(item, FilterGroup):
            pending.extend(item.items)
            continue
        count += len(item.path)
        if item.op in SET_OPERATORS:
            check_values(item.param, len(item.value), limits)
    check_conditions(param, count, limits)


@dataclass(frozen=True)
class ListQuery:
    """What to list and how to show each record; list_query(), search_query() and
    content_query() build it checked (ListQuery(audience=…) alone shows records whole)."""

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


# -- building -----------------------------------------------------------------------
def list_query(
    catalog: Catalog,
    model: str,
    *,
    filters: Iterable[Filter | FilterGroup] = (),
    sort: Iterable[tuple[str, bool]] = (),
    limit: int | None = None,
    offset: int | None = None,
    fields: str | Iterable[str] | None = None,
    populate: str | Iterable[str] = (),
    q: str | None = None,
    locale: str | None = None,
    audience: Audience,
) -> ListQuery:
    """A checked query of one model's records; a mistake is a 400 naming what is wrong.

    filters: made with make_filter (or FilterGroups of them); sort: (field, descending)
    pairs (sort_keys reads "-views,title"); limit and offset: None for 20 and 0; fields: the
    fields to show besides id and type (None: all); populate: relations (and media fields) to
    embed, or "*" for all of them; q: full-text words; locale: one the site declares.
    """
    known = model_fields(catalog, model)
    return ListQuery(
        filters=tuple(filters),
        sort=check_sort(known, sort),
        **window(catalog, limit, offset, q, locale),
        fields=check_fields(model, known, fields),
        populate=check_populate(catalog, model, populate),
        audience=audience,
    )


def search_query(
    catalog: Catalog,
    q: str | None,
    *,
    limit: int | None = None,
    offset: int | None = None,
    locale: str | None = None,
    audience: Audience,
) -> ListQuery:
    """Paging, locale and the words of a search across models (words are required)."""
    if not (q or "").strip():
        raise InvalidParameter("q", "a search needs q=<words>")
    return ListQuery(**window(catalog, limit, offset, q, locale), audience=audience)


def window(
    catalog: Catalog, limit: int | None, offset: int | None, q: str | None, locale: str | None
) -> dict[str, Any]:
    """Paging, words and locale as every list checks them (ListQuery's keyword arguments)."""
    return {
        "limit": DEFAULT_LIMIT if limit is None else check_int("limit", limit, 0, MAX_LIMIT),
        "offset": 0 if offset is None else check_int("offset", offset, 0, MAX_OFFSET),
        "q": (q or "").strip() or None,
        "locale": check_locale(catalog, locale),
    }


def check_int(name: str, value: Any, low: int, high: int) -> int:
    """An integer within bounds, else a 400 naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(name, f"expected an integer, got {str(value)[:40]!r}")
    if not low <= value <= high:
        raise InvalidParameter(name, f"must be between {low} and {high}, got {value}")
    return value


def check_locale(catalog: Catalog, locale: str | None) -> str | None:
    """A locale the site declares (400 otherwise), or None."""
    if not locale:
        return None
    locales = catalog.site.locales
    if locales and locale not in locales:
        raise InvalidParameter(
            "locale", f"unknown locale {locale!r}; this site has {', '.join(locales)}"
        )
    return locale


def check_sort(
    fields: Mapping[str, Field], keys: Iterable[tuple[str, bool]]
) -> tuple[tuple[str, bool], ...]:
    """Sort keys checked against the fields: known, and of a type that orders."""
    checked: dict[str, bool] = {}
    for name, desc in keys:
        f = fields.get(name) or SYSTEM.get(name)
        if f is None:
            raise InvalidParameter("sort", f"unknown field {name!r}")
        if f.type in {"list", "object"} or (f.type == "relation" and f.many):
            raise InvalidParameter("sort", f"cannot sort by {name!r} ({f.type})")
        # A field named again cannot change the order, only cost another pass.
        checked.setdefault(name, bool(desc))
    return tuple(checked.items())


def check_fields(
    model: str, fields: Mapping[str, Field], names: str | Iterable[str] | None
) -> tuple[str, ...] | None:
    """The fields to show, each one the record has (None: all of them)."""
    if names is None:
        return None
    names = _names(names)
    for name in names:
        if name not in fields and name not in SYSTEM and name not in EXTRA_OUTPUT:
            raise InvalidParameter("fields", f"unknown field {name!r} in {model}")
    return names


def check_populate(catalog: Catalog, model: str, names: str | Iterable[str]) -> tuple[str, ...]:
    """The relations and media fields to embed, each once; "*" alone stands for all of them."""
    names = tuple(dict.fromkeys(_names(names)))
    if not names:
        return ()
    relations = [f.name for f in catalog.fields[model].values() if f.type in ("relation", "media")]
    if names == (ALL,):
        return tuple(relations)
    for name in names:
        if name not in relations:
            known = ", ".join(relations) or "none"
            raise InvalidParameter("populate", f"{name!r} is not a relation of {model} ({known})")
    return names


# -- the text forms REST, GraphQL and the CLI share ---------------------------------
def sort_keys(text: str | None) -> tuple[tuple[str, bool], ...]:
    """`-publishedAt,title` (or `publishedAt:desc,title`) → ((field, descending), …)."""
    if not text:
        return ()
    keys = []
    for part in text.split(","):
        part = part.strip()
        desc = part.startswith("-")
        name = part.lstrip("-+")
        if ":" in name:
            name, _, direction = name.partition(":")
            desc = direction.lower() == "desc"
        keys.append((name, desc))
    return tuple(keys)


def comma_list(text: str | None) -> tuple[str, ...] | None:
    """`title, slug` → ("title", "slug"); None when there is no text at all."""
    if not text:
        return None
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Names given as one string or several."""
    return (value,) if isinstance(value, str) else tuple(value or ())
