"""The rules of the two OAuth2 endpoints: who the client is, what it may get, and the answer.

The token endpoint (RFC 6749 §3.2) authenticates the client, runs one of four grants and
returns the §5.1 body. The authorization endpoint (§4.1.1, with PKCE from RFC 7636) is
checked in two steps: first the client and its redirect URI, whose errors are shown to
the user and never redirected; then the rest, whose errors go back to the client.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from werkzeug.datastructures import MultiDict

from vellum.auth import access, oauth, tokens, users
from vellum.auth.oauth import Client, Grant, OAuthError
from vellum.store.state import StateStore

_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256, no padding


@dataclass(frozen=True)
class Target:
    """The client of an authorization request and where its answer goes."""

    client: Client
    redirect_uri: str
    redirect_given: bool


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request, waiting for the user's answer."""

    target: Target
    scope: str | None
    state: str | None
    challenge: str | None
    method: str | None


# -- the token endpoint ----------------------------------------------------------------
def authenticate_client(
    state: StateStore, basic: tuple[str, str] | None, form: Mapping[str, str]
) -> Client:
    """The client making a token request: HTTP Basic, or client_id (+ client_secret) in the body."""
    if basic is not None and "client_secret" in form:
        raise OAuthError("invalid_request", "Use one way of client authentication, not two")
    client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
    if basic is not None and form.get("client_id") not in (None, client_id):
        raise OAuthError("invalid_request", "client_id differs from the HTTP Basic user name")
    client = oauth.find_client(state, client_id or "")
    if client is None:
        raise OAuthError("invalid_client", "Unknown client or wrong client secret", 401)
    if client.confidential and not oauth.secret_matches(client, secret):
        raise OAuthError("invalid_client", "Unknown client or wrong client secret", 401)
    if not client.confidential and secret:
        raise OAuthError("invalid_client", "This is a public client: it has no secret", 401)
    return client


def exchange(state: StateStore, client: Client, form: Mapping[str, str]) -> dict:
    """Run the grant the request names and return the token response body."""
    grant_type = required(form, "grant_type")
    handler = _GRANTS.get(grant_type)
    if handler is None:
        raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}")
    if not client.allows(grant_type):
        raise OAuthError("unauthorized_client", f"This client may not use {grant_type}")
    return handler(state, client, form)


def single_values(params: MultiDict) -> dict[str, str]:
    """The parameters as a dict; a repeated one is invalid (RFC 6749 §3.1, §3.2)."""
    for name in params:
        if len(params.getlist(name)) > 1:
            raise OAuthError("invalid_request", f"{name} is repeated")
    return params.to_dict()


def required(form: Mapping[str, str], name: str) -> str:
    """A parameter the request must carry, non-empty."""
    value = form.get(name)
    if not value:
        raise OAuthError("invalid_request", f"{name} is required")
    return value


def _client_credentials(state: StateStore, client: Client, form: Mapping[str, str]) -> dict:
    if not client.confidential:
        raise OAuthError("unauthorized_client", "A public client cannot use client_credentials")
    scopes = oauth.narrow_scopes(form.get("scope"), client.scopes)
    return _respond(state, client, client.id, scopes, {"name": client.name}, None)


def _password(state: StateStore, client: Client, form: Mapping[str, str]) -> dict:
    name, password = required(form, "username"), required(form, "password")
    try:
        user = access.sign_in(name, password)
    except users.AccountLocked as exc:
        raise OAuthError("invalid_grant", exc.message, 429) from exc
    if user is None:
        raise OAuthError("invalid_grant", "Wrong user name or password")
    scopes = oauth.narrow_scopes(form.get("scope"), client.scopes, user.scopes)
    return _respond_user(state, client, user, Grant(client.id, user.id, scopes, _family()))


def _authorization_code(state: StateStore, client: Client, form: Mapping[str, str]) -> dict:
    code = required(form, "code")
    grant = oauth.redeem_code(
        state, client, code, form.get("redirect_uri"), form.get("code_verifier")
    )
    return _respond_user(state, client, _user(state, grant), grant)


def _refresh_token(state: StateStore, client: Client, form: Mapping[str, str]) -> dict:
    token = required(form, "refresh_token")
    asked = oauth.narrow_scopes(form["scope"]) if form.get("scope") else None
    grant = oauth.rotate_refresh(state, client, token, asked)
    grant = replace(grant, scopes=asked or grant.scopes)
    return _respond_user(state, client, _user(state, grant), grant)


_GRANTS: dict[str, Callable[[StateStore, Client, Mapping[str, str]], dict]] = {
    "authorization_code": _authorization_code,
    "client_credentials": _client_credentials,
    "password": _password,
    "refresh_token": _refresh_token,
}


GRANT_TYPES = frozenset(_GRANTS)


def _user(state: StateStore, grant: Grant) -> users.User:
    try:
        return users.get_user(state, int(grant.user_id))
    except (users.UserNotFound, TypeError) as exc:
        raise OAuthError("invalid_grant", "The grant's user no longer exists") from exc


def _respond_user(state: StateStore, client: Client, user: users.User, grant: Grant) -> dict:
    # The role may have shrunk since the grant: never issue more than it allows today.
    scopes = grant.scopes & user.scopes
    if not scopes:
        raise OAuthError("invalid_grant", "The user's role no longer allows any of these scopes")
    claims = {"name": user.name, "role": user.role}
    return _respond(state, client, str(user.id), scopes, claims, replace(grant, scopes=scopes))


def _respond(
    state: StateStore,
    client: Client,
    subject: str,
    scopes: frozenset[str],
    claims: dict,
    grant: Grant | None,
) -> dict:
    issued = tokens.issue(subject, scopes, {**claims, "client_id": client.id}, refresh=False)
    body = {
        "access_token": issued["accessToken"],
        "token_type": "Bearer",
        "expires_in": issued["expiresIn"],
        "scope": " ".join(sorted(scopes)),
    }
    if grant is None:
        return body
    access = tokens.decode(state, issued["accessToken"])
    if client.allows("refresh_token"):
        body["refresh_token"] = oauth.issue_refresh(state, grant, access)
    else:
        oauth.record_access(state, grant, access)
    return body


def _family() -> str:
    return secrets.token_hex(16)


# -- the authorization endpoint --------------------------------------------------------
def authorization_target(state: StateStore, args: Mapping[str, str]) -> Target:
    """The client and redirect URI; an error here is shown to the user, never redirected."""
    client = oauth.find_client(state, args.get("client_id") or "")
    if client is None:
        raise OAuthError("invalid_client", "There is no application with this client_id")
    uri = args.get("redirect_uri")
    if uri is None:
        if len(client.redirect_uris) != 1:
            raise OAuthError("invalid_request", "redirect_uri is required for this application")
        return Target(client, client.redirect_uris[0], False)
    if not oauth.redirect_allowed(client, uri):
        raise OAuthError("invalid_request", "redirect_uri is not registered for this application")
    return Target(client, uri, True)


def authorization_request(target: Target, args: Mapping[str, str]) -> AuthorizationRequest:
    """The rest of the request, checked; an error here is redirected back to the client."""
    response_type = required(args, "response_type")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", "Only response_type=code is supported")
    if not target.client.allows("authorization_code"):
        raise OAuthError("unauthorized_client", "This client may not use authorization_code")
    challenge, method = args.get("code_challenge"), args.get("code_challenge_method")
    _check_challenge(target.client, challenge, method)
    oauth.narrow_scopes(args.get("scope"), target.client.scopes)
    return AuthorizationRequest(target, args.get("scope"), args.get("state"), challenge, method)


def approve(
    state: StateStore, request: AuthorizationRequest, user: users.User
) -> tuple[str, frozenset[str]]:
    """Issue a code for this user; returns it and the scopes it carries."""
    target = request.target
    scopes = oauth.narrow_scopes(request.scope, target.client.scopes, user.scopes)
    redirect_uri = target.redirect_uri if target.redirect_given else None
    code = oauth.issue_code(
        state, target.client, user.id, scopes, redirect_uri, request.challenge, request.method
    )
    return code, scopes


def _check_challenge(client: Client, challenge: str | None, method: str | None) -> None:
    if challenge is None:
        if method is not None:
            raise OAuthError("invalid_request", "code_challenge_method without code_challenge")
        if not client.confidential:
            raise OAuthError("invalid_request", "PKCE is required: send an S256 code_challenge")
        return
    # `plain` (also the default when no method is named) gives no protection against a
    # code intercepted on its way back, and every client that can hash can send S256.
    if method != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256")
    if not _CHALLENGE.match(challenge):
        raise OAuthError("invalid_request", "code_challenge is not a base64url SHA-256")
