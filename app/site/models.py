"""Models and fields: the declared shape of records, and how raw values become typed ones."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

FIELD_TYPES = (
    "string",
    "text",
    "markdown",
    "integer",
    "number",
    "boolean",
    "date",
    "datetime",
    "enum",
    "list",
    "object",
    "relation",
    "media",
)
TEXT_TYPES = {"string", "text", "markdown", "enum", "media"}
FORMATS = {"markdown": (".md", ".markdown"), "json": (".json",)}
# Keys every record carries that no model declares.
SYSTEM_FIELDS = ("id", "type", "locale", "createdAt", "updatedAt", "version")


class FieldError(ValueError):
    """A value that does not fit its field; the message says what was expected."""


@dataclass(frozen=True)
class Field:
    """One declared (or inferred) field of a model."""

    name: str
    type: str
    required: bool = False
    default: Any = None
    unique: bool = False
    values: tuple[str, ...] = ()
    of: str | None = None
    to: str | None = None
    many: bool = False

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.required:
            out["required"] = True
        if self.default is not None:
            out["default"] = self.default
        if self.unique:
            out["unique"] = True
        if self.values:
            out["values"] = list(self.values)
        if self.of:
            out["of"] = self.of
        if self.to:
            out["to"] = self.to
            out["many"] = self.many
        return out


@dataclass(frozen=True)
class Model:
    """A kind of record: where its files live, their format, and their fields."""

    name: str
    folder: str
    format: str
    fields: dict[str, Field] = field(default_factory=dict)
    plural: str | None = None
    inferred: bool = False

    @property
    def list_name(self) -> str:
        return self.plural or f"{self.name}s"

    @property
    def extensions(self) -> tuple[str, ...]:
        return FORMATS[self.format]

    def relations(self) -> list[Field]:
        return [f for f in self.fields.values() if f.type == "relation"]


# JSON has no limit on integers, but the index, the events and most clients do: orjson
# writes 64 bits (JavaScript is exact to 2**53 only).
INT_RANGE = (-(2**63), 2**64 - 1)


def coerce(f: Field, value: Any) -> Any:
    """Turn a raw value from a file into the field's JSON-ready typed value, or raise."""
    if value is None:
        return None
    return check_size(_COERCERS[f.type](f, value))


def check_size(value: Any) -> Any:
    """The value, if every integer in it fits in 64 bits; else FieldError."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise FieldError(f"the integer {value} is too large (more than 64 bits)")
    elif isinstance(value, dict):
        for item in value.values():
            check_size(item)
    elif isinstance(value, list):
        for item in value:
            check_size(item)
    return value


# What text in a record cannot hold: control characters but tab, line feed and carriage
# return (NUL among them; YAML reads U+0085 as a line break), and lone UTF-16 surrogates,
# which are not Unicode text and have no UTF-8 form.
UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def check_storable(value: Any, where: str = "") -> Any:
    """The value, if a record file holds it exactly as sent; else FieldError saying where
    (`where` names the position inside a list or object: `tags[2]`, `seo.title`)."""
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, float) and not math.isfinite(value):
        raise FieldError(f"{_at(where)}{value} is not a number a record can hold")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key), f"{where} key {str(key)!r}" if where else f"key {str(key)!r}")
            check_storable(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for number, item in enumerate(value):
            check_storable(item, f"{where}[{number}]")
    return value


def check_text(text: str, where: str = "", holder: str = "a record") -> str:
    """The text, if it holds no character a record (or a commit message) cannot hold."""
    bad = UNSTORABLE.search(text)
    if bad is None:
        return text
    char = bad.group()
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        what = f"a lone surrogate ({code}), which is not Unicode text"
    elif char == "\0":
        what = f"a NUL character ({code}), which {holder} cannot hold"
    else:
        what = (
            f"the control character {code}, which {holder} cannot hold "
            "(tab, line feed and carriage return are the only ones allowed)"
        )
    raise FieldError(f"{_at(where)}contains {what}")


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def coerce_record(fields: dict[str, Field], raw: dict[str, Any]) -> tuple[dict, list[tuple]]:
    """Coerce every declared field; keep undeclared keys as they are. Returns (data, errors)."""
    data: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for name, f in fields.items():
        value = raw.get(name)
        if value is None and f.default is not None:
            value = f.default
        if value is None:
            if f.required:
                errors.append((name, "is required"))
            data[name] = [] if f.type == "list" or (f.type == "relation" and f.many) else None
            continue
        try:
            data[name] = coerce(f, value)
        except FieldError as exc:
            errors.append((name, str(exc)))
            continue
        if f.required and is_blank(data[name]):
            errors.append((name, "is required (it is empty)"))
    for name, value in raw.items():
        if name not in fields and name not in SYSTEM_FIELDS:
            try:
                data[name] = check_size(to_json_value(value))
            except FieldError as exc:
                errors.append((name, str(exc)))
    return data, errors


def is_blank(value: Any) -> bool:
    """An empty or all-space string: no value for a required field."""
    return isinstance(value, str) and not value.strip()


def to_json_value(value: Any) -> Any:
    """Make YAML values (dates, nested structures) JSON-ready without judging their type."""
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    return value


def format_datetime(value: dt.datetime) -> str:
    """One canonical form so that datetimes compare as strings: UTC, seconds, 'Z'."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    fraction = f".{value.microsecond:06d}" if value.microsecond else ""
    # The year by hand: strftime's %Y drops the zeros of a year before 1000 ("98-04-25").
    return f"{value.year:04d}-{value:%m-%dT%H:%M:%S}{fraction}Z"


def parse_datetime(value: Any) -> str:
    """Accept a datetime, a date or an ISO 8601 string; return the canonical UTC string."""
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return format_datetime(dt.datetime(value.year, value.month, value.day))
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return parse_datetime(dt.date.fromisoformat(text))
            return format_datetime(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            pass
    raise FieldError(f"expected a datetime (ISO 8601), got {value!r}")


def parse_date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        raise FieldError(f"expected a date (YYYY-MM-DD), got a datetime {value.isoformat()}")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise FieldError(f"expected a date (YYYY-MM-DD), got {value!r}")


def _string(f: Field, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(f"expected a string, got {_kind(value)}")
    return str(value)


def _integer(f: Field, value: Any) -> int:
    if isinstance(value, bool):
        raise FieldError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise FieldError(f"expected an integer, got {_kind(value)} {value!r}")


def _number(f: Field, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(f"expected a number, got {_kind(value)} {value!r}")
    return value


def _boolean(f: Field, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldError(f"expected true or false, got {value!r}")
    return value


def _enum(f: Field, value: Any) -> str:
    if not isinstance(value, str) or value not in f.values:
        raise FieldError(f"expected one of {', '.join(f.values)}, got {value!r}")
    return value


def _list(f: Field, value: Any) -> list:
    if not isinstance(value, list):
        raise FieldError(f"expected a list, got {_kind(value)}")
    if not f.of:
        return [to_json_value(v) for v in value]
    item = Field(name=f.name, type=f.of)
    try:
        return [coerce(item, v) for v in value]
    except FieldError as exc:
        raise FieldError(f"list item: {exc}") from exc


def _object(f: Field, value: Any) -> dict:
    if not isinstance(value, dict):
        raise FieldError(f"expected an object, got {_kind(value)}")
    return to_json_value(value)


def _relation(f: Field, value: Any) -> str | list[str]:
    if f.many:
        if not isinstance(value, list):
            raise FieldError(f"expected a list of {f.to} ids, got {_kind(value)}")
        return [_relation_id(f, v) for v in value]
    return _relation_id(f, value)


def _relation_id(f: Field, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise FieldError(f"expected a {f.to} id, got {value!r}")
    return str(value)


def _media(f: Field, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise FieldError(f"expected a media path, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


_COERCERS = {
    "string": _string,
    "text": _string,
    "markdown": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "date": lambda f, v: parse_date(v),
    "datetime": lambda f, v: parse_datetime(v),
    "enum": _enum,
    "list": _list,
    "object": _object,
    "relation": _relation,
    "media": _media,
}


def infer_type(values: list[Any]) -> str:
    """Guess a field's type from the values seen in files, as a folder without a model needs."""
    kinds = {_infer_one(v) for v in values if v is not None}
    if not kinds:
        return "string"
    if kinds == {"integer", "number"}:
        return "number"
    if len(kinds) == 1:
        return kinds.pop()
    return "string" if kinds <= {"string", "text"} else "object"


def _infer_one(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        if _looks_like(dt.date.fromisoformat, value) and len(value) == 10:
            return "date"
        if _looks_like(lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00")), value):
            return "datetime"
        return "text" if len(value) > 200 or "\n" in value else "string"
    return "string"


def _looks_like(parser, value: str) -> bool:
    try:
        parser(value)
    except ValueError:
        return False
    return True
