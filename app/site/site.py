"""A site: the folder holding vellum.yml, its models, locales and settings."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vellum.errors import SiteError
from vellum.site import source
from vellum.site.models import FORMATS, Field, Model
from vellum.site.nouns import plural, singular
from vellum.site.schema import (
    CONFIG_FILE,
    MODEL_NAME,
    ConfigError,
    ConfigProblem,
    FieldSpec,
    ModelSpec,
    check_site,
    model_name_problem,
    read_setting,
    setting_problems,
)
from vellum.site.schema import RESERVED_NAMES as RESERVED_NAMES  # the API routes around them

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
    # The line of each key of vellum.yml, by its path: ("models", "post", "format") → 12.
    lines: Mapping[tuple, int] = field(default_factory=dict, compare=False, repr=False)

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

    def setting(self, *at: str | int) -> Any:
        """A setting of vellum.yml, typed as its schema declares (a section such as
        `setting("media")`, a webhook, one key), or its default when the file leaves it out;
        a ConfigError naming each mistake in it and its line."""
        return read_setting(self.settings, self.lines, at)

    def setting_problems(self) -> list[ConfigProblem]:
        """Every mistake in vellum.yml's settings, unknown keys included, with its line."""
        return setting_problems(self.settings, self.lines)

    def line_of(self, at: tuple) -> int | None:
        """The line of vellum.yml that holds `at` (else the nearest key above it)."""
        return source.line_of(self.lines, at)


def load_site(root: Path | str) -> Site:
    """Read vellum.yml; if it is gone (deleted under a running server), every model is
    inferred. A mistake in its title, locales or models is a ConfigError: the site cannot
    be served that way."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise SiteError(f"Site folder {root} does not exist")
    raw, lines = _read_config(root / CONFIG_FILE)
    config = check_site(raw, lines)
    models = {name: _model(name, spec) for name, spec in config.models.items()}
    _check_relations(models, lines)
    locales = config.locales
    media_folder = _media_folder(raw.get("media"))
    inferred, unserved = _inferred_models(root, models, media_folder)
    models.update(inferred)
    return Site(
        root=root,
        title=config.title or root.name,
        models=models,
        locales=locales,
        default_locale=config.default_locale or (locales[0] if locales else None),
        media_folder=media_folder,
        settings={k: v for k, v in raw.items() if k not in {"models", "title"}},
        unserved=unserved,
        lines=lines,
    )


def _read_config(path: Path) -> tuple[dict[str, Any], source.Lines]:
    """vellum.yml's mapping and the line of each key; none when there is no file."""
    if not path.exists():
        return {}, {}
    try:
        raw, lines = source.read(path.read_text(encoding="utf-8"))
    except source.YAMLProblem as exc:
        raise ConfigError([ConfigProblem(exc.line, f"invalid YAML: {exc}")]) from exc
    if raw is None:
        return {}, lines
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(None, "expected a mapping at the top level")])
    return raw, lines


def _media_folder(section: Any) -> str:
    """Where uploads live: read as the site loads, so that a mistake elsewhere in `media:`
    (which `vellum validate` reports) does not serve the media folder as a model."""
    folder = section.get("folder", "media") if isinstance(section, dict) else "media"
    return str(folder)


def _model(name: str, spec: ModelSpec) -> Model:
    fields = {fname: _field(fname, fspec) for fname, fspec in spec.fields.items()}
    folder = (spec.folder or name).strip("/")
    return Model(name=name, folder=folder, format=spec.format, fields=fields, plural=spec.plural)


def _field(name: str, spec: FieldSpec) -> Field:
    return Field(
        name=name,
        type=spec.type,
        required=spec.required,
        default=spec.default,
        unique=spec.unique,
        values=spec.values,
        of=spec.of,
        to=spec.to,
        many=spec.many,
    )


def _check_relations(models: dict[str, Model], lines: source.Lines) -> None:
    """A relation names a declared model: else a ConfigError naming each that does not."""
    wrong = [
        ConfigProblem(
            source.line_of(lines, ("models", model.name, "fields", f.name, "to")),
            f"models.{model.name}.fields.{f.name}: relation to unknown model {f.to!r}",
        )
        for model in models.values()
        for f in model.relations()
        if f.to not in models
    ]
    if wrong:
        raise ConfigError(sorted(wrong, key=lambda p: p.line or 0))


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
