"""Front matter: one splitter and one YAML dialect for reading records and for editing them.

The dialect is YAML 1.2 as ruamel.yaml reads and writes it: `yes` and `on` are text, `0o17`
is 15, `017` is 17, `1e3` is 1000.0, `~` is null and `2024-01-01` a date. python-frontmatter
splits a file with this module's handler, which reads with libyaml (PyYAML's C parser: the
indexing hot path) under the very rules ruamel.yaml's own table gives for YAML 1.2, so what
is read and what is written cannot disagree. Edits go through ruamel.yaml's round-trip mode,
so the keys they do not touch keep their order, quoting, comments and layout.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import BaseHandler
from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import VersionedResolver

__all__ = ["DELIMITER", "FrontMatterError", "edit", "read", "render", "split"]

DELIMITER = "---"
_MERGE = "tag:yaml.org,2002:merge"


class FrontMatterError(ValueError):
    """Front matter that cannot be read, with the file line where the reader stopped."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def _rules(version: tuple[int, int]) -> dict[str | None, list[tuple[str, Any]]]:
    """ruamel.yaml's implicit typing rules for a YAML version: first character → (tag, regex)."""
    table = VersionedResolver(version=version).versioned_resolver
    # ruamel compiles its patterns lazily, behind a wrapper that slows every match down.
    return {
        first: [(tag, re.compile(regexp.pattern, regexp.flags)) for tag, regexp in rules]
        for first, rules in table.items()
    }


_YAML_1_2 = _rules((1, 2))
_YAML_1_1 = _rules((1, 1))


def _resolves_to_text(value: str, rules: dict) -> bool:
    for _tag, regexp in rules.get(value[:1], []) + rules.get(None, []):
        if regexp.match(value):
            return False
    return True


class _Reader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """libyaml's parser with YAML 1.2's typing rules; a key given twice is an error, as it
    is to the round-trip editor."""

    yaml_implicit_resolvers = _YAML_1_2

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        keys = [
            (key.tag, key.value)
            for key, _ in node.value
            if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE
        ]
        if len(set(keys)) != len(keys):
            _given_twice(node)
        return super().construct_mapping(node, deep)


def _given_twice(node: yaml.MappingNode) -> None:
    """Raise for the first key of this mapping that repeats one before it."""
    seen = set()
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
            continue
        if (key.tag, key.value) in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key.value!r} is given twice", key.start_mark
            )
        seen.add((key.tag, key.value))


def _construct_int(loader: _Reader, node: yaml.ScalarNode) -> int:
    """An integer as YAML 1.2 spells it: 0b, 0o and 0x prefixes; a leading zero is decimal."""
    text = loader.construct_scalar(node).replace("_", "")
    digits = text.lstrip("+-")
    base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2], 10)
    try:
        value = int(digits[2:] if base != 10 else digits, base)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not an integer", node.start_mark
        ) from None
    return -value if text.startswith("-") else value


_Reader.add_constructor("tag:yaml.org,2002:int", _construct_int)


class _Sent(str):
    """Text a write sends, as opposed to text the file already holds (which stays as it is)."""


def _sent(value: Any) -> Any:
    """The value with its text, keys included, marked as sent."""
    if isinstance(value, str):
        return _Sent(value)
    if isinstance(value, dict):
        return {_sent(key): _sent(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_sent(item) for item in value]
    return value


class _Representer(RoundTripRepresenter):
    """Writes sent values so that they read back as sent, by this dialect and by YAML 1.1
    readers (other tools reading the same files): text such as `yes` or `1:20` quoted, and
    floats with a dot (1.0e-07: a 1.1 reader takes 1e-07 for text)."""

    def represent_sent(self, data: _Sent) -> Any:
        text = str(data)
        if not (_resolves_to_text(text, _YAML_1_2) and _resolves_to_text(text, _YAML_1_1)):
            return self.represent_scalar("tag:yaml.org,2002:str", text, style="'")
        return self.represent_str(text)

    def represent_float(self, data: float) -> Any:
        mantissa, e, exponent = repr(data).partition("e")
        if math.isfinite(data) and e and "." not in mantissa:
            return self.represent_scalar("tag:yaml.org,2002:float", f"{mantissa}.0e{exponent}")
        return super().represent_float(data)


_Representer.add_representer(_Sent, _Representer.represent_sent)
_Representer.add_representer(float, _Representer.represent_float)


def _editor() -> YAML:
    editor = YAML()  # round-trip, YAML 1.2
    editor.Representer = _Representer
    editor.preserve_quotes = True
    editor.width = 4096
    editor.indent(mapping=2, sequence=4, offset=2)
    return editor


class _Handler(BaseHandler):
    """python-frontmatter's handler for Vellum's front matter: a `---` line (three dashes or
    more) opens it at the top of the file and the next such line closes it."""

    FM_BOUNDARY = re.compile(r"^-{3,}[^\S\n]*$", re.MULTILINE)
    START_DELIMITER = END_DELIMITER = DELIMITER

    def split(self, text: str) -> tuple[str, str]:
        """(front matter from the end of its opening line, the rest from the end of its
        closing line); ValueError when the text does not open with front matter."""
        before, front, rest = self.FM_BOUNDARY.split(text, 2)
        if before.strip():
            raise ValueError("the text does not open with front matter")
        return front, rest

    def load(self, fm: str, **kwargs: object) -> dict:
        try:
            meta = yaml.load(fm, Loader=_Reader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            # An unclosed bracket is found at the end; where it opened is the useful line.
            mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
            # The front matter starts on the opening line itself: its line 0 is file line 1.
            line = mark.line + 1 if mark is not None else None
            reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise FrontMatterError(f"invalid YAML front matter: {reason}", line) from exc
        if meta is None:
            return {}
        if not isinstance(meta, dict):
            raise FrontMatterError("front matter must be a mapping of fields", 2)
        return meta

    def export(self, metadata: dict[str, object], **kwargs: object) -> str:
        return render(metadata)


_HANDLER = _Handler()


def read(text: str) -> tuple[dict, str]:
    """(fields, body) of a Markdown record; FrontMatterError when its front matter is bad."""
    return frontmatter.parse(text, handler=_HANDLER)


def split(text: str) -> tuple[str | None, str]:
    """(front matter text or None when there is none, everything after it verbatim), as
    `read` splits the same text."""
    try:
        front, rest = _HANDLER.split(text)
    except ValueError:
        return None, text
    return front.removeprefix("\n"), rest.removeprefix("\n")


def render(fields: dict[str, Any]) -> str:
    """Front matter text (without its delimiter lines) for a new record's fields."""
    return _dump(_sent(fields)) if fields else ""


def edit(front: str, changes: dict[str, Any]) -> str:
    """The front matter (as `split` gives it) with keys set, or removed for None; the others
    keep their order, quoting, comments and layout. FrontMatterError for the little the
    reader takes and the round-trip editor does not (a tab after a colon)."""
    data = _load_for_edit(front) if front.strip() else None
    if data is None:
        data = {}
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[_sent(key)] = _sent(value)  # a key already there keeps its spelling
    return _dump(data) if data else ""


def _load_for_edit(front: str) -> Any:
    try:
        return _editor().load(front)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # `split` leaves out the opening line: the front matter's line 0 is file line 2.
        line = mark.line + 2 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FrontMatterError(
            f"the front matter cannot be edited in place: {reason}", line
        ) from exc


def _dump(data: Any) -> str:
    out = io.StringIO()
    _editor().dump(data, out)
    return out.getvalue()
