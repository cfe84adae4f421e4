"""The one seam to Whoosh: a records index (stored, parsed files) and a full-text index.

The records index holds every parsed file keyed by its path, with the file's blob sha,
so a sync re-reads only files whose content changed. The text index holds what full-text
search needs; it is filled after the records index, so lists and gets are ready first.
Whoosh readers see a fixed snapshot, so any number of processes keep answering while one
process writes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from whoosh import analysis, fields, index, scoring
from whoosh.filedb.filestore import FileStorage, ReadOnlyError
from whoosh.filedb.structfile import StructFile
from whoosh.index import LockError
from whoosh.qparser import AndGroup, FieldsPlugin, OperatorsPlugin, PhrasePlugin, QueryParser
from whoosh.query import QueryError
from whoosh.support.charset import accent_map

from vellum.errors import IndexBusy, InvalidParameter
from vellum.store import flock, snippets
from vellum.store.bodies import Bodies
from vellum.store.state import PRIVATE_FILE, private_folder
from vellum.store.textview import Hit, TextView

META_KEY = "\x00meta"
# The keys each recent commit changed, so other processes can catch up by reading
# only those documents instead of the whole index.
LOG_KEY = "\x00log"
LOG_GENERATIONS = 64
LOG_MAX_KEYS = 2000
LOCK_TIMEOUT = 60.0
# Memory per writer before it flushes a segment: below ~256 MB a 10k-record build
# spends half its time merging small pools.
WRITER_MB = 256


class FoldAccents(analysis.Filter):
    """'Résumé' matches 'resume'; ASCII tokens (most of them) skip the table lookup."""

    def __call__(self, tokens):
        for token in tokens:
            if not token.text.isascii():
                token.text = token.text.translate(accent_map)
            yield token


# Words are runs of letters and digits: punctuation such as Markdown's '*' and '_' never
# sticks to a word (the stock StandardAnalyzer keeps '*' for wildcards).
_CHAIN = (
    analysis.RegexTokenizer(snippets.WORD.pattern)
    | analysis.LowercaseFilter()
    | analysis.StopFilter()
    | FoldAccents()
)


class WordAnalyzer(analysis.Analyzer):
    """The chain above, in one pass when only the words are wanted (indexing, queries).

    Each token went through four generators: a quarter of a text build. Words, stops and
    folding are those of the chain; a caller asking for positions, characters or stop
    words gets the chain itself. (The name is kept in every text index's schema.)
    """

    def __init__(self) -> None:
        self.chain = _CHAIN
        self.stops = analysis.STOP_WORDS

    def __call__(self, value: str, **options):
        wanted = ("positions", "chars", "keeporiginal")
        if any(options.get(name) for name in wanted) or not options.get("removestops", True):
            return self.chain(value, **options)
        if not options.get("tokenize", True):
            return self.chain(value, **options)
        return self._words(value, analysis.Token(**options))

    def _words(self, value: str, token: analysis.Token):
        stops = self.stops
        if value.isascii():  # lower case first: the same words, one call
            for word in snippets.WORD.findall(value.lower()):
                if len(word) > 1 and word not in stops:
                    token.text = word
                    yield token
            return
        for word in snippets.WORD.findall(value):
            word = word.lower()
            if len(word) > 1 and word not in stops:
                token.text = word if word.isascii() else word.translate(accent_map)
                yield token


_ANALYZER = WordAnalyzer()

RECORDS_SCHEMA = fields.Schema(
    key=fields.ID(unique=True, stored=True),
    sha=fields.STORED,
    stat=fields.STORED,
    doc=fields.STORED,
)
TEXT_SCHEMA = fields.Schema(
    key=fields.ID(unique=True, stored=True),
    sha=fields.STORED,
    model=fields.ID(stored=True),
    # One text field (title included): a second field costs ~15% of the build.
    content=fields.TEXT(analyzer=_ANALYZER, phrase=False),
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored file: its key (site-relative path), blob sha, stat and doc.

    The doc stays the JSON the index stores and is parsed when asked for: a process that
    only compares stats and shas (the live process, a restart's sync) never parses them.
    A light entry (`raw` None, see `light`) is a valid record whose doc this process let
    go: its catalog holds the record, or it never needs one; a RecordsWriter reads it
    back from the index when a sync needs it.
    """

    key: str
    sha: str
    stat: tuple
    raw: bytes | None = field(compare=False)  # light or not, the same file and version

    @property
    def doc(self) -> dict:
        if self.raw is None:
            raise LookupError(f"the doc of {self.key} is not kept in this process")
        return orjson.loads(self.raw)

    @property
    def is_record(self) -> bool:
        """A valid record rather than a problem (docs are {"record": …} or {"problem": …}
        in that order, so this needs no parse)."""
        return self.raw is None or self.raw.startswith(b'{"record"')

    def light(self) -> Entry:
        """This entry without its doc (for a valid record only)."""
        return Entry(self.key, self.sha, self.stat, None)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole records index at one generation: its meta doc and every entry.

    It also knows which keys differ from the snapshot it grew from at generation `base`
    (a catch-up, a sync's commits): a catalog built at `base` then changes only those.
    """

    generation: int
    meta: dict
    entries: dict[str, Entry]
    base: int | None = None  # None: grown from nothing known (read whole)
    changed: frozenset[str] = frozenset()

    def light(self) -> Snapshot:
        """The same snapshot with no record's doc kept (for a process that needs none)."""
        entries = {
            k: e.light() if e.raw is not None and e.is_record else e
            for k, e in self.entries.items()
        }
        return Snapshot(self.generation, self.meta, entries, self.base, self.changed)

    def moved(self, generation: int, meta: dict, entries: dict, keys: Iterable[str]) -> Snapshot:
        """The snapshot this one becomes when `keys` change: what changed since `base`
        grows by them."""
        keys = frozenset(keys) - {META_KEY}
        return Snapshot(generation, meta, entries, self.base, self.changed | keys)

    def rebased(self, entries: dict[str, Entry] | None = None) -> Snapshot:
        """The same index as a new base (nothing changed since), with these entries."""
        kept = self.entries if entries is None else entries
        return Snapshot(self.generation, self.meta, kept, self.generation, frozenset())

    def changed_since(self, generation: int) -> frozenset[str] | None:
        """The keys that differ from the index at `generation`; None when not known."""
        if generation == self.base:
            return self.changed
        return None


@dataclass(frozen=True, slots=True)
class TextDoc:
    key: str
    sha: str
    model: str
    content: str


class PrivateStorage(FileStorage):
    """Whoosh's file storage, with folders and files only their owner may read (0700,
    0600): the index holds every record, drafts included."""

    def create(self) -> PrivateStorage:
        private_folder(Path(self.folder))
        return self

    def create_file(self, name, excl=False, mode="wb", **kwargs) -> StructFile:
        if self.readonly:
            raise ReadOnlyError
        flags = os.O_CREAT | os.O_RDWR | (os.O_EXCL if excl else os.O_TRUNC)
        fd = os.open(self._fpath(name), flags, PRIVATE_FILE)
        return StructFile(os.fdopen(fd, mode), name=name, **kwargs)

    def lock(self, name):
        os.close(os.open(self._fpath(name), os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
        return super().lock(name)

    def temp_storage(self, name=None) -> PrivateStorage:
        name = name or f"{os.urandom(8).hex()}.tmp"
        return PrivateStorage(os.path.join(self.folder, name), supports_mmap=False).create()


class Store:
    """Both Whoosh indexes of one site, in the state folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = private_folder(folder)
        self.records = _open(folder / "records", RECORDS_SCHEMA)
        self.text = _open(folder / "text", TEXT_SCHEMA)
        self.bodies = Bodies(folder / "bodies")
        self._view = None
        self._searcher_lock = threading.Lock()

    def close(self) -> None:
        with self._searcher_lock:
            if self._view is not None:
                self._view.close()
                self._view = None
        self.bodies.close()

    def generation(self) -> int:
        """The records index's generation: moves whenever any process commits to it."""
        return _latest(self.records)

    def text_generation(self) -> int:
        return _latest(self.text)

    # -- records ------------------------------------------------------------------
    def snapshot(self, known: Snapshot | None = None) -> Snapshot:
        """Every stored entry, read from one consistent generation.

        With a `known` older snapshot whose generation the change log still covers, only
        the documents changed since are read.
        """
        if known is not None:
            caught_up = self.catch_up(known)
            if caught_up is not None:
                return caught_up
        return self._read(_snapshot)

    def catch_up(self, known: Snapshot) -> Snapshot | None:
        """`known` moved to the newest generation by reading only the documents the change
        log names; None when the log does not reach back to it (read them all then)."""
        return self._read(lambda searcher: _catch_up(searcher, known))

    def _read(self, read: Callable):
        for attempt in range(5):
            try:
                with self.records.searcher() as searcher:
                    return read(searcher)
            except OSError:
                # A writer in another process may delete old segments mid-open: retry.
                if attempt == 4:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def stored(self, keys: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        """key → (blob sha, stored doc) of these keys, as the index holds them now."""
        found = {}
        with self.records.searcher() as searcher:
            for key in keys:
                stored = searcher.document(key=key)
                if stored is not None:
                    found[key] = (stored["sha"], stored["doc"])
        return found

    @contextlib.contextmanager
    def records_writer(self, known: Snapshot | None = None) -> Iterator[RecordsWriter]:
        """Hold the write lock; commit on success, cancel on error.

        `known` is a snapshot the caller already holds: when it is still the newest
        generation, the index is not read again.
        """
        writer = _writer(self.records)
        try:
            base = writer.generation - 1  # the newest generation, which this one follows
            if known is None or known.generation != base:
                with writer.searcher() as searcher:
                    # A writer's searcher reports the generation it is about to write:
                    # were nothing written, that number would go to another process's
                    # commit, and this snapshot would pass for it.
                    caught_up = _catch_up(searcher, known, base) if known else None
                    known = caught_up or _snapshot(searcher, base)
            batch = RecordsWriter(writer, known)
            try:
                yield batch
            finally:
                batch.close()
            if batch.changed:
                with writer.searcher() as searcher:
                    batch.write_log(_log(searcher))
        except BaseException:
            writer.cancel()
            raise
        if batch.changed:
            writer.commit()
        else:
            writer.cancel()

    def clear_text(self) -> None:
        """Start the full-text index afresh with today's schema (after a rebuild).

        Readers in other processes keep the files they have open and move to the new
        index at their next search.
        """
        with self.text_lock():
            self._clear_text()

    def _clear_text(self) -> None:
        lock = self.text.storage.lock(f"{self.text.indexname}_WRITELOCK")
        deadline = time.monotonic() + LOCK_TIMEOUT
        while not lock.acquire(blocking=False):
            if time.monotonic() > deadline:
                raise IndexBusy("The index is being written by another process; try again")
            time.sleep(0.05)
        try:
            with self._searcher_lock:
                if self._view is not None:
                    self._view.close()
                    self._view = None
                folder = self.folder / "text"
                for path in folder.iterdir():
                    if "WRITELOCK" in path.name:
                        continue
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                self.text = _storage(folder).create_index(TEXT_SCHEMA)
        finally:
            lock.release()

    # -- full text ----------------------------------------------------------------
    def text_lock(self) -> contextlib.AbstractContextManager[None]:
        """Held from reading the text index's state to committing the difference: two
        processes filling it at once would otherwise both add the documents it lacks."""
        busy = "The full-text index is being written by another process; try again"
        return flock.locked(self.folder / "text.lock", LOCK_TIMEOUT, busy)

    def text_shas(self) -> dict[str, str | None]:
        """Key → blob sha of each document; None for a key held by several documents
        (left by an older version's race), so that it is written again."""
        shas: dict[str, str | None] = {}
        with self.text.searcher() as searcher:
            for f in searcher.all_stored_fields():
                shas[f["key"]] = None if f["key"] in shas else f["sha"]
        return shas

    def update_text(
        self,
        add: Iterable[TextDoc],
        remove: Iterable[str],
        procs: int = 1,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Remove keys (replaced ones too), then add docs in one commit; procs>1 for big batches."""
        if procs > 1:
            writer = self.text.writer(
                procs=procs, multisegment=True, limitmb=WRITER_MB, timeout=LOCK_TIMEOUT
            )
        else:
            writer = _writer(self.text, limitmb=WRITER_MB)
        try:
            for key in remove:
                writer.delete_by_term("key", key)
            for n, doc in enumerate(add, start=1):
                writer.add_document(key=doc.key, sha=doc.sha, model=doc.model, content=doc.content)
                if progress and n % 500 == 0:
                    progress(500)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def search(
        self, text: str, models: Iterable[str] | None = None, limit: int | None = None
    ) -> tuple[list[Hit], tuple[str, ...]]:
        """Full-text hits, best first, and the query's words in order (for snippets)."""
        hits, _, words = self.search_page(text, models, limit=limit)
        return hits, words

    def search_keys(self, text: str, models: Iterable[str] | None = None) -> list[str]:
        """The keys of every hit, best first (what a list filtered by `q` needs)."""
        parsed = _parse(text)
        with self._searcher_lock:
            view = self._current_view()
            try:
                ranked, _ = view.ranked(parsed, view.allowed(models), 0, None)
            except QueryError as exc:
                raise InvalidParameter("q", f"cannot run this search query: {exc}") from exc
            return [view.keys[docnum] for docnum, _ in ranked]

    def search_page(
        self,
        text: str,
        models: Iterable[str] | None = None,
        keys: frozenset[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[list[Hit], int, tuple[str, ...]]:
        """One page of hits among the documents of `models` whose keys are in `keys` (a
        set kept by the caller: it is indexed once), how many match, and the words."""
        parsed = _parse(text)
        # A Whoosh searcher reads files through shared handles: one thread at a time.
        with self._searcher_lock:
            view = self._current_view()
            try:
                hits, total = view.page(parsed, view.allowed(models, keys), offset, limit)
            except QueryError as exc:
                raise InvalidParameter("q", f"cannot run this search query: {exc}") from exc
        words = [w for field, w in parsed.iter_all_terms() if field == "content"]
        words = [w.decode() if isinstance(w, bytes) else w for w in words]
        return hits, total, tuple(dict.fromkeys(words))

    def snippet(self, text: str, terms: tuple[str, ...]) -> str:
        """The best passages of `text` around the query's words, each word in <mark>; ""
        when none of them is in it."""
        return snippets.snippet(text, terms)

    def _current_view(self) -> TextView:
        """The shared view, opened anew after each commit; call with the lock held.

        Not `Searcher.refresh()`: it reuses the reader of a segment whose name has not
        changed, with the deletions it had, so a replaced document was found twice.
        """
        if self._view is not None and not self._view.up_to_date():
            self._view.close()
            self._view = None
        if self._view is None:
            self._view = TextView(self.text.searcher(weighting=scoring.BM25F()), "content")
        return self._view


class RecordsWriter:
    """Changes to the records index inside one locked, atomic commit."""

    def __init__(self, writer, known: Snapshot) -> None:
        self._writer = writer
        self._searcher = None
        self.before = known
        self.meta = dict(known.meta)
        self.entries = dict(known.entries)
        self.changed = False
        self.touched: set[str] = set()

    def doc(self, entry: Entry) -> dict:
        """An entry's doc, read back from the index when the entry is light."""
        if entry.raw is not None:
            return entry.doc
        if self._searcher is None:
            self._searcher = self._writer.searcher()
        stored = self._searcher.document(key=entry.key)
        if stored is None:
            raise LookupError(f"{entry.key} is not in the records index")
        return orjson.loads(stored["doc"])

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def put(self, key: str, sha: str, stat: tuple, doc: dict) -> None:
        raw = orjson.dumps(doc)
        self._writer.update_document(key=key, sha=sha, stat=stat, doc=raw)
        self.entries[key] = Entry(key, sha, stat, raw)
        self.changed = True
        self.touched.add(key)

    def delete(self, key: str) -> None:
        self._writer.delete_by_term("key", key)
        del self.entries[key]
        self.changed = True
        self.touched.add(key)

    def write_log(self, log: list) -> None:
        """Record which keys this commit changes (None: too many, read everything)."""
        keys = sorted(self.touched | {META_KEY}) if len(self.touched) <= LOG_MAX_KEYS else None
        log = [*log, [self._writer.generation, keys]][-LOG_GENERATIONS:]
        self._writer.update_document(key=LOG_KEY, doc=orjson.dumps(log))

    def set_meta(self, meta: dict) -> None:
        if meta != self.meta:
            self._writer.update_document(key=META_KEY, doc=orjson.dumps(meta))
            self.meta = meta
            self.changed = True

    def after(self) -> Snapshot:
        """The index as this batch leaves it (valid once committed)."""
        if not self.changed:
            return self.before
        return self.before.moved(self._writer.generation, self.meta, self.entries, self.touched)


def _parse(text: str):
    """A search's words, all of them: no AND/OR/NOT and no field: prefixes, as the docs
    promise. The text index keeps no word positions (a build ~15% faster), so a quoted
    phrase means its words, all of them, rather than an error."""
    parser = QueryParser("content", TEXT_SCHEMA, group=AndGroup)
    parser.remove_plugin_class(PhrasePlugin)
    parser.remove_plugin_class(OperatorsPlugin)
    parser.remove_plugin_class(FieldsPlugin)
    try:
        return parser.parse(text)
    except Exception as exc:  # whoosh raises plain exceptions on odd syntax
        raise InvalidParameter("q", f"cannot parse the search query: {exc}") from exc


def _open(path: Path, schema) -> index.Index:
    storage = _storage(path)
    if storage.index_exists():
        return storage.open_index()
    return storage.create_index(schema)


def _storage(path: Path) -> PrivateStorage:
    """Segment files private to their owner, read through plain file handles, never
    memory maps.

    Whoosh cannot unmap a segment while its readers' buffers still point into it, so a
    closed reader kept its segment (often one a merge had deleted) open until the cyclic
    GC ran, and Whoosh's writers leave such cycles at every commit. A plain handle is
    released by `close()` itself, and reads skip copying each mapped file into memory.
    """
    return PrivateStorage(str(path), supports_mmap=False).create()


def _writer(ix: index.Index, **options):
    try:
        return ix.writer(timeout=LOCK_TIMEOUT, **options)
    except LockError as exc:
        raise IndexBusy("The index is being written by another process; try again") from exc


def _latest(ix: index.Index) -> int:
    return index.TOC._latest_generation(ix.storage, ix.indexname)


def _log(searcher) -> list:
    stored = searcher.document(key=LOG_KEY)
    return orjson.loads(stored["doc"]) if stored else []


def _catch_up(searcher, known: Snapshot, generation: int | None = None) -> Snapshot | None:
    """`known` moved forward to `generation` (the searcher's by default) by reading only
    what the log says changed, if it can."""
    if generation is None:
        generation = searcher.reader().generation()
    if known.generation is None or generation is None:  # an index never written
        return None
    if generation == known.generation:
        return known
    by_generation = {g: keys for g, keys in _log(searcher)}
    wanted = range(known.generation + 1, generation + 1)
    if any(by_generation.get(g) is None for g in wanted):
        return None
    meta = dict(known.meta)
    entries = dict(known.entries)
    keys = {k for g in wanted for k in by_generation[g]}
    for key in keys:
        stored = searcher.document(key=key)
        if key == META_KEY:
            meta = orjson.loads(stored["doc"]) if stored else {}
        elif stored is None:
            entries.pop(key, None)
        else:
            entries[key] = _entry(stored)
    return known.moved(generation, meta, entries, keys)


def _entry(stored: dict) -> Entry:
    return Entry(stored["key"], stored["sha"], tuple(stored["stat"]), stored["doc"])


def _snapshot(searcher, generation: int | None = None) -> Snapshot:
    """Every entry a searcher sees, as of its generation (or the one given)."""
    meta: dict = {}
    entries = {}
    for stored in searcher.all_stored_fields():
        key = stored["key"]
        if key == LOG_KEY:
            continue
        if key == META_KEY:
            meta = orjson.loads(stored["doc"])
        else:
            entries[key] = Entry(key, stored["sha"], tuple(stored["stat"]), stored["doc"])
    if generation is None:
        generation = searcher.reader().generation()
    return Snapshot(generation, meta, entries, generation)
