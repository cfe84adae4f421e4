"""Pieces every operation of the OpenAPI document shares: references, JSON answers, the
error envelope as one reusable response per status, and the security schemes."""

from __future__ import annotations

from typing import Any

from vellum.api.envelope import HTTP_CODES
from vellum.auth.keys import SCOPES
from vellum.errors import VellumError

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
DATETIME: Schema = {"type": ["string", "null"], "format": "date-time"}
ANY_OBJECT: Schema = {"type": "object"}

# Reusable error responses, by status: their component name and what they mean.
ERRORS: dict[int, tuple[str, str]] = {
    307: (
        "ReadOnlyReplica",
        "This server is a replica: a write that commits is sent to the same path and query"
        " on its primary (`Location`); 307 keeps the method and body, so a client that"
        " follows it makes the write there.",
    ),
    400: ("BadRequest", "A parameter or the body cannot be understood; `details` names it."),
    401: ("Unauthorized", "No valid credentials: missing, malformed, expired, revoked or wrong."),
    403: ("Forbidden", "The credentials lack the scope this needs, or the key's IP allow list."),
    404: ("NotFound", "No such model, record, version or endpoint (or a draft you cannot see)."),
    405: ("MethodNotAllowed", "The path does not take this method; `Allow` lists those it does."),
    409: ("Conflict", "A taken id, a file with uncommitted edits, or a rewritten history."),
    412: ("PreconditionFailed", "`If-Match` named a version that is no longer the current one."),
    413: ("PayloadTooLarge", "The body is larger than `limits.max_body` allows."),
    414: ("UriTooLong", "The request line is longer than 4094 bytes."),
    415: ("UnsupportedMediaType", "An upload whose content is not an allowed type."),
    417: ("ExpectationFailed", "An `Expect` header the server cannot meet."),
    422: ("ValidationError", "The body does not fit the model: one detail per field."),
    429: ("RateLimited", "The caller's budget, a key's usage limit or a lockout: see Retry-After."),
    431: ("HeadersTooLarge", "The request's headers are too large."),
    500: ("InternalError", "Something went wrong on the server; it is logged."),
    501: ("NotImplemented", "The server does not implement this."),
    503: (
        "Unavailable",
        "The server is busy (index lock, event streams; see Retry-After), or a replica that"
        " knows no primary to send a write to.",
    ),
}
# Answered wherever credentials are read or a budget is spent: on every operation.
ALWAYS = (401, 429)


def ref(name: str, kind: str = "schemas") -> Schema:
    """A reference to a component."""
    return {"$ref": f"#/components/{kind}/{name}"}


def nullable(schema: Schema) -> Schema:
    """The schema, or null."""
    kind = schema.get("type")
    if isinstance(kind, str) and "enum" not in schema and "const" not in schema:
        return {**schema, "type": [kind, "null"]}
    if list(schema) == ["oneOf"]:
        return {"oneOf": [*schema["oneOf"], {"type": "null"}]}
    return {"oneOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra) -> Schema:
    """An object schema; other keys are allowed unless extra says otherwise."""
    out: Schema = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    return {**out, **extra}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def data(schema: Schema, meta: Schema | None = None) -> Schema:
    """Vellum's answer: {"data": …} (and "meta" when the answer has one)."""
    if meta is None:
        return obj({"data": schema}, ("data",))
    return obj({"data": schema, "meta": meta}, ("data", "meta"))


def json_answer(description: str, schema: Schema, headers: dict | None = None) -> Schema:
    """A JSON response object, with the rate-limit headers every answer carries."""
    return {
        "description": description,
        "headers": {**RATE_HEADERS, **(headers or {})},
        "content": {"application/json": {"schema": schema}},
    }


def empty_answer(description: str, headers: dict | None = None) -> Schema:
    """A response without a body (204, 304, an empty 200)."""
    return {"description": description, "headers": {**RATE_HEADERS, **(headers or {})}}


def header(description: str, schema: Schema = STRING) -> Schema:
    return {"description": description, "schema": schema}


RATE_HEADERS = {
    name: ref(name, "headers")
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
}
ETAG = {"ETag": header("The record's version (its Git blob sha), quoted; weak for lists.")}
LOCATION = {"Location": header("Where the new resource is.")}


def codes_by_status() -> dict[int, list[str]]:
    """Every error code Vellum answers, by HTTP status: the error classes and the codes of
    the server's own refusals (a malformed request, an unknown path)."""
    found: dict[int, set[str]] = {status: {code} for status, code in HTTP_CODES.items()}
    pending: list[type[VellumError]] = [VellumError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.setdefault(cls.status, set()).add(cls.code)
    return {status: sorted(codes) for status, codes in found.items()}


def error_schemas() -> dict[str, Schema]:
    detail = obj(
        {"field": NULLABLE_STRING, "message": STRING},
        ("field", "message"),
        description="One problem: the field or parameter it concerns (null: the whole body).",
    )
    envelope = obj(
        {
            "error": obj(
                {"code": STRING, "message": STRING, "details": array(ref("ErrorDetail"))},
                ("code", "message", "details"),
            )
        },
        ("error",),
        description="Every error Vellum answers, the server's own refusals included.",
    )
    return {"ErrorDetail": detail, "Error": envelope}


def error_responses() -> dict[str, Schema]:
    """One reusable response per status, its `code` limited to the codes of that status."""
    codes = codes_by_status()
    out = {}
    for status, (name, description) in ERRORS.items():
        only = {"properties": {"error": {"properties": {"code": {"enum": codes[status]}}}}}
        headers = dict(RATE_HEADERS)
        if status in (429, 503):
            headers["Retry-After"] = header("Seconds to wait before trying again.", INTEGER)
        if status == 405:
            headers["Allow"] = header("The methods the path takes.")
        if status == 307:
            headers["Location"] = header("The same path and query on the primary.")
        out[name] = {
            "description": description,
            "headers": headers,
            "content": {"application/json": {"schema": {"allOf": [ref("Error"), only]}}},
        }
    return out


def errors(*statuses: int) -> dict[str, Schema]:
    """The responses of these statuses (and those every operation may answer)."""
    wanted = sorted({*statuses, *ALWAYS})
    return {str(status): ref(ERRORS[status][0], "responses") for status in wanted}


def rate_headers() -> dict[str, Schema]:
    return {
        "X-RateLimit-Limit": header("Requests the caller may make in the window.", INTEGER),
        "X-RateLimit-Remaining": header("Requests left in the window.", INTEGER),
        "X-RateLimit-Reset": header("When the window ends (Unix time).", INTEGER),
    }


SCOPE_TEXT = {
    "read": "Read published records",
    "read:drafts": "Read drafts too (implied by write)",
    "write": "Create, change and delete records and media (implies read:drafts)",
    "admin": "Manage users, API keys, applications and webhooks",
}


def security_schemes() -> dict[str, Schema]:
    """A JWT, an API key (as a Bearer token or X-API-Key), and OAuth2's three flows."""
    scopes = {scope: SCOPE_TEXT.get(scope, scope) for scope in SCOPES}
    return {
        "jwt": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from POST /api/auth/login (15 minutes).",
        },
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "vk_<id>_<secret>",
            "description": "An API key (`vellum keys create`) sent as `Authorization: Bearer`.",
        },
        "apiKeyHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "An API key sent as `X-API-Key`.",
        },
        "oauth2": {
            "type": "oauth2",
            "description": "Tokens for registered applications (RFC 6749, PKCE from RFC 7636).",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/oauth/authorize",
                    "tokenUrl": "/oauth/token",
                    "refreshUrl": "/oauth/token",
                    "scopes": scopes,
                },
                "clientCredentials": {
                    "tokenUrl": "/oauth/token",
                    "refreshUrl": "/oauth/token",
                    "scopes": scopes,
                },
                "password": {
                    "tokenUrl": "/oauth/token",
                    "refreshUrl": "/oauth/token",
                    "scopes": scopes,
                },
            },
        },
    }


def security(scope: str | None, public: bool) -> list[dict[str, list[str]]]:
    """Who may call an operation that needs `scope` (None: anyone signed in); `public`:
    anonymous callers too (published records, when auth.public_read is on)."""
    wanted = [scope] if scope else []
    options = [{name: wanted} for name in ("jwt", "apiKey", "apiKeyHeader", "oauth2")]
    return [{}, *options] if public else options


REPLICA_ANSWER = ref(ERRORS[307][0], "responses")
