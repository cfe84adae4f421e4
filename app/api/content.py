"""REST for the model-agnostic content API: /api/content and /api/content/{id}[?type=]."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request

from vellum.api import wire
from vellum.api.envelope import json_object, json_response
from vellum.api.params import parse_content_query
from vellum.auth import access
from vellum.context import current_vellum
from vellum.query import content
from vellum.store import write_request, writes

# A static /content route: werkzeug matches it before the /<model:model> routes.
api_content = Blueprint("content", __name__)


def init_app(app: Flask) -> None:
    """Mount /api/content and /api/v1/content."""
    app.register_blueprint(api_content, url_prefix="/api")
    app.register_blueprint(api_content, url_prefix="/api/v1", name="content_v1")


def _authors() -> dict:
    return current_app.extensions.setdefault("vellum.content.authors", {})


def _shape(rec) -> dict:
    """A record as the caller may see it."""
    return content.to_content(current_vellum(), rec, access.current().audience, _authors())


@api_content.get("/content")
@access.require("read")
def list_content() -> Response:
    """Records of every model, filtered, sorted and paged as a model's list is."""
    v = current_vellum()
    audience = access.current().audience
    query = parse_content_query(v.catalog(), request.args.to_dict(flat=False), audience)
    page = content.list_content(v, query)
    return json_response({"data": [_shape(r) for r in page.records], "meta": page.meta})


@api_content.get("/content/<record_id>")
@access.require("read")
def get_content(record_id: str) -> Response:
    """One record by bare id (?type= when two models hold it)."""
    audience = access.current().audience
    rec = content.find(current_vellum().catalog(), record_id, request.args.get("type"), audience)
    return json_response({"data": _shape(rec), "meta": {}})


def _input() -> dict:
    # text=False: writes name the field of a value they cannot store themselves
    body = wire.unwrap(json_object(text=False))
    # {"data": ContentInput, "meta": {locale, message}}, or the ContentInput itself, whose
    # own locale and message count when meta does not say.
    envelope = set(body) <= {"data", "meta"} and isinstance(body.get("data"), dict)
    data = body["data"] if envelope else body
    meta = body.get("meta") if envelope and isinstance(body.get("meta"), dict) else {}
    write_request.record_version(meta.get("version"))  # a 422 if it is no version at all
    values = {
        **data,
        "locale": meta.get("locale") or data.get("locale") or request.args.get("locale"),
        "message": meta.get("message") or data.get("message"),
    }
    if values.get("type") == "content":  # a v1 resource's type here: no model in particular
        del values["type"]
    return values


def _expected_version() -> list[str] | None:
    """If-Match, and the body's meta.version when it names a record version."""
    meta = json_object(required=False, text=False).get("meta")
    version = meta.get("version") if isinstance(meta, dict) else None
    return wire.expected_versions(write_request.record_version(version))


@api_content.post("/content")
@access.require("write")
def create_content() -> Response:
    """A new record of `type` (default: the site's default_model)."""
    v, values = current_vellum(), _input()
    model = content.model_for_write(v, None, values.get("type"))
    author = access.commit_author(access.current())
    rec = writes.create(v, model, content.write_request(v, model, values), author)
    headers = {"Location": f"/api/content/{rec.id}?type={model}"}
    return json_response({"data": _shape(rec), "meta": {}}, 201, headers)


@api_content.put("/content/<record_id>")
@access.require("write")
def replace_content(record_id: str) -> Response:
    """Replace a record's fields."""
    return _update(record_id, merge=False)


@api_content.patch("/content/<record_id>")
@access.require("write")
def patch_content(record_id: str) -> Response:
    """Change only the fields sent."""
    return _update(record_id, merge=True)


def _update(record_id: str, merge: bool) -> Response:
    v, values = current_vellum(), _input()
    model = content.model_for_write(v, record_id, request.args.get("type") or values.get("type"))
    request_ = content.write_request(v, model, {**values, "id": None})
    author = access.commit_author(access.current())
    if_match = _expected_version()
    rec = writes.update(v, model, record_id, request_, author, merge=merge, if_match=if_match)
    return json_response({"data": _shape(rec), "meta": {}})


@api_content.delete("/content/<record_id>")
@access.require("write")
def delete_content(record_id: str) -> Response:
    """Delete a record (one commit)."""
    v = current_vellum()
    model = content.model_for_write(v, record_id, request.args.get("type"))
    author = access.commit_author(access.current())
    meta = write_request.parse_meta(json_object(required=False).get("meta"))
    version = wire.expected_versions(write_request.record_version(meta.get("version")))
    locale = request.args.get("locale") or meta.get("locale")
    message = meta.get("message")
    writes.delete(v, model, record_id, author, locale=locale, message=message, if_match=version)
    return Response(status=204)
