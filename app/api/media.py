"""Media over HTTP: uploads, the media library, and the files themselves at /media/…."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

from vellum.api import wire
from vellum.api.envelope import json_object, json_response
from vellum.api.params import parse_int
from vellum.auth import access
from vellum.context import current_vellum
from vellum.errors import BadRequest, Detail, ValidationError
from vellum.store import media
from vellum.store.records import blob_sha

api_media = Blueprint("media", __name__)
files_bp = Blueprint("media_files", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(api_media, url_prefix="/api")
    app.register_blueprint(api_media, url_prefix="/api/v1", name="media_v1")
    app.register_blueprint(files_bp)


def _items(field: str, also: str | None = None) -> list[media.Upload]:
    uploads = request.files.getlist(field) or (request.files.getlist(also) if also else [])
    if not uploads:
        raise BadRequest(f"Send the file as multipart/form-data field '{field}'")
    alt, folder = request.form.get("alt"), request.form.get("folder")
    return [media.Upload(u.read(), u.filename or "file", alt, folder) for u in uploads]


def _author():
    return access.commit_author(access.current())


@api_media.post("/upload")
@api_media.post("/media")  # the same, where the SveltyCMS guide lists it
@access.require("write")
def upload() -> Response:
    items = _items("file") if "file" in request.files else _items("file", "files")
    if len(items) != 1:
        raise BadRequest("POST /api/upload takes one file; use /api/upload/multiple for more")
    record = media.upload(current_vellum(), items, _author())[0]
    return json_response({"data": record}, 201, {"Location": f"/api/media/{record['id']}"})


@api_media.post("/upload/multiple")
@access.require("write")
def upload_multiple() -> Response:
    items = _items("files[]") if "files[]" in request.files else _items("files")
    return json_response({"data": media.upload(current_vellum(), items, _author())}, 201)


@api_media.get("/media")
@access.require("read")
def list_media() -> Response:
    args = request.args.to_dict(flat=False)
    limit = parse_int(args, "limit", 20, 0, 100)
    offset = parse_int(args, "offset", 0, 0, None)
    found = media.list_media(current_vellum().site)
    folder = request.args.get("folder") or request.args.get("filter[folder]")
    kind = request.args.get("mimeType") or request.args.get("filter[mimeType]")
    text = (request.args.get("q") or "").lower()
    if folder is not None:
        found = [m for m in found if m["folder"] == media.clean_folder(folder)]
    if kind:  # 'image' or 'image/png'
        found = [m for m in found if m["mimeType"] == kind or m["mimeType"].startswith(kind + "/")]
    if text:
        found = [m for m in found if text in (m["originalName"] + " " + (m["alt"] or "")).lower()]
    page = found[offset : offset + limit]
    meta = {"total": len(found), "limit": limit, "offset": offset,
            "hasMore": offset + len(page) < len(found)}  # fmt: skip
    return json_response({"data": page, "meta": meta})


@api_media.get("/media/<path:media_id>")
@access.require("read")
def get_media(media_id: str) -> Response:
    record = media.describe(current_vellum().site, media_id)
    if record is None:
        raise media.MediaNotFound(media_id)
    return json_response({"data": record})


@api_media.put("/media/<path:media_id>")
@api_media.patch("/media/<path:media_id>")
@access.require("write")
def update_media(media_id: str) -> Response:
    """Only `alt` changes; the other keys of a media record may come back as GET gave
    them. A new file is a new upload (POST /api/upload): a name never changes content."""
    body = wire.unwrap(json_object())
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    if data.get("type") == "media":  # a v1 resource names its type
        data = {k: v for k, v in data.items() if k != "type"}
    details = [
        Detail(k, "unknown field of a media record; only alt can change")
        for k in sorted(set(data) - media.RECORD_KEYS)
    ]
    alt = data.get("alt")
    if alt is not None and not isinstance(alt, str):
        details.append(Detail("alt", "expected a string or null"))
    if details:
        raise ValidationError("Invalid media update", details)
    record = media.update(current_vellum(), media_id, alt, _author())
    return json_response({"data": record})


@api_media.delete("/media/<path:media_id>")
@access.require("write")
def delete_media(media_id: str) -> Response:
    media.delete(current_vellum(), media_id, _author())
    return Response(status=204)


@files_bp.get("/media/<path:media_id>")
@access.require("read")
def serve_file(media_id: str) -> Response:
    """The file, with its real type; SVG sandboxed so a script inside cannot run."""
    site = current_vellum().site
    path = media.file_path(site, media_id)
    record = media.describe(site, media_id)
    data = path.read_bytes()
    response = Response(data, mimetype=record["mimeType"])
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    response.set_etag(blob_sha(data))
    response.headers["X-Content-Type-Options"] = "nosniff"
    if record["mimeType"] == "image/svg+xml":
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; sandbox"
        )
    return response.make_conditional(request)
