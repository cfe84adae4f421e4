"""Records: finding content files in a site and parsing one into typed fields."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from vellum.site.models import FieldError, Model, coerce_record, parse_datetime
from vellum.site.site import Site
from vellum.store import front_matter

SKIPPED_SUFFIXES = ("~", ".swp", ".swx", ".tmp", ".part")


@dataclass(slots=True)
class Record:
    """One record (one file): its identity, typed fields, and Markdown body if any."""

    model: str
    id: str
    locale: str | None
    path: str
    sha: str
    data: dict[str, Any]
    body: str | None = None
    created: str | None = None
    updated: str | None = None

    def to_doc(self) -> dict:
        """What the index stores for this record."""
        return {
            "model": self.model,
            "id": self.id,
            "locale": self.locale,
            "path": self.path,
            "sha": self.sha,
            "data": self.data,
            "body": self.body,
            "created": self.created,
            "updated": self.updated,
        }

    @classmethod
    def from_doc(cls, doc: dict) -> Record:
        return cls(**doc)


# A stored doc's "body" when the text is in the body store, under the record's blob sha.
IN_BODY_STORE = True


class StoredRecord(Record):
    """A record read back from the index: its body stays in the body store (shared by every
    process through the page cache) and is read from there each time it is asked for."""

    __slots__ = ("_bodies",)

    def __init__(self, *fields, bodies=None, **named) -> None:
        self._bodies = bodies  # anything with get(sha) -> str | None
        super().__init__(*fields, **named)

    @property
    def body(self) -> str | None:
        found = _BODY_SLOT.__get__(self)
        if found is IN_BODY_STORE:
            return self._bodies.get(self.sha)
        return found

    @body.setter
    def body(self, value: str | None) -> None:
        _BODY_SLOT.__set__(self, value)

    @property
    def has_body(self) -> bool:
        return _BODY_SLOT.__get__(self) is not None


_BODY_SLOT = Record.__dict__["body"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a file is left out: its path, the line where known, and the reason."""

    path: str
    reason: str
    line: int | None = None
    field: str | None = None

    def as_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "field": self.field, "reason": self.reason}

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        what = f"{self.field}: {self.reason}" if self.field else self.reason
        return f"{where}: {what}"


def blob_sha(data: bytes) -> str:
    """The Git blob id of these bytes: the same value `git hash-object` prints."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def scan(site: Site) -> Iterator[tuple[str, str, os.stat_result]]:
    """Yield (model name, path relative to the site, stat) for every record file."""
    for model in site.models.values():
        top = site.root / model.folder
        if top.is_dir():
            for path, st in _walk(str(top), model.extensions):
                yield model.name, os.path.relpath(path, site.root).replace(os.sep, "/"), st


def _walk(folder: str, extensions: tuple[str, ...]) -> Iterator[tuple[str, os.stat_result]]:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith((".", "#")) or entry.name.endswith(SKIPPED_SUFFIXES):
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path, extensions)
            elif entry.name.endswith(extensions) and entry.is_file(follow_symlinks=False):
                yield entry.path, entry.stat()


def parse(site: Site, model: Model, path: str, data: bytes) -> Record | Problem:
    """Parse one file's bytes into a Record, or say why it cannot be one."""
    stem = PurePosixPath(path).name
    for ext in model.extensions:
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    record_id, locale = site.split_locale(stem)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(path, f"not valid UTF-8 (byte {exc.start})")
    loaded = _load_markdown(path, text) if model.format == "markdown" else _load_json(path, text)
    if isinstance(loaded, Problem):
        return loaded
    raw, body = loaded
    values, errors = coerce_record({} if model.inferred else model.fields, raw)
    if errors:
        name, reason = errors[0]
        return Problem(path, reason, line=_field_line(text, name, model.format), field=name)
    return Record(
        model=model.name,
        id=record_id,
        locale=locale or site.default_locale,
        path=path,
        sha=blob_sha(data),
        data=values,
        body=body,
        created=_timestamp(raw.get("createdAt")),
        updated=_timestamp(raw.get("updatedAt")),
    )


def _load_markdown(path: str, text: str) -> tuple[dict, str] | Problem:
    try:
        return front_matter.read(text)
    except front_matter.FrontMatterError as exc:
        return Problem(path, exc.reason, line=exc.line)


def _load_json(path: str, text: str) -> tuple[dict, None] | Problem:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        return Problem(path, f"invalid JSON: {exc.msg}", line=exc.lineno)
    if not isinstance(raw, dict):
        return Problem(path, "a JSON record must be an object", line=1)
    return raw, None


def _timestamp(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except FieldError:
        return None


def _field_line(text: str, name: str, fmt: str) -> int | None:
    """Best-effort line of a field in its file, so an error points at it."""
    needles = (f"{name}:",) if fmt == "markdown" else (f'"{name}"',)
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(needles):
            return number
    return None
