"""How a view is described as an OpenAPI operation: its scope, parameters, body and
answers, and the pieces operations share."""

from __future__ import annotations

from dataclasses import dataclass

from vellum.api.openapi.common import (
    STRING,
    Schema,
    empty_answer,
    errors,
    security,
)
from vellum.api.openapi.records import locale_parameter
from vellum.site.site import Site
from vellum.store.catalog import Catalog

NO_AUTH = "no authentication"  # a scope meaning: nobody signs in for this
SIGNED_IN = None  # a scope meaning: anyone signed in
MARKDOWN_AND_JSON = "The body is the record's fields, flat or as {data, meta}."


@dataclass(frozen=True)
class Ctx:
    """What describing one operation needs: the site, its fields, which model and method."""

    site: Site
    catalog: Catalog
    method: str
    public: bool  # auth.public_read: anonymous callers read published records
    model: str | None = None


def operation(
    ctx: Ctx,
    summary: str,
    tag: str,
    scope: str | None,
    responses: dict[str, Schema],
    *,
    params: list[Schema] | None = None,
    body: Schema | None = None,
    description: str | None = None,
    fails: tuple[int, ...] = (),
) -> Schema:
    """One operation; `fails` are the statuses it may answer besides 401 and 429 (and 403
    wherever a scope is needed)."""
    out: Schema = {"tags": [tag], "summary": summary}
    if description:
        out["description"] = description
    if scope != NO_AUTH:
        out["security"] = security(scope, ctx.public and scope == "read")
        fails = (*fails, 403) if scope else fails
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = body
        fails = (*fails, 400, 413)
    out["responses"] = dict(sorted({**errors(*fails), **responses}.items()))
    return out


def json_body(schema: Schema, description: str = "", required: bool = True) -> Schema:
    return {
        "description": description,
        "required": required,
        "content": {"application/json": {"schema": schema}},
    }


def if_match() -> Schema:
    return {
        "name": "If-Match",
        "in": "header",
        "schema": STRING,
        "description": 'The version you read ("<blob sha>"): a stale one is a 412.',
    }


def if_none_match() -> Schema:
    return {
        "name": "If-None-Match",
        "in": "header",
        "schema": STRING,
        "description": "An ETag you hold: unchanged, the answer is a 304 without a body.",
    }


def write_locale(ctx: Ctx) -> Schema:
    return locale_parameter(ctx.site, "The locale's file to write (else meta.locale).")


NOT_MODIFIED = {"304": empty_answer("Unchanged since the ETag sent (If-None-Match).")}
