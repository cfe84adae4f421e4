"""Vellum: a static-first, Git-backed content server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from vellum import api
from vellum.api import request_id, roles
from vellum.auth import access, limits, tokens
from vellum.services import Vellum
from vellum.site.config import load_config
from vellum.store import journal
from vellum.web import admin, consent
from vellum.web import session as web


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings, the site's vellum, then the HTTP layer. Starts no threads."""
    settings = load_config(config)
    vellum = Vellum(settings)
    if settings["SYNC_ON_START"]:
        journal.recover_at_start(vellum)  # a killed write's files are never indexed
        vellum.sync(text=settings["TEXT_INDEX"] == "inline")
    app = Flask(__name__)
    if settings["PROXIES"]:  # the client's address and scheme, as the proxies saw them
        hops = settings["PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    secret = vellum.state.secret("signing", settings["SECRET_KEY"])
    app.config.update(SECRET_KEY=secret, JSON_SORT_KEYS=False)
    app.extensions["vellum"] = vellum
    request_id.init_app(app)  # first: every answer, a refusal too, carries its id
    roles.init_app(app)  # a replica's writes go to the primary before a key is checked
    tokens.init_app(app, vellum.state, secret)
    access.init_app(app)
    web.init_app(app)
    limits.init_app(app, vellum.site, vellum.state.folder)
    api.init_app(app)
    admin.init_app(app)
    consent.init_app(app)
    return app
