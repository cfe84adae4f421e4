"""OAuth2 over HTTP: registered applications at /api/apps, the token endpoint /oauth/token,
revocation at /oauth/revoke (RFC 7009) and the server's metadata (RFC 8414).

/api/apps speaks Vellum's JSON envelope and needs the admin scope. /oauth/token and
/oauth/revoke speak RFC 6749: a form-encoded POST in, `{"access_token", …}` or
`{"error", "error_description"}` out, never cached.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from flask import Blueprint, Flask, Response, request

from vellum.api.accounts import body
from vellum.api.envelope import json_response
from vellum.auth import access, grants, oauth
from vellum.auth.keys import SCOPES
from vellum.auth.oauth import OAuthError
from vellum.context import current_vellum
from vellum.errors import Detail, ValidationError

apps = Blueprint("apps_api", __name__)
token = Blueprint("oauth_token", __name__)
metadata = Blueprint("oauth_metadata", __name__)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def init_app(app: Flask) -> None:
    """Mount /api/apps (and /api/v1/apps), /oauth/token, /oauth/revoke and the metadata."""
    app.register_blueprint(apps, url_prefix="/api")
    app.register_blueprint(apps, url_prefix="/api/v1", name="apps_api_v1")
    app.register_blueprint(token, url_prefix="/oauth")
    app.register_blueprint(metadata)


# -- registered applications -----------------------------------------------------------
@apps.get("/apps")
@access.require("admin")
def list_apps() -> Response:
    """Every registered application (never a secret)."""
    rows = [c.as_dict() for c in oauth.list_clients(current_vellum().state)]
    return json_response({"data": rows, "meta": {"total": len(rows)}})


@apps.post("/apps")
@access.require("admin")
def register_app() -> Response:
    """Register an application; the answer holds its secret, the only time it is shown."""
    data = body()
    public = data.get("public", False)
    if not isinstance(public, bool):
        raise ValidationError("Invalid public", [Detail("public", "expected true or false")])
    client, secret = oauth.create_client(
        current_vellum().state,
        data.get("name") or "",
        _strings(data, "scopes") or ["read"],
        _strings(data, "redirectUris"),
        public=public,
        grants=_strings(data, "grants") or None,
        created_by=access.current().name,
    )
    payload = {"data": {**client.as_dict(), "secret": secret}}
    headers = {"Location": f"/api/apps/{client.id}", **NO_STORE}
    return json_response(payload, 201, headers)


@apps.get("/apps/<client_id>")
@access.require("admin")
def get_app(client_id: str) -> Response:
    """One application."""
    return json_response({"data": oauth.get_client(current_vellum().state, client_id).as_dict()})


@apps.delete("/apps/<client_id>")
@access.require("admin")
def delete_app(client_id: str) -> Response:
    """Remove an application: its codes, refresh tokens and access tokens stop working."""
    oauth.delete_client(current_vellum().state, client_id)
    return Response(status=204)


def _strings(data: dict, name: str) -> list[str]:
    value = data.get(name) or []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"Invalid {name}", [Detail(name, "expected a list of strings")])
    return value


# -- the token endpoint ----------------------------------------------------------------
@token.post("/token")
def issue_token() -> Response:
    """RFC 6749 §3.2: authenticate the client, run the grant, answer a token or an error."""
    form = _form()
    client = grants.authenticate_client(current_vellum().state, _basic_credentials(), form)
    return json_response(grants.exchange(current_vellum().state, client, form), 200, NO_STORE)


@token.post("/revoke")
def revoke_token() -> Response:
    """RFC 7009 §2: the client revokes a token it was issued; 200 whether or not it was valid."""
    form = _form()
    client = grants.authenticate_client(current_vellum().state, _basic_credentials(), form)
    oauth.revoke_token(
        current_vellum().state, client, grants.required(form, "token"), form.get("token_type_hint")
    )
    return Response(status=200, headers=NO_STORE)


def _form() -> dict[str, str]:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "Send application/x-www-form-urlencoded parameters")
    return grants.single_values(request.form)


@metadata.get("/.well-known/oauth-authorization-server")
def server_metadata() -> Response:
    """RFC 8414: where the endpoints are and what they support, for client libraries."""
    issuer = request.host_url.rstrip("/")
    auth_methods = ["client_secret_basic", "client_secret_post", "none"]
    return json_response(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": sorted(grants.GRANT_TYPES),
            "token_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": list(SCOPES),
        }
    )


@token.errorhandler(OAuthError)
def _oauth_error(exc: OAuthError) -> Response:
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="vellum"'
    return json_response(exc.as_rfc(), exc.status, headers)


def _basic_credentials() -> tuple[str, str] | None:
    """HTTP Basic client credentials, form-decoded as RFC 6749 §2.3.1 says they are encoded."""
    header = request.headers.get("Authorization")
    if not header:
        return None
    auth = request.authorization
    if auth is None or auth.type != "basic":
        raise OAuthError("invalid_client", "Authenticate the client with HTTP Basic", 401)
    return unquote_plus(auth.username or ""), unquote_plus(auth.password or "")
