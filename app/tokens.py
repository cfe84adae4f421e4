"""JWTs through flask-jwt-extended: short-lived access tokens, refresh tokens, revocation.

The signing secret comes from VELLUM_SECRET_KEY or is generated once into the state
folder; revoked token ids are kept in the state store, so a logout survives restarts.
"""

from __future__ import annotations

import datetime as dt
import time

import jwt as pyjwt
from flask import Flask
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException

from app.errors import Unauthorized
from app.state import StateStore

ACCESS_LIFETIME = dt.timedelta(minutes=15)
REFRESH_LIFETIME = dt.timedelta(days=30)


def init_app(app: Flask, state: StateStore, secret: str) -> None:
    """Configure signing (HS256 only, so 'alg: none' and other algorithms are refused)."""
    app.config.update(
        JWT_SECRET_KEY=secret,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_ACCESS_TOKEN_EXPIRES=ACCESS_LIFETIME,
        JWT_REFRESH_TOKEN_EXPIRES=REFRESH_LIFETIME,
        JWT_TOKEN_LOCATION=["headers"],
        JWT_IDENTITY_CLAIM="sub",
    )
    manager = JWTManager(app)
    manager.token_in_blocklist_loader(lambda header, payload: is_revoked(state, payload["jti"]))


def issue(subject: str, scopes, claims: dict | None = None, refresh: bool = True) -> dict:
    """An access token (and a refresh token) for a subject with these scopes."""
    extra = {"scopes": sorted(scopes), **(claims or {})}
    out = {
        "accessToken": create_access_token(identity=subject, additional_claims=extra),
        "tokenType": "Bearer",
        "expiresIn": int(ACCESS_LIFETIME.total_seconds()),
    }
    if refresh:
        out["refreshToken"] = create_refresh_token(identity=subject, additional_claims=extra)
    return out


def decode(state: StateStore, token: str, kind: str = "access") -> dict:
    """Verified claims of a token of this kind, or Unauthorized saying why."""
    try:
        claims = decode_token(token)
    except pyjwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired") from exc
    except (pyjwt.InvalidTokenError, JWTExtendedException, ValueError) as exc:
        raise Unauthorized(f"Invalid token: {exc}") from exc
    if claims.get("type") != kind:
        raise Unauthorized(f"Expected {'an' if kind == 'access' else 'a'} {kind} token")
    if is_revoked(state, claims["jti"]):
        raise Unauthorized("The token has been revoked")
    return claims


def revoke(state: StateStore, claims: dict) -> None:
    with state.transaction() as db:
        db.execute(
            "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
            (claims["jti"], int(claims["exp"])),
        )
        db.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (int(time.time()),))


def is_revoked(state: StateStore, jti: str) -> bool:
    return bool(state.query("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)))
