"""What the site's models make of the document: a schema per model (records as read,
bodies as written) and the parameters of its lists, fields typed as declared or inferred."""

from __future__ import annotations

import re

from vellum.api.openapi.common import (
    DATETIME,
    NULLABLE_STRING,
    STRING,
    Schema,
    array,
    nullable,
    obj,
    ref,
)
from vellum.query.filters import OPERATORS, ORDER_OPERATORS, SYSTEM, TEXT_OPERATORS
from vellum.query.lists import EXTRA_OUTPUT, MAX_LIMIT, MAX_OFFSET
from vellum.site.models import Field, Model
from vellum.site.site import Site
from vellum.store.catalog import Catalog
from vellum.store.writes import ALLOWED_EXTRA, ID_PATTERN

# JSON Schema formats of the field types that have one.
FORMATS = {"date": "date", "datetime": "date-time"}
NO_TEXT_OPERATORS = {"integer", "number", "boolean"}
NO_ORDER_OPERATORS = {"boolean", "object"}


def record_name(model: str) -> str:
    """A model's component names hold a dot, so none is ever a shared schema's name."""
    return f"Record.{model}"


def value_schema(f: Field, inferred: bool = False) -> Schema:
    """A field's value as stored and written: its type, not null. A relation is its id
    (ids for many), a media field the uploaded file's id (or an https:// URL)."""
    kind = f.type
    if kind in ("string", "text"):
        return dict(STRING)
    if kind == "markdown":
        return {"type": "string", "contentMediaType": "text/markdown"}
    if kind == "integer":
        return {"type": "integer", "format": "int64"}
    if kind == "number":
        return {"type": "number"}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind in FORMATS:
        return {"type": "string", "format": FORMATS[kind]}
    if kind == "enum":
        return {"type": "string", "enum": list(f.values)}
    if kind == "list":
        return array(_item_schema(f.of) if f.of else {})
    if kind == "object":
        # Inferred from values of several kinds, an "object" field holds any of them.
        return {} if inferred else {"type": "object"}
    if kind == "relation":
        return array(dict(STRING)) if f.many else dict(STRING)
    if kind == "media":
        return dict(STRING)
    raise ValueError(f"the OpenAPI document has no schema for the field type {kind!r}")


def _item_schema(kind: str) -> Schema:
    """A list's items; relations and media in a list are ids, enums without values text."""
    if kind in ("relation", "media", "enum"):
        return dict(STRING)
    return value_schema(Field("item", kind))


def read_schema(f: Field, inferred: bool) -> Schema:
    """A field as a record shows it: null when unset; relations and media embedded when
    populated; a relation to a draft is null (or left out of the list) for readers of
    published records, whatever the model requires."""
    if f.type == "relation":
        embedded = {"oneOf": [dict(STRING), ref(record_name(f.to))]}
        return array(embedded) if f.many else nullable(embedded)
    if f.type == "media":
        return nullable({"oneOf": [dict(STRING), ref("Media")]})
    schema = value_schema(f, inferred)
    if f.type == "list" or f.required or f.default is not None or not schema:
        return schema  # a field with a default is never unset
    return nullable(schema)


def record_schema(model: Model, fields: dict[str, Field]) -> Schema:
    """A record as the API shows it: id, type and locale, the fields, the Markdown body and
    its HTML, then the dates and version. `fields=` leaves some out, so only id and type
    are sure to be there; undeclared keys in a file are shown as they are."""
    props: dict[str, Schema] = {
        "id": dict(STRING),
        "type": {"const": model.name, "description": "The record's model."},
        "locale": NULLABLE_STRING,
    }
    for name, f in fields.items():
        props[name] = {**read_schema(f, model.inferred), "description": _about(f)}
    if model.format == "markdown":
        props["body"] = {"type": "string", "description": "The Markdown body."}
        props["html"] = {"type": "string", "description": "The body rendered (raw HTML escaped)."}
    props["createdAt"] = {**DATETIME, "description": "The file's first commit (or front matter)."}
    props["updatedAt"] = {**DATETIME, "description": "The file's last commit (or front matter)."}
    props["version"] = {"type": "string", "description": "The file's Git blob sha."}
    kind = "inferred from its files" if model.inferred else "declared in vellum.yml"
    return obj(props, ("id", "type"), title=model.name, description=f"A {model.name} ({kind}).")


def _about(f: Field) -> str:
    """What vellum.yml says of a field, in words."""
    words = [f.type]
    if f.type == "list" and f.of:
        words = [f"list of {f.of}"]
    if f.type == "relation":
        words = [f"relation to {'many ' if f.many else ''}{f.to}"]
    words += [w for w, on in (("required", f.required), ("unique", f.unique)) if on]
    if f.default is not None:
        words.append(f"default {f.default!r}")
    return ", ".join(words)


def input_schema(model: Model, partial: bool) -> Schema:
    """A write's fields (flat). A declared model takes only its fields (unknown ones are a
    422); `partial` (PATCH) sends only what changes, null removing a field."""
    props: dict[str, Schema] = {
        "id": {
            "type": "string",
            "pattern": ID_PATTERN.pattern,
            "description": "The new record's id; else its slug, else its title slugified.",
        },
        "locale": {**STRING, "description": "The locale to write (as meta.locale)."},
    }
    required = []
    for name, f in model.fields.items():
        schema = value_schema(f)
        needed = f.required and f.default is None
        props[name] = {**(schema if needed else nullable(schema)), "description": _about(f)}
        if needed and not partial:
            required.append(name)
    if model.format == "markdown":
        props["body"] = {**STRING, "description": "The Markdown body."}
    for name in sorted(ALLOWED_EXTRA):
        props[name] = {**DATETIME, "description": "Set the date instead of Git's."}
    for name in ("type", "version", "html"):
        props[name] = {"readOnly": True, "description": "Ignored: a record may be sent back."}
    extra = {} if model.inferred else {"additionalProperties": False}
    return obj(props, tuple(required), **extra)


def write_body(name: str, description: str) -> Schema:
    """A write's body: the fields flat, {"data": fields, "meta": {locale, message, version}},
    or the fields as a v1 resource."""
    envelope = obj(
        {"data": ref(name), "meta": ref("WriteMeta")}, ("data",), additionalProperties=False
    )
    schema = {"anyOf": [ref(name), envelope, resource_body(name)]}
    return {
        "description": description,
        "required": True,
        "content": {"application/json": {"schema": schema}},
    }


def resource_body(name: str) -> Schema:
    """{"data": {"id", "type", "attributes": fields}, "meta"}: a v1 resource, written."""
    resource = obj(
        {"id": STRING, "type": STRING, "attributes": ref(name)},
        ("type", "attributes"),
        additionalProperties=False,
    )
    return obj({"data": resource, "meta": ref("WriteMeta")}, ("data",), additionalProperties=False)


def write_meta() -> Schema:
    return obj(
        {
            "locale": {**STRING, "description": "Write `id.<locale>.md` (a site's locale)."},
            "message": {**STRING, "description": "The commit message (at most 64 KB)."},
            "version": {
                "type": ["string", "number"],
                "description": "A record version (its blob sha) guards the write as If-Match"
                " does; any other value is the client's own and guards nothing.",
            },
        },
        additionalProperties=False,
        description="About a write: which locale's file, the commit message, and the version"
        " it replaces.",
    )


def model_schemas(site: Site, catalog: Catalog) -> dict[str, Schema]:
    """Per model: the record, its list, and the bodies of its writes."""
    out: dict[str, Schema] = {}
    for name, model in sorted(site.models.items()):
        fields = catalog.fields.get(name, model.fields)
        out[record_name(name)] = record_schema(model, fields)
        out[f"Input.{name}"] = input_schema(model, partial=False)
        out[f"Patch.{name}"] = input_schema(model, partial=True)
    return out


# -- the parameters of a list -------------------------------------------------------------
def query(name: str, schema: Schema, description: str, **extra) -> Schema:
    """A query parameter."""
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


def comma_list(name: str, items: Schema, description: str) -> Schema:
    """A comma list (`a,b`): an array serialised as form, not exploded."""
    return query(name, array(items), description, style="form", explode=False)


def paging(default: int = 20, high: int = MAX_LIMIT) -> list[Schema]:
    return [
        query(
            "limit",
            {"type": "integer", "minimum": 0, "maximum": high, "default": default},
            f"How many (at most {high}; 0 answers only meta).",
        ),
        query(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            "How many to skip.",
        ),
    ]


def locale_parameter(site: Site, description: str) -> Schema:
    schema = {"type": "string", "enum": list(site.locales)} if site.locales else dict(STRING)
    return query("locale", schema, description)


def operators_of(f: Field) -> list[str]:
    """The operators a field's filter takes: no text operators on numbers and booleans,
    no order on booleans and objects (the query layer refuses those with a 400)."""
    kind = f.of if f.type == "list" and f.of else f.type
    return [
        op
        for op in OPERATORS
        if not (op in TEXT_OPERATORS and kind in NO_TEXT_OPERATORS)
        and not (op in ORDER_OPERATORS and kind in NO_ORDER_OPERATORS)
    ]


def operand_schema(f: Field) -> Schema:
    """One value a filter compares with, read with the field's type (a relation: an id)."""
    kind = f.of if f.type == "list" and f.of else f.type
    if kind in ("integer", "number", "boolean", "date", "datetime", "enum"):
        return value_schema(Field(f.name, kind, values=f.values))
    return dict(STRING)


def filter_parameters(fields: dict[str, Field]) -> list[Schema]:
    """`filter[field]` and `filter[field][$op]`, one parameter per field and operator."""
    out = []
    for name, f in fields.items():
        operand = operand_schema(f)
        out.append(query(f"filter[{name}]", operand, f"{name} equals ($eq)."))
        for op in operators_of(f):
            param = f"filter[{name}][{op}]"
            if op in ("$in", "$nin"):
                out.append(comma_list(param, operand, f"{name} {_OP_TEXT[op]} (a comma list)."))
            elif op in TEXT_OPERATORS:
                out.append(query(param, dict(STRING), f"{name} {_OP_TEXT[op]} (any case)."))
            else:
                out.append(query(param, operand, f"{name} {_OP_TEXT[op]}."))
    return out


_OP_TEXT = {
    "$eq": "equals",
    "$ne": "differs from",
    "$gt": "is greater than",
    "$gte": "is at least",
    "$lt": "is less than",
    "$lte": "is at most",
    "$in": "is one of",
    "$nin": "is none of",
    "$contains": "contains",
    "$startsWith": "starts with",
    "$endsWith": "ends with",
}


def sortable(fields: dict[str, Field]) -> list[str]:
    """Names a list sorts by: not lists, objects or many-relations."""
    return [
        name
        for name, f in fields.items()
        if f.type not in ("list", "object") and not (f.type == "relation" and f.many)
    ]


def sort_parameter(names: list[str]) -> Schema:
    choice = "|".join(re.escape(n) for n in names)
    item = {"type": "string", "pattern": f"^[-+]?(?:{choice})(?::(?:asc|desc))?$"}
    return comma_list("sort", item, "Fields to sort by, `-` for descending: `-publishedAt,title`.")


def list_parameters(site: Site, catalog: Catalog, model: str) -> list[Schema]:
    """Everything a model's list takes: filters, sort, populate, fields, q, locale, paging."""
    fields = catalog.fields.get(model, site.models[model].fields)
    filterable = {**{k: v for k, v in SYSTEM.items()}, **fields}
    relations = [n for n, f in fields.items() if f.type in ("relation", "media")]
    shown = list(dict.fromkeys([*fields, *SYSTEM, *sorted(EXTRA_OUTPUT)]))
    params = filter_parameters(filterable)
    params.append(sort_parameter(sortable(filterable)))
    params.append(
        comma_list(
            "populate",
            {"type": "string", "enum": [*relations, "*"]},
            "Relations and media to embed; `*` alone embeds them all.",
        )
    )
    params.append(
        comma_list(
            "fields",
            {"type": "string", "enum": shown},
            "Fields to return besides id and type.",
        )
    )
    params.append(query("q", dict(STRING), "Full-text words within the model (all must match)."))
    params.append(locale_parameter(site, "A locale's variant of each record (else the default)."))
    return params + paging()


def record_parameters(site: Site, catalog: Catalog, model: str) -> list[Schema]:
    """What GET of one record takes: populate, fields and locale."""
    return [
        p for p in list_parameters(site, catalog, model) if p["name"] in {"populate", "fields"}
    ] + [locale_parameter(site, "The locale's variant (else the default locale's).")]
