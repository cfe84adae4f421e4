"""One export: plan the files, render the ones whose fingerprint moved through the app,
write those whose bytes changed, delete what is gone, then the manifest.

The fingerprints of the last export are kept in the state folder (never in the export,
which a static server publishes whole); they are trusted only while the folder's
manifest still lists the files they were taken with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from flask import Flask

from vellum.auth.access import IN_PROCESS, Principal
from vellum.errors import BadRequest
from vellum.export import files
from vellum.export.plan import Memory, Planner
from vellum.export.search import SearchIndex
from vellum.site.audience import EDITORS, PUBLIC
from vellum.store.state import private_folder

log = logging.getLogger("vellum.export")
MANIFEST = "manifest.json"
SEARCH = "search.json"


@dataclass
class Report:
    """What one export did."""

    commit: str | None
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    files: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # written or deleted, relative paths

    def as_dict(self) -> dict:
        return {
            "commit": self.commit,
            "written": self.written,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "files": self.files,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
            "changed": self.changed,
        }


class Exporter:
    """Keeps one folder equal to the app's read API; run it again after each commit."""

    def __init__(self, app: Flask, directory: Path, drafts: bool = False) -> None:
        self.app = app
        self.root = Path(directory).absolute()
        self.drafts = drafts
        self.audience = EDITORS if drafts else PUBLIC
        scopes = {"read", "read:drafts"} if drafts else {"read"}
        self.principal = Principal("export", None, "export", frozenset(scopes))
        self.search = SearchIndex()
        self._memory: Memory | None = None  # the last plan, for the next
        self._last: tuple[tuple, dict] | None = None  # (manifest's stat, files) last written
        self._rels: dict[str, str | None] = {}  # URL path → file, None for one refused
        self._warming: tuple | None = None  # (catalog, records whose HTML is still to make)
        vellum = app.extensions["vellum"]
        name = hashlib.sha1(str(self.root).encode()).hexdigest()[:16]
        self.state_file = vellum.state_dir / "exports" / f"{name}.json"

    def run(self) -> Report:
        """Bring the folder up to date with the catalog; a Report of what changed."""
        started = time.perf_counter()
        vellum = self.app.extensions["vellum"]
        catalog = vellum.catalog()
        before = self._previous()
        planner = Planner(catalog, self.audience, self._memory)
        planned = planner.files()
        report = Report(catalog.head)
        after: dict[str, list] = {}
        with self.app.test_client() as client:
            for url, print_ in planned.items():
                self._file(client, url, print_, before, after, report)
        search = self.search.build(catalog, self.audience)
        after[SEARCH] = [None, self._put(SEARCH, search, before.get(SEARCH), report)]
        for rel in sorted(set(before) - set(after) - {MANIFEST}):
            files.remove(self.root, rel)
            report.deleted += 1
            report.changed.append(rel)
        if vellum.catalog() is not catalog:  # a commit landed meanwhile: check all next time
            after = {rel: [None, sha] for rel, (_, sha) in after.items()}
            self._memory = None
        else:
            self._memory = planner.memory()
        self._finish(catalog, planner.counts, after, report)
        report.seconds = time.perf_counter() - started
        return report

    def warm(self, limit: int = 50) -> bool:
        """Render the HTML of up to `limit` more records (the body store keeps it by blob
        sha, for every process), so that the list page a commit touches renders at once;
        False once every record has its HTML."""
        catalog = self.app.extensions["vellum"].catalog()
        if self._warming is None or self._warming[0] is not catalog:
            self._warming = (catalog, iter(list(catalog.by_key.values())))
        for done, rec in enumerate(self._warming[1], start=1):
            catalog.html(rec)
            if done == limit:
                return True
        return False

    def _file(self, client, url: str, print_, before: dict, after: dict, report: Report) -> None:
        """One file into `after` as [fingerprint, sha256], rendered and written only when
        it moved."""
        rel = self._relative(url)
        if rel is None:
            report.skipped.append(url)
            return
        old = before.get(rel)
        if print_ is not None and old is not None and old[0] == print_ and old[1]:
            report.unchanged += 1
            after[rel] = old
            return
        answer = client.get(url, environ_base={IN_PROCESS: self.principal})
        if answer.status_code != 200:  # the live API does not answer it either
            log.warning("export: %s answered %s, left out", url, answer.status_code)
            report.skipped.append(url)
            return
        after[rel] = [print_, self._put(rel, answer.get_data(), old, report)]

    def _relative(self, url: str) -> str | None:
        if url not in self._rels:
            try:
                self._rels[url] = files.relative(url)
            except BadRequest:
                self._rels[url] = None
        return self._rels[url]

    def _put(self, rel: str, data: bytes, old: list | None, report: Report) -> str:
        sha = files.digest(data)
        before = old[1] if old is not None and old[1] else files.sha_on_disk(self.root, rel)
        if before == sha:
            report.unchanged += 1
        else:
            files.write_atomic(files.target(self.root, rel), data)
            report.written += 1
            report.changed.append(rel)
        return sha

    def _previous(self) -> dict[str, list]:
        """rel path → [fingerprint, sha256] of the last export into this folder. Unless the
        state matches the folder's manifest, neither is trusted ([None, None]: render the
        file, and compare with the bytes on disk), but the files named are still ours."""
        if self._last is not None and self._last[0] == self._manifest_stat():
            return self._last[1]  # the folder is as this exporter left it
        listed = self._manifest_files()
        try:
            state = orjson.loads(self.state_file.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            state = {}
        known = state.get("files", {}) if state.get("drafts") == self.drafts else {}
        if listed is not None and {rel: sha for rel, (_, sha) in known.items()} == listed:
            return dict(known)
        return {rel: [None, None] for rel in {*state.get("files", {}), *(listed or {})}}

    def _manifest_files(self) -> dict[str, str] | None:
        try:
            manifest = orjson.loads(files.target(self.root, MANIFEST).read_bytes())
            return dict(manifest["files"])
        except (FileNotFoundError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def _finish(self, catalog, counts: dict, after: dict[str, list], report: Report) -> None:
        """The manifest last, so that it lists only files in place; then the state."""
        report.files = len(after)
        manifest = {
            "commit": catalog.head,
            "exportedAt": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "drafts": self.drafts,
            "counts": {"records": counts, "files": len(after)},
            "files": {rel: sha for rel, (_, sha) in sorted(after.items())},
        }
        body = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
        files.write_atomic(files.target(self.root, MANIFEST), body)
        state = {"drafts": self.drafts, "files": after}
        private_folder(self.state_file.parent)
        files.write_atomic(self.state_file, orjson.dumps(state), mode=0o600)
        self._last = (self._manifest_stat(), after)

    def _manifest_stat(self) -> tuple | None:
        try:
            found = files.target(self.root, MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (found.st_ino, found.st_size, found.st_mtime_ns)
