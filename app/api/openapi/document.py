"""The OpenAPI 3.1 document of one app under one prefix (/api or /api/v1): every route of
Flask's url_map that an operation describes, the model routes once per model."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator

from flask import Flask

from vellum.api import roles
from vellum.api.envelope import ModelConverter
from vellum.api.openapi import common, records, shapes, v1
from vellum.api.openapi.operations import Ctx
from vellum.api.openapi.views import OPERATIONS
from vellum.api.wire import SHAPES
from vellum.site.site import Site
from vellum.store.catalog import Catalog

API = "/api"
V1 = "/api/v1"
OPENAPI = "3.1.0"
ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
MODEL_ARGUMENT = "<model:model>"
SKIPPED_METHODS = frozenset({"HEAD", "OPTIONS"})
PATH_TEXT = {
    "record_id": "The record's id (its file name without extensions).",
    "version": "A commit sha (4 to 40 hex digits).",
    "media_id": "The file's path under the media folder, e.g. images/cover.png.",
    "user_id": "A user's id or name.",
    "key_id": "The key's id (the hex part after vk_).",
    "client_id": "The application's client id.",
    "webhook_id": "The endpoint's id.",
    "event_id": "The event's id.",
}
DESCRIPTION = """\
The REST API of a Vellum site, generated from its models (vellum.yml, and the fields of
folders without a model). Everything is JSON; errors are
`{"error": {"code", "message", "details": [{"field", "message"}]}}`.

A list's filters are one query parameter per field and operator
(`filter[views][$gt]=100`): OpenAPI's deepObject style is defined for one level only, so
each field and operator is named as it is sent, with the field's own type."""


TAGS = {
    "Content": "Records of every model, as GraphQL's Content shows them.",
    "Search": "Full-text search across models.",
    "Sync": "Every record, or what changed since a token: for static site builders.",
    "Media": "Uploads, the media library and the files.",
    "Accounts": "Sign-in with JWTs.",
    "Users": "Accounts, for admins.",
    "API keys": "Scoped, expiring keys, for admins.",
    "OAuth2": "Registered applications and RFC 6749's endpoints.",
    "Events": "Live events (Server-Sent Events) and custom events.",
    "Webhooks": "Endpoints events are posted to, for admins; and Git push webhooks.",
    "GraphQL": "The GraphQL API generated from the same models.",
}


def tags(site: Site) -> list[dict]:
    """The site's own operations first, then each model's records, then the rest."""
    found = {"Site": "The site, its models, its status and this document."}
    for name in served_models(site):
        found.setdefault(name, f"The {name} records: reads, writes (each one commit), history.")
    for name, text in TAGS.items():
        found.setdefault(name, text)
    return [{"name": name, "description": text} for name, text in found.items()]


def view_name(view) -> str:
    """A view's function as `module.name`, whatever decorators wrap it."""
    inner = inspect.unwrap(view)
    return f"{inner.__module__}.{inner.__qualname__}"


def in_scope(path: str, prefix: str) -> bool:
    """Routes under `prefix` and those outside /api; not the other prefix's copies."""

    def under(root: str) -> bool:
        return path == root or path.startswith(root + "/")

    if not under(API):
        return True
    return under(V1) if prefix == V1 else not under(V1)


def openapi_path(rule: str) -> str:
    """/api/<model:model>/<record_id> → /api/<model:model>/{record_id}."""

    def rewrite(found: re.Match) -> str:
        return found[0] if found[0] == MODEL_ARGUMENT else f"{{{found[1]}}}"

    return ARGUMENT.sub(rewrite, rule)


def served_models(site: Site) -> list[str]:
    """The models REST serves: all but those the `<model:…>` converter leaves to the API."""
    return [name for name in sorted(site.models) if re.fullmatch(ModelConverter.regex, name)]


def expand(rule: str, site: Site) -> Iterator[tuple[str | None, str]]:
    """(model, path) for each path a rule serves: one per model for model routes."""
    path = openapi_path(rule)
    if MODEL_ARGUMENT not in path:
        yield None, path
        return
    for model in served_models(site):
        yield model, path.replace(MODEL_ARGUMENT, model)


def path_parameters(path: str) -> list[dict]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
            "description": PATH_TEXT.get(name, name),
        }
        for name in re.findall(r"{([^{}]+)}", path)
    ]


def operation_id(method: str, path: str) -> str:
    """GET /api/blogPost/{record_id} → getApiBlogPostByRecordId: unique, as path and
    method are."""
    words = [method.lower()]
    for part in re.split(r"/+", path.strip("/")) or ["root"]:
        if part.startswith("{"):
            words.append("By")
            part = part[1:-1]
        words.extend(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", part) if w)
    return "".join(words) if len(words) > 1 else f"{words[0]}Root"


def paths(
    app: Flask, site: Site, catalog: Catalog, prefix: str, public: bool, schemas: dict
) -> dict:
    """Every described route in scope, by path then method; under /api/v1, the answers v1
    reshapes are described as it does (adding their attribute schemas to `schemas`)."""
    found: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        describe = OPERATIONS.get(view_name(app.view_functions[rule.endpoint]))
        if describe is None or not in_scope(rule.rule, prefix):
            continue
        shape = SHAPES.get(rule.endpoint) if prefix == V1 else None
        for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
            for model, path in expand(rule.rule, site):
                op = describe(Ctx(site, catalog, method, public, model))
                if shape is not None:
                    op = v1.answers(op, shape, schemas)
                params = path_parameters(path) + op.pop("parameters", [])
                if roles.commits(rule.endpoint, method):  # a replica sends it on
                    op["responses"] = {"307": common.REPLICA_ANSWER, **op["responses"]}
                op = {"operationId": operation_id(method, path), **op}
                if params:
                    op["parameters"] = params
                found.setdefault(path, {})[method.lower()] = op
    return found


def build(
    app: Flask, site: Site, catalog: Catalog, prefix: str, public: bool, version: str
) -> dict:
    """The whole document."""
    schemas = {
        **common.error_schemas(),
        "WriteMeta": records.write_meta(),
        **shapes.shared(site),
        **records.model_schemas(site, catalog),
    }
    found = paths(app, site, catalog, prefix, public, schemas)
    return {
        "openapi": OPENAPI,
        "info": {
            "title": f"{site.title} · Vellum API",
            "version": version,
            "description": DESCRIPTION,
        },
        "tags": tags(site),
        "paths": found,
        "components": {
            "schemas": schemas,
            "responses": common.error_responses(),
            "headers": common.rate_headers(),
            "securitySchemes": common.security_schemes(),
        },
    }
