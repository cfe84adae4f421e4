"""Relation loading without N+1: a relation is read for a whole level of records at once.

Records resolved together (a page's nodes, or every record one relation reached from a
level) form a level. The first time a relation is asked of any record of a level, the
loader gathers the related ids of the whole level and reads them in one batch; every
record of the level then answers from that batch. `batches` counts the reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vellum.site.audience import Audience
from vellum.site.models import Field
from vellum.store.catalog import Catalog
from vellum.store.records import Record


@dataclass
class RelationLoader:
    """Per request: the catalog, whom records are shown to, and what was read."""

    catalog: Catalog
    audience: Audience
    batches: int = 0
    lookups: int = 0
    _levels: dict[int, tuple[list[Record], str | None]] = field(default_factory=dict)
    _loaded: dict[tuple, dict[str, Record | None]] = field(default_factory=dict)

    def level(self, records: list[Record], locale: str | None = None) -> list[Record]:
        """Mark records as resolved together, their relations read in `locale`; returns them."""
        for rec in records:
            self._levels[id(rec)] = (records, locale)
        return records

    def one(self, rec: Record, f: Field) -> Record | None:
        """The record a one-relation points at (None when it points at nothing visible)."""
        rid = rec.data.get(f.name)
        return self._batch(rec, f).get(rid) if rid is not None else None

    def many(self, rec: Record, f: Field) -> list[Record]:
        """The records a many-relation points at, in the file's order, visible ones only."""
        found = self._batch(rec, f)
        return [r for r in (found.get(rid) for rid in rec.data.get(f.name) or []) if r]

    def _batch(self, rec: Record, f: Field) -> dict[str, Record | None]:
        level, locale = self._levels.get(id(rec)) or ([rec], rec.locale)
        key = (id(level), rec.model, f.name)
        found = self._loaded.get(key)
        if found is None:
            ids: dict[str, None] = {}
            for other in level:
                if other.model == rec.model:
                    ids.update(dict.fromkeys(_ids(other.data.get(f.name))))
            found = self._loaded[key] = self.fetch(f.to, list(ids), locale)
            self.level([r for r in found.values() if r is not None], locale)
        return found

    def fetch(self, model: str, ids: list[str], locale: str | None) -> dict[str, Record | None]:
        """One batched read of records by id: the only way the loader touches the catalog."""
        self.batches += 1
        self.lookups += len(ids)
        get = self.catalog.get
        return {rid: get(model, rid, locale, self.audience) for rid in ids}


def _ids(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
