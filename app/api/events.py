"""Events over HTTP: the Server-Sent Events stream, and custom events sent by admins."""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, request

from app import access, outbox
from app.access import Principal
from app.api import json_response, vellum
from app.errors import BadRequest
from app.events import check_custom
from app.state import StateStore

api_events = Blueprint("events", __name__)
POLL = 0.1
KEEPALIVE = 15.0


def init_app(app: Flask) -> None:
    app.register_blueprint(api_events, url_prefix="/api")
    app.register_blueprint(api_events, url_prefix="/api/v1", name="events_v1")


@api_events.get("/events")
@api_events.get("/events/stream")
@access.require("read")
def stream() -> Response:
    """Live events as text/event-stream; Last-Event-ID resumes after that event."""
    principal = access.current()
    state = vellum().state
    resume = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
    after = outbox.seq_of(state, resume) if resume else None
    if after is None:
        after = outbox.last_seq(state)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    body = _frames(state, principal, after)
    return Response(body, mimetype="text/event-stream", headers=headers)


@api_events.post("/events")
@access.require("admin")
def emit_custom() -> Response:
    """Send a custom event: {"event": "custom.<name>", "data": {...}}."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise BadRequest("Expected a JSON object body (Content-Type: application/json)")
    event = check_custom(payload.get("event"), payload.get("data", {}))
    outbox.emit(vellum().state, [event])
    return json_response({"data": event.payload()}, 202)


def visible(principal: Principal, name: str, draft: bool) -> bool:
    """Account events are for admins; drafts' events need read:drafts."""
    if name.startswith(("user.", "key.")):
        return principal.can("admin")
    return principal.can("read:drafts") if draft else principal.can("read")


def _frames(state: StateStore, principal: Principal, after: int) -> Iterator[str]:
    yield ": connected\n\n"
    quiet_since = time.monotonic()
    while True:
        rows = outbox.since(state, after)
        for row in rows:
            after = row["seq"]
            if visible(principal, row["name"], bool(row["draft"])):
                yield f"id: {row['id']}\nevent: {row['name']}\ndata: {row['payload']}\n\n"
                quiet_since = time.monotonic()
        if not rows:
            if time.monotonic() - quiet_since > KEEPALIVE:
                yield ": keepalive\n\n"
                quiet_since = time.monotonic()
            time.sleep(POLL)
