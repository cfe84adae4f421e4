"""The catalog: an immutable in-memory view of the index that reads are answered from.

It is rebuilt from the records index whenever the index's generation moves, so every
server process sees the same records. Checks that need the whole set of records happen
here: duplicate ids, relations to nothing, unique values.
"""

from __future__ import annotations

import bisect
import functools
import re
import sys
import threading
from collections import defaultdict
from collections.abc import Iterable
from html import unescape

import mistune

from vellum.site.audience import Audience
from vellum.site.models import Field, Model, coerce_record, infer_type
from vellum.site.site import Site
from vellum.store.index import Entry
from vellum.store.records import Problem, Record, StoredRecord, _field_line

# Derived lists (sorted views, filter results) kept per catalog.
MEMO_SIZE = 256
# Strings up to this long are kept once per process (statuses, ids of related records,
# tags, dates from one commit): they repeat across records; titles and bodies do not.
SHARED_STRING_MAX = 32
_PLUGINS = ["strikethrough", "footnotes", "table", "url", "task_lists", "def_list", "mark"]
_MARKDOWN = mistune.create_markdown(escape=True, plugins=_PLUGINS)
_SYNTAX_TREE = mistune.create_markdown(renderer=None, plugins=_PLUGINS)
# Tokens that flow within a line; every other token is a block, ended by a space.
_INLINE = {"text", "emphasis", "strong", "link", "image", "codespan", "strikethrough", "mark"}
# Markup, not text: raw HTML (a <br> reads as a space), footnote numbers.
_UNREAD = {"inline_html", "block_html", "footnote_ref", "blank_line"}
_BREAK = re.compile(r"<br\b", re.IGNORECASE)


def render_markdown(text: str) -> str:
    """Markdown to HTML; raw HTML in the source is escaped, never passed through."""
    return _MARKDOWN(text)


@functools.lru_cache(maxsize=512)
def plain_text(text: str) -> str:
    """What a reader sees of Markdown, on one line: no `##`, `**` or link targets (snippets)."""
    out: list[str] = []
    _read(_SYNTAX_TREE(text), out)
    return " ".join(unescape("".join(out)).split())


def _read(tokens: list[dict], out: list[str]) -> None:
    for token in tokens:
        kind = token["type"]
        if kind in _UNREAD:
            out.append(" " if _BREAK.match(token.get("raw", "")) else "")
            continue
        if "children" in token:
            _read(token["children"], out)
        else:
            out.append(token.get("raw", " "))  # softbreak and linebreak have none
        if kind not in _INLINE:
            out.append(" ")


class Catalog:
    """Records by model, id and locale, plus every problem found in the files."""

    def __init__(
        self,
        site: Site,
        entries: Iterable[Entry] | None,
        generation=None,
        head=None,
        previous: Catalog | None = None,
        bodies=None,
    ) -> None:
        self.site = site
        self.bodies = bodies  # where stored bodies and their HTML are (vellum.store.bodies)
        self.generation = generation
        self.head = head
        self.problems: list[Problem] = []
        self.by_key: dict[str, Record] = {}
        self.records: dict[str, dict[str, dict[str | None, Record]]] = {
            name: {} for name in site.models
        }
        self.fields: dict[str, dict[str, Field]] = {}
        self._views: dict[tuple, list[Record]] = {}
        self._memo: dict[tuple, list[Record]] = {}
        self._lock = threading.Lock()
        # The record made from each entry, so the next catalog reuses what did not change.
        self.made: dict[str, tuple[Entry, Record]] = {}
        # Records left out by a check of the whole set (key → record, check, field), and
        # the (model, id, locale) of files that say the same record: what an update by
        # changed keys (vellum.store.delta) needs to give the answers of a full build.
        self.rejected: dict[str, tuple[Record, str, str]] = {}
        self.duplicated: set[tuple] = set()
        # (model, unique field) → value → the record(s) of any check's verdict holding it.
        self.holders: dict[tuple[str, str], dict | None] = {}
        if entries is None:  # a copy made by successor()
            return
        reuse = previous.made if previous is not None and previous.site is site else {}
        self._load(sorted(entries, key=lambda e: e.key), reuse)

    # -- building -----------------------------------------------------------------
    def _load(self, entries: list[Entry], reuse: dict[str, tuple[Entry, Record]]) -> None:
        inferred = {name for name, model in self.site.models.items() if model.inferred}
        for entry in entries:
            known = reuse.get(entry.key)
            if known is not None and known[0] is entry and known[1].model not in inferred:
                rec = known[1]  # records are not changed once built (inferred ones are)
            else:
                doc = entry.doc
                if "problem" in doc:
                    p = doc["problem"]
                    self.problems.append(Problem(p["path"], p["reason"], p["line"], p["field"]))
                    continue
                rec = self.make_record(doc)
            self.made[entry.key] = (entry, rec)
            self._add(rec)
        for name, model in self.site.models.items():
            self.fields[name] = self._infer(name) if model.inferred else model.fields
        self._index_unique()
        self._check_relations()
        self._check_unique()
        for rec in self._all():
            self.by_key[rec.path] = rec
        self.problems.sort(key=lambda p: p.path)

    def make_record(self, doc: dict) -> Record:
        rec = StoredRecord(bodies=self.bodies, **doc["record"])
        git_created, git_updated = doc.get("git") or (None, None)
        rec.created = _shared(rec.created or git_created)
        rec.updated = _shared(rec.updated or git_updated)
        rec.model, rec.locale = _shared(rec.model), _shared(rec.locale)
        for key, value in rec.data.items():
            if type(value) is list:
                value[:] = [_shared(v) for v in value]
            else:
                rec.data[key] = _shared(value)
        return rec

    def _add(self, rec: Record) -> None:
        variants = self.records.setdefault(rec.model, {}).setdefault(rec.id, {})
        other = variants.get(rec.locale)
        if other is not None:
            self.duplicated.add((rec.model, rec.id, rec.locale))
            self.problems.append(
                Problem(rec.path, f"duplicate id '{rec.id}' in {rec.model} (also {other.path})")
            )
            return
        variants[rec.locale] = rec

    def _infer(self, model: str) -> dict[str, Field]:
        seen: dict[str, list] = defaultdict(list)
        for rec in self._all(model):
            for key, value in rec.data.items():
                seen[key].append(value)
        fields = {key: Field(name=key, type=infer_type(values)) for key, values in seen.items()}
        for rec in self._all(model):  # normalise dates so they compare like declared ones
            typed, errors = coerce_record(fields, rec.data)
            if not errors:
                rec.data = typed
        return fields

    def _index_unique(self) -> None:
        for name, model in self.site.models.items():
            for f in model.fields.values():
                if f.unique:
                    found: dict | None = {}
                    try:
                        for rec in self._all(name):
                            add_holder(found, rec.data.get(f.name), rec)
                    except TypeError:  # a value that cannot be a key: no index
                        found = None
                    self.holders[(name, f.name)] = found

    def _check_relations(self) -> None:
        for name, model in self.site.models.items():
            relations = model.relations()
            if not relations:
                continue
            for rec in list(self._all(name)):
                for f in relations:
                    missing = [
                        t for t in relation_ids(rec.data.get(f.name)) if t not in self.records[f.to]
                    ]
                    if missing:
                        reason = f"relation to nothing: no {f.to} '{missing[0]}'"
                        self._reject(rec, "relation", f.name, reason)
                        break

    def _check_unique(self) -> None:
        for name, model in self.site.models.items():
            for f in model.fields.values():
                if not f.unique:
                    continue
                seen: dict[tuple, Record] = {}
                for rec in sorted(self._all(name), key=lambda r: r.path):
                    value = rec.data.get(f.name)
                    if value is None:
                        continue
                    first = seen.setdefault((rec.locale, value), rec)
                    if first is not rec:
                        reason = f"'{value}' is already used by {first.path}"
                        self._reject(rec, "unique", f.name, reason)

    def _reject(self, rec: Record, check: str, field: str, reason: str) -> None:
        variants = self.records[rec.model][rec.id]
        del variants[rec.locale]
        if not variants:
            del self.records[rec.model][rec.id]
        self.rejected[rec.path] = (rec, check, field)
        self.problems.append(self.problem(rec, field, reason))

    def problem(self, rec: Record, field: str, reason: str) -> Problem:
        """What a check of the whole set says of a record it leaves out."""
        line = _line_in_file(self.site, rec.path, field, self.site.models[rec.model])
        return Problem(rec.path, reason, line, field)

    def successor(self, generation, head) -> Catalog:
        """A copy at another generation that shares the records, for an update by changed
        keys to change before anyone reads it (each id's variants are replaced, never
        changed in place)."""
        new = Catalog(self.site, None, generation, head, bodies=self.bodies)
        new.problems = list(self.problems)
        new.by_key = dict(self.by_key)
        new.records = {name: dict(ids) for name, ids in self.records.items()}
        new.fields = self.fields
        new.made = dict(self.made)
        new.rejected = dict(self.rejected)
        new.duplicated = set(self.duplicated)
        new.holders = dict(self.holders)  # each field's index is copied when it changes
        return new

    def _all(self, model: str | None = None) -> Iterable[Record]:
        models = [model] if model else list(self.records)
        for name in models:
            for variants in self.records[name].values():
                yield from variants.values()

    def lighten(
        self, entries: dict[str, Entry], keys: Iterable[str] | None = None
    ) -> dict[str, Entry]:
        """`entries` with the doc of each record this catalog holds let go: the record
        has what it said. The catalog remembers the light entries, so the next catalog
        still reuses its records. `keys`: only these can still hold a doc."""
        inferred = {name for name, model in self.site.models.items() if model.inferred}
        out = dict(entries)
        made = self.made
        pairs = made.items() if keys is None else ((k, made[k]) for k in keys if k in made)
        for key, (entry, rec) in list(pairs):
            if entry.raw is not None and rec.model not in inferred and out.get(key) is entry:
                light = out[key] = entry.light()
                self.made[key] = (light, rec)
        return out

    # -- reading ------------------------------------------------------------------
    def count(self, model: str, audience: Audience) -> int:
        """How many records of a model this audience can see (a draft counts for editors)."""
        ids = self.records.get(model, ())
        if audience.drafts:
            return len(ids)
        return sum(1 for i in ids if self.get(model, i, None, audience) is not None)

    def get(
        self, model: str, record_id: str, locale: str | None, audience: Audience
    ) -> Record | None:
        """The record in this locale, else in the default locale, else any variant; for an
        audience without drafts, the first of those that is published (a draft translation
        does not hide the published original)."""
        variants = self.records.get(model, {}).get(record_id)
        if not variants:
            return None
        order = (variants.get(locale), variants.get(self.site.default_locale), *variants.values())
        drafts = audience.drafts
        return next((r for r in order if r is not None and (drafts or self.published(r))), None)

    def published(self, rec: Record) -> bool:
        """Records of a model with a `status` field are drafts unless `published`."""
        return "status" not in self.fields[rec.model] or rec.data.get("status") == "published"

    def view(self, model: str, locale: str | None, audience: Audience) -> list[Record]:
        """One record per id in the given locale (falling back to the default), by id."""
        key = (model, locale, audience)
        found = self._views.get(key)
        if found is None:
            ids = sorted(self.records.get(model, {}))
            found = [r for r in (self._shown(model, i, locale, audience) for i in ids) if r]
            self._views[key] = found
        return found

    def _shown(self, model: str, record_id: str, locale: str | None, audience: Audience):
        """An id's record in a view: the default locale's view lists its own variants only."""
        rec = self.get(model, record_id, locale, audience)
        if rec is None or locale not in (None, self.site.default_locale):
            return rec
        return rec if rec.locale in (None, self.site.default_locale) else None

    def inherit_views(self, previous: Catalog, touched: dict[str, set[str]]) -> None:
        """Take over the views `previous` made, each id in `touched` (model → ids) looked
        up again: the first list after a save need not go through every record."""
        for key, view in list(previous._views.items()):
            model, locale, audience = key
            ids = touched.get(model)
            if ids:
                view = [r for r in view if r.id not in ids]
                for rid in ids:
                    rec = self._shown(model, rid, locale, audience)
                    if rec is not None:
                        bisect.insort(view, rec, key=_id_of)
            self._views[key] = view

    def memo(self, key: tuple, compute):
        """Remember a derived list for this catalog's lifetime (it never changes).

        Least recently used first out, so a hot sorted view outlives a stream of
        one-off filters.
        """
        try:
            hash(key)
        except TypeError:  # a filter value that cannot be a key: compute every time
            return compute()
        with self._lock:
            found = self._memo.pop(key, None)
            if found is not None:
                self._memo[key] = found  # now the most recently used
                return found
        found = compute()
        with self._lock:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = found
        return found

    def html(self, rec: Record, body: str | None = None) -> str | None:
        """Rendered body (`body` when the caller holds it already), kept by blob sha in
        the body store so each version renders once for every process."""
        body = rec.body if body is None else body
        if body is None:
            return None
        if self.bodies is None or not rec.sha:
            return render_markdown(body)
        return self.bodies.html(rec.sha, lambda: render_markdown(body))


def can_build(site: Site, entries: Iterable[Entry], previous: Catalog | None) -> bool:
    """Whether a catalog of `site` can be built from these entries with `previous`: each
    light entry (no doc kept) must be one whose record `previous` holds."""
    made = previous.made if previous is not None and site is previous.site else {}
    inferred = {name for name, model in site.models.items() if model.inferred}
    for entry in entries:
        if entry.raw is None:
            known = made.get(entry.key)
            if known is None or known[0] is not entry or known[1].model in inferred:
                return False
    return True


def add_holder(index: dict, value, rec: Record) -> None:
    """Note that `rec` holds `value` (one record alone, else a tuple of them)."""
    if value is None:
        return
    held = index.get(value)
    index[value] = rec if held is None else (*holders_of(index, value), rec)


def drop_holder(index: dict, value, rec: Record) -> None:
    if value is None:
        return
    rest = tuple(r for r in holders_of(index, value) if r is not rec)
    if not rest:
        index.pop(value, None)
    else:
        index[value] = rest[0] if len(rest) == 1 else rest


def holders_of(index: dict, value) -> tuple[Record, ...]:
    held = index.get(value)
    if held is None:
        return ()
    return held if type(held) is tuple else (held,)


def _id_of(rec: Record) -> str:
    return rec.id


def _shared(value):
    """One copy per process of a short string (see SHARED_STRING_MAX); others as they are."""
    if type(value) is str and len(value) <= SHARED_STRING_MAX:
        return sys.intern(value)
    return value


def relation_ids(value) -> list[str]:
    """A relation's value as a list of ids (a one-relation holds one, or none)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _line_in_file(site: Site, path: str, field: str, model: Model) -> int | None:
    try:
        text = (site.root / path).read_text(encoding="utf-8")
    except OSError:
        return None
    return _field_line(text, field, model.format)
