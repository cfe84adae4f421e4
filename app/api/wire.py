"""The v1 wire format at /api/v1: each record a resource `{"id", "type", "attributes"}` and
a `timestamp` in `meta`; requests may come wrapped the same way.

The views answer once, flat, as /api does; the answers listed in SHAPES are reshaped after
the view. So both formats share one code path, and an ETag (set on the flat answer) names
the data, not the second the answer was made in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Flask, Response, request

from vellum.errors import PreconditionFailed

V1 = "/api/v1"


@dataclass(frozen=True)
class Shape:
    """How one endpoint's answer becomes v1: one resource, a list of them, or a sync."""

    form: str  # "one", "many" or "sync"
    type: str | None = None  # the resource type when the record has no `type` of its own
    id_key: str = "id"
    type_key: str = "type"
    links: bool = False  # `url`s to /api/… point at /api/v1/… instead


ONE, MANY, SYNC = Shape("one"), Shape("many"), Shape("sync")
MEDIA, MEDIA_LIST = Shape("one", "media"), Shape("many", "media")
USER, USER_LIST = Shape("one", "user"), Shape("many", "user")
KEY, KEY_LIST = Shape("one", "key"), Shape("many", "key")

# Every v1 answer that carries records, by endpoint. Others (sign-in tokens, diffs, status,
# webhooks, OAuth apps, deliveries) are the same under both paths.
SHAPES: dict[str, Shape] = {
    "api_v1.list_records": MANY,
    "api_v1.get_one": ONE,
    "api_v1.models": Shape("many", "model", id_key="name"),
    "api_v1.search": Shape("many", links=True),
    "writes_v1.create": ONE,
    "writes_v1.replace": ONE,
    "writes_v1.patch": ONE,
    "content_v1.list_content": MANY,
    "content_v1.get_content": ONE,
    "content_v1.create_content": ONE,
    "content_v1.replace_content": ONE,
    "content_v1.patch_content": ONE,
    "history_v1.sync_records": SYNC,
    "history_v1.versions": Shape("many", "version", id_key="version"),
    "history_v1.at_version": ONE,
    "history_v1.restore": ONE,
    "media_v1.upload": MEDIA,
    "media_v1.upload_multiple": MEDIA_LIST,
    "media_v1.list_media": MEDIA_LIST,
    "media_v1.get_media": MEDIA,
    "media_v1.update_media": MEDIA,
    "accounts_v1.me": Shape("one", type_key="kind"),
    "accounts_v1.list_users": USER_LIST,
    "accounts_v1.create_user": USER,
    "accounts_v1.get_user": USER,
    "accounts_v1.update_user": USER,
    "accounts_v1.list_keys": KEY_LIST,
    "accounts_v1.create_key": KEY,
    "accounts_v1.get_key": KEY,
    "accounts_v1.rotate_key": KEY,
    "accounts_v1.revoke_key": KEY,
}


def init_app(app: Flask) -> None:
    """Reshape the answers listed in SHAPES when they succeed."""
    app.after_request(_reshape)


def timestamp() -> str:
    """Now, in UTC to the second, as the guide writes it: 2023-01-01T00:00:00Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resource(record: dict, shape: Shape) -> dict:
    """A flat record as `{"id", "type", "attributes"}`: its id and type (a model name, or
    what the endpoint serves), and every other key as it is, relations included."""
    ident = record.get(shape.id_key)
    kind = record.get(shape.type_key) if shape.type_key in record else shape.type
    dropped = {"id", "type", shape.type_key}
    attributes = {k: v for k, v in record.items() if k not in dropped}
    if shape.links and isinstance(attributes.get("url"), str):
        attributes["url"] = v1_path(attributes["url"])
    return {"id": None if ident is None else str(ident), "type": kind, "attributes": attributes}


def document(payload: dict, shape: Shape) -> dict:
    """A flat answer `{"data", "meta"}` in v1: resources, and meta with its timestamp."""
    data, meta = payload.get("data"), dict(payload.get("meta") or {})
    if shape.form == "one":
        data = resource(data, shape)
    elif shape.form == "many":
        data = [resource(r, shape) for r in data]
        meta = {**_paging(len(data)), **meta}
    else:  # a sync: what was created and updated are records; what was deleted, ids
        data = {
            k: v if k == "deleted" else [resource(r, shape) for r in v] for k, v in data.items()
        }
    return {"data": data, "meta": {**meta, "timestamp": timestamp()}}


def _paging(count: int) -> dict:
    """The paging of a list that is never paged: all of it at once."""
    return {"total": count, "limit": count, "offset": 0, "hasMore": False}


def v1_path(path: str) -> str:
    """/api/post/alpha → /api/v1/post/alpha."""
    if path.startswith("/api/") and not path.startswith(V1 + "/"):
        return V1 + path[len("/api") :]
    return path


def _reshape(response: Response) -> Response:
    shape = SHAPES.get(request.endpoint or "")
    if shape is None or response.status_code not in (200, 201) or not response.is_json:
        return response
    body = response.get_data()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:  # a lone surrogate, sent escaped (see json_response)
        payload = json.loads(body)
    response.set_data(_encode(document(payload, shape)))
    if "Location" in response.headers:
        response.headers["Location"] = v1_path(response.headers["Location"])
    return response


def _encode(payload: Any) -> bytes:
    try:
        return orjson.dumps(payload)
    except TypeError:
        return json.dumps(payload, ensure_ascii=True).encode()


def unwrap(body: Any) -> Any:
    """A v1 request `{"data": {"id"?, "type", "attributes": {…}}, "meta"}` as the
    `{"data": {…fields}, "meta"}` every write reads; any other body as it is. Without its
    `type` it is not a resource: it may be a record whose field is called `attributes`.
    Only writes of resources call this: a custom event's `data` is the sender's own."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
        return body
    if "type" not in data or set(data) - {"id", "type", "attributes"}:
        return body
    fields = {**data["attributes"], **{k: data[k] for k in ("id", "type") if k in data}}
    return {**body, "data": fields}


def expected_versions(version: str | None) -> list[str] | None:
    """The versions a write may replace: If-Match's, narrowed by the body's meta.version
    (a record version); both must hold, so two that name different versions are a 412."""
    header = request.if_match
    sent = None if not header else ["*"] if header.star_tag else list(header.as_set())
    if version is None:
        return sent
    if sent is not None and "*" not in sent and version not in sent:
        raise PreconditionFailed(
            f"If-Match and meta.version name different versions ({sent[0]} and {version})"
        )
    return [version]
