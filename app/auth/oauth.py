"""OAuth2 storage (RFC 6749): registered applications, authorization codes, refresh tokens.

A client is confidential (it holds a secret, `vcs_…`, shown once and stored as SHA-256)
or public (a browser or native app: no secret, so PKCE is required). Codes and refresh
tokens are 256-bit random strings, also stored only as SHA-256. A refresh token is
rotated on every use; tokens that descend from one code or one sign-in share a family,
and presenting a used code or a rotated refresh token revokes the whole family.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from vellum.auth import tokens
from vellum.auth.keys import SCOPES, with_implied
from vellum.errors import Detail, NotFound, ValidationError, VellumError
from vellum.store.state import StateStore, iso, utcnow

GRANTS = ("authorization_code", "refresh_token", "client_credentials", "password")
CLIENT_PREFIX = "vc_"
SECRET_PREFIX = "vcs_"
REFRESH_PREFIX = "vr_"
CODE_LIFETIME = 600
REFRESH_LIFETIME = 30 * 24 * 3600
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


class OAuthError(VellumError):
    """An RFC 6749 error: `error` is the registered code, the message its description."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.status = status
        self.code = {401: "UNAUTHORIZED", 429: "RATE_LIMITED"}.get(status, "BAD_REQUEST")

    def as_rfc(self) -> dict:
        """The RFC 6749 §5.2 body."""
        return {"error": self.error, "error_description": self.message}


class ClientNotFound(NotFound):
    """No registered application has this id."""

    def __init__(self, client_id: str) -> None:
        super().__init__(f"No application '{client_id}'")


@dataclass(frozen=True)
class Client:
    """A registered application; `secret_hash` is None for a public client."""

    id: str
    name: str
    secret_hash: str | None
    scopes: frozenset[str]
    redirect_uris: tuple[str, ...]
    grants: frozenset[str]
    created_by: str | None
    created_at: str

    @property
    def confidential(self) -> bool:
        """Whether it holds a secret (and so can authenticate itself)."""
        return self.secret_hash is not None

    def allows(self, grant: str) -> bool:
        """Whether it was registered for this grant type."""
        return grant in self.grants

    def as_dict(self) -> dict:
        """What the API shows: never the secret or its hash."""
        return {
            "id": self.id,
            "name": self.name,
            "type": "confidential" if self.confidential else "public",
            "scopes": sorted(self.scopes),
            "redirectUris": list(self.redirect_uris),
            "grants": sorted(self.grants),
            "createdBy": self.created_by,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True)
class Grant:
    """What a redeemed code or refresh token vouches for."""

    client_id: str
    user_id: int | None
    scopes: frozenset[str]
    family: str


# -- clients ---------------------------------------------------------------------------
def create_client(
    state: StateStore,
    name: str,
    scopes: list[str] | tuple[str, ...] = ("read",),
    redirect_uris: list[str] | tuple[str, ...] = (),
    *,
    public: bool = False,
    grants: list[str] | tuple[str, ...] | None = None,
    created_by: str | None = None,
) -> tuple[Client, str | None]:
    """Register an application; returns it and its secret (None for a public client)."""
    grants = list(grants) if grants else default_grants(bool(redirect_uris), public)
    details = _check(name, scopes, redirect_uris, grants, public)
    if details:
        raise ValidationError("Invalid application settings", details)
    client_id = f"{CLIENT_PREFIX}{secrets.token_hex(8)}"
    secret = None if public else f"{SECRET_PREFIX}{secrets.token_urlsafe(32)}"
    with state.transaction() as db:
        db.lock("oauth_clients")  # positions are handed out one at a time
        db.execute(
            "INSERT INTO oauth_clients (id, name, secret_hash, scopes, redirect_uris, grants,"
            " created_by, created_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
            " (SELECT COALESCE(MAX(position), 0) + 1 FROM oauth_clients))",
            (
                client_id,
                name.strip(),
                digest(secret) if secret else None,
                json.dumps(sorted(set(scopes))),
                json.dumps(list(dict.fromkeys(redirect_uris))),
                json.dumps(sorted(set(grants))),
                created_by,
                iso(utcnow()),
            ),
        )
    return get_client(state, client_id), secret


def default_grants(has_redirect: bool, public: bool) -> list[str]:
    """Browser sign-in when there is somewhere to return to; the client's own token if it can."""
    grants = ["authorization_code", "refresh_token"] if has_redirect else []
    return grants if public else [*grants, "client_credentials"]


def list_clients(state: StateStore) -> list[Client]:
    """Every registered application, oldest first."""
    rows = state.query("SELECT * FROM oauth_clients ORDER BY position")
    return [_client(row) for row in rows]


def find_client(state: StateStore, client_id: str) -> Client | None:
    """The client with this id, or None."""
    rows = state.query("SELECT * FROM oauth_clients WHERE id = ?", (client_id or "",))
    return _client(rows[0]) if rows else None


def get_client(state: StateStore, client_id: str) -> Client:
    """The client with this id, or ClientNotFound."""
    client = find_client(state, client_id)
    if client is None:
        raise ClientNotFound(client_id)
    return client


def delete_client(state: StateStore, client_id: str) -> Client:
    """Remove a client; its codes and refresh tokens go with it, its access tokens stop."""
    client = get_client(state, client_id)
    with state.transaction() as db:
        db.execute("DELETE FROM oauth_clients WHERE id = ?", (client.id,))
    return client


def secret_matches(client: Client, secret: str | None) -> bool:
    """Whether `secret` is this confidential client's secret (constant time)."""
    if client.secret_hash is None or not secret:
        return False
    return hmac.compare_digest(digest(secret), client.secret_hash)


def redirect_allowed(client: Client, uri: str) -> bool:
    """Exact string match against a registered URI (RFC 6749 §3.1.2.3, no prefix games)."""
    return uri in client.redirect_uris


# -- scopes ----------------------------------------------------------------------------
def narrow_scopes(requested: str | None, *allowed: frozenset[str]) -> frozenset[str]:
    """Requested (space-separated; absent: everything allowed) ∩ each allowed set; a scope
    asked for is allowed when an allowed one implies it (write: read:drafts)."""
    wanted = frozenset(requested.split()) if requested is not None else frozenset(SCOPES)
    unknown = sorted(wanted - frozenset(SCOPES))
    if unknown:
        raise OAuthError("invalid_scope", f"Unknown scope {unknown[0]!r}")
    for permitted in allowed:
        wanted &= with_implied(permitted) if requested is not None else permitted
    if not wanted:
        raise OAuthError("invalid_scope", "None of the requested scopes can be granted")
    return wanted


# -- authorization codes ---------------------------------------------------------------
def issue_code(
    state: StateStore,
    client: Client,
    user_id: int,
    scopes: frozenset[str],
    redirect_uri: str | None,
    challenge: str | None,
    method: str | None,
) -> str:
    """A single-use code for the token endpoint, valid for CODE_LIFETIME seconds."""
    code = secrets.token_urlsafe(32)
    now = int(time.time())
    with state.transaction() as db:
        db.execute("DELETE FROM oauth_codes WHERE expires_at < ?", (now - CODE_LIFETIME,))
        db.execute(
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, scopes, redirect_uri,"
            " code_challenge, code_challenge_method, expires_at) VALUES (?,?,?,?,?,?,?,?)",
            (
                digest(code),
                client.id,
                user_id,
                json.dumps(sorted(scopes)),
                redirect_uri,
                challenge,
                method,
                now + CODE_LIFETIME,
            ),
        )
    return code


def redeem_code(
    state: StateStore, client: Client, code: str, redirect_uri: str | None, verifier: str | None
) -> Grant:
    """Spend a code once; a replayed code fails and revokes what the first use issued."""
    family = digest(code or "")
    with state.transaction() as db:
        db.lock(f"code:{family}")  # one winner when two requests redeem the same code
        row = db.execute("SELECT * FROM oauth_codes WHERE code_hash = ?", (family,)).fetchone()
        if row is not None and not row["used"] and row["client_id"] == client.id:
            db.execute("UPDATE oauth_codes SET used = 1 WHERE code_hash = ?", (family,))
    if row is None or row["client_id"] != client.id:
        raise OAuthError("invalid_grant", "The authorization code is unknown or not this client's")
    if row["used"]:
        revoke_family(state, family)
        raise OAuthError("invalid_grant", "The authorization code has already been used")
    if row["expires_at"] < time.time():
        raise OAuthError("invalid_grant", "The authorization code has expired")
    _check_redirect(client, row["redirect_uri"], redirect_uri)
    _check_verifier(row["code_challenge"], verifier)
    return Grant(client.id, row["user_id"], frozenset(json.loads(row["scopes"])), family)


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636 §4.2)."""
    hashed = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(hashed).rstrip(b"=").decode("ascii")


def _check_redirect(client: Client, bound: str | None, sent: str | None) -> None:
    # RFC 6749 §4.1.3: required and identical when the authorization request carried one.
    if bound is not None and sent != bound:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
    if bound is None and sent is not None and not redirect_allowed(client, sent):
        raise OAuthError("invalid_grant", "redirect_uri is not registered for this client")


def _check_verifier(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier is not None:  # a verifier the request never committed to: a downgrade
            raise OAuthError("invalid_grant", "code_verifier sent, but no code_challenge was")
        return
    if verifier is None or not _VERIFIER.match(verifier):
        raise OAuthError("invalid_grant", "code_verifier is missing or malformed")
    if not hmac.compare_digest(s256(verifier), challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")


# -- refresh tokens --------------------------------------------------------------------
def issue_refresh(state: StateStore, grant: Grant, access: dict) -> str:
    """A refresh token for this grant, remembering the access token issued with it."""
    token = f"{REFRESH_PREFIX}{secrets.token_urlsafe(32)}"
    now = int(time.time())
    with state.transaction() as db:
        db.execute("DELETE FROM oauth_refresh_tokens WHERE expires_at < ?", (now,))
        db.execute(
            "INSERT INTO oauth_refresh_tokens (token_hash, client_id, user_id, scopes, family,"
            " expires_at, access_jti, access_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                digest(token),
                grant.client_id,
                grant.user_id,
                json.dumps(sorted(grant.scopes)),
                grant.family,
                now + REFRESH_LIFETIME,
                access["jti"],
                int(access["exp"]),
            ),
        )
    return token


def record_access(state: StateStore, grant: Grant, access: dict) -> None:
    """Remember the access token a code bought, so a replay of the code can revoke it."""
    with state.transaction() as db:
        db.execute(
            "UPDATE oauth_codes SET access_jti = ?, access_expires_at = ? WHERE code_hash = ?",
            (access["jti"], int(access["exp"]), grant.family),
        )


def rotate_refresh(
    state: StateStore, client: Client, token: str, asked: frozenset[str] | None = None
) -> Grant:
    """Spend a refresh token (it is revoked); replaying a spent one revokes its family.

    A refresh asking for scopes the grant lacks is refused before the token is spent,
    so the client may try again without them.
    """
    token_hash = digest(token or "")
    with state.transaction() as db:
        db.lock(f"refresh:{token_hash}")  # one winner when two requests spend the same token
        row = db.execute(
            "SELECT * FROM oauth_refresh_tokens WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        usable = row is not None and not row["revoked"] and row["client_id"] == client.id
        if usable and asked is not None and not asked <= frozenset(json.loads(row["scopes"])):
            raise OAuthError("invalid_scope", "A refresh cannot add scopes the grant did not have")
        if usable:
            db.execute(
                "UPDATE oauth_refresh_tokens SET revoked = 1 WHERE token_hash = ?", (token_hash,)
            )
    if row is None or row["client_id"] != client.id:
        raise OAuthError("invalid_grant", "The refresh token is unknown or not this client's")
    if row["revoked"]:
        revoke_family(state, row["family"])
        raise OAuthError("invalid_grant", "The refresh token has been used or revoked")
    if row["expires_at"] < time.time():
        raise OAuthError("invalid_grant", "The refresh token has expired")
    return Grant(client.id, row["user_id"], frozenset(json.loads(row["scopes"])), row["family"])


def revoke_family(state: StateStore, family: str) -> None:
    """Revoke every refresh token of a family and the access tokens issued with them."""
    with state.transaction() as db:
        db.execute("UPDATE oauth_refresh_tokens SET revoked = 1 WHERE family = ?", (family,))
        rows = db.execute(
            "SELECT access_jti, access_expires_at FROM oauth_refresh_tokens WHERE family = ?"
            " UNION SELECT access_jti, access_expires_at FROM oauth_codes WHERE code_hash = ?",
            (family, family),
        ).fetchall()
    for row in rows:
        if row["access_jti"]:
            tokens.revoke(state, {"jti": row["access_jti"], "exp": row["access_expires_at"]})


def revoke_token(state: StateStore, client: Client, token: str, hint: str | None) -> None:
    """RFC 7009: revoke a refresh token (its whole grant, access tokens too) or an access
    token this client was issued. An unknown, expired or malformed token is not an error:
    the answer to the client is the same, so it learns nothing from it."""
    kinds = ("access_token", "refresh_token")
    if hint == "access_token" or (hint not in kinds and not token.startswith(REFRESH_PREFIX)):
        order = (_revoke_access, _revoke_refresh)
    else:
        order = (_revoke_refresh, _revoke_access)
    for revoke in order:
        if revoke(state, client, token):
            return


def _revoke_refresh(state: StateStore, client: Client, token: str) -> bool:
    rows = state.query(
        "SELECT client_id, family FROM oauth_refresh_tokens WHERE token_hash = ?", (digest(token),)
    )
    if not rows:
        return False
    if rows[0]["client_id"] != client.id:
        raise OAuthError("unauthorized_client", "The token was not issued to this client")
    revoke_family(state, rows[0]["family"])
    return True


def _revoke_access(state: StateStore, client: Client, token: str) -> bool:
    try:
        claims = tokens.decode(state, token)
    except VellumError:  # expired, revoked already, malformed or not ours: nothing to do
        return False
    if claims.get("client_id") != client.id:
        raise OAuthError("unauthorized_client", "The token was not issued to this client")
    tokens.revoke(state, claims)
    return True


# -- helpers ---------------------------------------------------------------------------
def digest(secret: str) -> str:
    """SHA-256 hex: secrets here are 256-bit random, so a slow hash would add nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _check(name, scopes, redirect_uris, grants, public) -> list[Detail]:
    details = []
    if not (name or "").strip():
        details.append(Detail("name", "is required"))
    if not scopes or any(s not in SCOPES for s in scopes):
        details.append(Detail("scopes", f"expected some of {', '.join(SCOPES)}"))
    if not grants or any(g not in GRANTS for g in grants):
        details.append(Detail("grants", f"expected some of {', '.join(GRANTS)}"))
    if public and "client_credentials" in grants:
        details.append(Detail("grants", "a public client has no secret: no client_credentials"))
    if "authorization_code" in grants and not redirect_uris:
        details.append(Detail("redirectUris", "authorization_code needs a redirect URI"))
    details.extend(Detail("redirectUris", p) for p in map(_redirect_problem, redirect_uris) if p)
    return details


def _redirect_problem(uri: str) -> str | None:
    """Absolute, no fragment; https, http on loopback, or a private-use scheme (RFC 8252)."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return f"{uri!r} is not a URI"
    if parts.fragment or "#" in uri:
        return f"{uri!r}: a redirect URI may not have a fragment"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return None
    if "." in parts.scheme and parts.scheme not in {"http", "https"}:
        return None
    return f"{uri!r}: expected https, http on localhost, or an app's reverse-domain scheme"


def _client(row) -> Client:
    return Client(
        id=row["id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        scopes=frozenset(json.loads(row["scopes"])),
        redirect_uris=tuple(json.loads(row["redirect_uris"])),
        grants=frozenset(json.loads(row["grants"])),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )
