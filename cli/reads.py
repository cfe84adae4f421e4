"""Commands that read records: search, list, get. Each builds a typed query from its options
and runs it through the query layer, as the API does, for the repository's owner (drafts
included)."""

from __future__ import annotations

import re

import click
import orjson

from vellum.cli.common import _echo_json, json_option, with_site
from vellum.query.filters import Filter, make_filter
from vellum.query.lists import (
    check_filters,
    comma_list,
    limits_in_force,
    list_query,
    search_query,
    sort_keys,
)
from vellum.query.render import to_json
from vellum.query.run import get_record
from vellum.services import Vellum
from vellum.site.audience import EDITORS
from vellum.store.catalog import Catalog

# `views[$gt]`, `author.name`, `author[name][$eq]`: a field path, then perhaps an operator.
FILTER_OPTION = re.compile(r"([^\[\]]+)((?:\[[^\[\]]+\])*)")


@click.command()
@click.argument("query")
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option("--limit", type=int, default=10, show_default=True)
@click.option("--locale", default=None)
@json_option
@with_site
def search(vellum: Vellum, query: str, models, limit: int, locale, as_json: bool) -> None:
    """Full-text search across models."""
    parsed = search_query(vellum.catalog(), query, limit=limit, locale=locale, audience=EDITORS)
    page, total = vellum.search(
        parsed.q,
        limit=parsed.limit,
        offset=0,
        locale=parsed.locale,
        audience=parsed.audience,
        models=list(models) or None,
    )
    if as_json:
        rows = [{"id": r.id, "type": r.model, "score": s, "snippet": sn} for r, s, sn in page]
        _echo_json({"data": rows, "meta": {"total": total}})
        return
    for rec, score, _ in page:
        title = rec.data.get("title") or rec.data.get("name") or rec.id
        click.echo(f"{rec.model}/{rec.id}\t{score:.2f}\t{title}")
    click.echo(f"{total} match(es)", err=True)


@click.command(name="list")
@click.argument("model")
@click.option("--filter", "filters", multiple=True, help="field=value or field[$op]=value.")
@click.option("--sort", default=None, help="e.g. -publishedAt,title")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@click.option("--locale", default=None)
@click.option("--fields", default=None, help="Comma-separated fields to show.")
@click.option("--populate", default=None, help="Relations to embed, or *.")
@click.option("-q", "q", default=None, help="Full-text words within the model.")
@json_option
@with_site
def list_command(
    vellum: Vellum,
    model: str,
    filters,
    sort,
    limit: int,
    offset: int,
    locale,
    fields,
    populate,
    q,
    as_json: bool,
) -> None:
    """List records of MODEL, filtered, sorted and paginated like GET /api/MODEL."""
    catalog = vellum.catalog()
    conditions = [filter_option(catalog, model, item) for item in filters]
    check_filters(conditions, limits_in_force(catalog.site))
    query = list_query(
        catalog,
        model,
        filters=conditions,
        sort=sort_keys(sort),
        fields=comma_list(fields),
        populate=comma_list(populate) or (),
        limit=limit,
        offset=offset,
        q=q,
        locale=locale,
        audience=EDITORS,
    )
    page = vellum.list(model, query)
    rows = [to_json(catalog, r, query) for r in page.records]
    if as_json:
        _echo_json({"data": rows, "meta": page.meta})
        return
    for row in rows:
        title = row.get("title") or row.get("name") or ""
        click.echo(f"{row['id']}\t{title}")
    click.echo(f"{len(rows)} of {page.total}", err=True)


def filter_option(catalog: Catalog, model: str, item: str) -> Filter:
    """`views[$gt]=100` as a checked Filter; errors name it as REST would, filter[views][$gt]."""
    key, sep, value = item.partition("=")
    found = FILTER_OPTION.fullmatch(key.strip()) if sep else None
    if found is None:
        raise click.BadParameter(
            f"expected field=value or field[$op]=value, got {item!r}", param_hint="--filter"
        )
    path = [found[1], *found[2][1:-1].split("][")] if found[2] else [found[1]]
    op = path.pop() if len(path) > 1 and path[-1].startswith("$") else "$eq"
    return make_filter(catalog, model, path, op, value, f"filter[{found[1]}]{found[2]}")


@click.command()
@click.argument("model")
@click.argument("record_id")
@click.option("--locale", default=None)
@click.option("--populate", default=None)
@json_option
@with_site
def get(vellum: Vellum, model: str, record_id: str, locale, populate, as_json: bool) -> None:
    """Show one record."""
    catalog = vellum.catalog()
    shown = list_query(
        catalog, model, populate=comma_list(populate) or (), locale=locale, audience=EDITORS
    )
    rec = get_record(catalog, model, record_id, shown.locale, shown.audience)
    row = to_json(catalog, rec, shown)
    if as_json:
        _echo_json({"data": row})
        return
    for key, value in row.items():
        if key not in {"body", "html"}:
            click.echo(
                f"{key}: {orjson.dumps(value).decode() if not isinstance(value, str) else value}"
            )
    if row.get("body"):
        click.echo("")
        click.echo(row["body"])


COMMANDS = (search, list_command, get)
