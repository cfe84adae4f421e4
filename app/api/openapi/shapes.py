"""The schemas of Vellum's own resources, whatever the models: media, versions, the
content API, accounts, keys, applications, webhooks, events, OAuth2 and GraphQL."""

from __future__ import annotations

from vellum.api.openapi.common import (
    ANY_OBJECT,
    BOOLEAN,
    DATETIME,
    INTEGER,
    NULLABLE_STRING,
    STRING,
    Schema,
    array,
    nullable,
    obj,
    ref,
)
from vellum.auth.keys import SCOPES
from vellum.auth.users import ROLES
from vellum.site.models import FIELD_TYPES, FORMATS
from vellum.site.site import Site

TIME = {"type": "string", "format": "date-time"}
NULLABLE_INTEGER = {"type": ["integer", "null"]}
SCOPE = {"type": "string", "enum": list(SCOPES)}


def list_meta() -> Schema:
    return obj(
        {
            "total": INTEGER,
            "limit": INTEGER,
            "offset": INTEGER,
            "hasMore": BOOLEAN,
            "locale": STRING,
            "searchComplete": {
                "const": False,
                "description": "Present while the full-text index is still being built.",
            },
        },
        ("total", "limit", "offset", "hasMore"),
    )


def media() -> Schema:
    return obj(
        {
            "id": {**STRING, "description": "The path under the media folder."},
            "filename": STRING,
            "originalName": STRING,
            "mimeType": STRING,
            "size": INTEGER,
            "url": {**STRING, "description": "Where the file is served: /media/{id}."},
            "alt": NULLABLE_STRING,
            "folder": STRING,
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
            "width": NULLABLE_INTEGER,
            "height": NULLABLE_INTEGER,
        },
        ("id", "filename", "mimeType", "size", "url"),
        description="An uploaded file and its metadata (media/_meta/<id>.json).",
    )


def media_update() -> Schema:
    """Only alt changes; the other keys may come back as GET gave them."""
    keys = media()["properties"]
    return obj(
        {**{k: {"readOnly": True} for k in keys}, "alt": NULLABLE_STRING},
        additionalProperties=False,
    )


def version() -> Schema:
    return obj(
        {
            "version": {**STRING, "description": "The commit's sha."},
            "author": obj({"name": STRING, "email": STRING}, ("name", "email")),
            "date": TIME,
            "message": STRING,
            "deleted": {**BOOLEAN, "description": "The commit deleted the file."},
        },
        ("version", "author", "date", "message", "deleted"),
    )


def old_record() -> Schema:
    return obj(
        {
            "id": STRING,
            "type": STRING,
            "locale": NULLABLE_STRING,
            "body": STRING,
            "html": STRING,
            "blob": {**STRING, "description": "The file's blob sha in that commit."},
            "version": {**STRING, "description": "The commit."},
            "_invalid": {**STRING, "description": "Why that version does not fit the model."},
        },
        ("id", "type", "version"),
        description="A record as it was in a commit; its fields as they were then.",
    )


def diff() -> Schema:
    change = obj({"old": {}, "new": {}}, ("old", "new"))
    return obj(
        {
            "from": STRING,
            "to": STRING,
            "changes": {"type": "object", "additionalProperties": change},
            "body": {**STRING, "description": "A unified diff of the Markdown body."},
        },
        ("from", "to", "changes", "body"),
    )


def sync_answer(site: Site) -> Schema:
    records = array({"anyOf": [ref(f"Record.{name}") for name in sorted(site.models)]})
    gone = obj({"id": STRING, "type": STRING, "locale": NULLABLE_STRING}, ("id", "type"))
    counts = {"token": NULLABLE_STRING, "created": INTEGER, "updated": INTEGER, "deleted": INTEGER}
    return obj(
        {
            "data": obj(
                {"created": records, "updated": records, "deleted": array(gone)},
                ("created", "updated", "deleted"),
            ),
            "meta": obj(counts, tuple(counts)),
        },
        ("data", "meta"),
    )


def content(site: Site) -> Schema:
    return obj(
        {
            "id": STRING,
            "type": {"type": "string", "enum": sorted(site.models)} if site.models else STRING,
            "locale": NULLABLE_STRING,
            "title": {"description": "The title field, else the name, else the id."},
            "body": NULLABLE_STRING,
            "status": {"description": "The status field, null for a model without one."},
            "author": nullable(obj({"name": {}, "email": {}}, ("name",))),
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
            "version": STRING,
            "data": {**ANY_OBJECT, "description": "The record's fields."},
        },
        ("id", "type", "locale", "title", "body", "status", "author"),
        description="A record of any model, as GraphQL's Content shows it.",
    )


def content_input(site: Site) -> Schema:
    models = sorted(site.models)
    return obj(
        {
            "type": {"type": "string", "enum": [*models, "content"]} if models else STRING,
            "id": STRING,
            "title": STRING,
            "body": STRING,
            "status": STRING,
            "data": {**ANY_OBJECT, "description": "The model's fields."},
            "locale": STRING,
            "message": STRING,
        },
        additionalProperties=False,
        description="`type` defaults to vellum.yml's default_model, else the first model"
        " (`content` says so too).",
    )


def field_definition() -> Schema:
    return obj(
        {
            "name": STRING,
            "type": {"type": "string", "enum": list(FIELD_TYPES)},
            "required": BOOLEAN,
            "default": {},
            "unique": BOOLEAN,
            "values": array(STRING),
            "of": STRING,
            "to": STRING,
            "many": BOOLEAN,
        },
        ("name", "type"),
    )


def model_description() -> Schema:
    return obj(
        {
            "name": STRING,
            "plural": STRING,
            "folder": STRING,
            "format": {"type": "string", "enum": list(FORMATS)},
            "inferred": BOOLEAN,
            "count": INTEGER,
            "fields": array(ref("FieldDefinition")),
        },
        ("name", "plural", "folder", "format", "inferred", "count", "fields"),
    )


def search_hit() -> Schema:
    return obj(
        {
            "id": STRING,
            "type": STRING,
            "locale": NULLABLE_STRING,
            "title": {"description": "The title field, else the name, else the id."},
            "score": {"type": "number"},
            "snippet": {**STRING, "description": 'Matched words in <mark class="match termN">.'},
            "url": STRING,
        },
        ("id", "type", "title", "score", "snippet", "url"),
    )


def tokens() -> Schema:
    return obj(
        {
            "accessToken": STRING,
            "tokenType": {"const": "Bearer"},
            "expiresIn": INTEGER,
            "refreshToken": STRING,
        },
        ("accessToken", "tokenType", "expiresIn"),
    )


def principal() -> Schema:
    return obj(
        {
            "kind": {"type": "string", "enum": ["anonymous", "user", "key", "client"]},
            "id": NULLABLE_STRING,
            "name": STRING,
            "scopes": array(STRING),
        },
        ("kind", "id", "name", "scopes"),
    )


def user() -> Schema:
    failures = obj(
        {
            "count": INTEGER,
            "lastAt": NULLABLE_STRING,
            "lastIp": NULLABLE_STRING,
            "lockedUntil": NULLABLE_STRING,
        }
    )
    return obj(
        {
            "id": INTEGER,
            "name": STRING,
            "email": NULLABLE_STRING,
            "role": {"type": "string", "enum": list(ROLES)},
            "scopes": array(SCOPE),
            "createdAt": STRING,
            "updatedAt": STRING,
            "failedSignIns": failures,
        },
        ("id", "name", "email", "role", "scopes"),
    )


def user_input(creating: bool) -> Schema:
    props = {
        "name": STRING,
        "username": STRING,
        "password": {**STRING, "writeOnly": True},
        "role": {"type": "string", "enum": list(ROLES)},
        "email": NULLABLE_STRING,
    }
    if not creating:
        props = {k: v for k, v in props.items() if k not in ("name", "username")}
    return obj(props, ("password",) if creating else ())


def api_key() -> Schema:
    return obj(
        {
            "id": STRING,
            "prefix": STRING,
            "name": STRING,
            "scopes": array(SCOPE),
            "expiresAt": NULLABLE_STRING,
            "allowedIps": array(STRING),
            "usageLimit": NULLABLE_INTEGER,
            "rateLimit": NULLABLE_STRING,
            "usage": obj(
                {"requests": INTEGER, "lastUsedAt": NULLABLE_STRING, "lastIp": NULLABLE_STRING}
            ),
            "createdBy": NULLABLE_STRING,
            "createdAt": STRING,
            "rotatedAt": NULLABLE_STRING,
            "previousKeyValidUntil": NULLABLE_STRING,
            "revokedAt": NULLABLE_STRING,
            "active": BOOLEAN,
            "key": {**STRING, "description": "The key itself: shown once, on create and rotate."},
        },
        ("id", "name", "scopes", "active"),
    )


def api_key_input() -> Schema:
    return obj(
        {
            "name": STRING,
            "scopes": array(SCOPE),
            "expiresIn": {**NULLABLE_STRING, "description": "A duration: 30d, 12h, 1w."},
            "allowedIps": array(STRING),
            "usageLimit": {"type": ["integer", "null"], "minimum": 1},
            "rateLimit": {**NULLABLE_STRING, "description": "e.g. `100 per minute`."},
        },
        ("name",),
        additionalProperties=False,
    )


def application() -> Schema:
    return obj(
        {
            "id": STRING,
            "name": STRING,
            "type": {"type": "string", "enum": ["confidential", "public"]},
            "scopes": array(SCOPE),
            "redirectUris": array(STRING),
            "grants": array(STRING),
            "createdBy": NULLABLE_STRING,
            "createdAt": STRING,
            "secret": {**NULLABLE_STRING, "description": "Shown once, when registered."},
        },
        ("id", "name", "type", "scopes", "redirectUris", "grants"),
    )


def application_input() -> Schema:
    return obj(
        {
            "name": STRING,
            "scopes": array(SCOPE),
            "redirectUris": array(STRING),
            "grants": array(STRING),
            "public": BOOLEAN,
        },
        ("name",),
    )


def webhook() -> Schema:
    return obj(
        {
            "id": STRING,
            "url": STRING,
            "events": array(STRING),
            "models": nullable(array(STRING)),
            "retry": ANY_OBJECT,
            "source": STRING,
            "signed": BOOLEAN,
            "deliveries": {"type": "object", "additionalProperties": INTEGER},
        },
        ("id", "url", "events"),
    )


def webhook_input() -> Schema:
    retry = obj({"max_attempts": INTEGER, "backoff": {"type": "number"}, "max_delay": INTEGER})
    return obj(
        {
            "url": {**STRING, "description": "An http:// or https:// URL."},
            "events": {"anyOf": [array(STRING), STRING]},
            "models": nullable(array(STRING)),
            "secret": NULLABLE_STRING,
            "retry": nullable(retry),
        }
    )


def delivery() -> Schema:
    return obj(
        {
            "eventId": STRING,
            "event": STRING,
            "at": STRING,
            "attempt": INTEGER,
            "statusCode": NULLABLE_INTEGER,
            "durationMs": {"type": ["number", "null"]},
            "error": NULLABLE_STRING,
            "response": NULLABLE_STRING,
        }
    )


def event() -> Schema:
    return obj(
        {
            "id": STRING,
            "event": STRING,
            "model": NULLABLE_STRING,
            "timestamp": STRING,
            "commit": nullable(ANY_OBJECT),
            "data": {},
        },
        ("id", "event"),
    )


def oauth_token() -> Schema:
    return obj(
        {
            "access_token": STRING,
            "token_type": {"const": "Bearer"},
            "expires_in": INTEGER,
            "scope": STRING,
            "refresh_token": STRING,
        },
        ("access_token", "token_type"),
    )


def oauth_error() -> Schema:
    return obj(
        {"error": STRING, "error_description": STRING},
        ("error",),
        description="RFC 6749 §5.2.",
    )


def graphql_request() -> Schema:
    one = obj(
        {
            "query": STRING,
            "variables": nullable(ANY_OBJECT),
            "operationName": NULLABLE_STRING,
        },
        ("query",),
    )
    return {"anyOf": [one, {**array(one), "maxItems": 50}]}


def graphql_result() -> Schema:
    error = obj(
        {
            "message": STRING,
            "locations": array(ANY_OBJECT),
            "path": array({}),
            "extensions": obj({"code": STRING, "details": array(ref("ErrorDetail"))}),
        },
        ("message",),
    )
    one = obj({"data": nullable(ANY_OBJECT), "errors": array(error)})
    return {"anyOf": [one, array(one)]}


def shared(site: Site) -> dict[str, Schema]:
    """Every schema that does not come from one model."""
    return {
        "ListMeta": list_meta(),
        "Media": media(),
        "MediaUpdate": media_update(),
        "Version": version(),
        "OldRecord": old_record(),
        "Diff": diff(),
        "Sync": sync_answer(site),
        "Content": content(site),
        "ContentInput": content_input(site),
        "FieldDefinition": field_definition(),
        "Model": model_description(),
        "SearchHit": search_hit(),
        "Tokens": tokens(),
        "Principal": principal(),
        "User": user(),
        "NewUser": user_input(creating=True),
        "UserChange": user_input(creating=False),
        "ApiKey": api_key(),
        "NewApiKey": api_key_input(),
        "Application": application(),
        "NewApplication": application_input(),
        "Webhook": webhook(),
        "WebhookInput": webhook_input(),
        "Delivery": delivery(),
        "Event": event(),
        "OAuthToken": oauth_token(),
        "OAuthError": oauth_error(),
        "GraphQLRequest": graphql_request(),
        "GraphQLResult": graphql_result(),
    }
