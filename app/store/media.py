"""Media: uploaded files committed under the site's media folder, with their metadata.

A file lives at `<media folder>/<folder>/<name>`; its metadata (alt text, original name,
type, size, dates) at `<media folder>/_meta/<folder>/<name>.json`, and both are committed
in one commit. Types are checked on the content (magic bytes), not only on the name;
names are made safe and never overwrite an existing file; folders never leave the media
folder.
"""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from vellum.errors import (
    BadRequest,
    Conflict,
    Detail,
    NotFound,
    ValidationError,
    VellumError,
)
from vellum.site.models import FieldError, check_text
from vellum.site.site import Site
from vellum.store import journal, write_request
from vellum.store.state import iso, utcnow

if TYPE_CHECKING:
    from vellum.services import Vellum

META = "_meta"
# The keys of a media record, as GET shows them (only alt can be changed).
RECORD_KEYS = frozenset(
    "id filename originalName mimeType size url alt folder createdAt updatedAt width height".split()
)
EXTENSIONS = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/svg+xml": (".svg",),
    "application/pdf": (".pdf",),
    "video/mp4": (".mp4", ".m4v"),
    "audio/mpeg": (".mp3",),
}
_FOLDER_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class UnsupportedMedia(VellumError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class MediaNotFound(NotFound):
    def __init__(self, media_id: str) -> None:
        super().__init__(f"No media '{media_id}'")


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str
    alt: str | None = None
    folder: str | None = None


def sniff(data: bytes) -> str | None:
    """The type the bytes really are, from their first bytes."""
    head = data[:512]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3"):
        return "audio/mpeg"
    text = head.lstrip().lower()
    if text.startswith((b"<?xml", b"<svg")) and b"<svg" in data[:4096].lower():
        return "image/svg+xml"
    return None


def settings(site: Site) -> tuple[tuple[str, ...], int]:
    """vellum.yml's `media:` (allowed_types, max_size), typed (the schema checks them)."""
    conf = site.setting("media")
    return conf.allowed_types, conf.max_size


def clean_folder(folder: str | None) -> str:
    """'images/2025' stays; '../x', '/abs', 'a//b' or odd characters are refused (400)."""
    if not folder:
        return ""
    parts = folder.strip().rstrip("/").split("/")
    if any(not _FOLDER_PART.match(p) or p == META for p in parts):
        raise BadRequest(
            "folder: use letters, digits, - and _ separated by '/', inside the media folder",
            [Detail("folder", f"{folder!r} is not a folder inside the media folder")],
        )
    return "/".join(parts)


def check(site: Site, item: Upload) -> str:
    """The file's real type, if it may be uploaded; else why not."""
    allowed, max_size = settings(site)
    if len(item.data) > max_size:
        raise ValidationError("File too large", [Detail("file", f"larger than {max_size} bytes")])
    kind = sniff(item.data)
    if kind is None or kind not in allowed:
        raise UnsupportedMedia(
            f"{item.filename}: its content is not an allowed type ({', '.join(allowed)})"
        )
    claimed = mimetypes.guess_type(item.filename)[0]
    if claimed and claimed != kind:
        raise UnsupportedMedia(
            f"{item.filename}: the name says {claimed} but the content is {kind}"
        )
    clean_folder(item.folder)
    _check_text(item.filename, "file")
    _check_text(item.alt, "alt")
    return kind


def _check_text(value: str | None, field: str) -> None:
    """Alt text and the original name go into the media's metadata: text it can hold."""
    try:
        check_text(value or "")
    except FieldError as exc:
        raise ValidationError("Invalid media", [Detail(field, str(exc))]) from None


def upload(vellum: Vellum, items: list[Upload], author) -> list[dict]:
    """Check every file, then name and commit them all with their metadata in one commit
    (one file or many: all of them, or none); returns the media records."""
    site = vellum.site
    kinds = [check(site, item) for item in items]
    base, records, changes = site.media_folder, [], {}
    with journal.write_lock(vellum):
        for item, kind in zip(items, kinds, strict=True):
            folder = clean_folder(item.folder)
            name = _free_name(site, folder, _safe_name(item.filename, kind), changes)
            media_id = f"{folder}/{name}" if folder else name
            record = {
                "id": media_id,
                "filename": name,
                "originalName": item.filename,
                "mimeType": kind,
                "size": len(item.data),
                "url": url_of(media_id),
                "alt": item.alt,
                "folder": folder,
                "createdAt": iso(utcnow()),
            }
            meta = (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode()
            changes[f"{base}/{media_id}"] = item.data
            changes[f"{base}/{META}/{media_id}.json"] = meta
            records.append(record)
        names = ", ".join(r["id"] for r in records)
        journal.commit(vellum, changes, f"Upload {names}", author)
    return records


def used_by(catalog, media_id: str) -> list[str]:
    """`model/id` of every record whose media field names this file."""
    found = []
    for name, fields in catalog.fields.items():
        names = [f.name for f in fields.values() if f.type == "media"]
        for variants in catalog.records.get(name, {}).values() if names else ():
            for rec in variants.values():  # every locale's file
                if any(rec.data.get(n) == media_id for n in names):
                    found.append(f"{name}/{rec.id}")
    return sorted(set(found))


def url_of(media_id: str) -> str:
    return f"/media/{media_id}"


def describe(site: Site, media_id: str) -> dict | None:
    """A media record: its metadata file, or what the file itself tells when it has none."""
    path = _file(site, media_id)
    if path is None:
        return None
    meta = site.root / site.media_folder / META / f"{media_id}.json"
    if meta.is_file():
        return json.loads(meta.read_text(encoding="utf-8"))
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return {
        "id": media_id,
        "filename": path.name,
        "originalName": path.name,
        "mimeType": kind,
        "size": path.stat().st_size,
        "url": url_of(media_id),
        "alt": None,
        "folder": str(PurePosixPath(media_id).parent).replace(".", "", 1)
        if "/" in media_id
        else "",
        "createdAt": None,
    }


def list_media(site: Site) -> list[dict]:
    """Every media file, newest first (files without metadata last, by name)."""
    root = site.root / site.media_folder
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(f"{META}/") and not path.name.startswith("."):
            found.append(describe(site, rel))
    return sorted(found, key=lambda m: m["createdAt"] or "", reverse=True)


def update(vellum: Vellum, media_id: str, alt: str | None, author) -> dict:
    """Change a file's alt text (the file itself never changes under its name)."""
    site = vellum.site
    _check_text(alt, "alt")
    with journal.write_lock(vellum):
        record = describe(site, media_id)
        if record is None:
            raise MediaNotFound(media_id)
        if record.get("alt") == alt:
            return record  # nothing changes: no commit
        record = {**record, "alt": alt, "updatedAt": iso(utcnow())}
        meta = (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode()
        path = f"{site.media_folder}/{META}/{media_id}.json"
        journal.commit(vellum, {path: meta}, f"Update {media_id}", author)
    return record


def delete(vellum: Vellum, media_id: str, author) -> None:
    """Remove a file and its metadata; not while a record's media field names it."""
    site = vellum.site
    with journal.write_lock(vellum):
        if describe(site, media_id) is None:
            raise MediaNotFound(media_id)
        users = used_by(vellum.catalog(), media_id)
        if users:
            shown = ", ".join(users[:5]) + (" …" if len(users) > 5 else "")
            raise Conflict(f"{media_id} is used by {shown}: change those records first")
        changes = {f"{site.media_folder}/{media_id}": None}
        meta = f"{site.media_folder}/{META}/{media_id}.json"
        if (site.root / meta).exists():
            changes[meta] = None
        journal.commit(vellum, changes, f"Delete {media_id}", author)


def file_path(site: Site, media_id: str) -> Path:
    path = _file(site, media_id)
    if path is None:
        raise MediaNotFound(media_id)
    return path


def _file(site: Site, media_id: str) -> Path | None:
    """The file for an id, only if it is a real file inside the media folder."""
    root = (site.root / site.media_folder).resolve()
    try:
        path = (root / media_id).resolve()
        path.relative_to(root)
        if not path.is_file() or path.relative_to(root).parts[0] == META:
            return None
    except (ValueError, OSError):  # outside the folder, a NUL, a name too long
        return None
    return path


def _safe_name(filename: str, kind: str) -> str:
    stem = write_request.slugify(PurePosixPath(filename).stem) or "file"
    ext = PurePosixPath(filename).suffix.lower()
    return f"{stem}{ext if ext in EXTENSIONS[kind] else EXTENSIONS[kind][0]}"


def _free_name(site: Site, folder: str, name: str, pending: dict) -> str:
    """The name, or name-1, name-2… when taken (on disk, or by another file of the same
    upload): an upload never overwrites a file."""
    base = site.root / site.media_folder / folder
    prefix = f"{site.media_folder}/{folder}/" if folder else f"{site.media_folder}/"
    stem, ext = PurePosixPath(name).stem, PurePosixPath(name).suffix
    candidate, n = name, 0
    while (base / candidate).exists() or f"{prefix}{candidate}" in pending:
        n += 1
        candidate = f"{stem}-{n}{ext}"
    return candidate
