"""Server-rendered pages (/admin, the OAuth consent page): session sign-in and CSRF.

Pages use a signed Flask session cookie (HttpOnly, SameSite=Lax). Every form carries
`{{ csrf_token() }}` in a hidden `csrf_token` field; `check_csrf()` compares it with the
session's token in constant time before a POST does anything.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, Response, request, session

from vellum.auth import users
from vellum.errors import Forbidden
from vellum.store.state import StateStore


def init_app(app: Flask) -> None:
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    app.jinja_env.globals["csrf_token"] = csrf_token


def harden(response: Response) -> Response:
    """Pages are never framed (clickjacking a button), never cached, and leak no Referer."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def csrf_token() -> str:
    token = session.get("csrf")
    if token is None:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse a form post whose csrf_token does not match the session's."""
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("The form's CSRF token is missing or wrong; reload the page")


def sign_in(user: users.User) -> None:
    """Start a fresh session (a new CSRF token too), so a planted session is useless."""
    session.clear()
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)


def sign_out() -> None:
    session.clear()


def signed_in_user(state: StateStore) -> users.User | None:
    uid = session.get("uid")
    if uid is None:
        return None
    try:
        return users.get_user(state, int(uid))
    except users.UserNotFound:
        session.clear()
        return None
