"""JWTs through flask-jwt-extended: short-lived access tokens, refresh tokens, revocation.

The signing secret comes from VELLUM_SECRET_KEY or is generated once into the state
folder; revoked token ids are kept in the state store, so a logout survives restarts.

A refresh token works once: refreshing spends it and answers a new one. The tokens of one
sign-in share a family (the `fam` claim); presenting a spent refresh token again means it
leaked, so the whole family is revoked, kept as the revoked id `family:<fam>`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time

import jwt as pyjwt
from flask import Flask
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException

from vellum.errors import Unauthorized
from vellum.store.state import StateStore

ACCESS_LIFETIME = dt.timedelta(minutes=15)
REFRESH_LIFETIME = dt.timedelta(days=30)
FAMILY_PREFIX = "family:"


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
    manager.token_in_blocklist_loader(lambda header, payload: is_revoked(state, payload))


def issue(
    subject: str,
    scopes,
    claims: dict | None = None,
    refresh: bool = True,
    family: str | None = None,
) -> dict:
    """An access token (and a refresh token) for a subject with these scopes.

    With a refresh token both carry a family: `family` when refreshing, else a new one.
    """
    extra = {"scopes": sorted(scopes), **(claims or {})}
    if refresh:
        extra["fam"] = family or secrets.token_hex(16)
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
    claims = _verified(token, kind)
    if is_revoked(state, claims):
        raise Unauthorized("The token has been revoked")
    return claims


def spend_refresh(state: StateStore, token: str) -> dict:
    """The claims of a refresh token, which can never be used again; presenting one that
    was spent or revoked revokes its whole family (access tokens too)."""
    claims = _verified(token, "refresh")
    family = claims.get("fam")
    with state.transaction() as db:  # one winner when two requests spend the same token
        db.lock(f"refresh:{claims['jti']}")
        used = db.execute(
            "SELECT 1 FROM revoked_tokens WHERE jti IN (?, ?)",
            (claims["jti"], f"{FAMILY_PREFIX}{family}"),
        ).fetchone()
        if not used:
            db.execute(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
                (claims["jti"], int(claims["exp"])),
            )
    if used:
        if family:
            revoke_family(state, family)
        raise Unauthorized(
            "The refresh token was already used or revoked; every token of this sign-in is"
            " now revoked: sign in again"
        )
    return claims


def revoke_family(state: StateStore, family: str) -> None:
    """Revoke every token of one sign-in, for as long as its newest one could live."""
    until = int(time.time() + REFRESH_LIFETIME.total_seconds())
    revoke(state, {"jti": f"{FAMILY_PREFIX}{family}", "exp": until})


def _verified(token: str, kind: str) -> dict:
    """Signature, expiry and kind checked (not revocation), or Unauthorized saying why."""
    try:
        claims = decode_token(token)
    except pyjwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired") from exc
    except (pyjwt.InvalidTokenError, JWTExtendedException, ValueError) as exc:
        raise Unauthorized(f"Invalid token: {exc}") from exc
    if claims.get("type") != kind:
        raise Unauthorized(f"Expected {'an' if kind == 'access' else 'a'} {kind} token")
    return claims


def revoke(state: StateStore, claims: dict) -> None:
    with state.transaction() as db:
        db.execute(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (claims["jti"], int(claims["exp"])),
        )
        db.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (int(time.time()),))


def is_revoked(state: StateStore, claims: dict) -> bool:
    """Whether the token, or the sign-in it belongs to, was revoked."""
    family = f"{FAMILY_PREFIX}{claims['fam']}" if claims.get("fam") else claims["jti"]
    sql = "SELECT 1 FROM revoked_tokens WHERE jti IN (?, ?)"
    return bool(state.query(sql, (claims["jti"], family)))
