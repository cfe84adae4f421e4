"""A replica answers reads and sends content writes on to its primary.

Several machines serve one site, each from its own clone of one Git remote: the primary
commits writes and pushes them; a replica pulls. A write that would commit on a replica
(records, the content API, media, restores, GraphQL mutations) is answered 307 with the
same path and query on the primary, so a client that follows it keeps its method and body.
State writes (users, keys, applications, webhooks, sign-in, custom events) are not
content: the state store is the machine's own, or shared by all of them, so they are
answered where they arrive.
"""

from __future__ import annotations

import orjson
from flask import Flask, Response, current_app, request

from vellum.api.envelope import json_response
from vellum.errors import NoPrimary, ReadOnlyReplica
from vellum.graphql.run import asks_mutation

# Blueprints whose writes commit to Git, under /api and (with `_v1`) under /api/v1.
COMMITTING = frozenset({"writes", "history", "content", "media"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
GRAPHQL = "graphql.post"


def init_app(app: Flask) -> None:
    """On a replica, check every request before anything else reads it (its credentials
    are the primary's to judge)."""
    if app.extensions["vellum"].config.get("ROLE") == "replica":
        app.before_request(_send_writes_to_primary)


def commits(endpoint: str | None, method: str) -> bool:
    """Whether a route, called with this method, commits to Git (a GraphQL POST may)."""
    if endpoint is None or method not in WRITE_METHODS:
        return False
    if endpoint == GRAPHQL:
        return True
    blueprint = endpoint.partition(".")[0].removesuffix("_v1")
    return blueprint in COMMITTING


def _send_writes_to_primary() -> Response | None:
    if not commits(request.endpoint, request.method):
        return None
    if request.endpoint == GRAPHQL and not asks_mutation(_json_or_none()):
        return None  # a query: answered here
    primary = current_app.extensions["vellum"].config.get("PRIMARY_URL")
    if not primary:
        raise NoPrimary(
            "This server is a read-only replica and knows no primary to send writes to:"
            " start it with --primary-url (or set VELLUM_PRIMARY_URL)"
        )
    location = primary + request.path
    if request.query_string:
        location += "?" + request.query_string.decode("latin-1")
    refusal = ReadOnlyReplica(f"This server is a read-only replica: send writes to {primary}")
    return json_response(refusal.as_dict(), refusal.status, {"Location": location})


def _json_or_none():
    try:
        return orjson.loads(request.get_data(cache=True))
    except orjson.JSONDecodeError:
        return None
