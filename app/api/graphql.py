"""/graphql: POST (one operation or a batch), GET ?query=, and GraphiQL for browsers."""

from __future__ import annotations

from dataclasses import replace

import orjson
from flask import Blueprint, Flask, Response, current_app, render_template, request

from vellum.api.envelope import json_body, json_response
from vellum.auth import access
from vellum.context import current_vellum
from vellum.errors import InvalidParameter, VellumError
from vellum.graphql.context import Context
from vellum.graphql.limits import Limits, limits_of
from vellum.graphql.run import run
from vellum.graphql.schema import Schemas
from vellum.query.lists import limits_in_force

MAX_BATCH = 50
graphql_api = Blueprint("graphql", __name__)


def init_app(app: Flask) -> None:
    """Mount /graphql; the schema is built on first use and whenever the models change."""
    app.extensions["vellum.graphql"] = Schemas()
    app.extensions["vellum.graphql.limits"] = limits_of(app.extensions["vellum"].site)
    app.register_blueprint(graphql_api)


def schemas() -> Schemas:
    """This app's schema holder."""
    return current_app.extensions["vellum.graphql"]


def context() -> Context:
    """A fresh context for one operation, showing records as the caller may see them."""
    return Context(current_vellum(), audience=access.current().audience, authors=schemas().authors)


def _limits() -> Limits:
    """vellum.yml's graphql limits, and its filter limits as the query layer reads them now."""
    limits = current_app.extensions["vellum.graphql.limits"]
    return replace(limits, filters=limits_in_force(current_vellum().site))


@graphql_api.get("/graphql")
def get() -> Response:
    """GraphiQL for a browser; otherwise run ?query= (queries only)."""
    if "query" not in request.args and _wants_html():
        return Response(render_template("graphiql.html"), mimetype="text/html")

    def payload() -> dict:
        return {
            "query": request.args.get("query"),
            "operationName": request.args.get("operationName"),
            "variables": _json_arg("variables"),
        }

    return _answer(lambda: _one(payload(), mutations=False))


@graphql_api.post("/graphql")
def post() -> Response:
    """Run one operation, or a JSON array of them (an array of results)."""
    try:
        body = json_body(text=False)  # mutations name the field of a value they cannot store
    except VellumError as exc:  # not JSON: the message says where it stops parsing
        return _refused(exc)
    if isinstance(body, list):
        if len(body) > MAX_BATCH:
            return _error(400, "BAD_REQUEST", f"A batch holds at most {MAX_BATCH} operations")
        return _answer(lambda: ([_one(item)[0] for item in body], 200))
    return _answer(lambda: _one(body))


def _one(payload, mutations: bool = True) -> tuple[dict, int]:
    v, holder = current_vellum(), schemas()
    schema = holder.current(v.site, v.catalog())
    return run(
        schema, payload, context(), _limits(), mutations=mutations, documents=holder.documents
    )


def _answer(compute) -> Response:
    try:
        result, status = compute()
    except VellumError as exc:  # bad credentials: refused before anything runs
        return _refused(exc)
    return json_response(result, status)


def _refused(exc: VellumError) -> Response:
    """A request refused as a whole, as a GraphQL error (the REST code and details)."""
    envelope = exc.as_dict()["error"]
    error = {"message": envelope["message"], "extensions": {"code": exc.code}}
    error["extensions"]["details"] = envelope["details"]
    return json_response({"errors": [error]}, exc.status)


def _error(status: int, code: str, message: str) -> Response:
    error = {"message": message, "extensions": {"code": code, "details": []}}
    return json_response({"errors": [error]}, status)


def _json_arg(name: str):
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise InvalidParameter(name, f"not valid JSON: {where}") from None


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"
