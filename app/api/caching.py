"""Shared caches (a CDN) in front of the read API: anonymous reads say how long they stay
fresh, and carry an ETag to revalidate with.

```yaml
cache:
  max_age: 10                 # seconds an anonymous read stays fresh
  stale_while_revalidate: 60  # seconds more a cache may serve it while it fetches it again
```

Only anonymous answers are public: an answer to a request with a token or key stays
`private` (vellum.auth.access), and every answer varies on those headers.
"""

from __future__ import annotations

import hashlib

from flask import Flask, Response, request

from vellum.auth import access
from vellum.context import current_vellum
from vellum.errors import SiteError

# The read views, under /api and /api/v1: records, lists, the content API, models, search.
READS = {"list_records", "get_one", "models", "search", "list_content", "get_content"}
BLUEPRINTS = {"api", "api_v1", "content", "content_v1"}


def init_app(app: Flask) -> None:
    app.after_request(_public_reads)


def _public_reads(response: Response) -> Response:
    if not _cacheable(response):
        return response
    try:
        settings = current_vellum().site.setting("cache")
    except SiteError:  # a wrong setting, reported by `vellum validate`: no caching
        return response
    if response.status_code == 200 and response.get_etag()[0] is None:
        response.set_etag(hashlib.sha1(response.get_data()).hexdigest(), weak=True)
        response = response.make_conditional(request)
    response.cache_control.public = True
    response.cache_control.max_age = settings.max_age
    response.cache_control.stale_while_revalidate = settings.stale_while_revalidate
    return response


def _cacheable(response: Response) -> bool:
    """An anonymous GET or HEAD of a read view that answered 200 or 304."""
    if request.method not in ("GET", "HEAD") or response.status_code not in (200, 304):
        return False
    blueprint, _, view = (request.endpoint or "").rpartition(".")
    if blueprint not in BLUEPRINTS or view not in READS:
        return False
    sent = request.headers.get("Authorization") or request.headers.get("X-API-Key")
    return not sent and not access.in_process() and not response.cache_control.no_store
