"""Rate limits (flask-limiter), request size and CORS, as the site's vellum.yml sets them.

```yaml
rate_limits:
  anonymous: 100 per 15 minutes        # per IP
  authenticated: 1000 per 15 minutes   # per API key or user; a key may set its own
  storage: memory://                   # redis://host:6379/0 shares counts across processes
limits:
  max_body: 10485760                   # bytes
  max_conditions: 100                  # filter conditions in one list (REST and GraphQL)
  max_values: 1000                     # values in one $in / $nin
cors:
  origins: ["https://example.com"]
```
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, Response, g, request
from flask_cors import CORS
from flask_limiter import ExemptionScope, Limiter
from limits import parse

from app import access
from app.errors import Detail, SiteError, ValidationError, VellumError
from app.query import filter_limits
from app.site import Site

ANONYMOUS = "100 per 15 minutes"
AUTHENTICATED = "1000 per 15 minutes"
MAX_BODY = 10 * 1024 * 1024
EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
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
    """The sections this module reads, with an error naming the setting when one is wrong."""
    rates = site.settings.get("rate_limits") or {}
    sizes = site.settings.get("limits") or {}
    cors = site.settings.get("cors") or {}
    for name, section in (("rate_limits", rates), ("limits", sizes), ("cors", cors)):
        if not isinstance(section, dict):
            raise SiteError(f"vellum.yml: {name} must be a mapping")
    max_body = sizes.get("max_body", MAX_BODY)
    if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
        raise SiteError("vellum.yml: limits.max_body must be a positive number of bytes")
    filter_limits(site)  # the query layer reads them; checked here with the section
    origins = cors.get("origins")
    if origins is not None and not (
        isinstance(origins, str)
        or (isinstance(origins, list) and all(isinstance(o, str) for o in origins))
    ):
        raise SiteError("vellum.yml: cors.origins must be an origin, '*', or a list of origins")
    return Settings(
        anonymous=check_rate(rates.get("anonymous", ANONYMOUS), "rate_limits.anonymous"),
        authenticated=check_rate(
            rates.get("authenticated", AUTHENTICATED), "rate_limits.authenticated"
        ),
        storage=str(rates.get("storage", "memory://")),
        max_body=max_body,
        origins=origins,
    )


def init_app(app: Flask, site: Site) -> Limiter:
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
        default_limits=[limit_for_request],
        storage_uri=settings.storage,
        default_limits_cost=request_cost,
        headers_enabled=True,
        strategy="fixed-window",
        # If Redis goes away, count in memory rather than fail requests.
        in_memory_fallback_enabled=True,
    )
    if settings.origins:
        CORS(app, origins=settings.origins, expose_headers=EXPOSED_HEADERS, max_age=600)
    return limiter


def request_cost() -> int:
    """What a request takes from the budget: a GraphQL batch costs one per operation, so
    fifty queries in one POST are not one request's worth."""
    if request.method == "POST" and request.path.rstrip("/").endswith("/graphql"):
        body = request.get_json(silent=True)
        if isinstance(body, list):
            return max(1, len(body))
    return 1


def retry_after(seconds: int) -> None:
    """Ask clients of this response to come back in `seconds` (a 503 that is full)."""
    g.retry_after = seconds


def _retry_after_where_it_means_something(response: Response) -> Response:
    """flask-limiter puts Retry-After (the end of its window) on every response; it
    means something only on a 429, or where a view asked for its own."""
    asked = g.get("retry_after")
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


def limit_view(app: Flask, endpoint: str, limit: str) -> None:
    """Give one registered view its own limit (a route limit counts only in its wrapper)."""
    for limiter in app.extensions.get("limiter", ()):
        app.view_functions[endpoint] = limiter.limit(limit)(app.view_functions[endpoint])
