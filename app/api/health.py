"""Health for load balancers and orchestrators: `GET /api/_health` (ready: the index is
loaded and the stores answer) and `GET /api/_health/live` (the process answers at all).

Both are anonymous, cheap (no record is rendered) and never rate-limited: a probe that
spends a caller's budget, or needs a key, takes healthy servers out of rotation.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, Response, current_app

from vellum.api.envelope import json_response
from vellum.auth import limits
from vellum.context import current_vellum
from vellum.live.remote import remote_lag, remote_status

health = Blueprint("health", __name__)
log = logging.getLogger("vellum.health")


def init_app(app: Flask) -> None:
    app.register_blueprint(health, url_prefix="/api")
    limits.exempt(app, health)


@health.get("/_health/live")
def live() -> Response:
    """The process answers requests; says nothing of the site (a restart would not help)."""
    return _answer({"status": "ok"}, ok=True)


@health.get("/_health")
def ready() -> Response:
    """200 when this process can answer reads: its index is loaded, the state store and
    the rate-limit storage answer; 503 naming what failed otherwise. A replica's lag
    behind its Git remote is reported, not judged: a stale replica still serves. The
    role says whether this server takes writes or sends them to its primary."""
    started = time.perf_counter()
    checks = {"index": _check(_index), "state": _check(_state), "limits": _check(_limits)}
    vellum = current_vellum()
    if vellum.config.get("REMOTE"):
        checks["remote"] = _remote()
    ok = all(c.get("ok", True) for c in checks.values())
    body = {"status": "ok" if ok else "unavailable", "role": vellum.config["ROLE"]}
    if vellum.config["ROLE"] == "replica":  # how far behind the primary's pushes it may be
        body["lag_seconds"] = checks["remote"]["lag_seconds"]
    body["checks"] = checks
    body["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return _answer(body, ok=ok)


def _answer(body: dict, ok: bool) -> Response:
    response = json_response(body, 200 if ok else 503)
    response.cache_control.no_store = True
    return response


def _check(probe) -> dict:
    """Run one probe; any failure is the answer 'not ready', with its reason logged."""
    try:
        return {"ok": True, **probe()}
    except Exception as exc:  # noqa: BLE001 — whatever fails, the process is not ready
        log.warning("health: %s failed: %s", probe.__name__.strip("_"), exc)
        return {"ok": False, "reason": str(exc) or type(exc).__name__}


def _index() -> dict:
    vellum = current_vellum()
    catalog = vellum.catalog()
    return {
        "generation": catalog.generation,
        "text": "ready" if vellum.text_ready() else "building",
    }


def _state() -> dict:
    current_vellum().state.query("SELECT 1")  # a borrowed connection, given back
    return {}


def _limits() -> dict:
    """The storage rate limits count in (the state folder's tally, Redis): if it is gone,
    limits count apart per process, so the server still answers but not as configured."""
    counts = current_app.extensions["vellum_limits"].counts
    if not counts.check():
        raise ConnectionError("rate-limit storage does not answer")
    return {"storage": type(counts).__name__}


def _remote() -> dict:
    """The last fetch's outcome, and seconds since the last successful one."""
    state = current_vellum().state
    status = remote_status(state) or {}
    return {"state": status.get("state", "unknown"), "lag_seconds": remote_lag(state)}
