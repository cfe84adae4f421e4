"""What an export holds, and a fingerprint of each file taken from the catalog without
rendering it: a file whose fingerprint did not change since the last export is not
rendered again, which keeps one commit's export to the files it touched.

A fingerprint covers everything the answer is made of: the record's blob and Git times,
the records its relations name (a relation to a record the reader cannot see is left out
of the answer), and the model's fields; a list page's covers its records and the total.
Planning after a commit redoes only the ids the commit touched and those relating to them
(`Memory` carries the rest from the plan before).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import quote

from vellum.api.file_paths import PAGE_SIZE, page_path, record_path
from vellum.site.audience import Audience
from vellum.site.site import Site
from vellum.store import media
from vellum.store.catalog import Catalog, relation_ids
from vellum.store.records import Record

MODELS = "/api/models.json"
Key = tuple[str, str]  # (model, id)


def fingerprint(*parts) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class IdFiles:
    """The files of one id (none when the audience cannot see it) and its record's print."""

    files: dict[str, str]
    print: str | None


@dataclass(frozen=True)
class Memory:
    """What a plan keeps for the next one: the records it saw and the prints it made."""

    site: Site
    audience: Audience
    models: dict[str, str]
    stamps: dict[str, tuple]  # path → (model, id, sha, created, updated)
    prints: dict[str, str]  # path → record print
    ids: dict[Key, IdFiles]


class Planner:
    """The files of one catalog as one audience sees it, each with its fingerprint."""

    def __init__(self, catalog: Catalog, audience: Audience, previous: Memory | None = None):
        self.catalog = catalog
        self.audience = audience
        self.site = catalog.site
        self.models = {
            name: fingerprint([f.as_dict() for f in fields.values()])
            for name, fields in catalog.fields.items()
        }
        self.stamps = {
            rec.path: (rec.model, rec.id, rec.sha, rec.created, rec.updated)
            for rec in catalog.by_key.values()
        }
        self.prints: dict[str, str] = {}
        self.ids: dict[Key, IdFiles] = {}
        self.counts: dict[str, int] = {}  # records each model shows, as /api/models counts
        if previous is not None and self._comparable(previous):
            self._carry(previous)

    def memory(self) -> Memory:
        return Memory(self.site, self.audience, self.models, self.stamps, self.prints, self.ids)

    def files(self) -> dict[str, str]:
        """URL path → fingerprint for every file but the manifest and the search index
        (made every time)."""
        found: dict[str, str] = {}
        holders: dict[str, list[IdFiles]] = {}
        for model in sorted(self.catalog.records):
            self.counts[model] = 0
            for rid in sorted(self.catalog.records[model]):
                entry = self._id_files(model, rid)
                if entry.print is not None:
                    found.update(entry.files)
                    holders.setdefault(rid, []).append(entry)
                    self.counts[model] += 1
            found.update(self._pages(model, self.catalog.view(model, None, self.audience)))
        found.update(self._content_files(holders))
        found.update(self._media_files())
        found[MODELS] = self._models_print()
        return found

    def _models_print(self) -> str:
        """/api/models: each model's names, fields and count, and the locales."""
        shown = [
            (name, m.list_name, m.folder, m.format, m.inferred)
            for name, m in sorted(self.site.models.items())
        ]
        site = (self.site.locales, self.site.default_locale)
        return fingerprint(shown, sorted(self.models.items()), sorted(self.counts.items()), site)

    # -- what changed since the plan before ----------------------------------------------
    def _comparable(self, previous: Memory) -> bool:
        same = previous.site is self.site and previous.audience == self.audience
        return same and previous.models == self.models

    def _carry(self, previous: Memory) -> None:
        """Keep the prints and files of every id the commits since did not touch."""
        old, new = previous.stamps, self.stamps
        changed = {new[p][:2] for p in new if old.get(p) != new[p]}
        changed |= {old[p][:2] for p in old if p not in new}
        stale = changed | self._relating_to(changed)
        self.ids = {key: files for key, files in previous.ids.items() if key not in stale}
        self.prints = {
            path: value
            for path, value in previous.prints.items()
            if path in new and new[path][:2] not in stale
        }

    def _relating_to(self, changed: set[Key]) -> set[Key]:
        """Ids with a relation to a changed id: their answers show its visibility."""
        found: set[Key] = set()
        if not changed:
            return found
        for model, fields in self.catalog.fields.items():
            relations = [f for f in fields.values() if f.type == "relation"]
            if not relations:
                continue
            for rid, variants in self.catalog.records.get(model, {}).items():
                for rec in variants.values():
                    if any(
                        (f.to, t) in changed
                        for f in relations
                        for t in relation_ids(rec.data.get(f.name))
                    ):
                        found.add((model, rid))
        return found

    # -- prints ----------------------------------------------------------------------
    def record_print(self, rec: Record) -> str:
        """A record's answer, as far as the catalog decides it."""
        known = self.prints.get(rec.path)
        if known is None:
            related = []
            for f in self.catalog.fields[rec.model].values():
                if f.type == "relation":
                    for rid in relation_ids(rec.data.get(f.name)):
                        other = self.catalog.get(f.to, rid, None, self.audience)
                        related.append(other.sha if other is not None else None)
            parts = (self.models[rec.model], rec.path, rec.sha, rec.created, rec.updated)
            known = self.prints[rec.path] = fingerprint(*parts, related)
        return known

    def _id_files(self, model: str, rid: str) -> IdFiles:
        """A record's file, and one per locale (the site's, else the record's own)."""
        known = self.ids.get((model, rid))
        if known is not None:
            return known
        get = self.catalog.get
        shown = get(model, rid, None, self.audience)
        if shown is None:
            entry = IdFiles({}, None)
        else:
            files = {record_path(model, rid): self.record_print(shown)}
            variants = self.catalog.records[model][rid]
            for locale in self.site.locales or sorted(v for v in variants if v):
                rec = get(model, rid, locale, self.audience)
                files[record_path(model, rid, locale)] = self.record_print(rec)
            entry = IdFiles(files, files[record_path(model, rid)])
        self.ids[(model, rid)] = entry
        return entry

    def _pages(self, name: str, records: list[Record]) -> dict[str, str]:
        """`page/1.json` always, then one page per 100 records."""
        count = max(1, -(-len(records) // PAGE_SIZE))
        return {
            page_path(name, n): fingerprint(
                len(records),
                [self.record_print(r) for r in records[(n - 1) * PAGE_SIZE : n * PAGE_SIZE]],
            )
            for n in range(1, count + 1)
        }

    def _content_files(self, holders: dict[str, list[IdFiles]]) -> dict[str, str]:
        """The content API: a record by bare id where one model holds it (two holders make
        the live answer a 400 asking which), and the list of every model's records."""
        found = {
            record_path("content", rid): entries[0].print
            for rid, entries in sorted(holders.items())
            if len(entries) == 1
        }
        every: list[Record] = []
        for model in sorted(self.catalog.records):
            every.extend(self.catalog.view(model, None, self.audience))
        found.update(self._pages("content", every))
        return found

    def _media_files(self) -> dict[str, str]:
        """Each media file at its URL, fingerprinted by its size and time."""
        found = {}
        for item in media.list_media(self.site):
            path = media.file_path(self.site, item["id"])
            stat = path.stat()
            found[quote(item["url"])] = fingerprint(item["id"], stat.st_size, stat.st_mtime_ns)
        return found
