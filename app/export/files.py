"""Files of an export: where a URL path lands in the folder, and writes a static server
never sees half done."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote

from vellum.errors import BadRequest


def digest(data: bytes) -> str:
    """The sha256 the manifest lists for a file."""
    return hashlib.sha256(data).hexdigest()


def relative(url_path: str) -> str:
    """The file a URL path is served from, relative to the export folder: decoded, as a
    static server decodes it; a path that would leave the folder is refused."""
    parts = unquote(url_path).lstrip("/").split("/")
    if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        raise BadRequest(f"{url_path!r} cannot be a file of the export")
    return "/".join(parts)


def target(root: Path, rel: str) -> Path:
    """The file `rel` inside `root`, checked once more to stay inside it."""
    path = root.joinpath(*rel.split("/"))
    if not path.resolve().is_relative_to(root.resolve()):
        raise BadRequest(f"{rel!r} is outside the export folder")
    return path


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """A temporary file beside the target, then a rename: readers see the old bytes or
    the new ones, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, mode)  # 0o644: a static server runs as someone else
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def remove(root: Path, rel: str) -> None:
    """Delete a file that is no longer exported, and the folders it leaves empty."""
    path = target(root, rel)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    folder = path.parent
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            break
        folder = folder.parent


def sha_on_disk(root: Path, rel: str) -> str | None:
    """The sha256 of a file already in the folder, None when there is none."""
    try:
        return digest(target(root, rel).read_bytes())
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
