"""Commits as events: each new commit's record and media changes, diffed against its parent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vellum.store.events import Event
from vellum.store.records import Record, parse
from vellum.store.sync import record_identity

if TYPE_CHECKING:
    from vellum.services import Vellum

VERBS = {"A": "created", "M": "updated", "D": "deleted"}


@dataclass(frozen=True)
class Skipped:
    """A commit (path None) or one file of it that could not become events, and why."""

    sha: str
    path: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"sha": self.sha, "path": self.path, "reason": self.reason}


def commits_after(vellum: Vellum, old: str | None, new: str) -> list[dict]:
    """The commits after `old` up to `new`, oldest first, each with the parent to diff."""
    repo = vellum.repo
    if old and not repo.is_ancestor(old, new):
        # History was rewritten: one diff from what was processed to what is there now.
        commits = repo.commits_between(None, new)[-1:]
        return [{**c, "parent": old} for c in commits]
    return repo.commits_between(old, new)


def commit_events(vellum: Vellum, commit: dict) -> tuple[list[Event], list[Skipped]]:
    """The `commit` event and one event per record or media file the commit changed.

    A file that cannot be read or parsed (a missing object, a surprise) is left out and
    named in the second list, and in the commit event's `skipped`; so is the whole
    commit's file list when even that cannot be read.
    """
    prefix = vellum.repo.relative(vellum.site.root)
    info = {"sha": commit["sha"], "author": commit["author"], "message": commit["message"]}
    skipped: list[Skipped] = []
    try:
        changes = vellum.repo.changes_between(commit["parent"], commit["sha"], prefix)
    except Exception as exc:
        skipped.append(Skipped(commit["sha"], None, f"its files cannot be listed: {_why(exc)}"))
        changes = []
    files = [{"status": s, "path": p} for s, p in changes]
    data = {**info, "date": commit["date"], "files": files}
    events = [Event("commit", data, commit=info, key="commit")]
    for status, path in changes:
        try:
            event = _file_event(vellum, commit, prefix, status, path)
        except Exception as exc:
            skipped.append(Skipped(commit["sha"], path, _why(exc)))
            continue
        if event is not None:
            event.commit = info
            events.append(event)
    if skipped:
        data["skipped"] = [{"path": s.path, "reason": s.reason} for s in skipped]
    # Its message and paths tell of every file it changed: a commit that touched a
    # draft (or a file it could not read, which may be one) is for readers of drafts only.
    events[0].draft = bool(skipped) or any(e.draft for e in events[1:])
    return events, skipped


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".strip()[:500]


def _file_event(vellum: Vellum, commit: dict, prefix: str, status: str, path: str) -> Event | None:
    site = vellum.site
    verb = VERBS.get(status, "updated")
    if path.startswith(site.media_folder + "/"):
        return Event(f"media.{verb}", {"path": path}, key=f"media:{path}")
    ident = record_identity(vellum, path)
    if ident is None:
        return None
    repo_path = f"{prefix}/{path}" if prefix else path
    old = _record_at(vellum, ident["type"], commit["parent"], repo_path, path)
    new = _record_at(vellum, ident["type"], commit["sha"], repo_path, path)
    key = f"content:{ident['type']}/{ident['id']}/{ident['locale']}"
    if new is None and old is None:
        return None
    if new is None:
        draft = _is_draft(vellum, old)
        return Event("content.deleted", _shape(old, ident), ident["type"], key=key, draft=draft)
    draft = _is_draft(vellum, new)
    if old is None:
        return Event("content.created", _shape(new, ident), ident["type"], key=key, draft=draft)
    data = {**_shape(new, ident), "changes": _changes(old, new)}
    event = Event("content.updated", data, ident["type"], key=key, draft=draft)
    event.unpublished = draft and not _is_draft(vellum, old)
    return event


def _record_at(vellum: Vellum, model: str, commit: str, repo_path: str, path: str) -> Record | None:
    raw = vellum.repo.file_at(commit, repo_path)
    if raw is None:
        return None
    parsed = parse(vellum.site, vellum.site.models[model], path, raw)
    return parsed if isinstance(parsed, Record) else None


def _shape(rec: Record, ident: dict) -> dict[str, Any]:
    shaped = {"id": ident["id"], "type": ident["type"], "locale": ident["locale"]}
    shaped.update(rec.data)
    if rec.body is not None:
        shaped["body"] = rec.body
    return shaped


def _changes(old: Record, new: Record) -> dict[str, Any]:
    """The fields whose values changed, with their new values (None: removed)."""
    names = list(new.data) + [n for n in old.data if n not in new.data]
    found = {n: new.data.get(n) for n in names if old.data.get(n) != new.data.get(n)}
    if old.body != new.body:
        found["body"] = new.body
    return found


def _is_draft(vellum: Vellum, rec: Record) -> bool:
    model = vellum.site.models[rec.model]
    return "status" in model.fields and rec.data.get("status") != "published"
