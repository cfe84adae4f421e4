"""Incremental sync for static site builders: what changed since a commit token."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from vellum.errors import Conflict, InvalidParameter
from vellum.site.audience import Audience
from vellum.store.catalog import Catalog
from vellum.store.records import Record, parse

if TYPE_CHECKING:
    from vellum.services import Vellum


def changes_since(vellum: Vellum, since: str | None, audience: Audience) -> dict:
    """Every record (no token), or what was created, updated and deleted since the token,
    as the audience sees it: a draft is never named to readers of published records."""
    catalog = vellum.catalog()
    head = vellum.repo.head()
    if not since:
        records = [r for r in _all(catalog) if audience.drafts or catalog.published(r)]
        return {"created": records, "updated": [], "deleted": [], "token": head}
    old = vellum.repo.resolve(since)
    if old is None:
        raise InvalidParameter("since", f"unknown sync token {since!r}; sync without since")
    if head is None or not vellum.repo.is_ancestor(old, head):
        raise Conflict(
            "The history was rewritten since this token: sync again from scratch (without since)"
        )
    prefix = vellum.repo.relative(vellum.site.root)
    created, updated, deleted = [], [], []
    for status, path in vellum.repo.changes_between(old, head, prefix):
        rec = catalog.by_key.get(path)
        visible = rec is not None and (audience.drafts or catalog.published(rec))
        if status == "D" or not visible:
            # Gone for this audience: news only if the audience could see it at the token.
            gone = record_identity(vellum, path)
            if gone is not None and status != "A" and _was_visible(vellum, old, path, audience):
                deleted.append(gone)
        elif status == "A":
            created.append(rec)
        else:
            updated.append(rec)
    return {"created": created, "updated": updated, "deleted": deleted, "token": head}


def _was_visible(vellum: Vellum, commit: str, path: str, audience: Audience) -> bool:
    """Whether the file was a valid record at `commit` that the audience could see."""
    ident = record_identity(vellum, path)
    prefix = vellum.repo.relative(vellum.site.root)
    raw = vellum.repo.file_at(commit, f"{prefix}/{path}" if prefix else path)
    if ident is None or raw is None:
        return False
    parsed = parse(vellum.site, vellum.site.models[ident["type"]], path, raw)
    if not isinstance(parsed, Record):
        return False
    return audience.drafts or vellum.catalog().published(parsed)


def _all(catalog: Catalog) -> list[Record]:
    out = []
    for model in sorted(catalog.records):
        for record_id in sorted(catalog.records[model]):
            out.extend(catalog.records[model][record_id].values())
    return out


def record_identity(vellum: Vellum, path: str) -> dict | None:
    """{id, type, locale} of a record file path (which may no longer exist)."""
    site = vellum.site
    for model in site.models.values():
        if path.startswith(model.folder + "/") and path.endswith(model.extensions):
            stem = PurePosixPath(path).name
            for ext in model.extensions:
                stem = stem.removesuffix(ext)
            record_id, locale = site.split_locale(stem)
            return {"id": record_id, "type": model.name, "locale": locale or site.default_locale}
    return None
