"""Record files as bytes: new ones, and edits that keep everything they do not change.

A Markdown edit goes through ruamel.yaml's round-trip mode (see `front_matter`), so the
keys it does not touch keep their order, quoting, comments and layout, and the body stays
byte for byte unless the write replaces it. Files reach the disk atomically (a temporary
file in the same folder, fsync, rename), so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vellum.store import front_matter
from vellum.store.front_matter import DELIMITER


def new_markdown(fields: dict[str, Any], body: str) -> bytes:
    """A Markdown record: YAML front matter, then the body."""
    text = front_matter.render(fields)
    return f"{DELIMITER}\n{text}{DELIMITER}\n\n{body.strip()}\n".encode()


def edit_markdown(original: bytes, changes: dict[str, Any], body: str | None) -> bytes:
    """Set (or, for None, remove) front matter keys; replace the body only if given."""
    text = original.decode("utf-8")
    front, rest = front_matter.split(text)
    if front is None:  # no front matter: the whole text is the body
        rest = f"\n{text}" if text else ""
    if body is not None:
        rest = f"\n{body.strip()}\n"
    fields = front_matter.edit(front or "", changes)
    return f"{DELIMITER}\n{fields}{DELIMITER}\n{rest}".encode()


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
