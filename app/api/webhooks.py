"""Webhooks over REST, for admins: /api/webhooks, their delivery log and redelivery."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

from vellum.api.envelope import json_object, json_response
from vellum.api.params import parse_int
from vellum.auth import access
from vellum.context import current_vellum
from vellum.live import deliveries, webhooks

api_webhooks = Blueprint("webhooks", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(api_webhooks, url_prefix="/api")
    app.register_blueprint(api_webhooks, url_prefix="/api/v1", name="webhooks_v1")


def _body() -> dict:
    return json_object()


@api_webhooks.get("/webhooks")
@access.require("admin")
def list_webhooks() -> Response:
    rows = [e.as_dict() for e in webhooks.list_endpoints(current_vellum())]
    return json_response({"data": rows, "meta": {"total": len(rows)}})


@api_webhooks.post("/webhooks")
@access.require("admin")
def create_webhook() -> Response:
    endpoint = webhooks.create_endpoint(current_vellum(), _body(), access.current().name)
    location = {"Location": f"/api/webhooks/{endpoint.id}"}
    return json_response({"data": endpoint.as_dict()}, 201, location)


@api_webhooks.get("/webhooks/<webhook_id>")
@access.require("admin")
def get_webhook(webhook_id: str) -> Response:
    endpoint = webhooks.get_endpoint(current_vellum(), webhook_id)
    counts = webhooks.endpoint_state(current_vellum().state, webhook_id)
    return json_response({"data": {**endpoint.as_dict(), "deliveries": counts}})


@api_webhooks.patch("/webhooks/<webhook_id>")
@access.require("admin")
def update_webhook(webhook_id: str) -> Response:
    endpoint = webhooks.update_endpoint(current_vellum(), webhook_id, _body())
    return json_response({"data": endpoint.as_dict()})


@api_webhooks.delete("/webhooks/<webhook_id>")
@access.require("admin")
def delete_webhook(webhook_id: str) -> Response:
    webhooks.delete_endpoint(current_vellum(), webhook_id)
    return Response(status=204)


@api_webhooks.get("/webhooks/<webhook_id>/deliveries")
@access.require("admin")
def list_deliveries(webhook_id: str) -> Response:
    webhooks.get_endpoint(current_vellum(), webhook_id)
    args = request.args.to_dict(flat=False)
    limit = parse_int(args, "limit", 100, 0, 1000)
    offset = parse_int(args, "offset", 0, 0, None)
    rows = deliveries.attempts_log(current_vellum().state, webhook_id, limit, offset)
    return json_response({"data": rows, "meta": {"limit": limit, "offset": offset}})


@api_webhooks.post("/webhooks/<webhook_id>/deliveries/<event_id>/redeliver")
@access.require("admin")
def redeliver(webhook_id: str, event_id: str) -> Response:
    endpoint = webhooks.get_endpoint(current_vellum(), webhook_id)
    deliveries.redeliver(current_vellum().state, endpoint, event_id)
    return json_response({"data": {"webhook": webhook_id, "event": event_id, "queued": True}}, 202)
