"""Writes are Git commits: validate, write the file atomically, commit it, reindex.

Every write holds the site's write lock (an flock in the state folder, so threads and
processes queue, and a killed process lets go at once). Before touching a file it notes
its intent in a journal; the next start (before the server answers) or write finishes or
undoes a write that was killed half way, so the work tree never keeps an uncommitted half
of an API write.
A file with uncommitted edits made by hand is never overwritten: the write is refused
with 409 until the writer commits or discards them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vellum.errors import (
    Conflict,
    Detail,
    ModelNotFound,
    PreconditionFailed,
    RecordNotFound,
    ValidationError,
)
from vellum.site.audience import EDITORS
from vellum.site.models import (
    SYSTEM_FIELDS,
    FieldError,
    Model,
    check_size,
    check_storable,
    check_text,
    coerce,
    is_blank,
)
from vellum.site.site import LOCALE_CODE
from vellum.store import files, journal
from vellum.store.catalog import Catalog
from vellum.store.front_matter import FrontMatterError
from vellum.store.records import Problem, Record, blob_sha, parse
from vellum.store.sync import record_identity
from vellum.store.write_request import WriteRequest, slugify

if TYPE_CHECKING:
    from vellum.services import Vellum

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$")
# Keys a write may send besides the model's fields.
ALLOWED_EXTRA = {"createdAt", "updatedAt"}


# -- the write paths -------------------------------------------------------------------
def create(vellum: Vellum, model_name: str, request: WriteRequest, author) -> Record:
    """A new record; its id is the body's id, else its slug, else its slugified title."""
    with journal.write_lock(vellum):
        catalog = vellum.catalog()
        model = model_of(vellum, model_name)
        locale = locale_of(vellum, request.locale)
        _check_read_only(model, None, request)
        # Fields first: a title that is not a string is a field error, not "no id".
        values = _validate(
            catalog, model, request.fields, None, locale, None, full=True, body=request.body
        )
        record_id = request.id or values.get("slug") or _title_slug(values)
        _check_id(record_id)
        existing = catalog.records.get(model.name, {}).get(record_id, {})
        path = _path_for(vellum, model, record_id, locale)
        if locale in existing or (vellum.site.root / path).exists():
            raise Conflict(f"The {model.name} '{record_id}' already exists")
        data = _render_new(model, values, request.body)
        _check_reads_back(vellum, model, path, data, values, request.body)
        message = request.message or f"Create {model.name} {record_id}"
        journal.commit(vellum, {path: data}, message, author)
        return _reindexed(vellum, model.name, record_id, locale)


def update(
    vellum: Vellum,
    model_name: str,
    record_id: str,
    request: WriteRequest,
    author,
    *,
    merge: bool,
    if_match: list[str] | None = None,
) -> Record:
    """PUT (merge=False) replaces the record; PATCH (merge=True) changes only what is sent."""
    with journal.write_lock(vellum):
        catalog = vellum.catalog()
        model = model_of(vellum, model_name)
        locale = locale_of(vellum, request.locale)
        _check_read_only(model, record_id, request)
        current = catalog.get(model.name, record_id, locale, EDITORS)
        if current is not None:
            request = _without_echoed_dates(request, current)
            source = path = current.path
            verb = "Update"
            if current.locale != locale:  # a new translation, beside the record it translates
                path, verb = (
                    _variant_path(vellum, model, current.path, record_id, locale),
                    "Translate",
                )
        else:
            # A file left out as invalid: PUT replaces it where it is, so the API can repair
            # what a hand edit broke; there is nothing valid for PATCH to merge into.
            left_out = _left_out(vellum, catalog, model.name, record_id, locale)
            if left_out is None:
                raise RecordNotFound(model.name, record_id)
            if merge:
                raise Conflict(
                    f"{left_out}; it is left out, so there is nothing to merge into: "
                    "replace it with PUT or fix it in Git"
                )
            source = path = left_out.path
            verb = "Repair"
        original = _current_bytes(vellum, source, if_match)
        base, body = (current if merge else None), request.body
        values = _validate(
            catalog, model, request.fields, record_id, locale, base, full=not merge, body=body
        )
        if merge:
            data = _render_edit(model, source, original, request, values)
        else:
            data = _render_new(model, values, request.body)
        _check_reads_back(vellum, model, path, data, values, request.body)
        message = request.message or f"{verb} {model.name} {record_id}"
        journal.commit(vellum, {path: data}, message, author)
        return _reindexed(vellum, model.name, record_id, locale)


def delete(
    vellum: Vellum,
    model_name: str,
    record_id: str,
    author,
    *,
    locale: str | None = None,
    message: str | None = None,
    if_match: list[str] | None = None,
) -> None:
    with journal.write_lock(vellum):
        catalog = vellum.catalog()
        model = model_of(vellum, model_name)
        current = catalog.get(model.name, record_id, locale_of(vellum, locale), EDITORS)
        if current is None or (locale and current.locale != locale):
            left_out = _left_out(vellum, catalog, model.name, record_id, locale_of(vellum, locale))
            if left_out is None:
                raise RecordNotFound(model.name, record_id)
            path = left_out.path  # an invalid file can be deleted like a valid one
        else:
            path = current.path
        _current_bytes(vellum, path, if_match)
        journal.commit(vellum, {path: None}, message or f"Delete {model.name} {record_id}", author)


def restore_bytes(
    vellum: Vellum, model_name: str, record_id: str, path: str, data: bytes, message, author
):
    """Write an old version's bytes back as a new commit (the file may be gone)."""
    with journal.write_lock(vellum):
        model = model_of(vellum, model_name)
        target = vellum.site.root / path
        if target.exists():
            current = vellum.catalog().by_key.get(path)
            if current is not None:
                _current_bytes(vellum, current.path, None)
        parsed = parse(vellum.site, model, path, data)
        if isinstance(parsed, Problem):
            detail = Detail(parsed.field, parsed.reason)
            raise ValidationError("That version is not valid with today's models", [detail])
        journal.commit(vellum, {path: data}, message, author)
        return _reindexed(vellum, model.name, record_id, parsed.locale)


def _without_echoed_dates(request: WriteRequest, current: Record) -> WriteRequest:
    """createdAt/updatedAt sent back as GET showed them (from Git) are not front matter to
    pin: only a different value is a date the writer sets."""
    shown = {"createdAt": current.created, "updatedAt": current.updated}
    fields = {k: v for k, v in request.fields.items() if k not in shown or v != shown[k]}
    return replace(request, fields=fields)


def _check_read_only(model: Model, record_id: str | None, request: WriteRequest) -> None:
    """`id` and `type` may come back as GET gave them, but not as a change: a record is
    renamed or moved in Git, not by a write."""
    details = []
    if record_id is not None and request.id is not None and request.id != record_id:
        details.append(Detail("id", f"is '{record_id}' (the URL's); a write cannot rename"))
    if request.type is not None and request.type != model.name:
        details.append(Detail("type", f"is '{model.name}'; a write cannot change a model"))
    if details:
        raise ValidationError(f"The {model.name} is not valid", details)


def _left_out(
    vellum: Vellum, catalog: Catalog, model: str, record_id: str, locale
) -> Problem | None:
    """The problem of the invalid file that would be this record, if there is one."""
    for problem in catalog.problems:
        ident = record_identity(vellum, problem.path)
        if ident == {"id": record_id, "type": model, "locale": locale}:
            return problem
    return None


# -- helpers ---------------------------------------------------------------------------
def model_of(vellum: Vellum, name: str) -> Model:
    model = vellum.site.models.get(name)
    if model is None:
        raise ModelNotFound(name)
    return model


def locale_of(vellum: Vellum, locale: str | None) -> str | None:
    site = vellum.site
    if locale and site.locales and locale not in site.locales:
        raise ValidationError(
            "Unknown locale", [Detail("locale", f"expected one of {', '.join(site.locales)}")]
        )
    if locale and not site.locales and not LOCALE_CODE.match(locale):
        # It names the file (id.<locale>.md): only a code the site reads back as a locale.
        raise ValidationError(
            "Unknown locale", [Detail("locale", "expected a locale code such as en or pt-BR")]
        )
    return locale or site.default_locale


def _title_slug(fields: dict) -> str:
    title = fields.get("title") or fields.get("name")
    if not isinstance(title, str) or not slugify(title):
        raise ValidationError(
            "The record needs an id",
            [Detail("id", "send an id, a slug or a title to make one from")],
        )
    return slugify(title)


def _check_id(record_id) -> None:
    if not isinstance(record_id, str) or not ID_PATTERN.match(record_id):
        raise ValidationError(
            "Invalid id",
            [Detail("id", "letters, digits, - and _ only, starting with a letter or digit")],
        )


def _path_for(vellum: Vellum, model: Model, record_id: str, locale: str | None) -> str:
    """Site-relative path of a new record file; never outside the model's folder."""
    return f"{model.folder}/{_file_name(vellum, record_id, locale, model.extensions[0])}"


def _variant_path(vellum: Vellum, model: Model, original: str, record_id: str, locale) -> str:
    """The path of another locale's file of a record: in the original's folder, with its
    extension (posts/2024/hello.md → posts/2024/hello.fr.md)."""
    folder, _, name = original.rpartition("/")
    ext = next((e for e in model.extensions if name.endswith(e)), model.extensions[0])
    return f"{folder}/{_file_name(vellum, record_id, locale, ext)}"


def _file_name(vellum: Vellum, record_id: str, locale: str | None, ext: str) -> str:
    """`hello.md`, or `hello.fr.md` for a locale other than the default."""
    suffix = f".{locale}" if locale and locale != vellum.site.default_locale else ""
    return f"{record_id}{suffix}{ext}"


def _current_bytes(vellum: Vellum, path: str, if_match: list[str] | None) -> bytes:
    """The file as on disk, after checking If-Match and that nobody left edits in it."""
    target = vellum.site.root / path
    data = target.read_bytes()
    sha = blob_sha(data)
    if if_match and "*" not in if_match and sha not in if_match:
        raise PreconditionFailed(
            f"The record changed since version {if_match[0]}; its version is now {sha}"
        )
    committed = vellum.repo.committed_blob(journal.repo_path(vellum, path))
    if committed is None:
        raise Conflict(
            f"{path} is not committed yet, so the API cannot write to it: commit it (or"
            " delete it) in Git first"
        )
    if committed != sha:
        raise Conflict(
            f"{path} has uncommitted edits in the working tree; "
            "commit or discard them before writing through the API"
        )
    return data


def _validate(catalog: Catalog, model: Model, values: dict, record_id, locale, base, *, full, body):
    details: list[Detail] = _unstorable(values, body)
    unstorable = {d.field for d in details}
    coerced: dict[str, Any] = {}
    for key, value in values.items():
        if key in unstorable:
            continue  # a value the file cannot hold is not checked any further
        f = model.fields.get(key)
        if f is None:
            if not model.inferred and key not in ALLOWED_EXTRA:
                details.append(Detail(key, f"unknown field of {model.name}"))
            try:
                coerced[key] = check_size(value)
            except FieldError as exc:
                details.append(Detail(key, str(exc)))
            continue
        try:
            coerced[key] = coerce(f, value)
        except FieldError as exc:
            details.append(Detail(key, str(exc)))
    merged = {**(base.data if base is not None else {}), **coerced}
    for f in (f for f in model.fields.values() if f.name not in unstorable):
        if f.required and merged.get(f.name) is None and f.default is None:
            if full or f.name in values:
                details.append(Detail(f.name, "is required"))
        elif f.required and f.name in coerced and is_blank(coerced[f.name]):
            details.append(Detail(f.name, "is required (it is empty)"))
        if f.type == "media" and not _media_exists(catalog.site, coerced.get(f.name)):
            details.append(Detail(f.name, f"no media file '{coerced[f.name]}' (upload it first)"))
        if f.type == "relation" and merged.get(f.name) is not None:
            targets = merged[f.name] if f.many else [merged[f.name]]
            missing = [t for t in targets if t not in catalog.records.get(f.to, {})]
            if missing:
                details.append(Detail(f.name, f"no {f.to} with id '{missing[0]}'"))
        if f.unique and merged.get(f.name) is not None and f.name in coerced:
            other = _holder(catalog, model.name, f.name, merged[f.name], locale, record_id)
            if other:
                details.append(Detail(f.name, f"'{merged[f.name]}' is already used by {other}"))
    if details:
        raise ValidationError(f"The {model.name} is not valid", details)
    return coerced


def _unstorable(values: dict, body: str | None) -> list[Detail]:
    """What a record file cannot hold as sent (control characters, lone surrogates, NaN),
    one detail per field, found before anything else looks at the values."""
    details = []
    for key, value in values.items():
        try:
            check_text(key)
        except FieldError as exc:
            details.append(Detail(key, f"the field's name {exc}"))
            continue
        try:
            check_storable(value, key if isinstance(value, dict | list) else "")
        except FieldError as exc:
            details.append(Detail(key, str(exc)))
    if body is not None:
        try:
            check_text(body)
        except FieldError as exc:
            details.append(Detail("body", str(exc)))
    return details


def _check_reads_back(
    vellum: Vellum, model: Model, path: str, data: bytes, values: dict, body: str | None
) -> None:
    """Read the file about to be written as the site will read it: a value that would come
    back otherwise, or leave the file invalid, is a 422 naming it, and nothing is written."""
    parsed = parse(vellum.site, model, path, data)
    if isinstance(parsed, Problem):
        detail = Detail(parsed.field, f"cannot be stored as sent: {parsed.reason}")
        raise ValidationError(f"The {model.name} cannot be stored as sent", [detail])
    details = [
        Detail(key, "cannot be stored as sent: the file would read back another value")
        for key, value in values.items()
        if value is not None and key not in SYSTEM_FIELDS and parsed.data.get(key) != value
    ]
    if body is not None and (parsed.body or "").strip() != body.strip():
        details.append(Detail("body", "cannot be stored as sent: it would read back otherwise"))
    if details:
        raise ValidationError(f"The {model.name} cannot be stored as sent", details)


def _media_exists(site, value: Any) -> bool:
    """A media field names a file of the media folder (or an absolute URL elsewhere)."""
    if value is None or str(value).startswith(("https://", "http://")):
        return True
    folder = (site.root / site.media_folder).resolve()
    try:
        target = (folder / str(value)).resolve()
        return target.is_relative_to(folder) and target.is_file()
    except (ValueError, OSError):  # a NUL, a name too long for the file system
        return False


def _holder(catalog: Catalog, model: str, field: str, value, locale, record_id) -> str | None:
    for rid, variants in catalog.records.get(model, {}).items():
        rec = variants.get(locale)
        if rid != record_id and rec is not None and rec.data.get(field) == value:
            return rid
    return None


def _render_new(model: Model, values: dict, body: str | None) -> bytes:
    ordered = {n: values[n] for n in model.fields if values.get(n) is not None}
    ordered.update({k: v for k, v in values.items() if k not in model.fields and v is not None})
    if model.format == "markdown":
        return files.new_markdown(ordered, body or "")
    return files.new_json(ordered)


def _render_edit(
    model: Model, path: str, original: bytes, request: WriteRequest, values: dict
) -> bytes:
    if model.format != "markdown":
        return files.edit_json(original, values)
    try:
        return files.edit_markdown(original, values, request.body)
    except FrontMatterError as exc:
        problem = Problem(path, exc.reason, line=exc.line)
        raise Conflict(f"{problem}: replace it with PUT or fix it in Git") from exc


def _reindexed(vellum: Vellum, model: str, record_id: str, locale: str | None) -> Record:
    """The record as the index now has it (commit() has synced the written files)."""
    rec = vellum.catalog(latest=True).get(model, record_id, locale, EDITORS)
    if rec is None:  # only if the file we wrote is rejected by the whole-site checks
        raise Conflict(f"The {model} was saved but is not valid in the site; see /api/_status")
    return rec
