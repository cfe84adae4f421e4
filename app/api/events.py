"""Events over HTTP: the Server-Sent Events stream, and custom events sent by admins.

An open stream waits on the process's one fan-out (vellum.api.fanout) for new events; under
the server's gevent worker it costs a greenlet and a socket, not a thread.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import orjson
from flask import Blueprint, Flask, Response, current_app, request

from vellum.api import metrics
from vellum.api.envelope import json_object, json_response
from vellum.api.fanout import Fanout
from vellum.auth import access
from vellum.auth.access import Principal
from vellum.context import current_vellum
from vellum.errors import RateLimited, ServiceUnavailable
from vellum.query.render import visible_fields
from vellum.site.audience import Audience
from vellum.store import outbox
from vellum.store.events import check_custom
from vellum.store.state import StateStore

if TYPE_CHECKING:
    from vellum.services import Vellum

api_events = Blueprint("events", __name__)
# Open streams a server process holds when VELLUM_STREAMS is 0: each is a few tens of KB.
DEFAULT_STREAMS = 1000
# A closed connection is noticed at the next write: keep-alives free its slot soon.
KEEPALIVE = 5.0
# How often a waiting stream looks whether its client hung up (a cheap non-blocking peek).
HANG_UP_CHECK = 1.0
RETRY_SECONDS = 1
# A caller at its cap waits for one of its streams to end; a connection it dropped is
# noticed at the next keep-alive.
CALLER_RETRY_SECONDS = int(KEEPALIVE)


class StreamSlots:
    """The event streams one server process holds open: at most `total`, and at most
    `each` for one caller (an anonymous IP, a key, a user, an application)."""

    def __init__(self, total: int, each: int) -> None:
        self.total = total
        self.each = each
        self._lock = threading.Lock()
        self._open = 0
        self._by_caller: dict[str, int] = {}

    def take(self, caller: str) -> Callable[[], None]:
        """Hold a slot for `caller` (503 when the process is full, 429 when the caller is);
        the function returned gives it back, however often it is called."""
        with self._lock:
            if self._open >= self.total:
                access.retry_after(RETRY_SECONDS)
                raise ServiceUnavailable("Too many open event streams; try again shortly")
            held = self._by_caller.get(caller, 0)
            if held >= self.each:
                access.retry_after(CALLER_RETRY_SECONDS)
                raise RateLimited(
                    f"At most {self.each} open event stream{'s' if self.each > 1 else ''}"
                    " per caller; close one first"
                )
            self._open += 1
            self._by_caller[caller] = held + 1
        metrics.stream_opened()
        return _once(lambda: self._give(caller))

    def _give(self, caller: str) -> None:
        metrics.stream_closed()
        with self._lock:
            self._open -= 1
            left = self._by_caller.pop(caller) - 1
            if left:
                self._by_caller[caller] = left


def init_app(app: Flask) -> None:
    app.register_blueprint(api_events, url_prefix="/api")
    app.register_blueprint(api_events, url_prefix="/api/v1", name="events_v1")
    config = app.extensions["vellum"].config
    total = config["STREAMS"] or DEFAULT_STREAMS
    each = config["STREAMS_PER_CALLER"] or max(1, total // 2)
    app.extensions["vellum.streams"] = StreamSlots(total, each)
    app.extensions["vellum.fanout"] = Fanout(app.extensions["vellum"].state)


def end_streams(app: Flask) -> None:
    """End every open stream of this process now, each with the id to resume from (a
    server that stops does not keep its clients until it is killed)."""
    fanout: Fanout | None = app.extensions.get("vellum.fanout")
    if fanout is not None:
        fanout.stop()


@api_events.get("/events")
@api_events.get("/events/stream")
@access.require("read")
def stream() -> Response:
    """Live events as text/event-stream; Last-Event-ID resumes after that event.

    A process keeps at most VELLUM_STREAMS open (more are told to retry), at most
    VELLUM_STREAMS_PER_CALLER of them for one caller (so no one caller, anonymous or not,
    takes them all), and ends each after VELLUM_STREAM_SECONDS with the id to resume
    from: EventSource reconnects on its own and misses nothing.
    """
    vellum = current_vellum()
    principal = access.current()
    slots: StreamSlots = current_app.extensions["vellum.streams"]
    fanout: Fanout = current_app.extensions["vellum.fanout"]
    free = slots.take(principal.limit_key)
    try:
        resume = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
        after = outbox.seq_of(vellum.state, resume) if resume else None
        if after is None:
            after = outbox.last_seq(vellum.state)
        free = _both(free, fanout.watch())
        seconds = vellum.config["STREAM_SECONDS"]
        hung_up = _hang_up_check(request.environ.get("gunicorn.socket"))
        frames = _frames(vellum, fanout, principal, after, seconds, hung_up)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        response = Response(_freeing(frames, free), mimetype="text/event-stream", headers=headers)
    except BaseException:
        free()
        raise
    response.call_on_close(free)  # a client that leaves early
    return response


def _freeing(frames: Iterator[str], free) -> Iterator[str]:
    """The frames; the slot is free once the last is handed over, before the connection
    closes, so a client reconnecting at once finds it."""
    yield from frames
    free()


def _both(first, second):
    """One release for two: `first` once, then `second` once, however often it is called."""
    return _once(lambda: (first(), second()))


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
    outbox.emit(current_vellum().state, [event])
    return json_response({"data": event.payload()}, 202)


def visible(principal: Principal, name: str, draft: bool) -> bool:
    """Account events are for admins; drafts' events need read:drafts."""
    if name.startswith(("user.", "key.")):
        return principal.can("admin")
    return principal.can("read:drafts") if draft else principal.can("read")


def _hang_up_check(sock) -> Callable[[], bool]:
    """Whether the client closed its end of a stream: its socket is readable yet holds no
    bytes. A server notices a closed connection only when a write fails, two keep-alives
    later at worst; looking each second frees the stream's slot (and the caller's place
    under its connection limit) at once. Outside gunicorn there is no socket to look at."""

    def hung_up() -> bool:
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):  # closed or reset under us
            return True

    return hung_up if sock is not None else (lambda: False)


def _frames(
    vellum: Vellum,
    fanout: Fanout,
    principal: Principal,
    after: int,
    seconds: float,
    hung_up: Callable[[], bool] = lambda: False,
) -> Iterator[str]:
    state: StateStore = vellum.state
    # The request is answered (its after-request work too): the stream reads through the
    # fan-out from here on, so the database connection this thread took goes back.
    state.release()
    yield f"retry: {RETRY_SECONDS * 1000}\n: connected\n\n"
    deadline = time.monotonic() + seconds
    quiet_since = time.monotonic()
    while not fanout.stopped and (now := time.monotonic()) < deadline:
        wait = min(deadline - now, KEEPALIVE - (now - quiet_since), HANG_UP_CHECK)
        rows = fanout.wait(after, wait)
        if hung_up():
            return  # nobody to write to: the slot is given back as the response closes
        if rows is None:  # behind what the fan-out holds: catch up from the outbox
            rows = outbox.since(state, after)
        for row in rows:
            after = row["seq"]
            frame = _frame(vellum, fanout, principal, row)
            if frame:
                yield frame
                quiet_since = time.monotonic()
        if time.monotonic() - quiet_since >= KEEPALIVE:
            yield ": keepalive\n\n"
            quiet_since = time.monotonic()
    # An id without data moves the client's Last-Event-ID to where this stream stopped
    # (past events it may not see), so its reconnect resumes exactly here.
    last = outbox.id_of(state, after)
    if last is not None:
        yield f"id: {last}\n\n"


def _frame(vellum: Vellum, fanout: Fanout, principal: Principal, row) -> str | None:
    """One event's frame as this caller may see it, or None."""
    if visible(principal, row["name"], bool(row["draft"])):
        audience = principal.audience
        data = fanout.rendered((row["seq"], audience), lambda: _shown(vellum, audience, row))
        return f"id: {row['id']}\nevent: {row['name']}\ndata: {data}\n\n"
    if row["draft"] == outbox.UNPUBLISHED and principal.can("read"):
        # What a reader saw is gone: a deletion, without the draft's content.
        gone = fanout.rendered((row["seq"], "gone"), lambda: _gone(row))
        return f"id: {row['id']}\nevent: content.deleted\ndata: {gone}\n\n"
    return None


def _shown(vellum: Vellum, audience: Audience, row) -> str:
    """A content event's payload as the audience sees the record today (see to_json):
    without drafts, its relations (and changed relations) to drafts are left out."""
    if audience.drafts or not row["name"].startswith("content.") or not row["model"]:
        return row["payload"]
    event = orjson.loads(row["payload"])
    data = event.get("data")
    if not isinstance(data, dict):
        return row["payload"]
    catalog, model = vellum.catalog(), row["model"]
    shown = visible_fields(catalog, model, data, audience)
    if isinstance(data.get("changes"), dict):
        shown["changes"] = visible_fields(catalog, model, data["changes"], audience)
    return orjson.dumps({**event, "data": shown}).decode()


def _gone(row) -> str:
    """A content.deleted payload for an event whose record readers can no longer see."""
    event = orjson.loads(row["payload"])
    data = {k: event["data"].get(k) for k in ("id", "type", "locale")}
    gone = {**event, "event": "content.deleted", "commit": None, "data": data}
    return orjson.dumps(gone).decode()
