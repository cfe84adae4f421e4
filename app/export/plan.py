"""What an export holds, and a fingerprint of each file taken from the catalog without
rendering it: a file whose fingerprint did not change since the last export is not
rendered again, which keeps one commit's export to the files it touched.

A fingerprint covers everything the answer is made of: the record's blob and Git times,
the records its relations name (a relation to a record the reader cannot see is left out
of the answer), and the model's fields; a list page's covers its records and the total.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from urllib.parse import quote

from vellum.api.file_paths import PAGE_SIZE, page_path, record_path
from vellum.site.audience import Audience
from vellum.store import media
from vellum.store.catalog import Catalog, relation_ids
from vellum.store.records import Record

MODELS = "/api/models.json"


def fingerprint(*parts) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


class Planner:
    """The files of one catalog as one audience sees it, each with its fingerprint."""

    def __init__(self, catalog: Catalog, audience: Audience) -> None:
        self.catalog = catalog
        self.audience = audience
        self.site = catalog.site
        self._models = {
            name: fingerprint([f.as_dict() for f in fields.values()])
            for name, fields in catalog.fields.items()
        }
        self._records: dict[str, str] = {}

    def files(self) -> dict[str, str]:
        """URL path → fingerprint for every file but the manifest, models.json and the
        search index (those are made every time)."""
        found: dict[str, str] = {}
        for name in sorted(self.catalog.records):
            found.update(self._model_files(name))
        found.update(self._content_files())
        found.update(self._media_files())
        return found

    def record_print(self, rec: Record) -> str:
        """A record's answer, as far as the catalog decides it."""
        known = self._records.get(rec.path)
        if known is None:
            related = []
            for f in self.catalog.fields[rec.model].values():
                if f.type == "relation":
                    for rid in relation_ids(rec.data.get(f.name)):
                        other = self.catalog.get(f.to, rid, None, self.audience)
                        related.append(other.sha if other is not None else None)
            parts = (self._models[rec.model], rec.path, rec.sha, rec.created, rec.updated)
            known = self._records[rec.path] = fingerprint(*parts, related)
        return known

    def visible_ids(self, model: str) -> Iterator[str]:
        """Ids a reader of this audience can get."""
        for rid in sorted(self.catalog.records[model]):
            if self.catalog.get(model, rid, None, self.audience) is not None:
                yield rid

    def _model_files(self, model: str) -> dict[str, str]:
        get, found = self.catalog.get, {}
        for rid in self.visible_ids(model):
            variants = self.catalog.records[model][rid]
            found[record_path(model, rid)] = self.record_print(get(model, rid, None, self.audience))
            for locale in self.site.locales or sorted(v for v in variants if v):
                rec = get(model, rid, locale, self.audience)
                found[record_path(model, rid, locale)] = self.record_print(rec)
        view = self.catalog.view(model, None, self.audience)
        found.update(self._pages(model, view))
        return found

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

    def _content_files(self) -> dict[str, str]:
        """The content API: a record by bare id where one model holds it (two holders make
        the live answer a 400 asking which), and the list of every model's records."""
        holders: dict[str, list[str]] = {}
        every: list[Record] = []
        for model in sorted(self.catalog.records):
            for rid in self.visible_ids(model):
                holders.setdefault(rid, []).append(model)
            every.extend(self.catalog.view(model, None, self.audience))
        found = {}
        for rid, models in sorted(holders.items()):
            if len(models) == 1:
                rec = self.catalog.get(models[0], rid, None, self.audience)
                found[record_path("content", rid)] = self.record_print(rec)
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
