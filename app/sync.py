"""Incremental sync for static site builders: what changed since a commit token."""

from __future__ import annotations

from pathlib import PurePosixPath

from app.catalog import Catalog
from app.errors import Conflict, InvalidParameter
from app.records import Record


def changes_since(services, since: str | None, drafts: bool) -> dict:
    """Every record (no token), or what was created, updated and deleted since the token."""
    catalog = services.catalog()
    head = services.repo.head()
    if not since:
        records = [r for r in _all(catalog) if drafts or catalog.published(r)]
        return {"created": records, "updated": [], "deleted": [], "token": head}
    old = services.repo.resolve(since)
    if old is None:
        raise InvalidParameter("since", f"unknown sync token {since!r}; sync without since")
    if head is None or not services.repo.is_ancestor(old, head):
        raise Conflict(
            "The history was rewritten since this token: sync again from scratch (without since)"
        )
    prefix = services.repo.relative(services.site.root)
    created, updated, deleted = [], [], []
    for status, path in services.repo.changes_between(old, head, prefix):
        rec = catalog.by_key.get(path)
        visible = rec is not None and (drafts or catalog.published(rec))
        if status == "D" or not visible:
            gone = record_identity(services, path)
            if gone is not None and (status != "A"):
                deleted.append(gone)
        elif status == "A":
            created.append(rec)
        else:
            updated.append(rec)
    return {"created": created, "updated": updated, "deleted": deleted, "token": head}


def _all(catalog: Catalog) -> list[Record]:
    out = []
    for model in sorted(catalog.records):
        for record_id in sorted(catalog.records[model]):
            out.extend(catalog.records[model][record_id].values())
    return out


def record_identity(services, path: str) -> dict | None:
    """{id, type, locale} of a record file path (which may no longer exist)."""
    site = services.site
    for model in site.models.values():
        if path.startswith(model.folder + "/") and path.endswith(model.extensions):
            stem = PurePosixPath(path).name
            for ext in model.extensions:
                stem = stem.removesuffix(ext)
            record_id, locale = site.split_locale(stem)
            return {"id": record_id, "type": model.name, "locale": locale or site.default_locale}
    return None
