"""The browser side of OAuth2, /oauth/authorize: sign in, then approve or deny a client.

Every POST goes back to the same URL, query string included, so the request is checked
again from scratch and nothing but the CSRF token and the user's choice is trusted from
the form. An unknown client or an unregistered redirect URI is shown as an error page:
redirecting there would hand codes, or at least a phishing hop, to whoever asked.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Flask, Response, redirect, render_template, request, url_for

from vellum.auth import access, grants, limits, oauth, users
from vellum.auth.grants import AuthorizationRequest, Target
from vellum.auth.oauth import OAuthError
from vellum.context import current_vellum
from vellum.errors import BadRequest, VellumError
from vellum.web import session as web

pages = Blueprint("oauth_pages", __name__)
FORM_LIMIT = "10 per minute"  # a sign-in spins Argon2 on purpose: keep guessers slow
SCOPE_LABELS = {
    "read": "Read published content",
    "read:drafts": "Read drafts and unpublished content",
    "write": "Create, change and delete content, and so read drafts",
    "admin": "Manage users, API keys and applications",
}


def init_app(app: Flask) -> None:
    """Mount /oauth/authorize, with a tighter budget for its form posts."""
    app.register_blueprint(pages, url_prefix="/oauth")
    limits.limit_view(app, "oauth_pages.authorize", FORM_LIMIT, methods=["POST"])


@pages.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response | tuple[str, int]:
    """Check the request; then the login page, the consent page, or the answer to a form."""
    state = current_vellum().state
    args = grants.single_values(request.args)
    target = grants.authorization_target(state, args)
    try:
        asked = grants.authorization_request(target, args)
    except OAuthError as exc:
        return _answer(target, {"error": exc.error, "error_description": exc.message}, args)
    if request.method == "POST":
        return _choose(asked)
    user = web.signed_in_user(state)
    if user is None:
        return _page("login.html", 200, client=target.client)
    return _consent(asked, user)


def _choose(asked: AuthorizationRequest) -> Response | tuple[str, int]:
    web.check_csrf()
    state, action = current_vellum().state, request.form.get("action")
    if action == "sign_in":
        return _sign_in(asked)
    if action == "sign_out":
        web.sign_out()
        return redirect(_here(), 303)
    user = web.signed_in_user(state)
    if user is None:
        return _page("login.html", 200, client=asked.target.client)
    if action == "deny":
        return _answer(asked.target, {"error": "access_denied"}, {"state": asked.state})
    if action != "approve":
        raise BadRequest("Expected action=approve or action=deny")
    try:
        code, _ = grants.approve(state, asked, user)
    except OAuthError as exc:
        detail = {"error": exc.error, "error_description": exc.message}
        return _answer(asked.target, detail, {"state": asked.state})
    return _answer(asked.target, {"code": code}, {"state": asked.state})


def _sign_in(asked: AuthorizationRequest) -> Response | tuple[str, int]:
    name = request.form.get("username", "")
    try:
        user = access.sign_in(name, request.form.get("password", ""))
    except users.AccountLocked as exc:
        client = asked.target.client
        return _page("login.html", 429, client=client, refusal=f"{exc.message}.", name=name)
    if user is None:
        refusal = "Wrong user name or password."
        return _page("login.html", 200, client=asked.target.client, refusal=refusal, name=name)
    web.sign_in(user)
    return redirect(_here(), 303)


def _consent(asked: AuthorizationRequest, user: users.User) -> Response | tuple[str, int]:
    client = asked.target.client
    try:
        scopes = oauth.narrow_scopes(asked.scope, client.scopes, user.scopes)
    except OAuthError as exc:
        detail = {"error": exc.error, "error_description": exc.message}
        return _answer(asked.target, detail, {"state": asked.state})
    labels = [(s, SCOPE_LABELS[s]) for s in sorted(scopes)]
    return _page("consent.html", 200, client=client, scopes=labels, user=user)


def _answer(target: Target, params: dict, args: dict) -> Response:
    """Send the browser back to the client, keeping the redirect URI's own query."""
    parts = urlsplit(target.redirect_uri)
    extra = {**params, "state": args.get("state")}
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in extra.items() if v is not None]
    return redirect(urlunsplit(parts._replace(query=urlencode(query))), 303)


def _here() -> str:
    query = request.query_string.decode()
    return url_for(".authorize") + (f"?{query}" if query else "")


def _page(template: str, status: int, **context) -> tuple[str, int]:
    return render_template(f"oauth/{template}", action=_here(), **context), status


pages.after_request(web.harden)


@pages.errorhandler(VellumError)
def _error_page(exc: VellumError) -> tuple[str, int]:
    error = getattr(exc, "error", exc.code.lower())
    return render_template("oauth/error.html", error=error, message=exc.message), exc.status
