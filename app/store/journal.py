"""API writes as commits, one at a time and journalled: a killed write leaves no half.

Every write holds the site's write lock (an flock in the state folder, so threads and
processes queue, and a killed process lets go at once). Before touching a file it notes
its intent in a journal; the next start (before the server answers) or write finishes or
undoes a write that was killed half way, so the work tree never keeps an uncommitted half
of an API write.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from vellum.store import files, flock
from vellum.store.git import HeadMoved
from vellum.store.records import blob_sha
from vellum.store.state import PRIVATE_FILE
from vellum.store.write_request import check_message

if TYPE_CHECKING:
    from vellum.services import Vellum

LOCK_TIMEOUT = 30.0


@contextlib.contextmanager
def write_lock(vellum: Vellum) -> Iterator[None]:
    """Serialise writes across threads and processes; recover a killed write first."""
    busy = "Another write is taking too long; try again"
    with flock.locked(vellum.state_dir / "write.lock", LOCK_TIMEOUT, busy):
        recover(vellum)
        yield


def recover_at_start(vellum: Vellum) -> bool:
    """Finish or undo a killed write before anything reads the files (the index, a
    request): an untracked half of a write must never be served. True if there was one."""
    busy = "Another write is taking too long; try again"
    with flock.locked(vellum.state_dir / "write.lock", LOCK_TIMEOUT, busy):
        return recover(vellum)


def _journal(vellum: Vellum) -> Path:
    return vellum.state_dir / "write.journal"


def recover(vellum: Vellum) -> bool:
    """Finish or undo a write that was interrupted; True if there was one."""
    journal = _journal(vellum)
    if not journal.exists():
        return False
    try:
        note = json.loads(journal.read_text())
    except ValueError:
        journal.unlink()
        return False
    repo = vellum.repo
    for path, (old, new) in note["files"].items():
        target = repo.root / path
        files.remove_leftovers(target)
        if repo.committed_blob(path) == new:
            # The commit landed (the file was written before it): align the index entry.
            repo.stage_in_index([(path, new)])
            continue
        if old is None:
            files.remove(target)
        else:
            files.write_atomically(target, repo.blob(old))
    journal.unlink()
    return True


def _note(vellum: Vellum, changes: dict[str, tuple[str | None, str | None]]) -> None:
    tmp = _journal(vellum).with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps({"files": changes}))
    os.replace(tmp, _journal(vellum))


def repo_path(vellum: Vellum, path: str) -> str:
    prefix = vellum.repo.relative(vellum.site.root)
    return f"{prefix}/{path}" if prefix else path


def commit(vellum: Vellum, changes: dict[str, bytes | None], message: str, author) -> str:
    """Journal, write the files, commit them, reindex them; undo the files on failure.

    A write that would leave every file as it is makes no commit.

    Only the written paths (and whatever the new commit touched) are synced: a write
    never stats the whole site.
    """
    check_message(message)
    site_root, repo = vellum.site.root, vellum.repo
    before = {}
    for path in changes:
        target = site_root / path
        before[path] = target.read_bytes() if target.exists() else None
    if all(before[p] == d for p, d in changes.items()):
        return repo.head()  # nothing changes: no empty commit, no events
    repo_changes = {repo_path(vellum, p): d for p, d in changes.items()}
    _note(
        vellum,
        {
            repo_path(vellum, p): [
                blob_sha(before[p]) if before[p] is not None else None,
                blob_sha(d) if d is not None else None,
            ]
            for p, d in changes.items()
        },
    )
    try:
        for path, data in changes.items():
            if data is None:
                files.remove(site_root / path)
            else:
                files.write_atomically(site_root / path, data)
        for attempt in range(5):
            try:
                sha = repo.commit_files(repo_changes, message, author)
                break
            except HeadMoved:
                if attempt == 4:
                    raise
    except BaseException:
        for path, data in before.items():
            if data is None:
                files.remove(site_root / path)
            else:
                files.write_atomically(site_root / path, data)
        raise
    finally:
        _journal(vellum).unlink(missing_ok=True)
    vellum.sync(paths=changes.keys())
    return sha
