"""Events over HTTP: the Server-Sent Events stream, and custom events sent by admins."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import orjson
from flask import Blueprint, Flask, Response, current_app, request

from app import access, limits, outbox
from app.access import Principal
from app.api import json_object, json_response, vellum
from app.errors import ServiceUnavailable
from app.events import check_custom
from app.state import StateStore

api_events = Blueprint("events", __name__)
POLL = 0.1
# A closed connection is noticed at the next write: keep-alives free its slot soon.
KEEPALIVE = 5.0
RETRY_SECONDS = 1


def init_app(app: Flask) -> None:
    app.register_blueprint(api_events, url_prefix="/api")
    app.register_blueprint(api_events, url_prefix="/api/v1", name="events_v1")
    config = app.extensions["vellum"].config
    streams = config["STREAMS"] or max(1, config["THREADS"] // 2)
    app.extensions["vellum.streams"] = threading.BoundedSemaphore(streams)


@api_events.get("/events")
@api_events.get("/events/stream")
@access.require("read")
def stream() -> Response:
    """Live events as text/event-stream; Last-Event-ID resumes after that event.

    A stream holds one of the server's threads while it is open, so a process keeps at
    most VELLUM_STREAMS open (more are told to retry) and ends each after
    VELLUM_STREAM_SECONDS with the id to resume from: EventSource reconnects on its own
    and misses nothing.
    """
    services = vellum()
    slots: threading.BoundedSemaphore = current_app.extensions["vellum.streams"]
    if not slots.acquire(blocking=False):
        limits.retry_after(RETRY_SECONDS)
        raise ServiceUnavailable("Too many open event streams; try again shortly")
    try:
        principal = access.current()
        resume = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
        after = outbox.seq_of(services.state, resume) if resume else None
        if after is None:
            after = outbox.last_seq(services.state)
        frames = _frames(services.state, principal, after, services.config["STREAM_SECONDS"])
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        free = _once(slots.release)
        response = Response(_freeing(frames, free), mimetype="text/event-stream", headers=headers)
    except BaseException:
        slots.release()
        raise
    response.call_on_close(free)  # a client that leaves early
    return response


def _freeing(frames: Iterator[str], free) -> Iterator[str]:
    """The frames; the slot is free once the last is handed over, before the connection
    closes, so a client reconnecting at once finds it."""
    yield from frames
    free()


def _once(release):
    """`release`, callable any number of times, released once."""
    done = threading.Lock()

    def call() -> None:
        if done.acquire(blocking=False):
            release()

    return call


@api_events.post("/events")
@access.require("admin")
def emit_custom() -> Response:
    """Send a custom event: {"event": "custom.<name>", "data": {...}}."""
    payload = json_object()
    event = check_custom(payload.get("event"), payload.get("data", {}))
    outbox.emit(vellum().state, [event])
    return json_response({"data": event.payload()}, 202)


def visible(principal: Principal, name: str, draft: bool) -> bool:
    """Account events are for admins; drafts' events need read:drafts."""
    if name.startswith(("user.", "key.")):
        return principal.can("admin")
    return principal.can("read:drafts") if draft else principal.can("read")


def _frames(state: StateStore, principal: Principal, after: int, seconds: float) -> Iterator[str]:
    yield f"retry: {RETRY_SECONDS * 1000}\n: connected\n\n"
    deadline = time.monotonic() + seconds
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        rows = outbox.since(state, after)
        for row in rows:
            after = row["seq"]
            if visible(principal, row["name"], bool(row["draft"])):
                yield f"id: {row['id']}\nevent: {row['name']}\ndata: {row['payload']}\n\n"
                quiet_since = time.monotonic()
            elif row["draft"] == outbox.UNPUBLISHED and principal.can("read"):
                # What a reader saw is gone: a deletion, without the draft's content.
                yield f"id: {row['id']}\nevent: content.deleted\ndata: {_gone(row)}\n\n"
                quiet_since = time.monotonic()
        if not rows:
            if time.monotonic() - quiet_since > KEEPALIVE:
                yield ": keepalive\n\n"
                quiet_since = time.monotonic()
            time.sleep(POLL)
    # An id without data moves the client's Last-Event-ID to where this stream stopped
    # (past events it may not see), so its reconnect resumes exactly here.
    last = outbox.id_of(state, after)
    if last is not None:
        yield f"id: {last}\n\n"


def _gone(row) -> str:
    """A content.deleted payload for an event whose record readers can no longer see."""
    event = orjson.loads(row["payload"])
    data = {k: event["data"].get(k) for k in ("id", "type", "locale")}
    gone = {**event, "event": "content.deleted", "commit": None, "data": data}
    return orjson.dumps(gone).decode()
