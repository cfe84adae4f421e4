"""The vellum of one site in one process, built once and handed to every view."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from html import escape
from pathlib import Path
from typing import Any

from vellum.auth import key_use, users
from vellum.errors import SiteError
from vellum.graphql import names as graphql_names
from vellum.query.lists import ListQuery
from vellum.query.run import Page, run_list
from vellum.settings_check import config_problems, settings_problems
from vellum.site.audience import Audience
from vellum.site.config import load_config
from vellum.site.models import Field
from vellum.site.schema import ConfigError
from vellum.site.site import CONFIG_FILE, Site, load_site
from vellum.store import delta
from vellum.store.bodies import Bodies
from vellum.store.catalog import Catalog, can_build, plain_text
from vellum.store.git import GitRepo
from vellum.store.index import Snapshot, Store
from vellum.store.indexer import SyncReport, sync_records, sync_text, text_is_current
from vellum.store.locate import find_site
from vellum.store.records import Problem
from vellum.store.state import StateStore, make_private, private_folder, state_url
from vellum.store.state import target as state_target_url

log = logging.getLogger("vellum")

try:  # glibc's malloc_trim: free heap pages back to the system (elsewhere: nothing)
    _MALLOC_TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
except (OSError, AttributeError):
    _MALLOC_TRIM = None


def _give_back() -> None:
    """Return the pages freed by dropping many docs at once: they were allocated by the C
    allocator (each over 512 bytes), which keeps freed pages mapped unless asked."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _build_catalog(
    site: Site, snap: Snapshot, previous: Catalog | None = None, bodies: Bodies | None = None
) -> Catalog:
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
            site, snap.entries.values(), snap.generation, snap.meta.get("head"), previous, bodies
        )
    finally:
        if enabled:
            gc.enable()
    gc.collect()
    gc.freeze()
    return catalog


def _run_here(build: Callable, *args):
    return build(*args)


def _full_build(
    site: Site, store: Store, snap: Snapshot | None, previous: Catalog | None
) -> tuple[Catalog, Snapshot]:
    """A catalog built from every entry, and the snapshot it was built from: read whole
    when `snap` is None or holds no doc of a record `previous` lacks."""
    if snap is None or not can_build(site, snap.entries.values(), previous):
        snap = store.snapshot()  # every doc, read back
    return _build_catalog(site, snap, previous, store.bodies), snap


# Field types whose values a reader would not call text: a status, a file path.
NOT_TEXT = {"enum", "media"}
PROSE = {"text", "markdown"}
SNIPPET_CHARS = 160


class PlainBodies:
    """Readable text of the bodies searches show, by blob sha (a version never changes
    meaning): Markdown parsing was half the time of a search, and a hit here reads nothing
    from the body store and holds no body. Enough for the distinct hits of a few hundred
    different queries."""

    def __init__(self, size: int = 8192) -> None:
        self.size = size
        self._found: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, rec) -> str | None:
        if not rec.sha:  # a record made in memory, never stored
            return plain_text(rec.body) if rec.body else None
        with self._lock:
            found = self._found.get(rec.sha)
            if found is not None:
                self._found.move_to_end(rec.sha)
                return found
        body = rec.body
        if not body:
            return None
        found = plain_text(body)
        with self._lock:
            self._found[rec.sha] = found
            if len(self._found) > self.size:
                self._found.popitem(last=False)
        return found


_PLAIN_BODIES = PlainBodies()


def readable_texts(fields: dict[str, Field], rec) -> list[str]:
    """A record's texts as a reader sees them, best for a snippet first: the body, prose
    fields, other strings, lists of words; Markdown stripped."""
    body = _PLAIN_BODIES.of(rec)
    texts = [body] if body else []
    ranked: list[tuple[int, str]] = []
    for name, value in rec.data.items():
        kind = fields[name].type if name in fields else "string"
        if kind in NOT_TEXT:
            continue
        if isinstance(value, str) and value.strip():
            text = plain_text(value) if kind == "markdown" else " ".join(value.split())
            ranked.append((0 if kind in PROSE else 1, text))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            ranked.append((2, ", ".join(value)))
    return texts + [text for _, text in sorted(ranked, key=lambda pair: pair[0])]


def _opening(text: str) -> str:
    """The first words of a text, escaped, for a hit whose words are in no readable text."""
    if len(text) <= SNIPPET_CHARS:
        return escape(text, quote=False)
    cut = text[:SNIPPET_CHARS].rsplit(" ", 1)[0]
    return escape(cut, quote=False) + " …"


def default_state_dir(repo: GitRepo, site: Site) -> Path:
    """Inside .git, so it is never committed: .git/vellum/<site folder>."""
    rel = repo.relative(site.root) or "_root"
    return repo.git_dir / "vellum" / rel.replace("/", "__")


def state_dir_of(config: dict[str, Any], repo: GitRepo, site: Site) -> Path:
    """STATE_DIR if set, else the default state folder of the site."""
    state = config.get("STATE_DIR")
    return Path(state).resolve() if state else default_state_dir(repo, site)


def state_target(config: dict[str, Any]) -> str:
    """The state database of the site `config` names, as a URL (`vellum migrate`'s). A shared
    database needs no site: an operator migrates it from any machine, clone or not."""
    if url := state_url():
        return url
    site = load_site(find_site(config["SITE"]))
    repo = GitRepo(site.root)
    try:
        folder = private_folder(state_dir_of(config, repo, site))
    finally:
        repo.close()
    return state_target_url(folder)


class Vellum:
    """Site, Git repository, index and the current catalog of one site."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = config if config is not None else load_config()
        # Found as Git finds .git, so no state is ever made for a folder that is not a site.
        self.site = load_site(find_site(self.config["SITE"]))
        self._site_stamp = _stamp(self.site.root / CONFIG_FILE)
        self.repo = GitRepo(self.site.root)
        self.state_dir = state_dir_of(self.config, self.repo, self.site)
        make_private(self.state_dir)
        self.store = Store(self.state_dir / "index")
        self.state = StateStore(self.state_dir)
        self._catalog: Catalog | None = None
        self._snapshot: Snapshot | None = None
        self._text_current: tuple | None = None
        self._visible_keys: tuple[Catalog, dict] | None = None
        # False in a process that builds no catalog (the live process): its snapshot then
        # keeps no docs, only what a sync compares (each sync reads back those it needs).
        self.keep_docs = True
        # True where another process fills the full-text index (`vellum serve`'s indexer):
        # a sync then writes only the text docs of the files it changed.
        self.text_elsewhere = False
        self._text_checked = False
        self.site_error: SiteError | None = None  # why a changed vellum.yml could not be loaded
        # False from a reload of vellum.yml until catalog() checked the index's models
        # against it, whoever reloaded it (a webhook listing does too).
        self._models_checked = True
        self._lock = threading.Lock()
        # How the catalog is moved on: here, or (a server worker) where it does not hold
        # up the requests and streams the process answers meanwhile.
        self.offload: Callable = _run_here
        self._moving = False

    def close(self) -> None:
        self.store.close()
        key_use.close(self.state)  # this process's batched key usage, before the store goes
        self.state.close()
        self.repo.close()

    @property
    def public_read(self) -> bool:
        """Whether anonymous requests may read published records (vellum.yml auth.public_read);
        while it is wrong no one may (validate says why)."""
        try:
            return self.site.setting("auth", "public_read")
        except SiteError:
            return False

    @property
    def lockout(self) -> users.Lockout:
        """vellum.yml's auth.lockout; while it is wrong the defaults hold (validate says why)."""
        try:
            return users.lockout_of(self.site)
        except SiteError:
            return users.Lockout()

    def refresh_site(self) -> bool:
        """Reload vellum.yml if it changed on disk; True when the site was replaced.

        A broken vellum.yml keeps the previous site (and `vellum validate` says why): one
        that is not YAML, or breaks its schema anywhere (a typo in a key, a wrong type).
        """
        stamp = _stamp(self.site.root / CONFIG_FILE)
        if stamp == self._site_stamp:
            return False
        self._site_stamp = stamp
        try:
            site = load_site(self.site.root)
            wrong = site.setting_problems()
            if wrong:
                raise ConfigError(wrong)
        except SiteError as exc:
            log.warning("vellum.yml changed but cannot be loaded, keeping the old one: %s", exc)
            self.site_error = exc
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
            checked = self._text_checked or self.text_elsewhere
            changed = report.touched if checked and not report.rebuilt else None
            sync_text(self.site, self.store, report.snapshot, keys=changed)
            self._text_checked = True
        if not self.keep_docs:
            self._snapshot = report.snapshot.light()
            report.snapshot = self._snapshot
            _give_back()
        return report

    def sync_text(self, *, parallel: bool = True, progress: Callable | None = None) -> int:
        return sync_text(
            self.site, self.store, self._snapshot, parallel=parallel, progress=progress
        )

    # -- reading -----------------------------------------------------------------------
    def catalog(self, *, latest: bool = False) -> Catalog:
        """The catalog for the index as it is now; moved on when any process committed.

        A few changed records update the catalog (milliseconds); many changes or new
        models build it in full (seconds at 100,000 records). Both run through
        `offload`; meanwhile other callers keep answering from the catalog they had,
        unless `latest` (a write reading back what it wrote) has them wait for the new
        one.
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
        if current is not None and current.site is self.site:
            if current.generation == generation or (self._moving and not latest):
                return current
        with self._lock:
            stale = self._catalog is None or self._catalog.site is not self.site
            if stale or self._catalog.generation != generation:
                self._move_on(generation)
            return self._catalog

    def _move_on(self, generation: int) -> None:
        """Bring the catalog to the index's generation, through `offload`; meanwhile other
        callers keep the catalog they had (see catalog())."""
        self._moving = self._catalog is not None
        try:
            self._catalog, self._snapshot = self.offload(
                self._next_catalog, self._snapshot, self._catalog, generation
            )
        finally:
            self._moving = False

    def _next_catalog(
        self, snap: Snapshot | None, previous: Catalog | None, generation: int
    ) -> tuple[Catalog, Snapshot]:
        """The catalog at `generation` (or newer) and the snapshot it was made from: by the
        keys that changed when the snapshot knows them, else by a full build."""
        if snap is not None and snap.generation != generation:
            snap = self.store.catch_up(snap)  # None: the log does not reach back to it
        if snap is not None and previous is not None and previous.site is self.site:
            changed = snap.changed_since(previous.generation)
            moved = None if changed is None else delta.updated(previous, snap, changed)
            if moved is not None:
                return moved, snap.rebased(moved.lighten(snap.entries, changed))
        catalog, snap = _full_build(self.site, self.store, snap, previous)
        # The catalog's records hold what the docs said: keep one, not both.
        snap = snap.rebased(catalog.lighten(snap.entries))
        _give_back()
        return catalog, snap

    def problems(self) -> list[Problem]:
        """Everything `vellum validate` reports: wrong settings in vellum.yml, folders
        that are not served, invalid files, then models GraphQL leaves out."""
        catalog = self.catalog()  # reloads vellum.yml if it changed
        kept = [
            Problem(CONFIG_FILE, f"{message} (the last valid one is still served)", line)
            for line, message in config_problems(self.site_error)
        ]
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
            by_key = catalog.by_key
            return [by_key[k].id for k in self.store.search_keys(q, [model]) if k in by_key]

        return search

    def search(
        self,
        q: str,
        *,
        limit: int,
        offset: int,
        locale: str | None,
        audience: Audience,
        models=None,
    ):
        """Ranked (record, score, snippet) across models for one locale, and the total;
        only records the audience can see."""
        catalog = self.catalog()
        visible = self._visible(catalog, locale or catalog.site.default_locale, audience)
        hits, total, terms = self.store.search_page(q, models, visible, offset, limit)
        page = []
        for hit in hits:
            rec = catalog.by_key[hit.key]
            page.append((rec, hit.score, self._snippet(catalog, rec, terms)))
        return page, total

    def _visible(self, catalog: Catalog, locale: str, audience: Audience) -> frozenset[str]:
        """The keys of the records this audience sees in this locale, one per id: found
        once per catalog, not for every hit of every search."""
        kept = self._visible_keys
        if kept is None or kept[0] is not catalog:
            kept = self._visible_keys = (catalog, {})
        keys = kept[1].get((locale, audience))
        if keys is None:
            keys = frozenset(
                rec.path
                for model, ids in catalog.records.items()
                for rid in ids
                if (rec := catalog.get(model, rid, locale, audience)) is not None
            )
            kept[1][(locale, audience)] = keys
        return keys

    def _snippet(self, catalog: Catalog, rec, terms: tuple[str, ...]) -> str:
        """Readable passages around the words: of the body, else of the field that matched;
        the start of the record's text when only a value such as a status matched."""
        texts = readable_texts(catalog.fields.get(rec.model, {}), rec)
        for text in texts:
            found = self.store.snippet(text, terms)
            if found:
                return found
        return _opening(texts[0]) if texts else ""
