"""Bringing the index up to date with the files: only what changed is parsed again."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from vellum.site.models import TEXT_TYPES, Model
from vellum.site.site import Site
from vellum.store.git import FileDates, GitRepo
from vellum.store.index import Entry, Snapshot, Store, TextDoc
from vellum.store.records import (
    IN_BODY_STORE,
    SKIPPED_SUFFIXES,
    Problem,
    Record,
    blob_sha,
    parse,
    scan,
)

# Bump when the stored doc layout changes: every index is then rebuilt once.
FORMAT = 3
# Above these many files, parsing and text indexing are split over two processes.
PARALLEL_PARSE_THRESHOLD = 1000
PARALLEL_TEXT_THRESHOLD = 2000
# Up to this many files a sync asks Git for their committed blobs by name, not for the
# whole tree's (names Git would read as patterns are never asked for by name).
PATHS_LISTED = 200
PATTERN_CHARS = set("*?[]\\:")
# Bodies written to the body store per transaction during a big sync.
BODY_BATCH = 5000

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
    snapshot: Snapshot | None = None
    touched: set[str] = field(default_factory=set)

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
    site: Site,
    repo: GitRepo,
    store: Store,
    *,
    rebuild: bool = False,
    known: Snapshot | None = None,
    progress: Progress = None,
    paths: Iterable[str] | None = None,
) -> SyncReport:
    """Make the records index match the files and HEAD; parse only changed files.

    `paths` (a watcher's batch) limits the look to those files and to those that new
    commits touched; a rebuild or rewritten history still stats every file. The report
    carries the snapshot the index is left at, so callers need not read it.
    """
    started = time.perf_counter()
    paths = set(paths) if paths is not None else None
    files = _stat_paths(site, paths) if paths is not None else _scan_all(site)
    report = SyncReport(head=repo.head())
    prefix = repo.relative(site.root)
    with store.records_writer(known) as writer:
        meta = writer.meta
        bodies_id = store.bodies.identity()
        report.rebuilt = (
            rebuild
            or meta.get("models") != site.models_hash
            or meta.get("format") != FORMAT
            or meta.get("bodies") != bodies_id
        )
        existing = {} if report.rebuilt else writer.entries
        dates = _Dates(repo, prefix, None if report.rebuilt else meta.get("head"), report.head)
        if paths is not None and (report.rebuilt or dates.full):
            paths, files = None, _scan_all(site)  # every doc or every date may move
        elif paths is not None and dates.moved:
            paths |= dates.changed.keys()  # new commits move their files' dates, only theirs
            files = _stat_paths(site, paths)
        if paths is not None and len(paths) <= PATHS_LISTED:
            if not any(PATTERN_CHARS.intersection(p) for p in paths):
                dates.paths = paths
        todo = []
        for path, (model_name, st) in files.items():
            old = existing.get(path)
            if _needs_parse(site, path, st, old, dates, writer, report):
                todo.append((model_name, path, st, old))
            elif progress:
                progress(1)
        parsed = _parse_many(site, [(model_name, path) for model_name, path, _, _ in todo])
        bodies = []
        for (_, path, st, old), (sha, doc) in zip(todo, parsed, strict=True):
            if _body_aside(doc, sha, bodies) and len(bodies) >= BODY_BATCH:
                store.bodies.put_many(bodies)
                bodies.clear()
            doc["git"] = dates.of(path, sha, None if old is None else writer.doc(old), st)
            writer.put(path, sha, _stat(st), doc)
            if old is None:
                report.added += 1
            else:
                report.updated += 1
            if progress:
                progress(1)
        store.bodies.put_many(bodies)  # before the index that names them commits
        gone = writer.entries.keys() - files.keys()
        for path in gone if paths is None else gone & paths:
            writer.delete(path)
            report.removed += 1
        meta = {"format": FORMAT, "models": site.models_hash, "head": report.head}
        writer.set_meta({**meta, "bodies": bodies_id})
    report.snapshot = writer.after()
    report.touched = set(writer.touched)
    report.seconds = time.perf_counter() - started
    return report


def _body_aside(doc: dict, sha: str, bodies: list[tuple[str, str]]) -> bool:
    """Move a record's body out of its doc, into `bodies` for the body store: the index
    keeps only fields, so reading every doc back (each process at start) stays cheap."""
    record = doc.get("record")
    if record is None or not record["body"]:
        return False
    bodies.append((sha, record["body"]))
    record["body"] = IN_BODY_STORE
    return True


def _scan_all(site: Site) -> dict[str, tuple[str, os.stat_result]]:
    return {path: (model, st) for model, path, st in scan(site)}


def _stat_paths(site: Site, paths: set[str]) -> dict[str, tuple[str, os.stat_result]]:
    """What scan() would yield for these paths alone (those that exist and are records)."""
    found = {}
    for path in paths:
        parts = path.split("/")
        if any(p.startswith((".", "#")) for p in parts) or path.endswith(SKIPPED_SUFFIXES):
            continue
        for model in site.models.values():
            if path.startswith(model.folder + "/") and path.endswith(model.extensions):
                try:
                    st = os.stat(site.root / path, follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    found[path] = (model.name, st)
    return found


def _stat(st: os.stat_result) -> tuple:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _needs_parse(site, path, st, old: Entry | None, dates, writer, report) -> bool:
    """False when the file's content is what the index holds (refreshing dates if needed)."""
    if old is None:
        return True
    touched = dates.touched(path)
    if old.stat == _stat(st) and not touched:
        report.unchanged += 1
        return False
    with open(site.root / path, "rb") as fh:
        sha = blob_sha(fh.read())
    if old.sha != sha:
        return True
    if touched:  # same content, new commits: only its dates move
        doc = writer.doc(old)
        writer.put(path, sha, _stat(st), {**doc, "git": dates.of(path, sha, doc, st)})
    report.unchanged += 1
    return False


def parse_file(site: Site, model_name: str, path: str) -> tuple[str, dict]:
    """Read and parse one file: its blob sha and the doc the index stores."""
    with open(site.root / path, "rb") as fh:
        data = fh.read()
    parsed = parse(site, site.models[model_name], path, data)
    if isinstance(parsed, Record):
        return blob_sha(data), {"record": parsed.to_doc()}
    return blob_sha(data), {"problem": parsed.as_dict()}


def _parse_many(site: Site, items: list[tuple[str, str]]) -> Iterable[tuple[str, dict]]:
    """Parse files; a big batch is split over two processes (YAML parsing is pure Python).

    Forking is only safe while this process runs a single thread, so a server that is
    already answering requests parses serially.
    """
    if len(items) < PARALLEL_PARSE_THRESHOLD or threading.active_count() > 1:
        return (parse_file(site, model_name, path) for model_name, path in items)
    context = multiprocessing.get_context("fork")
    with context.Pool(2, initializer=_init_worker, initargs=(site,)) as pool:
        return pool.starmap(_parse_in_worker, items, chunksize=250)


_WORKER_SITE: Site | None = None


def _init_worker(site: Site) -> None:
    global _WORKER_SITE
    _WORKER_SITE = site


def _parse_in_worker(model_name: str, path: str) -> tuple[str, dict]:
    return parse_file(_WORKER_SITE, model_name, path)


class _Dates:
    """Commit dates for files, fetched from Git only when a file needs them."""

    def __init__(self, repo: GitRepo, prefix: str, since: str | None, head: str | None) -> None:
        self.repo, self.prefix, self.head = repo, prefix, head
        self.moved = head != since
        if since and head and not repo.is_ancestor(since, head):
            since = None  # history was rewritten: walk it all again
        self.full = since is None
        self._since = since
        self.paths: set[str] | None = None  # the only files asked about, when known
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

    def of(self, path: str, sha: str, old: dict | None, st: os.stat_result) -> list[str | None]:
        """[created, updated] of a file; `old` is the doc the index held for it."""
        if self._blobs is None:
            self._blobs = self.repo.committed_blobs(self.prefix, self.paths)
        mtime = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime))
        committed = self._blobs.get(path)
        if committed is None:
            return [mtime, mtime]  # not committed yet
        found = self.changed.get(path)
        previous = (old.get("git") or [None, None]) if old is not None else [None, None]
        created = (previous[0] if not self.full else None) or (found.created if found else None)
        updated = found.updated if found else previous[1]
        if committed != sha:
            updated = mtime  # edited in the working tree since its last commit
        return [created or mtime, updated or mtime]


def text_doc(model: Model, key: str, sha: str, record: dict) -> TextDoc:
    """What full-text search sees of a record: its title, text fields and body."""
    data = record["data"]
    source = next((n for n in ("title", "name") if data.get(n)), None)
    parts = [str(data[source]) if source else record["id"]]
    for name, value in data.items():
        f = model.fields.get(name)
        if isinstance(value, str) and (f is None or f.type in TEXT_TYPES) and name != source:
            parts.append(value)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            if f is None or f.type == "list":
                parts.append(" ".join(value))
    if record.get("body"):
        parts.append(record["body"])
    return TextDoc(key=key, sha=sha, model=record["model"], content="\n".join(parts))


def sync_text(
    site: Site,
    store: Store,
    snapshot: Snapshot | None = None,
    *,
    parallel: bool = False,
    progress: Progress = None,
    keys: set[str] | None = None,
) -> int:
    """Bring the full-text index in line with the records index; returns docs written.

    With `keys` (the files a sync just changed) only those are written again, and the
    text index is not read at all; without, everything is compared by blob sha.
    """
    entries = (snapshot or store.snapshot()).entries
    with store.text_lock():
        if keys is not None:
            stale = sorted(keys)
            todo = [entries[k] for k in stale if k in entries and _served(site, entries[k])]
        else:
            have = store.text_shas()
            wanted = {k: e for k, e in entries.items() if _served(site, e)}
            stale = [
                k
                for k, sha in have.items()
                if sha is None or wanted.get(k) is None or wanted[k].sha != sha
            ]
            todo = [e for key, e in wanted.items() if have.get(key) != e.sha]
        todo = _with_docs(store, todo)
        if not stale and not todo:
            return 0
        docs = (_text_doc(site, store, e) for e in todo)
        procs = 2 if parallel and len(todo) > PARALLEL_TEXT_THRESHOLD else 1
        store.update_text(docs, stale, procs=procs, progress=progress)
    return len(todo)


def _served(site: Site, entry: Entry) -> bool:
    """A valid record of a model the site serves (a light entry is one: it was let go by
    a process that built its record under these models; other models mean a rebuild)."""
    return entry.raw is None or (entry.is_record and entry.doc["record"]["model"] in site.models)


def _with_docs(store: Store, todo: list[Entry]) -> list[Entry]:
    """`todo` with the docs of light entries read back from the index; one the index has
    moved past since is left to the sync of its new version."""
    light = [e.key for e in todo if e.raw is None]
    if not light:
        return todo
    found = store.stored(light)
    out = []
    for e in todo:
        if e.raw is not None:
            out.append(e)
        elif found.get(e.key, ("", b""))[0] == e.sha:
            out.append(Entry(e.key, e.sha, e.stat, found[e.key][1]))
    return out


def _text_doc(site: Site, store: Store, entry: Entry) -> TextDoc:
    record = record_with_body(store, entry)
    return text_doc(site.models[record["model"]], entry.key, entry.sha, record)


def record_with_body(store: Store, entry: Entry) -> dict:
    """The stored record with its body read back from the body store."""
    record = entry.doc["record"]
    if record["body"] is IN_BODY_STORE:
        return {**record, "body": store.bodies.get(entry.sha)}
    return record


def text_is_current(store: Store, snapshot: Snapshot) -> bool:
    """True when every valid record's current version is in the text index."""
    have = store.text_shas()
    return all(have.get(e.key) == e.sha for e in snapshot.entries.values() if e.is_record)
