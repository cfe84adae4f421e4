"""vellum.yml's schema: every key Vellum reads, with its type, default and meaning, once.

The one declaration serves three ways: it checks a site's file (every mistake named with its
line, an unknown key with the known one it most resembles), it gives the code typed settings
(`Site.setting`), and it is published as JSON Schema (`vellum schema`) for editors.
Whatever needs more than vellum.yml itself to check (a rate limit's notation, a webhook's
event names, `default_model` among the inferred models) is checked where it is used.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from vellum.errors import SiteError
from vellum.site.models import FIELD_TYPES, FORMATS
from vellum.site.source import Lines, Path, line_of

CONFIG_FILE = "vellum.yml"
# Names the API itself uses: no model may take them.
RESERVED_NAMES = frozenset(
    "content media upload users search models sync keys webhooks events auth hooks apps".split()
)
MODEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# The defaults of the settings, which the code that reads them shares.
LOCKOUT_ATTEMPTS = 10
LOCKOUT_MINUTES = 15
MEDIA_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/svg+xml",
    "application/pdf",
    "video/mp4",
    "audio/mpeg",
)
MEDIA_MAX_SIZE = 10 * 1024 * 1024
ANONYMOUS = "100 per 15 minutes"
AUTHENTICATED = "1000 per 15 minutes"
ANONYMOUS_CONNECTIONS = 20
AUTHENTICATED_CONNECTIONS = 50
STATE_STORAGE = "state://"
MAX_BODY = 10 * 1024 * 1024
MAX_CONDITIONS = 100
MAX_VALUES = 1000
GRAPHQL_LENGTH = 20_000
GRAPHQL_DEPTH = 10
GRAPHQL_COMPLEXITY = 1000
DEFAULT_RETRY = {"max_attempts": 8, "backoff": 2.0, "max_delay": 3600.0}
RETENTION_DAYS = {"events": 30, "deliveries": 30, "activity": 90}
CACHE_MAX_AGE = 10
CACHE_STALE = 60

# What vellum.yml must get right for a site to load at all; a mistake anywhere else is
# reported (`vellum validate`, /api/_status, `vellum serve` refuses) and leaves that
# setting at its default while the site is served.
LOADING = ("title", "locales", "default_locale", "models")


def model_name_problem(name: str) -> str | None:
    """Why a model name cannot be used, or None."""
    if not MODEL_NAME.match(name):
        return "model names start with a letter and hold only letters, digits and _"
    if name in RESERVED_NAMES:
        return f"'{name}' is reserved by the API ({', '.join(sorted(RESERVED_NAMES))})"
    return None


# -- types ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Says:
    """How any mistake in a value reads: a template of {path}, {parent} and {value}."""

    template: str


def _text(value: Any) -> Any:
    """YAML reads `2024`, `yes` or a date as other types; where text is meant, they are text."""
    return str(value) if isinstance(value, bool | int | float | dt.date) else value


def _or_empty(value: Any) -> Any:
    """A key written with nothing after it (`fields:`) means none."""
    return () if value is None else value


def _or_default(default: Any) -> BeforeValidator:
    """A key written with nothing after it, or an empty list, means the default."""
    return BeforeValidator(lambda value: default if value is None or value == [] else value)


def _model_name(name: str) -> str:
    problem = model_name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def _storage(url: str) -> str:
    scheme = urlparse(url).scheme
    if scheme not in ("state", "memory") and not scheme.startswith("redis"):
        raise ValueError("not a rate limit storage")
    return url


Text = Annotated[str, BeforeValidator(_text)]
PositiveInt = Annotated[int, Field(strict=True, gt=0)]
PositiveNumber = Annotated[float, Field(strict=True, gt=0)]
Days = Annotated[float, Field(strict=True, ge=0)]
Seconds = Annotated[int, Field(strict=True, ge=0)]
FieldType = Literal[FIELD_TYPES]
Format = Literal[tuple(FORMATS)]
ModelName = Annotated[
    str,
    BeforeValidator(_text),
    AfterValidator(_model_name),
    WithJsonSchema({"type": "string", "pattern": MODEL_NAME.pattern}),
]
POSITIVE_INTEGER = Says("{path} must be a positive integer")
POSITIVE_NUMBER = Says("{path} must be a positive number")
BYTES = Says("{path} must be a positive number of bytes")
DAYS = Says("{path} must be a number of days (0: keep)")
SECONDS = Says("{path} must be a whole number of seconds (0 or more)")


class Section(BaseModel):
    """A mapping of vellum.yml: only its own keys; written with nothing after it, the defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty(cls, data: Any) -> Any:
        return {} if data is None else data


# -- models ----------------------------------------------------------------------------------
class FieldSpec(Section):
    """One field of a model: `{type: string, required: true}`, or just its type: `string`."""

    type: Annotated[FieldType, Says("{parent}: type must be one of " + ", ".join(FIELD_TYPES))] = (
        Field(description="What its values are.")
    )
    required: StrictBool = Field(False, description="A record without it is invalid.")
    default: Any = Field(None, description="The value a record without the field gets.")
    unique: StrictBool = Field(False, description="No two records of the model share a value.")
    values: Annotated[tuple[Text, ...], BeforeValidator(_or_empty)] = Field(
        (), description="enum: the values it may take."
    )
    of: Annotated[FieldType | None, Says("{path}: unknown type {value!r}")] = Field(
        None, description="list: the type of its items."
    )
    to: Text | None = Field(None, description="relation: the related model.")
    many: StrictBool = Field(False, description="relation: a list of related records.")

    @model_validator(mode="before")
    @classmethod
    def _empty(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"type": data}
        return {} if data is None else data

    @model_validator(mode="after")
    def _complete(self) -> FieldSpec:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum needs values")
        if self.type == "relation" and not self.to:
            raise ValueError("a relation needs 'to' (the related model)")
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        """The shorthand `title: string` is a field too."""
        full = handler.resolve_ref_schema(handler(core_schema))
        shorthand = {"enum": list(FIELD_TYPES), "description": "A field of this type."}
        return {"anyOf": [shorthand, full]}


class ModelSpec(Section):
    """A model: where its files live, their format, and their fields."""

    folder: Text | None = Field(
        None, description="Its files' folder in the site (default: the model's name)."
    )
    format: Annotated[Format, Says("{path}: expected one of markdown, json, got {value!r}")] = (
        Field("markdown", description="markdown (front matter and body) or json.")
    )
    plural: Text | None = Field(None, description="Its name in lists (default: name + s).")
    fields: Annotated[dict[str, FieldSpec], BeforeValidator(_or_empty)] = Field(
        default_factory=dict, description="Its fields by name."
    )

    @field_validator("folder")
    @classmethod
    def _inside(cls, folder: str | None) -> str | None:
        if folder is not None and ".." in PurePosixPath(folder.strip("/")).parts:
            raise ValueError("must stay inside the site folder")
        return folder


# -- settings --------------------------------------------------------------------------------
class LockoutSettings(Section):
    """Failed sign-ins that lock a user name, and for how long."""

    attempts: Annotated[PositiveInt, POSITIVE_INTEGER] = Field(
        LOCKOUT_ATTEMPTS, description="Failed sign-ins within `minutes` that lock a name."
    )
    minutes: Annotated[PositiveNumber, POSITIVE_NUMBER] = Field(
        LOCKOUT_MINUTES, description="How long a failed sign-in counts."
    )


class AuthSettings(Section):
    """Who may read without credentials, and how password guessing is slowed."""

    public_read: Annotated[StrictBool, Says("{path} must be true or false")] = Field(
        False, description="Anonymous requests may read published records."
    )
    lockout: LockoutSettings = Field(default_factory=LockoutSettings)


class MediaSettings(Section):
    """Uploaded files: where they are committed, which types and how large."""

    folder: Text = Field("media", description="The media folder in the site.")
    allowed_types: Annotated[
        tuple[Annotated[str, Field(pattern="/")], ...],
        _or_default(MEDIA_TYPES),
        Says("{path} must be a list of types like image/png"),
    ] = Field(MEDIA_TYPES, description="Types an upload may be (read from its content).")
    max_size: Annotated[PositiveInt, BYTES] = Field(
        MEDIA_MAX_SIZE, description="The largest upload, in bytes."
    )


class ConnectionSettings(Section):
    """Requests a caller may have in flight at once (an open event stream is one)."""

    anonymous: Annotated[PositiveInt, POSITIVE_INTEGER] = Field(
        ANONYMOUS_CONNECTIONS, description="Per IP."
    )
    authenticated: Annotated[PositiveInt, POSITIVE_INTEGER] = Field(
        AUTHENTICATED_CONNECTIONS, description="Per key or user (a key may set its own)."
    )


class BandwidthSettings(Section):
    """Bytes answered to a caller per period, e.g. '100 MB per 15 minutes'; none: no limit."""

    anonymous: Text | None = Field(None, description="Per IP, e.g. '100 MB per 15 minutes'.")
    authenticated: Text | None = Field(None, description="Per key or user (a key may set its own).")


class RateLimitSettings(Section):
    """Requests a caller may make ('100 per 15 minutes'), at once and in bytes, and where
    they are counted."""

    anonymous: Text = Field(ANONYMOUS, description="Per IP, e.g. '100 per 15 minutes'.")
    authenticated: Text = Field(
        AUTHENTICATED, description="Per key or user (a key may set its own)."
    )
    connections: ConnectionSettings = Field(default_factory=ConnectionSettings)
    bandwidth: BandwidthSettings = Field(default_factory=BandwidthSettings)
    storage: Annotated[
        Text,
        AfterValidator(_storage),
        Says("{path} must be state://, memory:// or a redis:// URL"),
    ] = Field(
        STATE_STORAGE,
        description="state:// (the state folder), memory:// (per process) or redis://host:6379/0.",
    )


class LimitSettings(Section):
    """How large a request may be."""

    max_body: Annotated[PositiveInt, BYTES] = Field(
        MAX_BODY, description="The largest request body, in bytes."
    )
    max_conditions: Annotated[PositiveInt, POSITIVE_INTEGER] = Field(
        MAX_CONDITIONS, description="Filter conditions in one list (REST and GraphQL)."
    )
    max_values: Annotated[PositiveInt, POSITIVE_INTEGER] = Field(
        MAX_VALUES, description="Values in one $in or $nin."
    )


class CorsSettings(Section):
    """Which web origins may call the API from a browser."""

    origins: Annotated[
        str | tuple[str, ...] | None,
        Says("{path} must be an origin, '*', or a list of origins"),
    ] = Field(None, description="An origin, '*', or a list of origins.")


class GraphQLSettings(Section):
    """The most one GraphQL query may ask, refused before it runs."""

    length: Annotated[PositiveInt, POSITIVE_INTEGER] = Field(
        GRAPHQL_LENGTH, description="Characters in a query."
    )
    depth: Annotated[PositiveInt, POSITIVE_INTEGER] = Field(
        GRAPHQL_DEPTH, description="Nested field levels."
    )
    complexity: Annotated[PositiveInt, POSITIVE_INTEGER] = Field(
        GRAPHQL_COMPLEXITY, description="Fields resolved, counted per item of the lists above."
    )


class RetrySettings(Section):
    """How long a webhook's deliveries are retried."""

    max_attempts: Annotated[PositiveInt, POSITIVE_INTEGER] = Field(
        DEFAULT_RETRY["max_attempts"], description="Attempts before an event is dead-lettered."
    )
    backoff: Annotated[PositiveNumber, POSITIVE_NUMBER] = Field(
        DEFAULT_RETRY["backoff"], description="Seconds before the first retry, doubled after."
    )
    max_delay: Annotated[PositiveNumber, POSITIVE_NUMBER] = Field(
        DEFAULT_RETRY["max_delay"], description="The longest wait between attempts, in seconds."
    )


class WebhookSettings(Section):
    """An endpoint events are POSTed to."""

    url: Text = Field(
        description="An http:// or https:// URL.", json_schema_extra={"pattern": "^https?://"}
    )
    events: Annotated[
        str | tuple[str, ...], Says("{path} must be an event name or a list of them")
    ] = Field(("*",), description="Event names, 'family.*', '*', or create/update/delete.")
    models: tuple[Text, ...] | None = Field(None, description="Only these models' events.")
    secret: Annotated[str, Field(min_length=1)] | None = Field(
        None, description="Signs each delivery; ${NAME} reads it from the environment."
    )
    retry: RetrySettings = Field(default_factory=RetrySettings)


class RetentionSettings(Section):
    """Days the state store keeps what it logs; 0 keeps for ever."""

    events: Annotated[Days, DAYS] = Field(
        RETENTION_DAYS["events"], description="Events every endpoint is done with."
    )
    deliveries: Annotated[Days, DAYS] = Field(
        RETENTION_DAYS["deliveries"], description="The delivery log."
    )
    activity: Annotated[Days, DAYS] = Field(
        RETENTION_DAYS["activity"], description="API keys' activity."
    )


class CacheSettings(Section):
    """How long shared caches (a CDN) may keep anonymous reads."""

    max_age: Annotated[Seconds, SECONDS] = Field(
        CACHE_MAX_AGE, description="Seconds an anonymous read stays fresh."
    )
    stale_while_revalidate: Annotated[Seconds, SECONDS] = Field(
        CACHE_STALE, description="Seconds more it may be served while fetched again."
    )


class SiteConfig(Section):
    """vellum.yml: a site's title, locales, models and settings."""

    title: Text | None = Field(None, description="The site's name (default: its folder's).")
    description: Text | None = Field(None, description="What the site is about.")
    models: Annotated[dict[ModelName, ModelSpec], BeforeValidator(_or_empty)] = Field(
        default_factory=dict,
        description="The models by name.",
        # For editors: a name the API uses, or one no model may have, is marked at once.
        json_schema_extra={
            "additionalProperties": False,
            "propertyNames": {"not": {"enum": sorted(RESERVED_NAMES)}},
        },
    )
    locales: Annotated[tuple[Text, ...], BeforeValidator(_or_empty)] = Field(
        (), description="The locales records may have: a file `id.<locale>.md` is one."
    )
    default_locale: Text | None = Field(
        None, description="The locale of a file without one (default: the first locale)."
    )
    default_model: Text | None = Field(
        None, description="The model a write without a type goes to (default: the first)."
    )
    auth: AuthSettings = Field(default_factory=AuthSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    graphql: GraphQLSettings = Field(default_factory=GraphQLSettings)
    webhooks: Annotated[tuple[WebhookSettings, ...], BeforeValidator(_or_empty)] = Field(
        (), description="Endpoints events are POSTed to."
    )
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    export: Text | None = Field(
        None,
        description="A folder `vellum serve` keeps a static export of the read API in"
        " (relative to the site).",
    )


# -- checking --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in vellum.yml: its line (where known) and what is wrong."""

    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{CONFIG_FILE}:{self.line}" if self.line else CONFIG_FILE
        return f"{where}: {self.message}"


class ConfigError(SiteError):
    """vellum.yml breaks its schema: every mistake, in the order of its lines."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = tuple(problems)


def check_site(document: Mapping[str, Any], lines: Lines) -> SiteConfig:
    """What a site cannot load without (title, locales, models), typed; a ConfigError
    naming every mistake in it."""
    return _validate(SiteConfig, {k: v for k, v in document.items() if k in LOADING}, (), lines)


def setting_problems(settings: Mapping[str, Any], lines: Lines) -> list[ConfigProblem]:
    """Every mistake in the rest of vellum.yml: its settings and any key Vellum does not know."""
    try:
        _validate(SiteConfig, {k: v for k, v in settings.items() if k not in LOADING}, (), lines)
    except ConfigError as exc:
        return list(exc.problems)
    return []


_MISSING = object()


def read_setting(settings: Mapping[str, Any], lines: Lines, at: Path) -> Any:
    """The setting at `at` (a section, a webhook, one key), typed, or its default when
    vellum.yml leaves it out; a ConfigError naming each mistake in it."""
    kind, default = _declared(tuple(p if isinstance(p, str) else 0 for p in at))
    raw: Any = settings
    for part in at:
        inside = (
            raw if isinstance(raw, dict) else dict(enumerate(raw)) if isinstance(raw, list) else {}
        )
        raw = inside.get(part, _MISSING)
        if raw is _MISSING:
            return default
    return _validate(kind, raw, at, lines)


@functools.lru_cache(maxsize=64)
def _declared(at: Path) -> tuple[Any, Any]:
    """The declared type at a place of SiteConfig (list positions as 0), and its default."""
    kind: Any = SiteConfig
    default: Any = None
    for part in at:
        kind, _ = _unwrap(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            info = kind.model_fields[part]
            kind = (
                Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            )
            default = info.get_default(call_default_factory=True)
        else:
            kind, default = get_args(kind)[-1 if get_origin(kind) is dict else 0], None
    return kind, default


@functools.lru_cache(maxsize=64)
def _adapter(kind: Any) -> TypeAdapter:
    return TypeAdapter(kind)


def _validate(kind: Any, raw: Any, at: Path, lines: Lines) -> Any:
    try:
        return _adapter(kind).validate_python(raw)
    except ValidationError as exc:
        found: dict[tuple, ConfigProblem] = {}
        for error in exc.errors():
            place, message = _explain(kind, error, at)
            problem = ConfigProblem(line_of(lines, place), message)
            found.setdefault((problem.line, problem.message), problem)
        ordered = sorted(found.values(), key=lambda p: p.line or 0)
        raise ConfigError(ordered) from None


def _unwrap(kind: Any) -> tuple[Any, Says | None]:
    """The type under Annotated and Optional, and the message its metadata gives mistakes."""
    says = None
    while True:
        if get_origin(kind) is Annotated:
            kind, *meta = get_args(kind)
            says = next((m for m in meta if isinstance(m, Says)), says)
        elif get_origin(kind) in (Union, types.UnionType):
            members = [m for m in get_args(kind) if m is not type(None)]
            if len(members) > 1:
                return kind, says
            kind = members[0]
        else:
            return kind, says


def _walk(kind: Any, loc: tuple) -> tuple[tuple, Says | None, Any]:
    """Follow an error's location through the declared types: how much of it names a place
    in vellum.yml (a value with a message of its own ends it), that message, and the type
    there (for an unknown key: the model that does not know it)."""
    for depth in range(len(loc) + 1):
        kind, says = _unwrap(kind)
        if says is not None or depth == len(loc):
            return loc[:depth], says, kind
        part, origin = loc[depth], get_origin(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            info = kind.model_fields.get(part)
            if info is None:
                return loc[: depth + 1], None, kind
            kind = (
                Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            )
        elif origin is dict and loc[depth + 1 : depth + 2] == ("[key]",):
            return loc[: depth + 1], None, kind
        elif origin in (dict, tuple, list):
            kind = get_args(kind)[-1 if origin is dict else 0]
        else:
            return loc[:depth], None, kind  # a member of a union: the union is the place
    return loc, None, kind


# How a value of the wrong type reads: "<path> must be …".
MUST_BE = {
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "text",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "string_too_short": "non-empty text",
}


def _explain(kind: Any, error: Any, at: Path) -> tuple[Path, str]:
    """Where in vellum.yml an error is, and what to tell the writer."""
    loc, says, there = _walk(kind, tuple(error["loc"]))
    place = at + loc
    path, parent = dotted(place), dotted(place[:-1])
    kind_of, ctx = error["type"], error.get("ctx") or {}
    if says is not None:
        return place, says.template.format(path=path, parent=parent, value=error["input"])
    if kind_of == "extra_forbidden":
        return (
            place,
            f"{parent + ': ' if parent else ''}unknown key {place[-1]!r}{_hint(place[-1], there)}",
        )
    if kind_of == "missing":
        return place, f"{parent + ': ' if parent else ''}missing {place[-1]!r}"
    if kind_of in ("value_error", "assertion_error"):
        return place, f"{path}: {ctx.get('error', error['msg'])}"
    if kind_of in ("model_type", "model_attributes_type"):
        return place, f"{path} must be a mapping of {_listed(list(there.model_fields))}"
    if kind_of in MUST_BE:
        return place, f"{path} must be {MUST_BE[kind_of]}"
    if kind_of in ("greater_than", "greater_than_equal", "literal_error"):
        bound = {"greater_than": "greater than {gt}", "greater_than_equal": "at least {ge}"}
        wanted = bound.get(kind_of, "one of {expected}").format(**ctx)
        return place, f"{path} must be {wanted}"
    return place, f"{path}: {error['msg']}"


def _hint(key: Any, model: Any) -> str:
    """' (did you mean …?)' for a key like a known one; else the keys that are known."""
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(key), known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def dotted(place: Path) -> str:
    """A place as vellum.yml's messages write it: models.post.fields.title, webhooks[0].url."""
    text = ""
    for part in place:
        if part == "[key]":
            continue
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


# -- publishing ------------------------------------------------------------------------------
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """vellum.yml's JSON Schema, for editors (yaml-language-server, VS Code's YAML)."""
    schema = _untitled(SiteConfig.model_json_schema())
    return {"$schema": SCHEMA_DIALECT, "title": CONFIG_FILE, **schema}


def _untitled(node: Any) -> Any:
    """The schema without the titles pydantic derives from class and key names."""
    if isinstance(node, dict):
        return {
            k: _untitled(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_untitled(v) for v in node]
    return node
