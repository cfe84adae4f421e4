"""The services of one site in one process, built once and handed to every view."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from app import graphql_names
from app.catalog import Catalog
from app.config import load_config
from app.errors import SiteError
from app.git import GitRepo
from app.index import Snapshot, Store
from app.indexer import SyncReport, sync_records, sync_text, text_doc, text_is_current
from app.query import ListQuery, Page, run_list
from app.records import Problem
from app.settings_check import settings_problems
from app.site import CONFIG_FILE, Site, load_site
from app.state import StateStore

log = logging.getLogger("vellum")


def _stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _build_catalog(site: Site, snap: Snapshot, previous: Catalog | None = None) -> Catalog:
    """Build a catalog without the cyclic GC walking the whole heap half way through.

    A catalog is tens of thousands of long-lived objects: a full collection triggered
    while it is built walked the whole heap (a 200 ms pause at 10,000 records). After
    the build, every generation is collected, then what is left moves to the permanent
    generation; a dropped catalog is still freed by reference counting (it holds no
    reference cycles). The collection is full, yet cheap, because what an earlier build
    froze is not walked again; a young one would let the garbage that reached the
    oldest generation since (an index writer's reference cycles) be frozen for ever.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        catalog = Catalog(
            site, snap.entries.values(), snap.generation, snap.meta.get("head"), previous
        )
    finally:
        if enabled:
            gc.enable()
    gc.collect()
    gc.freeze()
    return catalog


def default_state_dir(repo: GitRepo, site: Site) -> Path:
    """Inside .git, so it is never committed: .git/vellum/<site folder>."""
    rel = repo.relative(site.root) or "_root"
    return repo.git_dir / "vellum" / rel.replace("/", "__")


class Vellum:
    """Site, Git repository, index and the current catalog of one site."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = config if config is not None else load_config()
        self.site = load_site(self.config["SITE"])
        self._site_stamp = _stamp(self.site.root / CONFIG_FILE)
        self.repo = GitRepo(self.site.root)
        state = self.config.get("STATE_DIR")
        self.state_dir = Path(state).resolve() if state else default_state_dir(self.repo, self.site)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.state_dir / "index")
        self.state = StateStore(self.state_dir)
        self._catalog: Catalog | None = None
        self._snapshot: Snapshot | None = None
        self._text_current: tuple | None = None
        self._text_checked = False
        self.site_error: str | None = None  # why a changed vellum.yml could not be loaded
        # False from a reload of vellum.yml until catalog() checked the index's models
        # against it, whoever reloaded it (a webhook listing does too).
        self._models_checked = True
        self._lock = threading.Lock()

    def close(self) -> None:
        self.store.close()
        self.state.close()
        self.repo.close()

    @property
    def public_read(self) -> bool:
        """Whether anonymous requests may read published records (vellum.yml auth.public_read)."""
        return bool((self.site.settings.get("auth") or {}).get("public_read", False))

    def refresh_site(self) -> bool:
        """Reload vellum.yml if it changed on disk; True when the site was replaced.

        A broken vellum.yml keeps the previous site (and `vellum validate` says why).
        """
        stamp = _stamp(self.site.root / CONFIG_FILE)
        if stamp == self._site_stamp:
            return False
        self._site_stamp = stamp
        try:
            site = load_site(self.site.root)
        except SiteError as exc:
            log.warning("vellum.yml changed but cannot be loaded, keeping the old one: %s", exc)
            self.site_error = exc.message
            return False
        self.site, self.site_error = site, None
        self._models_checked = False
        return True

    # -- keeping the index current ----------------------------------------------------
    def sync(
        self,
        *,
        rebuild: bool = False,
        text: bool = True,
        progress: Callable | None = None,
        paths: Iterable[str] | None = None,
    ) -> SyncReport:
        """Bring the records index (and, with text=True, the full-text index) up to date.

        `paths`: only these files changed (the watcher knows), so only they are looked at.
        """
        self.refresh_site()
        report = sync_records(
            self.site,
            self.repo,
            self.store,
            rebuild=rebuild,
            known=self._snapshot,
            progress=progress,
            paths=paths,
        )
        self._snapshot = report.snapshot
        if report.rebuilt:
            self.store.clear_text()
        if text:
            # The first text sync of a process compares everything (a background fill may
            # have died); after that only the files each sync changed are written again.
            changed = report.touched if self._text_checked and not report.rebuilt else None
            sync_text(self.site, self.store, report.snapshot, keys=changed)
            self._text_checked = True
        return report

    def sync_text(self, *, parallel: bool = True, progress: Callable | None = None) -> int:
        return sync_text(
            self.site, self.store, self._snapshot, parallel=parallel, progress=progress
        )

    # -- reading -----------------------------------------------------------------------
    def catalog(self) -> Catalog:
        """The catalog for the index as it is now; rebuilt when any process committed.

        When vellum.yml changed, the site is reloaded and the index brought in line with
        its models (a rebuild), so every process serves the new models.
        """
        self.refresh_site()
        if not self._models_checked:
            self._models_checked = True
            if self.site.models_hash != self._snapshot_meta("models"):
                with self._lock:
                    self.sync()
        generation = self.store.generation()
        current = self._catalog
        if current is not None and current.generation == generation and current.site is self.site:
            return current
        with self._lock:
            stale = self._catalog is None or self._catalog.site is not self.site
            if stale or self._catalog.generation != generation:
                snap = self._snapshot
                if snap is None or snap.generation != generation:
                    snap = self._snapshot = self.store.snapshot(snap)
                self._catalog = _build_catalog(self.site, snap, self._catalog)
            return self._catalog

    def problems(self) -> list[Problem]:
        """Everything `vellum validate` reports: wrong settings in vellum.yml, folders
        that are not served, invalid files, then models GraphQL leaves out."""
        catalog = self.catalog()  # reloads vellum.yml if it changed
        kept = []
        if self.site_error:
            why = self.site_error.removeprefix(f"{CONFIG_FILE}: ")
            kept = [Problem(CONFIG_FILE, f"{why} (the last valid one is still served)")]
        folders = [Problem(f"{name}/", why) for name, why in self.site.unserved.items()]
        settings = settings_problems(self.site)
        found = settings + folders + catalog.problems + graphql_names.problems(self.site, catalog)
        return kept + found

    def _snapshot_meta(self, key: str):
        return (self._snapshot.meta if self._snapshot else {}).get(key)

    def text_ready(self) -> bool:
        """Whether full-text search covers every record of the current catalog."""
        catalog = self.catalog()
        key = (catalog.generation, self.store.text_generation())
        if self._text_current is None or self._text_current[0] != key:
            self._text_current = (key, text_is_current(self.store, self._snapshot))
        return self._text_current[1]

    def list(self, model: str, query: ListQuery) -> Page:
        catalog = self.catalog()
        page = run_list(catalog, model, query, search=self._search_ids(catalog))
        if query.q and not self.text_ready():
            page.extra["searchComplete"] = False
        return page

    def _search_ids(self, catalog: Catalog) -> Callable[[str, str], list[str]]:
        def search(q: str, model: str) -> list[str]:
            hits, _ = self.store.search(q, models=[model])
            return [catalog.by_key[h.key].id for h in hits if h.key in catalog.by_key]

        return search

    def search(
        self,
        q: str,
        *,
        limit: int,
        offset: int,
        locale: str | None,
        models=None,
        drafts: bool = True,
    ):
        """Ranked (record, score, snippet) across models for one locale, and the total."""
        catalog = self.catalog()
        hits, terms = self.store.search(q, models=models)
        wanted = locale or catalog.site.default_locale
        found = []
        for hit in hits:
            rec = catalog.by_key.get(hit.key)
            if rec is not None and catalog.get(rec.model, rec.id, wanted, drafts) is rec:
                found.append((rec, hit.score))
        page = []
        for rec, score in found[offset : offset + limit]:
            page.append((rec, score, self._snippet(rec, terms)))
        return page, len(found)

    def _snippet(self, rec, terms: frozenset) -> str:
        """Passages of the body around the terms; of every indexed field when the body
        has none of them (a match in the title) or the record has no body."""
        found = self.store.snippet(rec.body, terms) if rec.body else ""
        if not found:
            model = self.site.models[rec.model]
            text = text_doc(model, rec.path, rec.sha, rec.to_doc()).content
            found = self.store.snippet(text, terms)
        return found
