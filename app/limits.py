"""Rate limits (flask-limiter), request size and CORS, as the site's vellum.yml sets them.

```yaml
rate_limits:
  anonymous: 100 per 15 minutes        # per IP
  authenticated: 1000 per 15 minutes   # per API key or user; a key may set its own
  storage: memory://                   # redis://host:6379/0 shares counts across processes
limits:
  max_body: 10485760                   # bytes
cors:
  origins: ["https://example.com"]
```
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, g
from flask_cors import CORS
from flask_limiter import ExemptionScope, Limiter
from limits import parse

from app import access
from app.errors import Detail, ValidationError, VellumError
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


def init_app(app: Flask, site: Site) -> Limiter:
    settings = site.settings.get("rate_limits") or {}
    anonymous = check_rate(settings.get("anonymous", ANONYMOUS), "rate_limits.anonymous")
    signed_in = check_rate(
        settings.get("authenticated", AUTHENTICATED), "rate_limits.authenticated"
    )
    app.config["MAX_CONTENT_LENGTH"] = int(
        (site.settings.get("limits") or {}).get("max_body", MAX_BODY)
    )

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
        storage_uri=settings.get("storage", "memory://"),
        headers_enabled=True,
        strategy="fixed-window",
        # If Redis goes away, count in memory rather than fail requests.
        in_memory_fallback_enabled=True,
    )
    origins = (site.settings.get("cors") or {}).get("origins")
    if origins:
        CORS(app, origins=origins, expose_headers=EXPOSED_HEADERS, max_age=600)
    return limiter


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
