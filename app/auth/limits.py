"""Rate, bandwidth and connection limits, request size and CORS, as vellum.yml sets them.

```yaml
rate_limits:
  anonymous: 100 per 15 minutes        # requests per IP
  authenticated: 1000 per 15 minutes   # per API key or user; a key may set its own
  connections:                         # requests in flight at once (event streams too)
    anonymous: 20
    authenticated: 50
  bandwidth:                           # bytes answered per period (none: no limit)
    anonymous: 100 MB per 15 minutes
    authenticated: 1 GB per 15 minutes
  storage: state://                    # the state folder; redis://host:6379/0 for several machines
limits:
  max_body: 10485760                   # bytes
cors:
  origins: ["https://example.com"]
```

A caller has one budget of each kind, whatever the route and whichever server process
answers, counted in `vellum.auth.counts` (a shared file in the state folder by default).
The checks run before every request and cost a few microseconds: no database write.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, g, request
from flask_cors import CORS
from limits import RateLimitItem, parse

from vellum.auth import access, quotas
from vellum.auth.counts import Counts, open_counts, storage_uri
from vellum.auth.quotas import Bandwidth, check_bandwidth
from vellum.errors import Detail, RateLimited, ValidationError, VellumError
from vellum.site.site import Site

EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Bandwidth-Limit",
    "X-Bandwidth-Remaining",
    "X-Bandwidth-Reset",
    "X-Connection-Limit",
    "X-Request-Id",
]


def check_rate(value: str, field: str) -> str:
    """A limit in the notation '100 per 15 minutes' (or '10/minute')."""
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
    connections: tuple[int, int]  # anonymous, authenticated
    bandwidth: tuple[Bandwidth | None, Bandwidth | None]
    storage: str
    max_body: int
    origins: list[str] | str | None


def settings_of(site: Site) -> Settings:
    """The sections this module reads, typed; an error naming the setting when one is wrong
    (the schema checks their keys and types, this the rates' notation)."""
    rates, sizes = site.setting("rate_limits"), site.setting("limits")
    width = rates.bandwidth
    return Settings(
        anonymous=check_rate(rates.anonymous, "rate_limits.anonymous"),
        authenticated=check_rate(rates.authenticated, "rate_limits.authenticated"),
        connections=(rates.connections.anonymous, rates.connections.authenticated),
        bandwidth=(
            check_bandwidth(width.anonymous, "rate_limits.bandwidth.anonymous"),
            check_bandwidth(width.authenticated, "rate_limits.bandwidth.authenticated"),
        ),
        # The default depends on where the state is (a shared one needs shared counts).
        storage=storage_uri(rates.storage if "storage" in rates.model_fields_set else None),
        max_body=sizes.max_body,
        origins=_origins(site.setting("cors").origins),
    )


def _origins(given: str | tuple[str, ...] | None) -> list[str] | str | None:
    """flask-cors takes one origin or a list of them."""
    return list(given) if isinstance(given, tuple) else given


@dataclass
class Limits:
    """A site's limits and the counts they spend from (one per app, on app.extensions)."""

    settings: Settings
    counts: Counts
    exempt: set[str]

    def caller(self) -> tuple[str, access.Principal | None]:
        """Whose budget a request spends; bad credentials count like anonymous requests."""
        try:
            principal = access.current()
        except VellumError:
            return f"ip:{access.client_ip()}", None
        return principal.limit_key, principal


def init_app(app: Flask, site: Site, state_folder) -> Limits:
    settings = settings_of(site)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    limits = Limits(settings, open_counts(settings.storage, state_folder), set())
    app.extensions["vellum_limits"] = limits
    app.before_request(functools.partial(_before, limits))
    app.after_request(functools.partial(_after, limits))
    app.teardown_request(functools.partial(_teardown, limits))
    if settings.origins:
        CORS(app, origins=settings.origins, expose_headers=EXPOSED_HEADERS, max_age=600)
        app.after_request(_vary_on_origin)
    return limits


@functools.lru_cache(maxsize=256)
def _item(rate: str) -> RateLimitItem:
    return parse(rate)


@functools.lru_cache(maxsize=256)
def _bandwidth(text: str | None) -> Bandwidth | None:
    return check_bandwidth(text, "bandwidth")


def _rate_for(limits: Limits, principal: access.Principal | None) -> RateLimitItem:
    if principal is None or principal.anonymous:
        return _item(limits.settings.anonymous)
    return _item(principal.rate_limit or limits.settings.authenticated)


def _before(limits: Limits) -> None:
    """Spend from the request budget, then check bandwidth, then take a connection."""
    if request.endpoint is None or request.method == "OPTIONS":
        return  # no such route, or a CORS preflight: nothing is read
    if access.in_process():
        return  # the static export renders every answer through the app
    if limits.exempt.intersection(request.blueprints):
        return  # pages with limits of their own
    key, principal = limits.caller()
    item = _rate_for(limits, principal)
    seconds = item.get_expiry()
    count, ends = limits.counts.add(f"req:{key}:{item.amount}/{seconds}", request_cost(), seconds)
    g.rate_window = (item.amount, count, ends)
    if count > item.amount:
        access.retry_after(_seconds_until(ends))
        raise RateLimited(f"Rate limit exceeded: {item.amount} requests per {_period(seconds)}")
    anonymous = principal is None or principal.anonymous
    connections = limits.settings.connections[0 if anonymous else 1]
    width = limits.settings.bandwidth[0 if anonymous else 1]
    if principal is not None and not anonymous:
        connections = principal.connections or connections
        width = _bandwidth(principal.bandwidth) or width
    quotas.before(limits.counts, key, connections, width)


def _after(limits: Limits, response: Response) -> Response:
    window = g.get("rate_window")
    if window is not None:
        amount, count, ends = window
        response.headers["X-RateLimit-Limit"] = str(amount)
        response.headers["X-RateLimit-Remaining"] = str(max(amount - count, 0))
        response.headers["X-RateLimit-Reset"] = str(math.ceil(ends))
    quotas.after(limits.counts, response)
    asked = access.asked_retry_after()
    if asked is not None:
        response.headers["Retry-After"] = str(asked)
    return response


def _teardown(limits: Limits, _exc) -> None:
    quotas.teardown(limits.counts)


def _seconds_until(moment: float) -> int:
    return max(math.ceil(moment - time.time()), 1)


def _period(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}s" if n != 1 else unit
    return f"{seconds} seconds"


def _vary_on_origin(response: Response) -> Response:
    """With CORS on, whether an answer allows its reader depends on Origin: a cache in
    front must keep one copy per origin, or hand one origin's answer to another."""
    response.vary.add("Origin")
    return response


def request_cost() -> int:
    """What a request takes from the budget: a GraphQL batch costs one per operation, so
    fifty queries in one POST are not one request's worth."""
    if request.method == "POST" and request.path.rstrip("/").endswith("/graphql"):
        body = request.get_json(silent=True)
        if isinstance(body, list):
            return max(1, len(body))
    return 1


def exempt(app: Flask, blueprint: Blueprint) -> None:
    """Take a blueprint, and those nested in it, off the API's budgets."""
    app.extensions["vellum_limits"].exempt.add(blueprint.name)


def limit_view(app: Flask, endpoint: str, limit: str, methods: list[str] | None = None) -> None:
    """Give one registered view its own limit per caller, for `methods` (all when None)."""
    limits: Limits = app.extensions["vellum_limits"]
    item = _item(check_rate(limit, endpoint))
    view = app.view_functions[endpoint]

    @functools.wraps(view)
    def limited(*args, **kwargs):
        if methods is None or request.method in methods:
            key, _ = limits.caller()
            seconds = item.get_expiry()
            count, ends = limits.counts.add(f"view:{endpoint}:{key}", 1, seconds)
            if count > item.amount:
                access.retry_after(_seconds_until(ends))
                raise RateLimited(f"Too many tries: {item.amount} per {_period(seconds)}")
        return view(*args, **kwargs)

    app.view_functions[endpoint] = limited
