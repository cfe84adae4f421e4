"""X-Request-Id: every answer carries one, taken from the load balancer when it sent a
usable one, made here otherwise; the log lines written for the request carry it too."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

HEADER = "X-Request-Id"
# What a load balancer's id looks like (a UUID, a trace id): anything else, such as a
# header that would put a line break or markup into the logs, is replaced.
USABLE = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def init_app(app: Flask) -> None:
    """Registered first, so that even an answer refused by a limit carries its id."""
    app.before_request_funcs.setdefault(None, []).insert(0, _take)
    app.after_request(_give)


def current() -> str | None:
    return getattr(g, "request_id", None)


def _take() -> None:
    sent = request.headers.get(HEADER, "")
    g.request_id = sent if USABLE.fullmatch(sent) else uuid.uuid4().hex


def _give(response: Response) -> Response:
    found = current()
    if found:
        response.headers[HEADER] = found
    return response
