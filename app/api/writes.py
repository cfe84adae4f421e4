"""REST writes: POST /api/{model}, PUT/PATCH/DELETE /api/{model}/{id}; each one commit."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

from vellum.api import wire
from vellum.api.envelope import json_body, json_object, json_response
from vellum.auth import access
from vellum.context import current_vellum
from vellum.query.lists import ListQuery
from vellum.query.render import to_json
from vellum.store import write_request, writes

api_writes = Blueprint("writes", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(api_writes, url_prefix="/api")
    app.register_blueprint(api_writes, url_prefix="/api/v1", name="writes_v1")


def _payload() -> write_request.WriteRequest:
    body = wire.unwrap(json_body(text=False))
    return write_request.parse_payload(body, request.args.get("locale"))


def _answer(rec, status: int = 200, headers: dict | None = None) -> Response:
    catalog, shown = current_vellum().catalog(), ListQuery(audience=access.current().audience)
    response = json_response({"data": to_json(catalog, rec, shown), "meta": {}}, status, headers)
    response.set_etag(rec.sha)
    return response


@api_writes.post("/<model:model>")
@access.require("write")
def create(model: str) -> Response:
    principal = access.current()
    rec = writes.create(current_vellum(), model, _payload(), access.commit_author(principal))
    return _answer(rec, 201, {"Location": f"/api/{model}/{rec.id}"})


@api_writes.put("/<model:model>/<record_id>")
@access.require("write")
def replace(model: str, record_id: str) -> Response:
    return _update(model, record_id, merge=False)


@api_writes.patch("/<model:model>/<record_id>")
@access.require("write")
def patch(model: str, record_id: str) -> Response:
    return _update(model, record_id, merge=True)


def _update(model: str, record_id: str, merge: bool) -> Response:
    author = access.commit_author(access.current())
    payload = _payload()
    if_match = wire.expected_versions(payload.version)
    rec = writes.update(
        current_vellum(), model, record_id, payload, author, merge=merge, if_match=if_match
    )
    return _answer(rec)


@api_writes.delete("/<model:model>/<record_id>")
@access.require("write")
def delete(model: str, record_id: str) -> Response:
    author = access.commit_author(access.current())
    meta = write_request.parse_meta(json_object(required=False).get("meta"))
    writes.delete(
        current_vellum(),
        model,
        record_id,
        author,
        locale=request.args.get("locale") or meta.get("locale"),
        message=meta.get("message"),
        if_match=wire.expected_versions(write_request.record_version(meta.get("version"))),
    )
    return Response(status=204)
