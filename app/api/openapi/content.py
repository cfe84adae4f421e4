"""The operations of the site's content: the site itself, each model's records and their
history, the model-agnostic content API, and media."""

from __future__ import annotations

from vellum.api.openapi import records
from vellum.api.openapi.common import (
    ANY_OBJECT,
    ETAG,
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
    MARKDOWN_AND_JSON,
    NO_AUTH,
    NOT_MODIFIED,
    Ctx,
    if_match,
    if_none_match,
    json_body,
    operation,
    write_locale,
)
from vellum.api.openapi.records import comma_list, locale_parameter, paging, query, record_name
from vellum.query.content import CONTENT_FIELDS, FILTERABLE


# -- the site ----------------------------------------------------------------------------
def root(ctx: Ctx) -> Schema:
    about = obj({"title": STRING, "api": STRING, "models": array(STRING)}, ("title", "models"))
    answer = {"200": json_answer("OK", data(about))}
    return operation(ctx, "The site: its title and models", "Site", NO_AUTH, answer)


def status(ctx: Ctx) -> Schema:
    answer = obj(
        {
            "site": STRING,
            "head": NULLABLE_STRING,
            "records": {"type": "object", "additionalProperties": INTEGER},
            "invalid": array(ANY_OBJECT),
            "index": ANY_OBJECT,
            "remote": {"type": ["object", "null"]},
            "events": ANY_OBJECT,
            "live": ANY_OBJECT,
        },
        ("site", "records", "invalid", "index"),
    )
    return operation(
        ctx,
        "The index, invalid files, the remote, the events and the site lease",
        "Site",
        "read",
        {"200": json_answer("OK", data(answer))},
    )


def models(ctx: Ctx) -> Schema:
    meta = obj({"locales": array(STRING), "defaultLocale": NULLABLE_STRING})
    return operation(
        ctx,
        "Every model, declared or inferred, with its fields and count",
        "Site",
        "read",
        {"200": json_answer("OK", data(array(ref("Model")), meta))},
    )


def search(ctx: Ctx) -> Schema:
    names = sorted(ctx.site.models)
    params = [
        query("q", {"type": "string", "minLength": 1}, "The words to find.", required=True),
        comma_list("models", {"type": "string", "enum": names}, "Only these models."),
        locale_parameter(ctx.site, "Search this locale's records (else the default)."),
        *paging(),
    ]
    meta = {"allOf": [ref("ListMeta"), obj({"q": STRING}, ("q",))]}
    return operation(
        ctx,
        "Search every model, best first",
        "Search",
        "read",
        {"200": json_answer("Hits, with snippets", data(array(ref("SearchHit")), meta))},
        params=params,
        fails=(400,),
    )


def document(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "This document: OpenAPI 3.1, generated from the site's models",
        "Site",
        "read",
        {"200": json_answer("The OpenAPI document", ANY_OBJECT)},
    )


def health(ctx: Ctx) -> Schema:
    """Probes answer anyone and are never rate-limited: no 401, no 429, no rate headers."""
    answer = obj(
        {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "checks": ANY_OBJECT,
            "ms": {"type": "number"},
        },
        ("status",),
    )
    content = {"application/json": {"schema": answer}}
    return {
        "tags": ["Site"],
        "security": [],
        "summary": "Readiness: the index is loaded and the stores answer (503 naming what failed)",
        "responses": {
            "200": {"description": "Ready", "content": content},
            "503": {"description": "Not ready: a check failed", "content": content},
        },
    }


def health_live(ctx: Ctx) -> Schema:
    answer = obj({"status": {"type": "string", "enum": ["ok"]}}, ("status",))
    return {
        "tags": ["Site"],
        "security": [],
        "summary": "Liveness: the process answers",
        "responses": {
            "200": {"description": "Alive", "content": {"application/json": {"schema": answer}}}
        },
    }


# -- records of one model ----------------------------------------------------------------
def list_records(ctx: Ctx) -> Schema:
    m = ctx.model
    answer = data(array(ref(record_name(m))), ref("ListMeta"))
    return operation(
        ctx,
        f"List {m} records",
        m,
        "read",
        {"200": json_answer("A page of records", answer, ETAG), **NOT_MODIFIED},
        params=[*records.list_parameters(ctx.site, ctx.catalog, m), if_none_match()],
        description=(
            "Filters compare with the field's type. `filter[relation.field]` (or "
            "`filter[relation][field]`) filters through a relation, and `filters[…]` is "
            "accepted for `filter[…]`. A filter holds at most `limits.max_conditions` "
            "conditions, an `$in` or `$nin` at most `limits.max_values` values."
        ),
        fails=(400, 404),
    )


def get_record(ctx: Ctx) -> Schema:
    m = ctx.model
    answer = data(ref(record_name(m)), ANY_OBJECT)
    return operation(
        ctx,
        f"Get one {m}",
        m,
        "read",
        {"200": json_answer("The record", answer, ETAG), **NOT_MODIFIED},
        params=[*records.record_parameters(ctx.site, ctx.catalog, m), if_none_match()],
        fails=(400, 404),
    )


def _written(ctx: Ctx, status: str, description: str, headers: dict | None = None) -> Schema:
    answer = data(ref(record_name(ctx.model)), ANY_OBJECT)
    return {status: json_answer(description, answer, {**ETAG, **(headers or {})})}


def create_record(ctx: Ctx) -> Schema:
    m = ctx.model
    return operation(
        ctx,
        f"Create a {m} (one commit)",
        m,
        "write",
        _written(ctx, "201", "Created", LOCATION),
        params=[write_locale(ctx)],
        body=records.write_body(f"Input.{m}", MARKDOWN_AND_JSON),
        fails=(404, 409, 422),
    )


def update_record(ctx: Ctx) -> Schema:
    m, patch = ctx.model, ctx.method == "PATCH"
    summary = f"Change some fields of a {m}" if patch else f"Replace a {m}"
    return operation(
        ctx,
        f"{summary} (one commit)",
        m,
        "write",
        _written(ctx, "200", "Written"),
        params=[write_locale(ctx), if_match()],
        body=records.write_body(
            f"{'Patch' if patch else 'Input'}.{m}",
            "Only the fields sent change; null removes one." if patch else MARKDOWN_AND_JSON,
        ),
        fails=(404, 409, 412, 422),
    )


def _delete_body() -> Schema:
    meta = obj({"meta": ref("WriteMeta")}, additionalProperties=False)
    return json_body(meta, "Optional.", required=False)


def delete_record(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        f"Delete a {ctx.model} (one commit)",
        ctx.model,
        "write",
        {"204": empty_answer("Deleted")},
        params=[write_locale(ctx), if_match()],
        body=_delete_body(),
        fails=(404, 409, 412, 422),
    )


def versions(ctx: Ctx) -> Schema:
    answer = data(array(ref("Version")), ref("ListMeta"))
    return operation(
        ctx,
        f"A {ctx.model}'s versions, newest first (deleted records too)",
        ctx.model,
        "read:drafts",
        {"200": json_answer("Commits that changed the record", answer)},
        params=[write_locale(ctx), *paging(high=100)],
        fails=(400, 404, 422),
    )


def version_parameter(name: str, description: str) -> Schema:
    return query(name, {"type": "string", "pattern": "^[0-9a-fA-F]{4,40}$"}, description)


def at_version(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        f"A {ctx.model} as it was in a commit",
        ctx.model,
        "read:drafts",
        {"200": json_answer("The old record", data(ref("OldRecord"), ANY_OBJECT))},
        params=[write_locale(ctx)],
        fails=(400, 404, 422),
    )


def diff(ctx: Ctx) -> Schema:
    params = [
        {**version_parameter("from", "The older commit."), "required": True},
        {**version_parameter("to", "The newer commit."), "required": True},
        write_locale(ctx),
    ]
    return operation(
        ctx,
        f"What changed in a {ctx.model} between two commits",
        ctx.model,
        "read:drafts",
        {"200": json_answer("Changed fields and a diff of the body", data(ref("Diff")))},
        params=params,
        fails=(400, 404, 422),
    )


def restore(ctx: Ctx) -> Schema:
    version = obj({"version": {"type": "string", "pattern": "^[0-9a-fA-F]{4,40}$"}}, ("version",))
    return operation(
        ctx,
        f"Restore a {ctx.model} as it was (a new commit)",
        ctx.model,
        "write",
        _written(ctx, "200", "Restored"),
        params=[write_locale(ctx)],
        body=json_body({"anyOf": [version, obj({"data": version}, ("data",))]}),
        fails=(404, 409, 422),
    )


def sync(ctx: Ctx) -> Schema:
    since = query("since", STRING, "The token of the last sync: only what changed since.")
    return operation(
        ctx,
        "Every record, or what changed since a token",
        "Sync",
        "read",
        {"200": json_answer("Records and the next token", ref("Sync"))},
        params=[since],
        fails=(400, 409),
        description="A token no longer in the history (a force-push) is a 409: sync again.",
    )


# -- the model-agnostic content API ------------------------------------------------------
def _content_type(ctx: Ctx, description: str) -> Schema:
    names = sorted(ctx.site.models)
    return query("type", {"type": "string", "enum": names} if names else STRING, description)


def list_content(ctx: Ctx) -> Schema:
    fields = {name: CONTENT_FIELDS[name] for name in FILTERABLE}
    params = [
        *records.filter_parameters(fields),
        records.sort_parameter(list(CONTENT_FIELDS)),
        query("q", STRING, "Full-text words (all must match)."),
        locale_parameter(ctx.site, "A locale's variant of each record."),
        *paging(),
    ]
    return operation(
        ctx,
        "List records of every model",
        "Content",
        "read",
        {"200": json_answer("A page", data(array(ref("Content")), ref("ListMeta")))},
        params=params,
        fails=(400,),
    )


def get_content(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "Get a record by id, whatever its model",
        "Content",
        "read",
        {"200": json_answer("The record", data(ref("Content"), ANY_OBJECT))},
        params=[_content_type(ctx, "The model, when two hold the id.")],
        fails=(400, 404),
    )


def _content_body() -> Schema:
    envelope = obj(
        {"data": ref("ContentInput"), "meta": ref("WriteMeta")},
        ("data",),
        additionalProperties=False,
    )
    resource = records.resource_body("ContentInput")
    return json_body({"anyOf": [ref("ContentInput"), envelope, resource]})


def create_content(ctx: Ctx) -> Schema:
    answer = data(ref("Content"), ANY_OBJECT)
    return operation(
        ctx,
        "Create a record of `type` (one commit)",
        "Content",
        "write",
        {"201": json_answer("Created", answer, LOCATION)},
        params=[write_locale(ctx)],
        body=_content_body(),
        fails=(404, 409, 422),
    )


def update_content(ctx: Ctx) -> Schema:
    patch = ctx.method == "PATCH"
    return operation(
        ctx,
        "Change some fields of a record" if patch else "Replace a record's fields",
        "Content",
        "write",
        {"200": json_answer("Written", data(ref("Content"), ANY_OBJECT))},
        params=[
            _content_type(ctx, "The model, when two hold the id."),
            write_locale(ctx),
            if_match(),
        ],
        body=_content_body(),
        fails=(404, 409, 412, 422),
    )


def delete_content(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "Delete a record (one commit)",
        "Content",
        "write",
        {"204": empty_answer("Deleted")},
        params=[
            _content_type(ctx, "The model, when two hold the id."),
            write_locale(ctx),
            if_match(),
        ],
        body=_delete_body(),
        fails=(400, 404, 409, 412, 422),
    )


# -- media -------------------------------------------------------------------------------
def _upload_body(field: str, many: bool) -> Schema:
    binary = {"type": "string", "contentMediaType": "application/octet-stream"}
    files = array(binary) if many else binary
    form = obj(
        {
            field: files,
            "alt": {**STRING, "description": "Alternative text."},
            "folder": {**STRING, "description": "A folder under the media folder."},
        },
        (field,),
    )
    return {"required": True, "content": {"multipart/form-data": {"schema": form}}}


def upload(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "Upload a file (one commit)",
        "Media",
        "write",
        {"201": json_answer("Uploaded", data(ref("Media")), LOCATION)},
        body=_upload_body("file", many=False),
        fails=(409, 415, 422),
    )


def upload_multiple(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "Upload several files, all checked, in one commit",
        "Media",
        "write",
        {"201": json_answer("Uploaded", data(array(ref("Media"))))},
        body=_upload_body("files[]", many=True),
        fails=(409, 415, 422),
    )


def list_media(ctx: Ctx) -> Schema:
    params = [
        query("folder", STRING, "Only files in this folder."),
        query("mimeType", STRING, "`image`, or a whole type such as `image/png`."),
        query("q", STRING, "Words in the file's name or alt text."),
        *paging(),
    ]
    return operation(
        ctx,
        "The media library, newest first",
        "Media",
        "read",
        {"200": json_answer("A page", data(array(ref("Media")), ref("ListMeta")))},
        params=params,
        fails=(400,),
    )


def get_media(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "One file's metadata",
        "Media",
        "read",
        {"200": json_answer("The media record", data(ref("Media")))},
        fails=(400, 404),
    )


def update_media(ctx: Ctx) -> Schema:
    body = json_body({"anyOf": [ref("MediaUpdate"), obj({"data": ref("MediaUpdate")})]})
    return operation(
        ctx,
        "Change a file's alt text (one commit)",
        "Media",
        "write",
        {"200": json_answer("Updated", data(ref("Media")))},
        body=body,
        fails=(404, 409, 422),
    )


def delete_media(ctx: Ctx) -> Schema:
    return operation(
        ctx,
        "Delete a file no record names (one commit)",
        "Media",
        "write",
        {"204": empty_answer("Deleted")},
        fails=(400, 404, 409),
    )


def serve_file(ctx: Ctx) -> Schema:
    binary = {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
    ok = {
        "description": "The file, with its type, an ETag and a day's caching",
        "headers": ETAG,
        "content": {"*/*": binary},
    }
    return operation(
        ctx,
        "A media file itself",
        "Media",
        "read",
        {"200": ok, **NOT_MODIFIED},
        params=[if_none_match()],
        fails=(400, 404),
    )
