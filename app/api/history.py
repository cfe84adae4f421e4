"""REST for versions and sync: /api/{model}/{id}/versions, …/diff, …/restore, /api/sync."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

from vellum.api import wire
from vellum.api.envelope import json_object, json_response
from vellum.api.params import parse_int
from vellum.auth import access
from vellum.context import current_vellum
from vellum.errors import InvalidParameter
from vellum.query.lists import ListQuery
from vellum.query.render import to_json
from vellum.store import history, sync

api_history = Blueprint("history", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(api_history, url_prefix="/api")
    app.register_blueprint(api_history, url_prefix="/api/v1", name="history_v1")


def _args() -> dict:
    return request.args.to_dict(flat=False)


@api_history.get("/sync")
@access.require("read")
def sync_records() -> Response:
    audience = access.current().audience
    found = sync.changes_since(current_vellum(), request.args.get("since"), audience)
    catalog, shown = current_vellum().catalog(), ListQuery(audience=audience)
    shaped = {
        kind: [to_json(catalog, r, shown) for r in found[kind]] for kind in ("created", "updated")
    }
    data = {**shaped, "deleted": found["deleted"]}
    counts = {kind: len(data[kind]) for kind in ("created", "updated", "deleted")}
    return json_response({"data": data, "meta": {"token": found["token"], **counts}})


@api_history.get("/<model:model>/<record_id>/versions")
@access.require("read:drafts")
def versions(model: str, record_id: str) -> Response:
    limit = parse_int(_args(), "limit", 20, 1, 100)
    offset = parse_int(_args(), "offset", 0, 0, None)
    locale = request.args.get("locale")
    return json_response(
        history.versions(current_vellum(), model, record_id, locale, limit, offset)
    )


@api_history.get("/<model:model>/<record_id>/versions/<version>")
@access.require("read:drafts")
def at_version(model: str, record_id: str, version: str) -> Response:
    locale = request.args.get("locale")
    data = history.at_version(current_vellum(), model, record_id, version, locale)
    return json_response({"data": data, "meta": {}})


@api_history.get("/<model:model>/<record_id>/diff")
@access.require("read:drafts")
def diff(model: str, record_id: str) -> Response:
    old, new = request.args.get("from"), request.args.get("to")
    if not old or not new:
        raise InvalidParameter("from" if not old else "to", "a diff needs from=<sha>&to=<sha>")
    locale = request.args.get("locale")
    return json_response(
        {"data": history.diff(current_vellum(), model, record_id, old, new, locale)}
    )


@api_history.post("/<model:model>/<record_id>/restore")
@access.require("write")
def restore(model: str, record_id: str) -> Response:
    body = wire.unwrap(json_object(required=False))
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    version = body.get("version") or data.get("version")
    if not version or not isinstance(version, str):
        raise InvalidParameter("version", 'send {"version": "<commit sha>"}')
    author = access.commit_author(access.current())
    rec = history.restore(
        current_vellum(), model, record_id, version, author, request.args.get("locale")
    )
    shown = ListQuery(audience=access.current().audience)
    response = json_response({"data": to_json(current_vellum().catalog(), rec, shown), "meta": {}})
    response.set_etag(rec.sha)
    return response
