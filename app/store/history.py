"""Version history of records, read from Git: versions, a record as it was, diffs, restore."""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any

from vellum.errors import InvalidParameter, NotFound, RecordNotFound
from vellum.site.audience import EDITORS
from vellum.site.models import Model
from vellum.store import journal, writes
from vellum.store.catalog import render_markdown
from vellum.store.records import Problem, Record, parse

if TYPE_CHECKING:
    from vellum.services import Vellum

LINE_END = re.compile(r"\r\n|\r|\n")

SHA = re.compile(r"^[0-9a-fA-F]{4,40}$")


class VersionNotFound(NotFound):
    def __init__(self, model: str, record_id: str, version: str) -> None:
        super().__init__(f"{model} '{record_id}' has no version {version}")


def record_path(vellum: Vellum, model_name: str, record_id: str, locale: str | None) -> str:
    """The site path of a record, live or deleted (then found in the history)."""
    model = writes.model_of(vellum, model_name)
    locale = writes.locale_of(vellum, locale)
    current = vellum.catalog().get(model.name, record_id, locale, EDITORS)
    if current is not None and current.locale == locale:
        return current.path
    suffix = f".{locale}" if locale and locale != vellum.site.default_locale else ""
    prefix = journal.repo_path(vellum, model.folder)
    names = [f"{record_id}{suffix}{ext}" for ext in model.extensions]
    for name in names:
        for candidate in (
            f"{prefix}/{name}",
            *vellum.repo.paths_ever(f":(glob){prefix}/**/{name}"),
        ):
            if vellum.repo.count_commits(candidate):
                return _site_path(vellum, candidate)
    raise RecordNotFound(model.name, record_id)


def versions(vellum: Vellum, model: str, record_id: str, locale=None, limit=20, offset=0) -> dict:
    """Commits that changed the record, newest first, paginated."""
    path = journal.repo_path(vellum, record_path(vellum, model, record_id, locale))
    total = vellum.repo.count_commits(path)
    rows = vellum.repo.file_log(path, limit, offset)
    meta = {"total": total, "limit": limit, "offset": offset, "hasMore": offset + len(rows) < total}
    return {"data": rows, "meta": meta}


def at_version(vellum: Vellum, model_name: str, record_id: str, version: str, locale=None) -> dict:
    """The record as it was in a commit, shaped like a live record."""
    path, commit = _locate(vellum, model_name, record_id, version, locale)
    rec = _parsed(vellum, model_name, path, commit, record_id, version)
    return {**_shape(rec), "version": commit}


def diff(vellum: Vellum, model_name: str, record_id: str, old: str, new: str, locale=None) -> dict:
    """Changed fields (old and new values) and a unified diff of the body."""
    path, old_commit = _locate(vellum, model_name, record_id, old, locale)
    _, new_commit = _locate(vellum, model_name, record_id, new, locale)
    before = _parsed(vellum, model_name, path, old_commit, record_id, old)
    after = _parsed(vellum, model_name, path, new_commit, record_id, new)
    names = list(dict.fromkeys([*before.data, *after.data]))
    changes = {
        name: {"old": before.data.get(name), "new": after.data.get(name)}
        for name in names
        if before.data.get(name) != after.data.get(name)
    }
    body = "\n".join(
        difflib.unified_diff(
            _lines(before.body),
            _lines(after.body),
            fromfile=f"{path}@{old_commit[:7]}",
            tofile=f"{path}@{new_commit[:7]}",
            lineterm="",
        )
    )
    return {"from": old_commit, "to": new_commit, "changes": changes, "body": body}


def _lines(text: str | None) -> list[str]:
    """A body's lines as a text editor sees them: only \n, \r\n and \r end one (not the form
    feeds and separators `str.splitlines` also breaks on)."""
    lines = LINE_END.split(text) if text else []
    if lines and lines[-1] == "":  # a final line end ends the last line; it starts none
        lines.pop()
    return lines


def restore(vellum: Vellum, model_name: str, record_id: str, version: str, author, locale=None):
    """Commit the record's content at `version` as its newest version (a deleted one too)."""
    path, commit = _locate(vellum, model_name, record_id, version, locale)
    data = vellum.repo.file_at(commit, journal.repo_path(vellum, path))
    if data is None:
        raise VersionNotFound(model_name, record_id, version)
    message = f"Restore {model_name} {record_id} to {commit[:7]}"
    return writes.restore_bytes(vellum, model_name, record_id, path, data, message, author)


def _locate(vellum: Vellum, model, record_id, version, locale) -> tuple[str, str]:
    if not SHA.match(version or ""):
        raise InvalidParameter("version", f"expected a commit sha, got {version!r}")
    path = record_path(vellum, model, record_id, locale)
    commit = vellum.repo.resolve(version)
    if commit is None:
        raise VersionNotFound(model, record_id, version)
    return path, commit


def _parsed(
    vellum: Vellum, model_name: str, path: str, commit: str, record_id: str, version
) -> Record:
    data = vellum.repo.file_at(commit, journal.repo_path(vellum, path))
    if data is None:
        raise VersionNotFound(model_name, record_id, version)
    model: Model = vellum.site.models[model_name]
    parsed = parse(vellum.site, model, path, data)
    if isinstance(parsed, Problem):
        # An old version may not fit today's model: show its raw fields anyway.
        return Record(model_name, record_id, None, path, "", {"_invalid": parsed.reason})
    return parsed


def _shape(rec: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rec.id, "type": rec.model, "locale": rec.locale, **rec.data}
    if rec.body is not None:
        out["body"] = rec.body
        out["html"] = render_markdown(rec.body)
    out["blob"] = rec.sha
    return out


def _site_path(vellum: Vellum, repo_path: str) -> str:
    prefix = vellum.repo.relative(vellum.site.root)
    return repo_path[len(prefix) + 1 :] if prefix else repo_path
