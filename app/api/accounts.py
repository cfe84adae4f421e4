"""Sign-in (JWT), accounts and API keys over REST: /api/auth, /api/users, /api/keys."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

from vellum.api import wire
from vellum.api.envelope import json_object, json_response
from vellum.api.params import parse_int
from vellum.auth import access, keys, tokens, users
from vellum.auth.limits import check_rate
from vellum.context import current_vellum
from vellum.errors import BadRequest, Detail, Unauthorized, ValidationError

accounts = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(accounts, url_prefix="/api")
    app.register_blueprint(accounts, url_prefix="/api/v1", name="accounts_v1")


def body() -> dict:
    """The JSON object a write sends (flat, wrapped in {"data": {...}}, or a v1 resource)."""
    payload = wire.unwrap(json_object())
    if isinstance(payload.get("data"), dict):
        payload = payload["data"]
    return payload


# -- sign-in ---------------------------------------------------------------------------
@accounts.post("/auth/login")
def login() -> Response:
    data = body()
    name = data.get("username") or data.get("name") or ""
    password = data.get("password") or ""
    if not isinstance(name, str) or not isinstance(password, str):
        raise BadRequest("username and password must be strings")
    user = access.sign_in(name, password)
    if user is None:
        raise Unauthorized("Wrong user name or password")
    issued = tokens.issue(str(user.id), user.scopes, {"name": user.name, "role": user.role})
    return json_response({"data": {**issued, "user": user.as_dict()}})


@accounts.post("/auth/refresh")
def refresh() -> Response:
    presented = json_object(required=False).get("refreshToken")
    token = presented or access.presented_token()
    if not token:
        raise Unauthorized("Send the refresh token as a Bearer token or as refreshToken")
    claims = tokens.spend_refresh(current_vellum().state, token)
    try:
        user = users.get_user(current_vellum().state, int(claims["sub"]))
    except (users.UserNotFound, ValueError) as exc:  # wrong credentials are always 401
        raise Unauthorized("The token's user no longer exists") from exc
    about = {"name": user.name, "role": user.role}
    issued = tokens.issue(str(user.id), user.scopes, about, family=claims.get("fam"))
    return json_response({"data": issued})


@accounts.post("/auth/logout")
def logout() -> Response:
    """Revoke the access token sent, and the refresh token if the body names it."""
    state = current_vellum().state
    token = access.presented_token()
    if not token or token.startswith(keys.PREFIX):
        raise Unauthorized("Send the access token to log out")
    tokens.revoke(state, tokens.decode(state, token))
    presented = json_object(required=False).get("refreshToken")
    if presented:
        tokens.revoke(state, tokens.decode(state, presented, kind="refresh"))
    return json_response({"data": {"revoked": True}})


@accounts.get("/auth/me")
@access.require(None)
def me() -> Response:
    return json_response({"data": access.current().as_dict()})


# -- users -----------------------------------------------------------------------------
@accounts.get("/users")
@access.require("admin")
def list_users() -> Response:
    state = current_vellum().state
    found = users.with_failures(state, users.list_users(state), current_vellum().lockout)
    rows = [u.as_dict() for u in found]
    return json_response({"data": rows, "meta": {"total": len(rows)}})


@accounts.post("/users")
@access.require("admin")
def create_user() -> Response:
    data = body()
    user = users.create_user(
        current_vellum().state,
        data.get("name") or data.get("username") or "",
        data.get("password") or "",
        data.get("role") or "viewer",
        data.get("email"),
    )
    return json_response({"data": user.as_dict()}, 201, {"Location": f"/api/users/{user.id}"})


@accounts.get("/users/<user_id>")
@access.require("admin")
def get_user(user_id: str) -> Response:
    state = current_vellum().state
    (user,) = users.with_failures(state, [users.get_user(state, user_id)], current_vellum().lockout)
    return json_response({"data": user.as_dict()})


@accounts.put("/users/<user_id>")
@accounts.patch("/users/<user_id>")
@access.require("admin")
def update_user(user_id: str) -> Response:
    data = body()
    user = users.update_user(
        current_vellum().state,
        user_id,
        role=data.get("role"),
        email=data.get("email"),
        password=data.get("password"),
    )
    return json_response({"data": user.as_dict()})


@accounts.delete("/users/<user_id>")
@access.require("admin")
def delete_user(user_id: str) -> Response:
    users.delete_user(current_vellum().state, user_id)
    return Response(status=204)


# -- API keys --------------------------------------------------------------------------
KEY_FIELDS = {"name", "scopes", "expiresIn", "allowedIps", "usageLimit", "rateLimit"}


@accounts.get("/keys")
@access.require("admin")
def list_keys() -> Response:
    rows = [k.as_dict() for k in keys.list_keys(current_vellum().state)]
    return json_response({"data": rows, "meta": {"total": len(rows)}})


@accounts.post("/keys")
@access.require("admin")
def create_key() -> Response:
    data = body()
    if data.get("type") == "key":  # a v1 resource names its type
        data = {k: v for k, v in data.items() if k != "type"}
    unknown = sorted(set(data) - KEY_FIELDS)
    if unknown or not isinstance(data.get("name") or "", str):
        details = [
            Detail(k, f"unknown field; a key takes {', '.join(sorted(KEY_FIELDS))}")
            for k in unknown
        ]
        if not isinstance(data.get("name") or "", str):
            details.append(Detail("name", "expected a string"))
        raise ValidationError("Invalid API key", details)
    key, secret = keys.create_key(
        current_vellum().state,
        data.get("name") or "",
        _list(data, "scopes") or ["read"],
        expires_in=keys.parse_duration(data.get("expiresIn"), "expiresIn"),
        allowed_ips=_list(data, "allowedIps"),
        usage_limit=data.get("usageLimit"),
        rate_limit=_rate(data.get("rateLimit")),
        created_by=access.current().name,
    )
    payload = {"data": {**key.as_dict(), "key": secret}}
    return json_response(payload, 201, {"Location": f"/api/keys/{key.id}"})


@accounts.get("/keys/<key_id>")
@access.require("admin")
def get_key(key_id: str) -> Response:
    return json_response({"data": keys.get_key(current_vellum().state, key_id).as_dict()})


@accounts.post("/keys/<key_id>/rotate")
@access.require("admin")
def rotate_key(key_id: str) -> Response:
    data = json_object(required=False)
    grace = keys.parse_duration(data.get("grace"), "grace", zero=True)
    grace = keys.DEFAULT_GRACE_SECONDS if grace is None else grace
    key, secret = keys.rotate_key(current_vellum().state, key_id, grace)
    return json_response({"data": {**key.as_dict(), "key": secret}})


@accounts.delete("/keys/<key_id>")
@access.require("admin")
def revoke_key(key_id: str) -> Response:
    return json_response({"data": keys.revoke_key(current_vellum().state, key_id).as_dict()})


@accounts.get("/keys/<key_id>/activity")
@access.require("admin")
def key_activity(key_id: str) -> Response:
    rows = keys.activity(current_vellum().state, key_id, limit=_int_arg("limit", 50, 500))
    return json_response({"data": rows})


def _list(data: dict, name: str) -> list[str]:
    value = data.get(name) or []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"Invalid {name}", [Detail(name, "expected a list of strings")])
    return value


def _rate(value) -> str | None:
    return check_rate(value, "rateLimit") if value else None


def _int_arg(name: str, default: int, high: int) -> int:
    return parse_int(request.args.to_dict(flat=False), name, default, 1, high)
