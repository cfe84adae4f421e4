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
# Compressed, most values fit inside LMDB's 4 KB pages instead of an overflow page each:
# fewer pages to map and keep in the page cache. Level 1: writing is on the build's path.
LEVEL = 1


class Bodies:
    """Body text by blob sha (written with the records index), HTML by blob sha (a cache
    filled by whichever process renders a body first)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._env: lmdb.Environment | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _open(self) -> tuple[lmdb.Environment, object, object]:
        env = self._env
        if env is None or self._pid != os.getpid():
            with self._lock:
                if self._env is None or self._pid != os.getpid():
                    if self._env is not None:  # inherited through a fork: never used here
                        self._env.close()
                    private_folder(self.folder)
                    self._env = lmdb.open(
                        str(self.folder),
                        map_size=MAP_SIZE,
                        max_dbs=2,
                        mode=PRIVATE_FILE,
                        readahead=False,  # random reads: do not pull in neighbours' pages
                        max_readers=1024,
                        sync=False,  # put_many syncs itself; a lost HTML is rendered again
                    )
                    self._dbs = (
                        self._env.open_db(_BODIES),
                        self._env.open_db(_HTML),
                    )
                    self._pid = os.getpid()
                env = self._env
        return env, *self._dbs

    def close(self) -> None:
        with self._lock:
            if self._env is not None and self._pid == os.getpid():
                self._env.close()
            self._env = None

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
