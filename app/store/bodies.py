"""Record bodies and their rendered HTML, kept once on disk by blob sha for every process.

A blob sha never changes meaning, so a body written once is right for ever, and every
server process reads the same pages through the OS page cache instead of holding its own
copy of every body in Python. LMDB: memory-mapped, readers never wait, one writer at a time
across processes. The environment is opened lazily in each process (never across a fork).
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import lmdb

from vellum.store.state import PRIVATE_FILE, private_folder

# Address space, not disk: the file grows only with what is written.
MAP_SIZE = 1 << 36
_BODIES = b"bodies"
_HTML = b"html"
_IDENTITY = b"identity"
# Compressed, most values fit inside LMDB's 4 KB pages instead of an overflow page each:
# fewer pages to map and keep in the page cache. Level 1: writing is on the build's path.
LEVEL = 1


class _Shared:
    """One LMDB environment per folder per process (LMDB allows no second one), shared
    by every Bodies on that folder and closed when the last of them is."""

    def __init__(self, folder: Path) -> None:
        private_folder(folder)
        self.pid = os.getpid()
        self.users = 0
        self.env = lmdb.open(
            str(folder),
            map_size=MAP_SIZE,
            max_dbs=2,
            mode=PRIVATE_FILE,
            readahead=False,  # random reads: do not pull in neighbours' pages
            max_readers=1024,
            sync=False,  # put_many syncs itself; a lost HTML is rendered again
        )
        self.bodies = self.env.open_db(_BODIES)
        self.html = self.env.open_db(_HTML)


_SHARED: dict[str, _Shared] = {}
_SHARED_LOCK = threading.Lock()


def _acquire(folder: Path) -> _Shared:
    key = os.path.realpath(folder)
    with _SHARED_LOCK:
        shared = _SHARED.get(key)
        if shared is not None and shared.pid != os.getpid():
            shared.env.close()  # inherited through a fork: this process opens its own
            shared = None
        if shared is None:
            shared = _SHARED[key] = _Shared(folder)
        shared.users += 1
        return shared


def _release(folder: Path, shared: _Shared) -> None:
    with _SHARED_LOCK:
        shared.users -= 1
        if shared.users == 0 and _SHARED.get(os.path.realpath(folder)) is shared:
            del _SHARED[os.path.realpath(folder)]
            shared.env.close()


class Bodies:
    """Body text by blob sha (written with the records index), HTML by blob sha (a cache
    filled by whichever process renders a body first)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._shared: _Shared | None = None
        self._lock = threading.Lock()

    def _open(self) -> tuple[lmdb.Environment, object, object]:
        shared = self._shared
        if shared is None or shared.pid != os.getpid():
            with self._lock:
                if self._shared is None or self._shared.pid != os.getpid():
                    self._shared = _acquire(self.folder)
                shared = self._shared
        return shared.env, shared.bodies, shared.html

    def close(self) -> None:
        with self._lock:
            if self._shared is not None and self._shared.pid == os.getpid():
                _release(self.folder, self._shared)
            self._shared = None

    def identity(self) -> str:
        """A name made when the store is created: the records index notes it, so a body
        store that was deleted or replaced is noticed (and the index rebuilt) at the
        next sync rather than served as records without their bodies."""
        env, _, _ = self._open()
        with env.begin() as txn:
            found = txn.get(_IDENTITY)
        if found is None:
            with env.begin(write=True) as txn:
                txn.put(_IDENTITY, os.urandom(16).hex().encode(), overwrite=False)
                found = txn.get(_IDENTITY)
            env.sync(True)
        return found.decode()

    def put_many(self, bodies: Iterable[tuple[str, str]]) -> None:
        """Store bodies (sha, text) in one durable transaction; known shas are skipped."""
        items = [(sha.encode(), zlib.compress(text.encode(), LEVEL)) for sha, text in bodies]
        if not items:
            return
        env, db, _ = self._open()
        with env.begin(write=True, db=db) as txn:
            for key, value in items:
                txn.put(key, value, overwrite=False)
        env.sync(True)  # on disk before the records index that names these shas commits

    def get(self, sha: str) -> str | None:
        env, db, _ = self._open()
        with env.begin(db=db) as txn:
            found = txn.get(sha.encode())
        return None if found is None else zlib.decompress(found).decode()

    def html(self, sha: str, render: Callable[[], str]) -> str:
        """The HTML of this body, rendered (by `render`) and kept the first time it is asked."""
        env, _, db = self._open()
        key = sha.encode()
        with env.begin(db=db) as txn:
            found = txn.get(key)
        if found is not None:
            return zlib.decompress(found).decode()
        html = render()
        with env.begin(write=True, db=db) as txn:
            txn.put(key, zlib.compress(html.encode(), LEVEL), overwrite=False)
        return html
