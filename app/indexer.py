"""Bringing the index up to date with the files: only what changed is parsed again."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.git import FileDates, GitRepo
from app.index import Entry, Store, TextDoc
from app.models import TEXT_TYPES, Model
from app.records import Problem, Record, blob_sha, parse, scan
from app.site import Site

# Bump when the stored doc layout changes: every index is then rebuilt once.
FORMAT = 1
# Above this many new documents the text index is built by two processes.
PARALLEL_TEXT_THRESHOLD = 2000

Progress = Callable[[int], None]


@dataclass
class SyncReport:
    """What one sync did; `reindexed` counts files parsed again."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    rebuilt: bool = False
    head: str | None = None
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def reindexed(self) -> int:
        return self.added + self.updated

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "rebuilt": self.rebuilt,
            "head": self.head,
            "seconds": round(self.seconds, 3),
        }


def sync_records(
    site: Site, repo: GitRepo, store: Store, *, rebuild: bool = False, progress: Progress = None
) -> SyncReport:
    """Make the records index match the files and HEAD; parse only changed files."""
    started = time.perf_counter()
    files = {path: (model, st) for model, path, st in scan(site)}
    report = SyncReport(head=repo.head())
    prefix = repo.relative(site.root)
    with store.records_writer() as writer:
        meta = writer.meta
        report.rebuilt = (
            rebuild or meta.get("models") != site.models_hash or meta.get("format") != FORMAT
        )
        existing = {} if report.rebuilt else writer.entries
        dates = _Dates(repo, prefix, None if report.rebuilt else meta.get("head"), report.head)
        for path, (model_name, st) in files.items():
            _sync_file(
                site, site.models[model_name], path, st, existing.get(path), dates, writer, report
            )
            if progress:
                progress(1)
        for path in writer.entries.keys() - files.keys():
            writer.delete(path)
            report.removed += 1
        writer.set_meta({"format": FORMAT, "models": site.models_hash, "head": report.head})
    report.seconds = time.perf_counter() - started
    return report


def _sync_file(site, model, path, st, old: Entry | None, dates, writer, report) -> None:
    stat = (st.st_mtime_ns, st.st_size, st.st_ino)
    touched = dates.touched(path)
    if old is not None and old.stat == stat and not touched:
        report.unchanged += 1
        return
    with open(site.root / path, "rb") as fh:
        data = fh.read()
    sha = blob_sha(data)
    if old is not None and old.sha == sha:
        if not touched:
            report.unchanged += 1
            return
        doc = dict(old.doc)
    else:
        parsed = parse(site, model, path, data)
        doc = (
            {"record": parsed.to_doc()}
            if isinstance(parsed, Record)
            else {"problem": parsed.as_dict()}
        )
        if old is None:
            report.added += 1
        else:
            report.updated += 1
    doc["git"] = dates.of(path, sha, old, st)
    writer.put(path, sha, stat, doc)


class _Dates:
    """Commit dates for files, fetched from Git only when a file needs them."""

    def __init__(self, repo: GitRepo, prefix: str, since: str | None, head: str | None) -> None:
        self.repo, self.prefix, self.head = repo, prefix, head
        self.moved = head != since
        if since and head and not repo.is_ancestor(since, head):
            since = None  # history was rewritten: walk it all again
        self.full = since is None
        self._since = since
        self._changed: dict[str, FileDates] | None = None
        self._blobs: dict[str, str] | None = None

    def touched(self, path: str) -> bool:
        """True when commits since the last sync may have changed this file's dates."""
        return self.moved and (self.full or path in self.changed)

    @property
    def changed(self) -> dict[str, FileDates]:
        if self._changed is None:
            self._changed = (
                self.repo.file_dates(self.prefix, self._since) if self.moved or self.full else {}
            )
        return self._changed

    def of(self, path: str, sha: str, old: Entry | None, st: os.stat_result) -> list[str | None]:
        if self._blobs is None:
            self._blobs = self.repo.committed_blobs(self.prefix)
        mtime = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime))
        committed = self._blobs.get(path)
        if committed is None:
            return [mtime, mtime]  # not committed yet
        found = self.changed.get(path)
        previous = (old.doc.get("git") or [None, None]) if old is not None else [None, None]
        created = (previous[0] if not self.full else None) or (found.created if found else None)
        updated = found.updated if found else previous[1]
        if committed != sha:
            updated = mtime  # edited in the working tree since its last commit
        return [created or mtime, updated or mtime]


def text_doc(model: Model, key: str, sha: str, record: dict) -> TextDoc:
    """What full-text search sees of a record: its title, text fields and body."""
    data = record["data"]
    title = str(data.get("title") or data.get("name") or record["id"])
    parts = [title]
    for name, value in data.items():
        f = model.fields.get(name)
        if isinstance(value, str) and (f is None or f.type in TEXT_TYPES) and name != "title":
            parts.append(value)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            if f is None or f.type == "list":
                parts.append(" ".join(value))
    if record.get("body"):
        parts.append(record["body"])
    return TextDoc(key=key, sha=sha, model=record["model"], title=title, content="\n".join(parts))


def sync_text(
    site: Site, store: Store, *, parallel: bool = False, progress: Progress = None
) -> int:
    """Bring the full-text index in line with the records index; returns docs written."""
    _, entries = store.read_records()
    wanted = {
        e.key: e for e in entries if "record" in e.doc and e.doc["record"]["model"] in site.models
    }
    have = store.text_shas()
    stale = [key for key, sha in have.items() if wanted.get(key) is None or wanted[key].sha != sha]
    todo = [e for key, e in wanted.items() if have.get(key) != e.sha]
    if not stale and not todo:
        return 0
    docs = (
        text_doc(site.models[e.doc["record"]["model"]], e.key, e.sha, e.doc["record"]) for e in todo
    )
    procs = 2 if parallel and len(todo) > PARALLEL_TEXT_THRESHOLD else 1
    store.update_text(docs, stale, procs=procs, progress=progress)
    return len(todo)


def text_is_current(store: Store, entries: list[Entry]) -> bool:
    """True when every valid record's current version is in the text index."""
    have = store.text_shas()
    return all(have.get(e.key) == e.sha for e in entries if "record" in e.doc)
