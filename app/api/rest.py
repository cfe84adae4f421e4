"""REST reads: lists, records, search, models and status, at /api and /api/v1."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Flask, Response, current_app, request

from vellum.api.answers import Answer, Answers
from vellum.api.envelope import json_bytes, json_response
from vellum.api.params import parse_list_query, parse_search_query
from vellum.auth import access
from vellum.context import current_vellum
from vellum.errors import InvalidParameter
from vellum.live.lease import lease_status
from vellum.live.remote import remote_status
from vellum.query.render import to_json
from vellum.query.run import get_record
from vellum.store import outbox

api = Blueprint("api", __name__)


def init_app(app: Flask) -> None:
    app.extensions["vellum.answers"] = Answers()
    app.register_blueprint(api, url_prefix="/api")
    app.register_blueprint(api, url_prefix="/api/v1", name="api_v1")
    app.add_url_rule("/", "index", _root)
    for prefix in ("/api", "/api/v1"):  # the API's own root answers what the site's does
        app.add_url_rule(prefix, f"index{prefix}", _root, strict_slashes=False)


def _root() -> Response:
    site = current_vellum().site
    return json_response(
        {"data": {"title": site.title, "api": "/api", "models": sorted(site.models)}}
    )


@api.get("/_status")
@access.require("read")
def status() -> Response:
    v = current_vellum()
    catalog = v.catalog()
    audience = access.current().audience
    # Invalid files and the count of every file may name or reveal drafts: editors only.
    index = {"generation": catalog.generation, "text": "ready" if v.text_ready() else "building"}
    if audience.drafts:
        index["records"] = len(catalog.by_key)
    return json_response(
        {
            "data": {
                "site": v.site.title,
                "head": catalog.head,
                "records": {name: catalog.count(name, audience) for name in sorted(v.site.models)},
                "invalid": [p.as_dict() for p in v.problems()] if audience.drafts else [],
                "index": index,
                "role": v.config["ROLE"],
                "primary": v.config["PRIMARY_URL"],
                "remote": remote_status(v.state) if v.config.get("REMOTE") else None,
                "events": {
                    "processed": outbox.get_cursor(v.state) or None,
                    "skipped": _skipped(v.state),
                },
                "live": _live(v, audience.drafts),
            }
        }
    )


def _live(vellum, editor: bool) -> dict:
    """Which machine and process hold the site lease (its duties: commits to events,
    webhooks, pruning) and which wait; hosts and pids for editors only."""
    status = lease_status(vellum.state.url, vellum.state_dir)
    if editor:
        return status
    shown = {"kind": status["kind"], "held": status["holder"] is not None}
    return {**shown, "waiting": len(status["waiting"]), "here": status["here"]}


def _skipped(state) -> list[dict]:
    """Commits passed over: which file and why for readers of drafts (the file may be
    one), the commit alone for others."""
    found = outbox.skipped(state)
    if access.current().can("read:drafts"):
        return found
    return [{"sha": s["sha"], "at": s["at"]} for s in found]


@api.get("/models")
@access.require("read")
def models() -> Response:
    v = current_vellum()
    catalog = v.catalog()
    audience = access.current().audience
    data = []
    for name, model in sorted(v.site.models.items()):
        data.append(
            {
                "name": name,
                "plural": model.list_name,
                "folder": model.folder,
                "format": model.format,
                "inferred": model.inferred,
                "count": catalog.count(name, audience),
                "fields": [f.as_dict() for f in catalog.fields[name].values()],
            }
        )
    return json_response(
        {
            "data": data,
            "meta": {"locales": list(v.site.locales), "defaultLocale": v.site.default_locale},
        }
    )


@api.get("/search")
@access.require("read")
def search() -> Response:
    v = current_vellum()
    audience = access.current().audience
    query = parse_search_query(v.catalog(), request.args.to_dict(flat=False), audience)
    q = query.q
    models = [m for m in (request.args.get("models") or "").split(",") if m]
    for name in models:
        if name not in v.site.models:
            raise InvalidParameter("models", f"unknown model {name!r}")
    page, total = v.search(
        q,
        limit=query.limit,
        offset=query.offset,
        locale=query.locale,
        audience=audience,
        models=models or None,
    )
    data = [
        {
            "id": rec.id,
            "type": rec.model,
            "locale": rec.locale,
            "title": rec.data.get("title") or rec.data.get("name") or rec.id,
            "score": score,
            "snippet": snippet,
            "url": f"/api/{rec.model}/{rec.id}",
        }
        for rec, score, snippet in page
    ]
    meta = {
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
        "hasMore": query.offset + len(data) < total,
        "q": q,
    }
    if not v.text_ready():
        meta["searchComplete"] = False
    return json_response({"data": data, "meta": meta})


@api.get("/<model:model>")
@access.require("read")
def list_records(model: str) -> Response:
    v = current_vellum()
    catalog = v.catalog()
    audience = access.current().audience
    args = request.args.to_dict(flat=False)
    key = (request.blueprint, "list", model, _normalised(args), audience)

    def make() -> Answer:
        query = parse_list_query(catalog, model, args, audience)
        page = v.list(model, query)
        payload = {"data": [to_json(catalog, r, query) for r in page.records], "meta": page.meta}
        body = json_bytes(payload)
        return Answer(body, _digest(body), weak=True)

    return _answer(_answers().get(catalog, key, make))


@api.get("/<model:model>/<record_id>")
@access.require("read")
def get_one(model: str, record_id: str) -> Response:
    v = current_vellum()
    catalog = v.catalog()
    audience = access.current().audience
    wanted = {k: a for k, a in request.args.to_dict(flat=False).items() if k in _GET_ARGS}
    key = (request.blueprint, "get", model, record_id, _normalised(wanted), audience)

    def make() -> Answer:
        query = parse_list_query(catalog, model, wanted, audience)
        rec = get_record(catalog, model, record_id, query.locale, query.audience)
        body = json_bytes({"data": to_json(catalog, rec, query), "meta": {}})
        # The ETag is the file's blob sha; a populated answer also depends on other files.
        if query.populate:
            return Answer(body, _digest(rec.sha, catalog.generation), weak=True)
        return Answer(body, rec.sha, weak=False)

    return _answer(_answers().get(catalog, key, make))


def _answers() -> Answers:
    return current_app.extensions["vellum.answers"]


def _normalised(args: dict[str, list[str]]) -> tuple:
    """The query string as a key: the order of its parameters does not change the answer."""
    return tuple(sorted((name, tuple(values)) for name, values in args.items()))


def _answer(answer: Answer) -> Response:
    """The answer, or 304 when the client holds it (If-None-Match compares weakly)."""
    if request.if_none_match.contains_weak(answer.etag):
        response = Response(status=304)
    else:
        response = Response(answer.body, mimetype="application/json")
    response.set_etag(answer.etag, weak=answer.weak)
    return response


def _digest(*parts) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()


_GET_ARGS = {"populate", "fields", "locale"}
