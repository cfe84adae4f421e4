"""The /api/v1 document's answers: the flat schemas /api describes, made into the resources
`vellum.api.wire` makes of the answers (`{"id", "type", "attributes"}`, `meta.timestamp`).

A record schema `X` becomes the component `Attributes.X` (X without `id` and `type`), so each
is written once however many operations answer it.
"""

from __future__ import annotations

import copy

from vellum.api.openapi.common import (
    BOOLEAN,
    INTEGER,
    NULLABLE_STRING,
    STRING,
    Schema,
    array,
    obj,
    ref,
)
from vellum.api.wire import Shape

SCHEMAS = "#/components/schemas/"
TIMESTAMP: Schema = {
    "type": "string",
    "format": "date-time",
    "description": "When the answer was made (UTC, to the second).",
}
PAGING = {"total": INTEGER, "limit": INTEGER, "offset": INTEGER, "hasMore": BOOLEAN}


def answers(op: Schema, shape: Shape, schemas: dict[str, Schema]) -> Schema:
    """The operation with its 200 and 201 JSON answers as v1 documents."""
    op = copy.deepcopy(op)
    for status in ("200", "201"):
        content = op.get("responses", {}).get(status, {}).get("content", {})
        answer = content.get("application/json")
        if answer is not None:
            answer["schema"] = document(answer["schema"], shape, schemas)
    return op


def document(schema: Schema, shape: Shape, schemas: dict[str, Schema]) -> Schema:
    """`{"data", "meta"}` with the data as resources and a timestamp in meta."""
    props = _resolved(schema, schemas)["properties"]
    data = props["data"]
    if shape.form == "one":
        data = resource(data, shape, schemas)
    elif shape.form == "many":
        data = array(resource(data["items"], shape, schemas))
    else:
        data = _sync(_resolved(data, schemas), shape, schemas)
    meta = _meta(props.get("meta"), shape.form == "many", schemas)
    return obj({"data": data, "meta": meta}, ("data", "meta"))


def resource(schema: Schema, shape: Shape, schemas: dict[str, Schema]) -> Schema:
    """A flat record's schema as `{"id", "type", "attributes"}`."""
    for choice in ("anyOf", "oneOf"):
        if choice in schema:
            return {choice: [resource(s, shape, schemas) for s in schema[choice]]}
    flat = _resolved(schema, schemas)
    kind = flat.get("properties", {}).get(shape.type_key)
    if kind is None:
        kind = {"const": shape.type} if shape.type else NULLABLE_STRING
    ident = STRING if shape.id_key in flat.get("required", []) else NULLABLE_STRING
    return obj(
        {"id": ident, "type": kind, "attributes": _attributes(schema, shape, schemas)},
        ("id", "type", "attributes"),
        additionalProperties=False,
    )


def _attributes(schema: Schema, shape: Shape, schemas: dict[str, Schema]) -> Schema:
    """The record's schema less `id` and its type, as a component when it is one."""
    name = schema["$ref"].removeprefix(SCHEMAS) if "$ref" in schema else None
    if name is not None and f"Attributes.{name}" in schemas:
        return ref(f"Attributes.{name}")
    dropped = {"id", "type", shape.type_key}
    attributes = copy.deepcopy(_resolved(schema, schemas))
    for key in dropped:
        attributes.get("properties", {}).pop(key, None)
    required = [k for k in attributes.get("required", []) if k not in dropped]
    attributes.pop("required", None)
    if required:
        attributes["required"] = required
    if name is None:
        return attributes
    schemas[f"Attributes.{name}"] = attributes
    return ref(f"Attributes.{name}")


def _sync(data: Schema, shape: Shape, schemas: dict[str, Schema]) -> Schema:
    """A sync's created and updated records as resources; deleted ones stay ids."""
    props = dict(data["properties"])
    for kind in ("created", "updated"):
        props[kind] = array(resource(props[kind]["items"], shape, schemas))
    return {**data, "properties": props}


def _meta(meta: Schema | None, paged: bool, schemas: dict[str, Schema]) -> Schema:
    """The answer's meta with `timestamp`; a list's with its paging, paged or not."""
    meta = copy.deepcopy(_resolved(meta or {"type": "object"}, schemas))
    props = meta.setdefault("properties", {})
    required = meta.get("required", [])
    if paged:
        props.update({k: v for k, v in PAGING.items() if k not in props})
        required = [*required, *(k for k in PAGING if k not in required)]
    props["timestamp"] = TIMESTAMP
    meta["required"] = [*required, "timestamp"]
    return meta


def _resolved(schema: Schema, schemas: dict[str, Schema]) -> Schema:
    if "$ref" in schema:
        return schemas[schema["$ref"].removeprefix(SCHEMAS)]
    return schema
