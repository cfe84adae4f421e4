"""The OpenAPI 3.1 document of the site's API at /api/openapi.json (and /api/v1/…), built
from the models and rebuilt when they change, and the API reference page at /docs."""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING

import orjson
from flask import Blueprint, Flask, Response, current_app, render_template, request

from vellum.api.openapi.document import API, V1, build
from vellum.auth import access
from vellum.context import current_vellum
from vellum.graphql.schema import signature

if TYPE_CHECKING:
    from vellum.services import Vellum

API_VERSION = "1"
openapi_api = Blueprint("openapi", __name__)
docs_page = Blueprint("docs", __name__)


def init_app(app: Flask) -> None:
    """Mount the document under /api and /api/v1, and the reference page at /docs."""
    app.extensions["vellum.openapi"] = Documents()
    app.register_blueprint(openapi_api, url_prefix=API)
    app.register_blueprint(openapi_api, url_prefix=V1, name="openapi_v1")
    app.register_blueprint(docs_page)


class Documents:
    """One app's documents, one per prefix, rebuilt when the models or settings change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple] = {}  # prefix → (site, catalog, key, body)
        self.builds = 0

    def current(self, app: Flask, vellum: Vellum, prefix: str) -> tuple[str, bytes]:
        """(key, JSON) of the document for the site as it is now; built once per change."""
        catalog = vellum.catalog()  # first: it reloads vellum.yml when it changed
        site = vellum.site
        seen = self._seen.get(prefix)
        if seen is not None and seen[0] is site and seen[1] is catalog:
            return seen[2], seen[3]
        key = document_key(vellum, site, catalog)
        with self._lock:
            seen = self._seen.get(prefix)
            if seen is None or seen[2] != key:
                version = f"{API_VERSION}.0.0+{key[:12]}"
                document = build(app, site, catalog, prefix, vellum.public_read, version)
                seen = (site, catalog, key, orjson.dumps(document))
                self.builds += 1
            self._seen[prefix] = (site, catalog, key, seen[3])
            return key, seen[3]


def document_key(vellum: Vellum, site, catalog) -> str:
    """What the document depends on: GraphQL's model signature (declared models and the
    fields inferred from files) and the settings it shows (title, public reading)."""
    about = orjson.dumps(
        [signature(site, catalog), site.title, vellum.public_read],
        default=str,
    )
    return hashlib.sha1(about).hexdigest()


@openapi_api.get("/openapi.json")
@access.require("read")
def openapi_document() -> Response:
    """The document of the API under this prefix (/api or /api/v1)."""
    prefix = V1 if request.blueprint == "openapi_v1" else API
    holder: Documents = current_app.extensions["vellum.openapi"]
    key, body = holder.current(current_app._get_current_object(), current_vellum(), prefix)
    response = Response(body, mimetype="application/json")
    response.set_etag(f"{key}-{prefix.rsplit('/', 1)[-1]}")  # the paths differ by prefix
    return response.make_conditional(request)


@docs_page.get("/docs")
def reference() -> Response:
    """The API reference: Swagger UI, served by Vellum itself, reading the document."""
    return Response(render_template("docs.html"), mimetype="text/html")
