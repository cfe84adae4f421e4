"""The operations of access and of the live side: sign-in, users, API keys, OAuth2,
events, webhooks and Git push hooks; and GraphQL's endpoint."""

from __future__ import annotations

from vellum.api.openapi.common import (
    ANY_OBJECT,
    INTEGER,
    LOCATION,
    NULLABLE_STRING,
    STRING,
    Schema,
    array,
    data,
    empty_answer,
    json_answer,
    obj,
    ref,
)
from vellum.api.openapi.operations import (
    NO_AUTH,
    SIGNED_IN,
    Ctx,
    json_body,
    operation,
)
from vellum.api.openapi.records import paging, query


# -- sign-in, users and keys -------------------------------------------------------------
def login(ctx: Ctx) -> Schema:
    creds = obj({"username": STRING, "password": {**STRING, "writeOnly": True}}, ("password",))
    answer = {"allOf": [ref("Tokens"), obj({"user": ref("User")}, ("user",))]}
    return operation(
        ctx,
        "Sign in: an access token (15 minutes) and a refresh token (30 days)",
        "Accounts",
        NO_AUTH,
        {"200": json_answer("Signed in", data(answer))},
        body=json_body({"anyOf": [creds, obj({"data": creds}, ("data",))]}),
        fails=(400,),
    )


def refresh(ctx: Ctx) -> Schema:
    body = obj({"refreshToken": STRING})
    out = operation(
        ctx,
        "New tokens for a refresh token (which then is spent)",
        "Accounts",
        NO_AUTH,
        {"200": json_answer("New tokens", data(ref("Tokens")))},
        body=json_body(body, "Or send the refresh token as the Bearer token.", required=False),
        fails=(400,),
    )
    return {**out, "security": [{}, {"jwt": []}]}


def logout(ctx: Ctx) -> Schema:
    body = obj({"refreshToken": STRING})
    answer = data(obj({"revoked": {"const": True}}, ("revoked",)))
    out = operation(
        ctx,
        "Revoke the access token sent (and the refresh token named)",
        "Accounts",
        NO_AUTH,
        {"200": json_answer("Revoked", answer)},
        body=json_body(body, required=False),
    )
    return {**out, "security": [{"jwt": []}]}


def me(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "Who the credentials are, and their scopes",
        "Accounts",
        SIGNED_IN,
        {"200": json_answer("The caller", data(ref("Principal")))},
    )


def _admin_list(ctx: Ctx, what: str, schema: str, tag: str) -> Schema:
    meta = obj({"total": INTEGER}, ("total",))
    answer = {"200": json_answer("OK", data(array(ref(schema)), meta))}
    return operation(ctx, f"Every {what}", tag, "admin", answer)


def _admin_one(ctx: Ctx, summary: str, schema: str, tag: str, fails=(404,)) -> Schema:
    return operation(
        ctx, summary, tag, "admin", {"200": json_answer("OK", data(ref(schema)))}, fails=fails
    )


def _admin_create(ctx: Ctx, summary: str, body: str, schema: str, tag: str) -> Schema:
    return operation(
        ctx,
        summary,
        tag,
        "admin",
        {"201": json_answer("Created", data(ref(schema)), LOCATION)},
        body=json_body(ref(body)),
        fails=(409, 422),
    )


def _admin_delete(ctx: Ctx, summary: str, tag: str, fails=(404,)) -> Schema:
    return operation(ctx, summary, tag, "admin", {"204": empty_answer("Removed")}, fails=fails)


def list_users(ctx: Ctx) -> Schema:
    return _admin_list(ctx, "user, with failed sign-ins that still count", "User", "Users")


def create_user(ctx: Ctx) -> Schema:
    return _admin_create(ctx, "Add a user", "NewUser", "User", "Users")


def get_user(ctx: Ctx) -> Schema:
    return _admin_one(ctx, "One user (by id or name)", "User", "Users")


def update_user(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "Change a user's role, email or password",
        "Users",
        "admin",
        {"200": json_answer("Changed", data(ref("User")))},
        body=json_body(ref("UserChange")),
        fails=(404, 409, 422),
    )


def delete_user(ctx: Ctx) -> Schema:
    return _admin_delete(ctx, "Remove a user (never the last admin)", "Users", (404, 409))


def list_keys(ctx: Ctx) -> Schema:
    return _admin_list(ctx, "API key, with its usage", "ApiKey", "API keys")


def create_key(ctx: Ctx) -> Schema:
    return _admin_create(ctx, "Create a key (shown once)", "NewApiKey", "ApiKey", "API keys")


def get_key(ctx: Ctx) -> Schema:
    return _admin_one(ctx, "One key", "ApiKey", "API keys")


def rotate_key(ctx: Ctx) -> Schema:
    grace = obj({"grace": {**NULLABLE_STRING, "description": "How long the old key works."}})
    return operation(
        ctx,
        "A new secret; the old one works for the grace period (default 24h)",
        "API keys",
        "admin",
        {"200": json_answer("Rotated (the new key shown once)", data(ref("ApiKey")))},
        body=json_body(grace, required=False),
        fails=(404, 422),
    )


def revoke_key(ctx: Ctx) -> Schema:
    return _admin_one(ctx, "Revoke a key", "ApiKey", "API keys")


def key_activity(ctx: Ctx) -> Schema:
    row = obj(
        {"at": STRING, "ip": NULLABLE_STRING, "method": STRING, "path": STRING, "status": INTEGER}
    )
    limit = query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "How many.")
    return operation(
        ctx,
        "A key's requests, newest first",
        "API keys",
        "admin",
        {"200": json_answer("OK", data(array(row)))},
        params=[limit],
        fails=(400, 404),
    )


# -- OAuth2 ------------------------------------------------------------------------------
def list_apps(ctx: Ctx) -> Schema:
    return _admin_list(ctx, "registered application", "Application", "OAuth2")


def register_app(ctx: Ctx) -> Schema:
    summary = "Register an application (its secret shown once)"
    return _admin_create(ctx, summary, "NewApplication", "Application", "OAuth2")


def get_app(ctx: Ctx) -> Schema:
    return _admin_one(ctx, "One application", "Application", "OAuth2")


def delete_app(ctx: Ctx) -> Schema:
    return _admin_delete(ctx, "Remove an application and its tokens", "OAuth2")


def _oauth_answer(status: int, description: str) -> Schema:
    schema = ref("OAuthError") if status != 429 else {"anyOf": [ref("OAuthError"), ref("Error")]}
    return json_answer(description, schema)


def issue_token(ctx: Ctx) -> Schema:
    form = obj(
        {
            "grant_type": {
                "type": "string",
                "enum": ["authorization_code", "client_credentials", "password", "refresh_token"],
            },
            "scope": STRING,
            "code": STRING,
            "redirect_uri": STRING,
            "code_verifier": STRING,
            "username": STRING,
            "password": STRING,
            "refresh_token": STRING,
            "client_id": STRING,
            "client_secret": STRING,
        },
        ("grant_type",),
    )
    out = operation(
        ctx,
        "RFC 6749's token endpoint",
        "OAuth2",
        NO_AUTH,
        {
            "200": json_answer("A token", ref("OAuthToken")),
            "400": _oauth_answer(400, "RFC 6749 §5.2: invalid_request, invalid_grant, …"),
            "401": _oauth_answer(401, "invalid_client"),
            "429": _oauth_answer(429, "A locked user name, or the caller's budget"),
        },
        body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}},
        description="The client authenticates with HTTP Basic or client_id/client_secret.",
    )
    return out


def revoke_token(ctx: Ctx) -> Schema:
    form = obj({"token": STRING, "token_type_hint": STRING, "client_id": STRING,
                "client_secret": STRING}, ("token",))  # fmt: skip
    return operation(
        ctx,
        "RFC 7009: revoke a token (200 whether or not it was valid)",
        "OAuth2",
        NO_AUTH,
        {
            "200": empty_answer("Revoked"),
            "400": _oauth_answer(400, "RFC 6749 §5.2"),
            "401": _oauth_answer(401, "invalid_client"),
        },
        body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}},
    )


def server_metadata(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "RFC 8414: the authorization server's metadata",
        "OAuth2",
        NO_AUTH,
        {"200": json_answer("The metadata", ANY_OBJECT)},
    )


def authorize(ctx: Ctx) -> Schema:
    names = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
             "code_challenge_method")  # fmt: skip
    html = {"text/html": {"schema": STRING}}
    return operation(
        ctx,
        "A browser's sign-in and consent page (authorization code with PKCE)",
        "OAuth2",
        NO_AUTH,
        {
            "200": {"description": "The sign-in or consent page", "content": html},
            "302": {"description": "Back to the redirect URI with code or error"},
            "303": {"description": "Back to this page"},
            "400": {"description": "An error page", "content": html},
        },
        params=[query(name, STRING, name) for name in names],
    )


# -- events, webhooks, Git push hooks -----------------------------------------------------
def stream(ctx: Ctx) -> Schema:
    resume = {
        "name": "Last-Event-ID",
        "in": "header",
        "schema": STRING,
        "description": "Resume after this event.",
    }
    events = {"text/event-stream": {"schema": STRING}}
    return operation(
        ctx,
        "Live events as Server-Sent Events",
        "Events",
        "read",
        {"200": {"description": "id:, event:, data: frames", "content": events}},
        params=[resume, query("lastEventId", STRING, "As Last-Event-ID.")],
        fails=(503,),
    )


def emit_custom(ctx: Ctx) -> Schema:
    body = obj({"event": {"type": "string", "pattern": "^custom\\.[A-Za-z0-9_.-]{1,100}$"},
                "data": ANY_OBJECT}, ("event",))  # fmt: skip
    return operation(
        ctx,
        "Send a custom event (custom.<name>)",
        "Events",
        "admin",
        {"202": json_answer("Queued", data(ref("Event")))},
        body=json_body(body),
        fails=(422,),
    )


def list_webhooks(ctx: Ctx) -> Schema:
    return _admin_list(ctx, "webhook endpoint (vellum.yml's and the API's)", "Webhook", "Webhooks")


def create_webhook(ctx: Ctx) -> Schema:
    return _admin_create(ctx, "Add a webhook endpoint", "WebhookInput", "Webhook", "Webhooks")


def get_webhook(ctx: Ctx) -> Schema:
    return _admin_one(ctx, "One endpoint, with its deliveries' counts", "Webhook", "Webhooks")


def update_webhook(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "Change an endpoint (fields left out keep their values)",
        "Webhooks",
        "admin",
        {"200": json_answer("Changed", data(ref("Webhook")))},
        body=json_body(ref("WebhookInput")),
        fails=(404, 409, 422),
    )


def delete_webhook(ctx: Ctx) -> Schema:
    summary = "Remove an endpoint and its pending deliveries"
    return _admin_delete(ctx, summary, "Webhooks", (404, 409))


def list_deliveries(ctx: Ctx) -> Schema:
    meta = obj({"limit": INTEGER, "offset": INTEGER}, ("limit", "offset"))
    return operation(
        ctx,
        "An endpoint's delivery attempts, newest first",
        "Webhooks",
        "admin",
        {"200": json_answer("OK", data(array(ref("Delivery")), meta))},
        params=paging(default=100, high=1000),
        fails=(400, 404),
    )


def redeliver(ctx: Ctx) -> Schema:
    queued = obj({"webhook": STRING, "event": STRING, "queued": {"const": True}})
    return operation(
        ctx,
        "Deliver an event to an endpoint again",
        "Webhooks",
        "admin",
        {"202": json_answer("Queued", data(queued))},
        fails=(404, 409, 422),
    )


def push_webhook(ctx: Ctx) -> Schema:
    signature = {"name": "X-Hub-Signature-256", "in": "header", "schema": STRING,
                 "description": "GitHub: sha256=<HMAC of the body>"}  # fmt: skip
    token = {"name": "X-Gitlab-Token", "in": "header", "schema": STRING, "description": "GitLab"}
    answer = data(obj({"remote": STRING, "result": {}, "head": NULLABLE_STRING}))
    return operation(
        ctx,
        "A GitHub or GitLab push webhook: pull at once",
        "Webhooks",
        NO_AUTH,
        {"200": json_answer("Pulled", answer)},
        params=[signature, token],
        body=json_body(ANY_OBJECT, "The push event, as the forge sends it.", required=False),
        fails=(403, 404, 409),
        description="Needs VELLUM_REMOTE and VELLUM_GIT_WEBHOOK_SECRET (else 404).",
    )


# -- GraphQL -----------------------------------------------------------------------------
def graphql_answers(ctx: Ctx) -> dict[str, Schema]:
    """GraphQL answers its own shape, with REST's status when a whole request is refused."""
    result = {"application/json": {"schema": ref("GraphQLResult")}}
    out = {"200": {"description": "The result", "content": result}}
    for status in (400, 401, 403, 404, 409, 412, 413, 422, 429):
        out[str(status)] = {"description": "Refused or failed: errors[].extensions.code",
                            "content": result}  # fmt: skip
    return out


def graphql_get(ctx: Ctx) -> Schema:
    params = [
        query("query", STRING, "A query (mutations need POST)."),
        query("operationName", STRING, "Which operation of the query."),
        query("variables", STRING, "The variables, as JSON."),
    ]
    answers = graphql_answers(ctx)
    answers["200"] = {
        **answers["200"],
        "content": {**answers["200"]["content"], "text/html": {"schema": STRING}},
        "description": "The result; GraphiQL for a browser that asks for HTML",
    }
    out = operation(ctx, "Run a GraphQL query", "GraphQL", "read", answers, params=params)
    out["responses"] = answers
    return out


def graphql_post(ctx: Ctx) -> Schema:
    out = operation(
        ctx,
        "Run a GraphQL operation, or a batch of them",
        "GraphQL",
        "read",
        graphql_answers(ctx),
        body=json_body(ref("GraphQLRequest")),
    )
    out["responses"] = graphql_answers(ctx)
    return out
