"""What a write asks for: the record's fields and the commit's message, checked, whether
they come flat or as {"data": {…}, "meta": {"locale", "message", "version"}}."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from vellum.errors import Detail, ValidationError
from vellum.site.models import FieldError, check_text

# Keys a write may send that are not fields: the record's own, or answers GET gave.
IGNORED = {"id", "type", "locale", "version", "html", "body"}

# A commit message, in bytes of UTF-8: Git takes more, but nobody reads more.
MAX_MESSAGE = 64 * 1024

# A record's version is its file's Git blob sha (SHA-1, or SHA-256 in such repositories);
# any other meta.version ("1.0") is the client's own and guards nothing.
RECORD_VERSION = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
META_KEYS = {"locale", "message", "version"}


@dataclass(frozen=True)
class WriteRequest:
    """A write's payload: fields, Markdown body, locale and commit message."""

    fields: dict[str, Any]
    body: str | None = None
    locale: str | None = None
    message: str | None = None
    id: str | None = None
    type: Any = None  # read-only, as GET shows it: a record may be sent back as it came
    version: str | None = None  # meta.version when it names a record version: the one to match


def parse_payload(payload: Any, locale: str | None = None) -> WriteRequest:
    """Accept the record flat, or as {"data": {...}, "meta": {"locale", "message", "version"}}."""
    meta: dict = {}
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        meta = parse_meta(payload.get("meta"))
        payload = payload["data"]
    if not isinstance(payload, dict):
        raise ValidationError(
            "Expected a JSON object", [Detail(None, "the body must be an object")]
        )
    body = payload.get("body")
    if body is not None and not isinstance(body, str):
        raise ValidationError("Invalid body", [Detail("body", "expected a string")])
    fields = {k: v for k, v in payload.items() if k not in IGNORED}
    return WriteRequest(
        fields=fields,
        body=body,
        locale=meta.get("locale") or locale or payload.get("locale"),
        message=meta.get("message"),
        id=str(payload["id"]) if payload.get("id") is not None else None,
        type=payload.get("type"),
        version=record_version(meta.get("version")),
    )


def parse_meta(meta: Any) -> dict:
    """A write's {"locale", "message", "version"}, checked: strings, and a message Git can
    take."""
    meta = meta or {}
    if not isinstance(meta, dict) or set(meta) - META_KEYS:
        raise ValidationError(
            "Invalid meta",
            [Detail("meta", "expected an object with locale, message and version")],
        )
    for name in ("locale", "message"):
        if meta.get(name) is not None and not isinstance(meta[name], str):
            raise ValidationError("Invalid meta", [Detail(f"meta.{name}", "expected a string")])
    check_message(meta.get("message"), "meta.message")
    record_version(meta.get("version"))
    return meta


def record_version(version: Any) -> str | None:
    """meta.version when it names a record version (a blob sha), else None: a client may
    send its own version there ("1.0"), which is text or a number and guards nothing."""
    if version is None or isinstance(version, int | float) and not isinstance(version, bool):
        return None
    if not isinstance(version, str):
        raise ValidationError(
            "Invalid meta", [Detail("meta.version", "expected a string (a record version)")]
        )
    return version if RECORD_VERSION.match(version) else None


def check_message(message: Any, field: str = "message") -> str | None:
    """A commit message Git keeps whole: text of at most MAX_MESSAGE bytes, else a 422."""
    if message is None:
        return None
    try:
        if not isinstance(message, str):
            raise FieldError("expected a string")
        check_text(message, holder="a commit message")
        size = len(message.encode("utf-8"))
        if size > MAX_MESSAGE:
            raise FieldError(f"is {size} bytes long; a commit message holds at most {MAX_MESSAGE}")
    except FieldError as exc:
        raise ValidationError("Invalid commit message", [Detail(field, str(exc))]) from None
    return message


def slugify(text: str) -> str:
    """'Hello, World!' → 'hello-world' (accents folded, at most 80 characters)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].rstrip("-")
