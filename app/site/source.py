"""vellum.yml's text read as YAML, with the line of every key, so a mistake can say where."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

# A place in the document: its keys and list positions from the top, e.g. ("models", "post").
Path = tuple[Any, ...]
Lines = Mapping[Path, int]


class YAMLProblem(ValueError):
    """Text that is not YAML: the message and the 1-based line where reading stopped."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def read(text: str) -> tuple[Any, dict[Path, int]]:
    """The document's data, and the line of each key (and list item) by its path."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YAMLProblem(str(exc), mark.line + 1 if mark else None) from exc
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    if node is not None:
        _index(node, (), lines, yaml.constructor.SafeConstructor(), set())
    return data, lines


def _index(node: yaml.Node, at: Path, lines: dict[Path, int], keys: Any, seen: set) -> None:
    """Record the line of every key and item below `node` (merge keys are already folded
    in); a node reached again through an alias is indexed once, where it was first met."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            try:
                key = keys.construct_object(key_node, deep=True)
            except yaml.YAMLError:
                continue
            if not isinstance(key, str | int | float | bool) and key is not None:
                continue  # a key that is a list or a mapping: nothing can name it
            lines.setdefault((*at, key), key_node.start_mark.line + 1)
            _index(value, (*at, key), lines, keys, seen)
    elif isinstance(node, yaml.SequenceNode):
        for number, item in enumerate(node.value):
            lines.setdefault((*at, number), item.start_mark.line + 1)
            _index(item, (*at, number), lines, keys, seen)


def line_of(lines: Lines, at: Path) -> int | None:
    """The line of `at`, else of the nearest place above it that has one."""
    for end in range(len(at), 0, -1):
        if at[:end] in lines:
            return lines[at[:end]]
    return None
