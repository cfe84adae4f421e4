"""The one seam to Whoosh: a records index (stored, parsed files) and a full-text index.

The records index holds every parsed file keyed by its path, with the file's blob sha,
so a sync re-reads only files whose content changed. The text index holds what full-text
search needs; it is filled after the records index, so lists and gets are ready first.
Whoosh readers see a fixed snapshot, so any number of processes keep answering while one
process writes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from whoosh import analysis, fields, index, query, scoring, writing
from whoosh.highlight import ContextFragmenter, HtmlFormatter, highlight
from whoosh.index import LockError
from whoosh.qparser import AndGroup, MultifieldParser
from whoosh.support.charset import accent_map

from app.errors import IndexBusy, InvalidParameter

META_KEY = "\x00meta"
LOCK_TIMEOUT = 60.0
_ANALYZER = analysis.StandardAnalyzer() | analysis.CharsetFilter(accent_map)

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
    title=fields.TEXT(analyzer=_ANALYZER, phrase=False, field_boost=2.0),
    content=fields.TEXT(analyzer=_ANALYZER, phrase=False),
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored file: its key (site-relative path), blob sha, stat and parsed doc."""

    key: str
    sha: str
    stat: tuple
    doc: dict


@dataclass(frozen=True, slots=True)
class TextDoc:
    key: str
    sha: str
    model: str
    title: str
    content: str


@dataclass(frozen=True, slots=True)
class Hit:
    key: str
    score: float


class Store:
    """Both Whoosh indexes of one site, in the state folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.records = _open(folder / "records", RECORDS_SCHEMA)
        self.text = _open(folder / "text", TEXT_SCHEMA)
        self._searcher = None
        self._searcher_lock = threading.Lock()

    def close(self) -> None:
        with self._searcher_lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None

    def generation(self) -> tuple[int, int]:
        """Changes whenever either index commits, in this process or another."""
        return (_latest(self.records), _latest(self.text))

    # -- records ------------------------------------------------------------------
    def read_records(self) -> tuple[dict, list[Entry]]:
        """The meta doc and every stored entry, from one consistent snapshot."""
        for attempt in range(5):
            try:
                with self.records.searcher() as searcher:
                    return _entries(searcher.all_stored_fields())
            except OSError:
                # A writer in another process may delete old segments mid-open: retry.
                if attempt == 4:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def records_writer(self) -> Iterator[RecordsWriter]:
        """Hold the records index's write lock; commits on success, cancels on error."""
        writer = _writer(self.records)
        try:
            with writer.searcher() as searcher:
                meta, entries = _entries(searcher.all_stored_fields())
            batch = RecordsWriter(writer, meta, entries)
            yield batch
        except BaseException:
            writer.cancel()
            raise
        if batch.changed:
            writer.commit()
        else:
            writer.cancel()

    def clear_text(self) -> None:
        """Empty the full-text index (after a rebuild); readers keep their snapshot."""
        _writer(self.text).commit(mergetype=writing.CLEAR)

    # -- full text ----------------------------------------------------------------
    def text_shas(self) -> dict[str, str]:
        with self.text.searcher() as searcher:
            return {f["key"]: f["sha"] for f in searcher.all_stored_fields()}

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
                procs=procs, multisegment=True, limitmb=128, timeout=LOCK_TIMEOUT
            )
        else:
            writer = _writer(self.text)
        try:
            for key in remove:
                writer.delete_by_term("key", key)
            for n, doc in enumerate(add, start=1):
                writer.add_document(
                    key=doc.key, sha=doc.sha, model=doc.model, title=doc.title, content=doc.content
                )
                if progress and n % 500 == 0:
                    progress(500)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def search(
        self, text: str, models: Iterable[str] | None = None, limit: int | None = None
    ) -> tuple[list[Hit], frozenset]:
        """Full-text hits, best first, and the query's terms (for snippets)."""
        parser = MultifieldParser(["title", "content"], TEXT_SCHEMA, group=AndGroup)
        try:
            parsed = parser.parse(text)
        except Exception as exc:  # whoosh raises plain exceptions on odd syntax
            raise InvalidParameter("q", f"cannot parse the search query: {exc}") from exc
        allow = None
        if models is not None:
            allow = query.Or([query.Term("model", m) for m in models])
        # A Whoosh searcher reads files through shared handles: one thread at a time.
        with self._searcher_lock:
            results = self._current_searcher().search(parsed, limit=limit, filter=allow)
            hits = [Hit(hit["key"], round(hit.score, 4)) for hit in results]
        terms = frozenset(
            word for field, word in parsed.all_terms() if field in ("title", "content")
        )
        return hits, terms

    def snippet(self, text: str, terms: frozenset) -> str:
        """The best passages of `text` around the query's terms, the terms in <mark>."""
        words = {w.decode() if isinstance(w, bytes) else w for w in terms}
        return highlight(
            text,
            words,
            _ANALYZER,
            ContextFragmenter(maxchars=160, surround=60),
            HtmlFormatter(tagname="mark", between=" … "),
            top=2,
        )

    def _current_searcher(self):
        """The shared searcher, moved to the newest commit; call with the lock held."""
        if self._searcher is None:
            self._searcher = self.text.searcher(weighting=scoring.BM25F())
        elif not self._searcher.up_to_date():
            self._searcher = self._searcher.refresh()
        return self._searcher


class RecordsWriter:
    """Changes to the records index inside one locked, atomic commit."""

    def __init__(self, writer, meta: dict, entries: list[Entry]) -> None:
        self._writer = writer
        self.meta = meta
        self.entries = {e.key: e for e in entries}
        self.changed = False

    def put(self, key: str, sha: str, stat: tuple, doc: dict) -> None:
        self._writer.update_document(key=key, sha=sha, stat=stat, doc=orjson.dumps(doc))
        self.changed = True

    def delete(self, key: str) -> None:
        self._writer.delete_by_term("key", key)
        self.changed = True

    def set_meta(self, meta: dict) -> None:
        if meta != self.meta:
            self._writer.update_document(key=META_KEY, doc=orjson.dumps(meta))
            self.meta = meta
            self.changed = True


def _open(path: Path, schema) -> index.Index:
    path.mkdir(parents=True, exist_ok=True)
    if index.exists_in(str(path)):
        return index.open_dir(str(path))
    return index.create_in(str(path), schema)


def _writer(ix: index.Index):
    try:
        return ix.writer(timeout=LOCK_TIMEOUT)
    except LockError as exc:
        raise IndexBusy("The index is being written by another process; try again") from exc


def _latest(ix: index.Index) -> int:
    return index.TOC._latest_generation(ix.storage, ix.indexname)


def _entries(stored: Iterable[dict]) -> tuple[dict, list[Entry]]:
    meta: dict = {}
    entries = []
    for fields_ in stored:
        if fields_["key"] == META_KEY:
            meta = orjson.loads(fields_["doc"])
        else:
            doc = orjson.loads(fields_["doc"])
            entries.append(Entry(fields_["key"], fields_["sha"], tuple(fields_["stat"]), doc))
    return meta, entries
