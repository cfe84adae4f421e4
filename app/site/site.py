"""A site: the folder holding vellum.yml, its models, locales and settings."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from vellum.errors import SiteError
from vellum.site.models import FIELD_TYPES, FORMATS, Field, Model
from vellum.site.nouns import plural, singular

CONFIG_FILE = "vellum.yml"
# Names the API itself uses: no model may take them.
RESERVED_NAMES = frozenset(
    "content media upload users search models sync keys webhooks events auth hooks apps".split()
)
MODEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
LOCALE_CODE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z]{2,4})?$")


@dataclass(frozen=True)
class Site:
    """Everything vellum.yml declares, plus models inferred from undeclared folders."""

    root: Path
    title: str
    models: dict[str, Model]
    locales: tuple[str, ...] = ()
    default_locale: str | None = None
    media_folder: str = "media"
    settings: dict[str, Any] = field(default_factory=dict)
    # Folders holding record files that cannot be inferred as a model: folder → why.
    unserved: dict[str, str] = field(default_factory=dict)

    @property
    def models_hash(self) -> str:
        """Changes whenever a declared model changes: the index is rebuilt then."""
        declared = {
            n: [m.folder, m.format, [f.as_dict() for f in m.fields.values()], m.inferred]
            for n, m in sorted(self.models.items())
        }
        payload = orjson.dumps([declared, self.locales, self.default_locale])
        return hashlib.sha1(payload).hexdigest()

    def model(self, name: str) -> Model | None:
        return self.models.get(name)

    def split_locale(self, stem: str) -> tuple[str, str | None]:
        """'hello.fr' → ('hello', 'fr'); a suffix counts only when it is a known locale."""
        base, dot, suffix = stem.rpartition(".")
        if not dot or not base:
            return stem, None
        known = suffix in self.locales if self.locales else bool(LOCALE_CODE.match(suffix))
        return (base, suffix) if known else (stem, None)


def load_site(root: Path | str) -> Site:
    """Read vellum.yml; if it is gone (deleted under a running server), every model is
    inferred."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise SiteError(f"Site folder {root} does not exist")
    config_path = root / CONFIG_FILE
    raw: dict[str, Any] = {}
    if config_path.exists():
        try:
            raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise SiteError(f"{CONFIG_FILE}: invalid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise SiteError(f"{CONFIG_FILE}: expected a mapping at the top level")
    models = {name: _parse_model(name, spec) for name, spec in (raw.get("models") or {}).items()}
    locales = tuple(str(x) for x in raw.get("locales") or ())
    default_locale = raw.get("default_locale") or (locales[0] if locales else None)
    media_folder = str((raw.get("media") or {}).get("folder", "media"))
    _check_relations(models)
    inferred, unserved = _inferred_models(root, models, media_folder)
    models.update(inferred)
    return Site(
        root=root,
        title=str(raw.get("title") or root.name),
        models=models,
        locales=locales,
        default_locale=default_locale,
        media_folder=media_folder,
        settings={k: v for k, v in raw.items() if k not in {"models", "title"}},
        unserved=unserved,
    )


def model_name_problem(name: str) -> str | None:
    """Why a model name cannot be used, or None."""
    if not MODEL_NAME.match(name):
        return "model names start with a letter and hold only letters, digits and _"
    if name in RESERVED_NAMES:
        return f"'{name}' is reserved by the API ({', '.join(sorted(RESERVED_NAMES))})"
    return None


def _parse_model(name: str, spec: Any) -> Model:
    where = f"{CONFIG_FILE}: models.{name}"
    problem = model_name_problem(str(name))
    if problem:
        raise SiteError(f"{where}: {problem}")
    if not isinstance(spec, dict):
        raise SiteError(f"{where}: expected a mapping with folder, format and fields")
    fmt = spec.get("format", "markdown")
    if fmt not in FORMATS:
        raise SiteError(f"{where}.format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    folder = str(spec.get("folder") or name).strip("/")
    if ".." in Path(folder).parts or Path(folder).is_absolute():
        raise SiteError(f"{where}.folder: must stay inside the site folder")
    fields = {
        fname: _parse_field(f"{where}.fields.{fname}", fname, fspec)
        for fname, fspec in (spec.get("fields") or {}).items()
    }
    return Model(name=name, folder=folder, format=fmt, fields=fields, plural=spec.get("plural"))


def _parse_field(where: str, name: str, spec: Any) -> Field:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or spec.get("type") not in FIELD_TYPES:
        raise SiteError(f"{where}: type must be one of {', '.join(FIELD_TYPES)}")
    ftype = spec["type"]
    values = tuple(str(v) for v in spec.get("values") or ())
    if ftype == "enum" and not values:
        raise SiteError(f"{where}: an enum needs values")
    if ftype == "relation" and not spec.get("to"):
        raise SiteError(f"{where}: a relation needs 'to' (the related model)")
    if ftype == "list" and spec.get("of") and spec["of"] not in FIELD_TYPES:
        raise SiteError(f"{where}.of: unknown type {spec['of']!r}")
    return Field(
        name=name,
        type=ftype,
        required=bool(spec.get("required", False)),
        default=spec.get("default"),
        unique=bool(spec.get("unique", False)),
        values=values,
        of=spec.get("of"),
        to=spec.get("to"),
        many=bool(spec.get("many", False)),
    )


def _check_relations(models: dict[str, Model]) -> None:
    for model in models.values():
        for f in model.relations():
            if f.to not in models:
                raise SiteError(
                    f"{CONFIG_FILE}: models.{model.name}.fields.{f.name}: "
                    f"relation to unknown model {f.to!r}"
                )


def _inferred_models(
    root: Path, declared: dict[str, Model], media: str
) -> tuple[dict[str, Model], dict[str, str]]:
    """Each top-level folder with records but no model becomes a model of its own, named
    as the singular of the folder (`testimonials/` → `testimonial`); the folders that
    cannot (their name is not usable, or its model is taken) are returned with why."""
    claimed = {m.folder.split("/")[0] for m in declared.values()} | {media}
    inferred: dict[str, Model] = {}
    unserved: dict[str, str] = {}
    for entry in sorted(root.iterdir()):
        name = entry.name
        if not entry.is_dir() or name in claimed or name.startswith((".", "_")):
            continue
        fmt = _folder_format(entry)
        if not fmt:
            continue
        model = singular(name) if MODEL_NAME.match(name) else name
        why = _not_inferable(name, model, declared, inferred)
        if why:
            unserved[name] = why
            continue
        inferred[model] = Model(
            name=model, folder=name, format=fmt, plural=_list_name(name, model), inferred=True
        )
    return inferred, unserved


def _not_inferable(
    folder: str, model: str, declared: dict[str, Model], inferred: dict[str, Model]
) -> str | None:
    """Why a folder cannot become the model `model`, or None."""
    for name in dict.fromkeys((folder, model)):
        if name in declared:
            where = declared[name].folder
            return f"not served: the model '{name}' is declared with folder '{where}'"
    if model in inferred:
        return f"not served: the folder '{inferred[model].folder}' is already the model '{model}'"
    problem = model_name_problem(folder) or model_name_problem(model)
    if problem is None:
        return None
    camel = _camel(folder)
    suggestion = singular(camel)
    if model_name_problem(camel) or model_name_problem(suggestion):
        suggestion = "<name>"
    return (
        f"not served: {problem}; declare a model for it in {CONFIG_FILE}:"
        f" models: {{{suggestion}: {{folder: {folder}}}}} (or name it _{folder} to keep it out)"
    )


def _list_name(folder: str, model: str) -> str:
    """The folder's own name when it is the plural; else the model's plural ('newsList' for
    a word whose plural is itself)."""
    if folder != model:
        return folder
    many = plural(model)
    return many if many != model else f"{model}List"


def _camel(name: str) -> str:
    """'blog-posts' → 'blogPosts', a model name to suggest for a folder."""
    first, *rest = re.split(r"[^A-Za-z0-9]+", name) or [""]
    return first + "".join(w[:1].upper() + w[1:] for w in rest)


def _folder_format(folder: Path) -> str | None:
    counts = {fmt: 0 for fmt in FORMATS}
    for path in folder.rglob("*"):
        for fmt, exts in FORMATS.items():
            if path.suffix in exts:
                counts[fmt] += 1
    best = max(counts, key=counts.get)
    return best if counts[best] else None
