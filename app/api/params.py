"""Query-string parameters as typed queries: `filter[field][$op]=v`, `sort`, `populate`,
`fields`, `q`, `locale` and `limit`/`offset` read here from text; the query layer checks them
against the model exactly as it checks GraphQL's arguments and the CLI's options."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from vellum.errors import InvalidParameter
from vellum.query.content import content_filter, content_query
from vellum.query.filters import SET_OPERATORS, Filter, check_operator, make_filter, model_fields
from vellum.query.lists import (
    MAX_OFFSET,
    FilterLimits,
    ListQuery,
    check_conditions,
    check_int,
    check_values,
    comma_list,
    limits_in_force,
    list_query,
    search_query,
    sort_keys,
)
from vellum.site.audience import Audience
from vellum.store.catalog import Catalog

Args = Mapping[str, list[str]]  # each parameter's name → its values, in order
FILTER_KEY = re.compile(r"^filters?((?:\[[^\[\]]+\])+)$")


def parse_list_query(catalog: Catalog, model: str, args: Args, audience: Audience) -> ListQuery:
    """GET /api/{model}'s parameters as a checked ListQuery."""
    model_fields(catalog, model)  # an unknown model is a 404 before any parameter is read
    filters = [
        _model_filter(catalog, model, key, parts, value)
        for key, parts, value in _filter_params(catalog, args)
    ]
    return list_query(
        catalog,
        model,
        filters=filters,
        sort=sort_keys(first_value(args, "sort")),
        limit=_int(args, "limit"),
        offset=_int(args, "offset"),
        fields=comma_list(first_value(args, "fields")),
        populate=comma_list(first_value(args, "populate")) or (),
        q=first_value(args, "q"),
        locale=first_value(args, "locale"),
        audience=audience,
    )


def parse_search_query(catalog: Catalog, args: Args, audience: Audience) -> ListQuery:
    """GET /api/search's paging, locale and words."""
    return search_query(
        catalog,
        first_value(args, "q"),
        limit=_int(args, "limit"),
        offset=_int(args, "offset"),
        locale=first_value(args, "locale"),
        audience=audience,
    )


def parse_content_query(catalog: Catalog, args: Args, audience: Audience) -> ListQuery:
    """GET /api/content's parameters (filter[type]=…, sort, limit, offset, q, locale)."""
    filters = []
    for key, parts, value in _filter_params(catalog, args):
        path, op = _operator(parts)
        if len(path) != 1:
            raise InvalidParameter(key, "expected filter[field] or filter[field][$op]")
        filters.append(content_filter(path[0], op, value, key))
    return content_query(
        catalog,
        filters=filters,
        sort=sort_keys(first_value(args, "sort")),
        limit=_int(args, "limit"),
        offset=_int(args, "offset"),
        q=first_value(args, "q"),
        locale=first_value(args, "locale"),
        audience=audience,
    )


def first_value(args: Args, name: str) -> str | None:
    """The last value a request gave for a parameter (?a=1&a=2 → "2"), or None."""
    values = args.get(name)
    return values[-1] if values else None


def parse_int(args: Args, name: str, default: int, low: int, high: int | None) -> int:
    """An integer parameter within bounds (high None: MAX_OFFSET), else a 400 naming it."""
    value = _int(args, name)
    return (
        default
        if value is None
        else check_int(name, value, low, MAX_OFFSET if high is None else high)
    )


def _int(args: Args, name: str) -> int | None:
    """An integer parameter's value, None when it is absent or empty."""
    raw = first_value(args, name)
    if raw is None or raw == "":
        return None
    if not re.fullmatch(r"[+-]?[0-9]{1,30}", raw.strip()):
        raise InvalidParameter(name, f"expected an integer, got {raw[:40]!r}")
    return int(raw)


def count_filters(args: Args) -> int:
    """The conditions among request parameters, counted as GraphQL's are: one per
    filter[…] value, and one more per relation its path goes through."""
    count = 0
    for key, values in args.items():
        match = FILTER_KEY.match(key)
        if match:
            parts = [p for p in match.group(1)[1:-1].split("][") if not p.startswith("$")]
            count += len(values) * max(1, sum(len(p.split(".")) for p in parts))
    return count


def _filter_params(catalog: Catalog, args: Args) -> Iterator[tuple[str, list[str], str]]:
    """(parameter, the parts between its brackets, one value) for each filter[…] value,
    held to the site's filter limits before any is read."""
    limits = limits_in_force(catalog.site)
    check_conditions("filter", count_filters(args), limits)
    for key, values in args.items():
        match = FILTER_KEY.match(key)
        if not match:
            if key.startswith("filter"):
                raise InvalidParameter(
                    key, "expected filter[field]=value or filter[field][$op]=value"
                )
            continue
        parts = match.group(1)[1:-1].split("][")
        for value in values:
            _check_size(key, parts, value, limits)
            yield key, parts, value


def _check_size(key: str, parts: list[str], value: str, limits: FilterLimits) -> None:
    """An $in or $nin of more values than the limit is refused before they are read."""
    if parts[-1] in SET_OPERATORS:
        check_values(key, value.count(",") + 1, limits)


def _operator(parts: list[str]) -> tuple[list[str], str]:
    """The bracketed parts before the operator, and the operator ($eq when none is given)."""
    if parts[-1].startswith("$"):
        return parts[:-1], parts[-1]
    return parts, "$eq"


def _model_filter(catalog: Catalog, model: str, key: str, parts: list[str], value: str) -> Filter:
    """filter[author.name][$op]=v (or filter[author][name]…) as a checked Filter."""
    path, op = _operator(parts)
    check_operator(op, key)
    if any(p.startswith("$") for p in path):
        raise InvalidParameter(key, "the operator must come last: filter[field][$op]=value")
    return make_filter(catalog, model, path, op, value, key)
