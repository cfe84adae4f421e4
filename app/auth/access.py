"""Who is asking, and what they may do: the principal behind each request, and scopes.

Credentials arrive as `Authorization: Bearer <token>` (a JWT or an API key, told apart
by the key's `vk_` prefix) or `X-API-Key: <key>`. No credentials is the anonymous
principal, who may read published records only when the site's `auth.public_read` is on.
Wrong credentials are always a 401, never a silent fall back to anonymous.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from flask import Flask, Response, g, request

from vellum.auth import keys, oauth, tokens, users
from vellum.context import current_vellum
from vellum.errors import Forbidden, Unauthorized
from vellum.site.audience import EDITORS, PUBLIC, Audience


@dataclass(frozen=True)
class Principal:
    kind: str  # anonymous | user | key | client
    id: str | None
    name: str
    scopes: frozenset[str]  # as granted (shown by /api/auth/me)
    rate_limit: str | None = None
    connections: int | None = None  # a key's own limits, else the site's
    bandwidth: str | None = None
    # What the scopes allow: whatever granted them (a key, a role, an OAuth token), they
    # carry what they imply (`write` brings `read:drafts`), so every check agrees.
    allowed: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed", keys.with_implied(self.scopes))

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"

    def can(self, scope: str) -> bool:
        return scope in self.allowed

    @property
    def audience(self) -> Audience:
        """Whom records are shown as to this caller: with drafts only given read:drafts."""
        return EDITORS if self.can("read:drafts") else PUBLIC

    @property
    def limit_key(self) -> str:
        """Whose budget a request spends: the key, the user, or the client's IP."""
        return f"ip:{client_ip()}" if self.anonymous else f"{self.kind}:{self.id}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "id": self.id, "name": self.name, "scopes": sorted(self.scopes)}


# A WSGI environ key no HTTP request can set (headers arrive as HTTP_*): code in this
# process (the static export) renders answers as the Principal it puts there.
IN_PROCESS = "vellum.principal"


def in_process() -> bool:
    """Whether this request comes from code in this process rather than over HTTP."""
    return isinstance(request.environ.get(IN_PROCESS), Principal)


def anonymous(public_read: bool) -> Principal:
    return Principal("anonymous", None, "anonymous", frozenset({"read"} if public_read else ()))


def client_ip() -> str | None:
    """The client address: the peer, or with VELLUM_PROXIES what the trusted proxies saw."""
    return request.remote_addr


def sign_in(name: str, password: str) -> users.User | None:
    """Check a password (a sign-in form or grant) under the site's lockout; a locked name
    raises users.AccountLocked, and the response tells the client when to come back."""
    vellum = current_vellum()
    try:
        return users.authenticate(vellum.state, name, password, vellum.lockout, client_ip())
    except users.AccountLocked as exc:
        retry_after(exc.retry_after)
        raise


def retry_after(seconds: int) -> None:
    """Ask the client of this response to come back in `seconds` (a lockout, a full server)."""
    g.retry_after = seconds


def asked_retry_after() -> int | None:
    """What a view asked for with retry_after, if anything."""
    return g.get("retry_after")


def current() -> Principal:
    principal = getattr(g, "principal", None)
    if principal is None:
        principal = g.principal = _resolve()
    return principal


def require(scope: str | None):
    """A view decorator: the request needs this scope (None: any signed-in principal)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            check(scope)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def check(scope: str | None) -> Principal:
    principal = current()
    if principal.anonymous and (scope is None or not principal.can(scope)):
        raise Unauthorized("Sign in or send an API key: this needs authentication")
    if scope is not None and not principal.can(scope):
        raise Forbidden(f"This needs the '{scope}' scope")
    return principal


def presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header:
        kind, _, value = header.partition(" ")
        if kind.lower() != "bearer" or not value.strip():
            raise Unauthorized("Expected 'Authorization: Bearer <token or API key>'")
        return value.strip()
    return request.headers.get("X-API-Key") or None


def _resolve() -> Principal:
    if in_process():
        return request.environ[IN_PROCESS]
    vellum = current_vellum()
    token = presented_token()
    if token is None:
        return anonymous(vellum.public_read)
    if token.startswith(keys.PREFIX):
        key = keys.verify_key(vellum.state, token, client_ip())
        g.api_key = key
        return Principal(
            "key", key.id, key.name, key.scopes, key.rate_limit, key.connections, key.bandwidth
        )
    if token.count(".") != 2:  # neither an API key (vk_…) nor a JWT: say which were expected
        raise Unauthorized("Not an API key (vk_…) nor a token from /api/auth/login or OAuth")
    claims = tokens.decode(vellum.state, token)
    if claims.get("client_id"):
        # An OAuth token: it dies with its client; a client's own token acts as the client.
        client = oauth.find_client(vellum.state, claims["client_id"])
        if client is None:
            raise Unauthorized("The token's application no longer exists")
        if claims["sub"] == client.id:
            scopes = client.scopes & frozenset(claims["scopes"])
            return Principal("client", client.id, client.name, scopes)
    try:
        user = users.get_user(vellum.state, int(claims["sub"]))
    except (users.UserNotFound, ValueError) as exc:
        raise Unauthorized("The token's user no longer exists") from exc
    # A token never grants more than the user's current role allows.
    scopes = user.scopes & frozenset(claims.get("scopes", ()))
    return Principal("user", str(user.id), user.name, scopes)


def init_app(app: Flask) -> None:
    """Log each API-key request with its final status; keep personal answers out of caches."""
    app.after_request(_private_when_personal)

    @app.after_request
    def record_key_use(response):
        key = getattr(g, "api_key", None)
        if key is not None:
            keys.record_use(
                current_vellum().state,
                key.id,
                client_ip(),
                request.method,
                request.path,
                response.status_code,
            )
        return response


def _private_when_personal(response: Response) -> Response:
    """An answer to a caller who sent credentials may hold what only they may see (drafts,
    a key's own data): `Cache-Control: private`, so that no shared cache keeps it. Every
    answer varies with the credentials, so a cache never hands the anonymous answer (published
    records only) to a caller who sent a key either."""
    response.vary.update(("Authorization", "X-API-Key"))
    if _sent_credentials() and not response.cache_control.no_store:
        response.cache_control.public = False
        response.cache_control.private = True
    return response


def _sent_credentials() -> bool:
    """Whether the request carries a token or key at all, valid or not."""
    return bool(request.headers.get("Authorization") or request.headers.get("X-API-Key"))


def commit_author(principal: Principal) -> tuple[str, str]:
    """The Git author of a write: the user, or the key or application that made it."""
    if principal.kind == "user":
        user = users.get_user(current_vellum().state, int(principal.id))
        return user.name, user.email or f"{user.name}@users.vellum.invalid"
    if principal.kind == "key":
        return principal.name, f"key-{principal.id}@keys.vellum.invalid"
    return principal.name, f"app-{principal.id}@apps.vellum.invalid"
