"""Rate limits (flask-limiter), request size and CORS, as the site's vellum.yml sets them.

```yaml
rate_limits:
  anonymous: 100 per 15 minutes        # per IP
  authenticated: 1000 per 15 minutes   # per API key or user; a key may set its own
  storage: state://                    # the state store; redis://host:6379/0 for several machines
limits:
  max_body: 10485760                   # bytes
  max_conditions: 100                  # filter conditions in one list (REST and GraphQL)
  max_values: 1000                     # values in one $in / $nin
cors:
  origins: ["https://example.com"]
```

A caller has one budget, whatever the route and whichever server process answers: the
limit is an application-wide one, counted in the state store (SQLite) that every process
of a site shares.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from urllib.parse import urlparse

from flask import Blueprint, Flask, Response, request
from flask_cors import CORS
from flask_limiter import ExemptionScope, Limiter
from limits import parse
from limits.storage import Storage

from vellum.auth import access
from vellum.errors import Detail, SiteError, ValidationError, VellumError
from vellum.site.site import Site
from vellum.store.state import StateStore

PRUNE_SECONDS = 60  # how often a process drops ended windows from the state store
EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Request-Id",
]


def check_rate(value: str, field: str) -> str:
    """A limit in flask-limiter's notation ('100 per 15 minutes', '10/minute')."""
    try:
        parse(str(value))
    except ValueError as exc:
        raise ValidationError(
            "Invalid rate limit", [Detail(field, f"expected e.g. '100 per 15 minutes': {exc}")]
        ) from exc
    return str(value)


@dataclass(frozen=True)
class Settings:
    """vellum.yml's rate_limits, limits and cors, checked."""

    anonymous: str
    authenticated: str
    storage: str
    max_body: int
    origins: list[str] | str | None


def settings_of(site: Site) -> Settings:
    """The sections this module reads, typed; an error naming the setting when one is wrong
    (the schema checks their keys and types, flask-limiter the rates' notation)."""
    rates, sizes = site.setting("rate_limits"), site.setting("limits")
    return Settings(
        anonymous=check_rate(rates.anonymous, "rate_limits.anonymous"),
        authenticated=check_rate(rates.authenticated, "rate_limits.authenticated"),
        storage=rates.storage,
        max_body=sizes.max_body,
        origins=_origins(site.setting("cors").origins),
    )


def _origins(given: str | tuple[str, ...] | None) -> list[str] | str | None:
    """flask-cors takes one origin or a list of them."""
    return list(given) if isinstance(given, tuple) else given


def init_app(app: Flask, site: Site, state: StateStore) -> Limiter:
    settings = settings_of(site)
    anonymous, signed_in = settings.anonymous, settings.authenticated
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body

    def limit_for_request() -> str:
        try:
            principal = access.current()
        except VellumError:
            return anonymous  # bad credentials are counted like anonymous requests
        return anonymous if principal.anonymous else (principal.rate_limit or signed_in)

    def budget_key() -> str:
        try:
            return access.current().limit_key
        except VellumError:
            return f"ip:{access.client_ip()}"

    # Registered before the limiter, so that it runs after the limiter's header injection.
    app.after_request(_retry_after_where_it_means_something)
    limiter = Limiter(
        key_func=budget_key,
        app=app,
        # An application limit is one count per caller across every route (a default
        # limit would be one count per caller and route).
        application_limits=[limit_for_request],
        application_limits_cost=request_cost,
        storage_uri=settings.storage,
        storage_options=_storage_options(settings.storage, state),
        headers_enabled=True,
        strategy="fixed-window",
        # If Redis goes away, count in memory rather than fail requests.
        in_memory_fallback_enabled=True,
    )
    limiter.request_filter(_preflight)
    if settings.origins:
        CORS(app, origins=settings.origins, expose_headers=EXPOSED_HEADERS, max_age=600)
        app.after_request(_vary_on_origin)
    return limiter


def _storage_options(storage: str, state: StateStore) -> dict:
    """The state store is handed to our own storage; other storages take only their URI."""
    return {"state": state} if urlparse(storage).scheme == "state" else {}


def _preflight() -> bool:
    """An OPTIONS request (a CORS preflight) reads nothing: it spends no budget."""
    return request.method == "OPTIONS"


def _vary_on_origin(response: Response) -> Response:
    """With CORS on, whether an answer allows its reader depends on Origin: a cache in
    front must keep one copy per origin, or hand one origin's answer to another."""
    response.vary.add("Origin")
    return response


class StateWindows(Storage):
    """Fixed windows in the state store's SQLite (WAL), so that every process of one
    `vellum serve` spends from one count per caller with no Redis: flask-limiter's only
    storages that processes share are servers (Redis, Memcached, MongoDB). A hit is one
    UPSERT, atomic on its own; no lock is held beyond that statement."""

    STORAGE_SCHEME = ["state"]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        state: StateStore | None = None,
        **options,
    ) -> None:
        super().__init__(uri, wrap_exceptions)
        if state is None:
            raise SiteError("rate_limits.storage: state:// counts in the site's state store")
        self.state = state
        self._prune_at = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` hits and return the window's count; an ended window starts again."""
        now = time.time()
        self._prune(now)
        rows = self._run(
            "INSERT INTO rate_windows (key, hits, expires_at) VALUES (:key, :amount, :ends)"
            " ON CONFLICT (key) DO UPDATE SET"
            " hits = CASE WHEN expires_at <= :now THEN :amount ELSE hits + :amount END,"
            " expires_at = CASE WHEN expires_at <= :now THEN :ends ELSE expires_at END"
            " RETURNING hits",
            {"key": key, "amount": amount, "now": now, "ends": now + expiry},
        )
        return rows[0][0]

    def get(self, key: str) -> int:
        rows = self._run(
            "SELECT hits FROM rate_windows WHERE key = ? AND expires_at > ?", (key, time.time())
        )
        return rows[0][0] if rows else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        rows = self._run(
            "SELECT expires_at FROM rate_windows WHERE key = ? AND expires_at > ?", (key, now)
        )
        return rows[0][0] if rows else now

    def check(self) -> bool:
        self._run("SELECT 1")
        return True

    def reset(self) -> int | None:
        return self.state.connection().execute("DELETE FROM rate_windows").rowcount

    def clear(self, key: str) -> None:
        self._run("DELETE FROM rate_windows WHERE key = ?", (key,))

    def _prune(self, now: float) -> None:
        """Now and then drop ended windows, so the table holds only recent callers."""
        if now >= self._prune_at:
            self._prune_at = now + PRUNE_SECONDS
            self._run("DELETE FROM rate_windows WHERE expires_at <= ?", (now,))

    def _run(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Run one statement to its end (so that a write commits at once)."""
        return self.state.connection().execute(sql, params).fetchall()


def request_cost() -> int:
    """What a request takes from the budget: a GraphQL batch costs one per operation, so
    fifty queries in one POST are not one request's worth."""
    if request.method == "POST" and request.path.rstrip("/").endswith("/graphql"):
        body = request.get_json(silent=True)
        if isinstance(body, list):
            return max(1, len(body))
    return 1


def _retry_after_where_it_means_something(response: Response) -> Response:
    """flask-limiter puts Retry-After (the end of its window) on every response; it
    means something only on a 429, or where a view asked for its own."""
    asked = access.asked_retry_after()
    if asked is not None:
        response.headers["Retry-After"] = str(asked)
    elif response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


def exempt(app: Flask, blueprint: Blueprint) -> None:
    """Take a blueprint, and those nested in it, off the API's default limits."""
    flags = ExemptionScope.APPLICATION | ExemptionScope.DEFAULT | ExemptionScope.META
    for limiter in app.extensions.get("limiter", ()):
        limiter.exempt(blueprint, flags=flags | ExemptionScope.DESCENDENTS)


def limit_view(app: Flask, endpoint: str, limit: str, methods: list[str] | None = None) -> None:
    """Give one registered view its own limit, for `methods` (all when None). The wrapped
    function must replace the registered one: a limit counts only inside its wrapper."""
    for limiter in app.extensions.get("limiter", ()):
        wrapped = limiter.limit(limit, methods=methods)(app.view_functions[endpoint])
        app.view_functions[endpoint] = wrapped
