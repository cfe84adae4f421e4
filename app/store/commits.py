"""Commits as events: each new commit's record and media changes, diffed against its parent."""

from __future__ import annotations

from typing import Any

from vellum.store.events import Event
from vellum.store.records import Record, parse
from vellum.store.sync import record_identity

VERBS = {"A": "created", "M": "updated", "D": "deleted"}


def events_between(services, old: str | None, new: str) -> list[Event]:
    """Events for the commits after `old` up to `new`: per commit, `commit` then its changes."""
    repo = services.repo
    if old and not repo.is_ancestor(old, new):
        # History was rewritten: one diff from what was processed to what is there now.
        commits = repo.commits_between(None, new)[-1:]
        commits = [{**c, "parent": old} for c in commits]
    else:
        commits = repo.commits_between(old, new)
    events: list[Event] = []
    for commit in commits:
        events.extend(commit_events(services, commit))
    return events


def commit_events(services, commit: dict) -> list[Event]:
    """The `commit` event and one event per record or media file the commit changed."""
    prefix = services.repo.relative(services.site.root)
    info = {"sha": commit["sha"], "author": commit["author"], "message": commit["message"]}
    changes = services.repo.changes_between(commit["parent"], commit["sha"], prefix)
    data = {**info, "date": commit["date"], "files": [{"status": s, "path": p} for s, p in changes]}
    events = [Event("commit", data, commit=info, key="commit")]
    for status, path in changes:
        event = _file_event(services, commit, prefix, status, path)
        if event is not None:
            event.commit = info
            events.append(event)
    # Its message and paths tell of every file it changed: a commit that touched a
    # draft is for readers of drafts only.
    events[0].draft = any(e.draft for e in events[1:])
    return events


def _file_event(services, commit: dict, prefix: str, status: str, path: str) -> Event | None:
    site = services.site
    verb = VERBS.get(status, "updated")
    if path.startswith(site.media_folder + "/"):
        return Event(f"media.{verb}", {"path": path}, key=f"media:{path}")
    ident = record_identity(services, path)
    if ident is None:
        return None
    repo_path = f"{prefix}/{path}" if prefix else path
    old = _record_at(services, ident["type"], commit["parent"], repo_path, path)
    new = _record_at(services, ident["type"], commit["sha"], repo_path, path)
    key = f"content:{ident['type']}/{ident['id']}/{ident['locale']}"
    if new is None and old is None:
        return None
    if new is None:
        draft = _is_draft(services, old)
        return Event("content.deleted", _shape(old, ident), ident["type"], key=key, draft=draft)
    draft = _is_draft(services, new)
    if old is None:
        return Event("content.created", _shape(new, ident), ident["type"], key=key, draft=draft)
    data = {**_shape(new, ident), "changes": _changes(old, new)}
    event = Event("content.updated", data, ident["type"], key=key, draft=draft)
    event.unpublished = draft and not _is_draft(services, old)
    return event


def _record_at(services, model: str, commit: str, repo_path: str, path: str) -> Record | None:
    raw = services.repo.file_at(commit, repo_path)
    if raw is None:
        return None
    parsed = parse(services.site, services.site.models[model], path, raw)
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


def _is_draft(services, rec: Record) -> bool:
    model = services.site.models[rec.model]
    return "status" in model.fields and rec.data.get("status") != "published"
