"""The HTTP API: REST and GraphQL endpoints as Flask blueprints, and the JSON envelope every
answer and error uses. A view parses the request, calls the layers below, shapes the answer.

Imports: errors, context, site, store, query, auth, live, graphql.
"""

from __future__ import annotations

from flask import Flask

from vellum.api import accounts, envelope, git_hooks, graphql, health, metrics, oauth, rest, wire
from vellum.api import content as api_content
from vellum.api import events as api_events
from vellum.api import history as api_history
from vellum.api import media as api_media
from vellum.api import openapi as api_openapi
from vellum.api import webhooks as api_webhooks
from vellum.api import writes as api_writes


def init_app(app: Flask) -> None:
    """Register the error envelope for every failure, then the API blueprints."""
    envelope.register(app)
    wire.init_app(app)
    accounts.init_app(app)
    oauth.init_app(app)
    rest.init_app(app)
    api_writes.init_app(app)
    api_history.init_app(app)
    api_media.init_app(app)
    api_content.init_app(app)
    graphql.init_app(app)
    api_events.init_app(app)
    api_webhooks.init_app(app)
    git_hooks.init_app(app)
    api_openapi.init_app(app)
    health.init_app(app)
    metrics.init_app(app)
