"""A catalog moved on by the keys that changed, instead of built again from every entry.

A save, a commit or a pull changes a few files, while a full build reads every record
(seconds at 100,000). An update parses only the changed docs and runs the checks of the
whole set (relations to nothing, unique values) again only for the records whose answer
can move: the changed ones, those that relate to an id that came or went, and those that
share a unique value with any of them. Where it could not give the very answers of a full
build (inferred models, duplicated ids, records left out for relations that other records
relate to, many changes) it gives None and the caller builds in full.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vellum.store.catalog import Catalog, add_holder, drop_holder, holders_of, relation_ids
from vellum.store.index import Entry, Snapshot
from vellum.store.records import Problem, Record

# Beyond this many changed keys (or a quarter of the records) a full build is as cheap.
MAX_CHANGED = 2000

Verdict = tuple[str, str, str] | None  # None: kept; else (check, field, reason)


def updated(previous: Catalog, snap: Snapshot, changed: Iterable[str]) -> Catalog | None:
    """`previous` with the changed keys of `snap` applied; None when a full build is needed."""
    changed = set(changed)
    if len(changed) > min(MAX_CHANGED, max(64, len(previous.made) // 4)):
        return None
    if _tangled(previous):
        return None
    old = {k: previous.made[k][1] for k in changed if k in previous.made}
    fresh = _parse(previous, snap.entries, changed)
    if fresh is None or _touches_inferred(previous, [*old.values(), *fresh[0].values()]):
        return None
    new = previous.successor(snap.generation, snap.meta.get("head"))
    _forget(new, changed)
    records, problems = fresh
    if not _own_slots(new, old, records):
        return None
    exists = _existence(new, records)
    dirty = dict(records)
    dirty.update(_relating_to(new, _flipped(previous, old, records, exists), changed))
    verdicts = {key: _relations(new, rec, exists) for key, rec in dirty.items()}
    try:
        if not _reindex_unique(new, list(old.values()), list(records.values())):
            return None
        _recheck_unique(new, [*old.values(), *records.values()], dirty, verdicts)
    except TypeError:  # a unique value that cannot be a key
        return None
    _place(new, dirty, verdicts, problems)
    for key, rec in records.items():
        new.made[key] = (snap.entries[key], rec)
    if _tangled(new):
        return None
    touched: dict[str, set[str]] = {}
    for rec in [*old.values(), *dirty.values()]:
        touched.setdefault(rec.model, set()).add(rec.id)
    new.inherit_views(previous, touched)
    return new


def _parse(
    catalog: Catalog, entries: Mapping[str, Entry], changed: set[str]
) -> tuple[dict[str, Record], list[Problem]] | None:
    """The records and problems the changed entries now hold (None: a doc is not kept)."""
    records: dict[str, Record] = {}
    problems: list[Problem] = []
    for key in sorted(changed):
        entry = entries.get(key)
        if entry is None:
            continue
        if entry.raw is None:
            return None
        doc = entry.doc
        if "problem" in doc:
            p = doc["problem"]
            problems.append(Problem(p["path"], p["reason"], p["line"], p["field"]))
        else:
            records[key] = catalog.make_record(doc)
    return records, problems


def _touches_inferred(catalog: Catalog, recs: list[Record]) -> bool:
    """Whether a record of an inferred model changed: its fields come from all of them."""
    models = catalog.site.models
    return any(rec.model not in models or models[rec.model].inferred for rec in recs)


def _targets(catalog: Catalog) -> set[str]:
    """The models some relation points to."""
    return {f.to for model in catalog.site.models.values() for f in model.relations()}


def _tangled(catalog: Catalog) -> bool:
    """Whether a record of a model relations point to was left out for a relation of its
    own: a full build then checks relations in the order of the models, which an update
    cannot follow."""
    targets = _targets(catalog)
    return any(c == "relation" and r.model in targets for r, c, _ in catalog.rejected.values())


def _forget(catalog: Catalog, changed: set[str]) -> None:
    """Take the old version of each changed key out of the catalog."""
    for key in changed:
        made = catalog.made.pop(key, None)
        catalog.rejected.pop(key, None)
        if made is not None:
            _unplace(catalog, made[1])
    catalog.problems = [p for p in catalog.problems if p.path not in changed]


def _own_slots(catalog: Catalog, old: dict[str, Record], records: dict[str, Record]) -> bool:
    """Whether every changed record is alone in its (model, id, locale), before and after."""
    if any(_slot(rec) in catalog.duplicated for rec in [*old.values(), *records.values()]):
        return False
    taken = {_slot(rec) for rec, _, _ in catalog.rejected.values()}
    for rec in records.values():
        slot = _slot(rec)
        if slot in taken or rec.locale in catalog.records.get(rec.model, {}).get(rec.id, {}):
            return False
        taken.add(slot)
    return True


def _slot(rec: Record) -> tuple:
    return (rec.model, rec.id, rec.locale)


def _existence(catalog: Catalog, records: dict[str, Record]):
    """exists(model, id) as the relation check of a full build sees it: some file holds
    the record, whether or not a check leaves it out later."""
    held = {(r.model, r.id) for r, _, _ in catalog.rejected.values()}
    held.update((r.model, r.id) for r in records.values())
    ids = catalog.records
    return lambda model, rid: rid in ids.get(model, ()) or (model, rid) in held


def _flipped(
    previous: Catalog, old: dict[str, Record], records: dict[str, Record], exists
) -> set[tuple[str, str]]:
    """The (model, id) of related-to models that came or went."""
    before = _existence(previous, {})
    targets = _targets(previous)
    ids = {(r.model, r.id) for r in [*old.values(), *records.values()] if r.model in targets}
    return {(m, rid) for m, rid in ids if before(m, rid) != exists(m, rid)}


def _relating_to(
    catalog: Catalog, flipped: set[tuple[str, str]], changed: set[str]
) -> dict[str, Record]:
    """Unchanged records with a relation to one of these ids."""
    found: dict[str, Record] = {}
    for name, model in catalog.site.models.items():
        fields = [f for f in model.relations() if any(m == f.to for m, _ in flipped)]
        if not fields:
            continue
        for rec in _held(catalog, name):
            if rec.path not in changed and any(
                (f.to, rid) in flipped for f in fields for rid in relation_ids(rec.data.get(f.name))
            ):
                found[rec.path] = rec
    return found


def _held(catalog: Catalog, model: str) -> Iterable[Record]:
    """Every record of a model some file holds: kept, or left out by a check."""
    for variants in catalog.records.get(model, {}).values():
        yield from variants.values()
    yield from (r for r, _, _ in catalog.rejected.values() if r.model == model)


def _relations(catalog: Catalog, rec: Record, exists) -> Verdict:
    """A full build's relation check of one record."""
    for f in catalog.site.models[rec.model].relations():
        missing = [t for t in relation_ids(rec.data.get(f.name)) if not exists(f.to, t)]
        if missing:
            return ("relation", f.name, f"relation to nothing: no {f.to} '{missing[0]}'")
    return None


def _reindex_unique(catalog: Catalog, old: list[Record], new: list[Record]) -> bool:
    """Move the changed records in the index of each unique field; False if one has none."""
    for (model, field), index in list(catalog.holders.items()):
        gone = [r for r in old if r.model == model]
        come = [r for r in new if r.model == model]
        if not gone and not come:
            continue
        if index is None:
            return False
        index = catalog.holders[(model, field)] = dict(index)
        for rec in gone:
            drop_holder(index, rec.data.get(field), rec)
        for rec in come:
            add_holder(index, rec.data.get(field), rec)
    return True


def _recheck_unique(
    catalog: Catalog, moved: list[Record], dirty: dict[str, Record], verdicts: dict
) -> None:
    """A full build's unique check of every group of equal values a moved record was or
    is in; each member of such a group joins `dirty` with its new verdict."""
    for name, model in catalog.site.models.items():
        fields = [f.name for f in model.fields.values() if f.unique]
        for n, field in enumerate(fields):
            mine = [r for r in [*moved, *dirty.values()] if r.model == name]
            groups = {(r.locale, v) for r in mine if (v := r.data.get(field)) is not None}
            index = catalog.holders[(name, field)]
            members = {
                r.path: r
                for locale, value in groups
                for r in holders_of(index, value)
                if r.locale == locale and _in_check(catalog, r, dirty, verdicts, fields[:n])
            }
            first: dict[tuple, Record] = {}
            for rec in sorted(members.values(), key=lambda r: r.path):
                value = rec.data[field]
                holder = first.setdefault((rec.locale, value), rec)
                dirty[rec.path] = rec
                verdicts[rec.path] = None
                if holder is not rec:
                    reason = f"'{value}' is already used by {holder.path}"
                    verdicts[rec.path] = ("unique", field, reason)


def _in_check(
    catalog: Catalog, rec: Record, dirty: dict[str, Record], verdicts: dict, earlier: list[str]
) -> bool:
    """Whether a full build's unique check of a field sees the record: kept by the relation
    check and by the unique checks of the fields before it."""
    if rec.path in dirty:
        verdict = verdicts[rec.path]
        check, field = (None, None) if verdict is None else verdict[:2]
    else:
        _, check, field = catalog.rejected.get(rec.path, (None, None, None))
    return check is None or (check == "unique" and field not in earlier)


def _place(
    catalog: Catalog, dirty: dict[str, Record], verdicts: dict, problems: list[Problem]
) -> None:
    """Put each rechecked record where its verdict says: served, or left out with a
    problem (kept as it was when nothing about it changed, so no file is read again)."""
    known = {p.path: p for p in catalog.problems if p.path in dirty}
    catalog.problems = [p for p in catalog.problems if p.path not in dirty]
    for key, rec in dirty.items():
        was = catalog.rejected.pop(key, None)
        _unplace(catalog, rec)
        verdict = verdicts[key]
        if verdict is None:
            _put(catalog, rec)
            continue
        check, field, reason = verdict
        catalog.rejected[key] = (rec, check, field)
        same = was is not None and key in known and known[key].reason == reason
        problems.append(known[key] if same else catalog.problem(rec, field, reason))
    catalog.problems.extend(problems)
    catalog.problems.sort(key=lambda p: p.path)


def _unplace(catalog: Catalog, rec: Record) -> None:
    ids = catalog.records.get(rec.model)
    variants = ids.get(rec.id) if ids is not None else None
    if variants is None or variants.get(rec.locale) is not rec:
        return
    rest = {loc: r for loc, r in variants.items() if loc != rec.locale}
    if rest:
        ids[rec.id] = rest
    else:
        del ids[rec.id]
    catalog.by_key.pop(rec.path, None)


def _put(catalog: Catalog, rec: Record) -> None:
    """Serve a record: its id's variants stay in the order of their paths, as built."""
    ids = catalog.records.setdefault(rec.model, {})
    variants = [*ids.get(rec.id, {}).values(), rec]
    ids[rec.id] = {r.locale: r for r in sorted(variants, key=lambda r: r.path)}
    catalog.by_key[rec.path] = rec
