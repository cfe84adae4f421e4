"""Record files as bytes: new ones, and edits that keep everything they do not change.

A Markdown edit goes through ruamel.yaml's round-trip mode, so the keys it does not
touch keep their order, quoting, comments and layout, and the body stays byte for byte
unless the write replaces it. Files reach the disk atomically (a temporary file in the
same folder, fsync, rename), so a crash never leaves half a file.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter

from vellum.store.records import reads_as_text

DELIMITER = "---"


class _Representer(RoundTripRepresenter):
    """Writes YAML that the front matter reader (YAML 1.1, where ruamel writes 1.2) reads
    back as written: strings such as `yes` or `1:20` quoted, and floats with a dot
    (1.0e-07: a 1.1 reader takes 1e-07 for a string)."""

    def represent_str(self, data: str) -> Any:
        if not reads_as_text(data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
        return super().represent_str(data)

    def represent_float(self, data: float) -> Any:
        mantissa, e, exponent = repr(data).partition("e")
        if math.isfinite(data) and e and "." not in mantissa:
            return self.represent_scalar("tag:yaml.org,2002:float", f"{mantissa}.0e{exponent}")
        return super().represent_float(data)


_Representer.add_representer(str, _Representer.represent_str)
_Representer.add_representer(float, _Representer.represent_float)


def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.Representer = _Representer
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def new_markdown(fields: dict[str, Any], body: str) -> bytes:
    """A Markdown record: YAML front matter, then the body."""
    text = _dump(fields) if fields else ""
    return f"{DELIMITER}\n{text}{DELIMITER}\n\n{body.strip()}\n".encode()


def edit_markdown(original: bytes, changes: dict[str, Any], body: str | None) -> bytes:
    """Set (or, for None, remove) front matter keys; replace the body only if given."""
    front, rest = split_front_matter(original.decode("utf-8"))
    data = _yaml().load(front) if front.strip() else None
    if data is None:
        data = {}
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    if body is not None:
        rest = f"\n{body.strip()}\n"
    text = _dump(data) if data else ""
    return f"{DELIMITER}\n{text}{DELIMITER}\n{rest}".encode()


def split_front_matter(text: str) -> tuple[str, str]:
    """(front matter text, everything after its closing delimiter line, verbatim)."""
    if not text.startswith(DELIMITER):
        return "", "\n" + text if text else ""
    first_newline = text.find("\n")
    if first_newline < 0:
        return "", ""
    position = first_newline + 1
    while position <= len(text):
        end = text.find("\n", position)
        line = text[position:] if end < 0 else text[position:end]
        if line.rstrip() == DELIMITER:
            return text[first_newline + 1 : position], "" if end < 0 else text[end + 1 :]
        if end < 0:
            break
        position = end + 1
    return "", text


def new_json(fields: dict[str, Any]) -> bytes:
    return (json.dumps(fields, indent=2, ensure_ascii=False) + "\n").encode()


def edit_json(original: bytes, changes: dict[str, Any]) -> bytes:
    """Set or remove keys, keeping the others in their order."""
    data = json.loads(original.decode("utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return new_json(data)


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def remove_leftovers(path: Path) -> None:
    """Temporary files a killed write_atomically left beside `path`."""
    if path.parent.is_dir():
        for leftover in path.parent.glob(f".{path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _dump(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()
