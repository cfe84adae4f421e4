"""Counts shared by every process of a site, in one small memory-mapped file.

Rate limits are checked on every request: a SQLite write transaction each time costs more
than the answer it guards. Here a count is a slot of a fixed-size hash table in
`<state>/tally.bin`; a change is a few bytes written under an exclusive `flock` (and a
thread lock, since threads of one process share the file), so it is exact across the
server's processes and threads alike. Each slot holds a key's 16-byte digest, its count
and when it ends; an ended slot is free for any key. A key probes at most PROBES slots
from its home; when all of them are live, the one that ends first gives way.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from pathlib import Path

SLOTS = 1 << 16  # 2 MiB: room for tens of thousands of callers at once
PROBES = 64
SLOT = struct.Struct("<16sqd")  # digest, count, ends at (Unix time)
EMPTY = bytes(16)


class Tally:
    """A shared table of counts that end: windows of a rate limit, requests in flight."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pid = 0
        self._open()

    def _open(self) -> None:
        """Open the file in this process: a lock taken through a descriptor inherited
        across fork() would be one lock for parent and child, excluding neither."""
        size = SLOTS * SLOT.size
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size != size:  # new (or from an older layout): start empty
                os.ftruncate(fd, 0)
                os.ftruncate(fd, size)
            fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._pid = fd, os.getpid()

    def add(self, key: str, amount: int, seconds: float, renew: bool = False) -> tuple[int, float]:
        """Add `amount` to the key's count and return (count, ends at). A key with no live
        count starts one that ends in `seconds`; with `renew`, every change pushes its end
        to `seconds` from now (a count of things in progress, not a window)."""
        now, digest = time.time(), _digest(key)
        with self._locked():
            at, count, ends = self._find(digest, now)
            if ends <= now:
                count, ends = 0, now + seconds
            elif renew:
                ends = now + seconds
            count = max(count + amount, 0)
            SLOT.pack_into(self._map, at, digest, count, ends if count or not renew else 0)
            return count, ends

    def get(self, key: str) -> tuple[int, float]:
        """The key's live count and when it ends; (0, now) when it has none."""
        now = time.time()
        with self._locked():
            _, count, ends = self._find(_digest(key), now)
        return (count, ends) if ends > now else (0, now)

    def check(self) -> bool:
        """The file can be locked and read."""
        with self._locked():
            return len(self._map[: SLOT.size]) == SLOT.size

    def clear(self) -> None:
        """Forget every count."""
        with self._locked():
            self._map[:] = bytes(len(self._map))

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    def _find(self, digest: bytes, now: float) -> tuple[int, int, float]:
        """The key's slot (offset, count, end), or a free one to take (count 0, ended)."""
        home = int.from_bytes(digest[:8], "little") % SLOTS
        start, stop = home * SLOT.size, min(home + PROBES, SLOTS) * SLOT.size
        at = self._map.find(digest, start, stop)
        while at != -1 and at % SLOT.size:  # a match must start a slot
            at = self._map.find(digest, at + 1, stop)
        if at != -1:
            _, count, ends = SLOT.unpack_from(self._map, at)
            return at, count, ends
        oldest, oldest_end = start, float("inf")
        for at in range(start, stop, SLOT.size):
            _, _, ends = SLOT.unpack_from(self._map, at)
            if ends <= now:
                return at, 0, 0.0
            if ends < oldest_end:
                oldest, oldest_end = at, ends
        return oldest, 0, 0.0

    def _locked(self) -> _FileLock:
        if self._pid != os.getpid():  # forked since: this process needs its own descriptor
            with self._lock:
                if self._pid != os.getpid():
                    self._open()
        return _FileLock(self._lock, self._fd)


class _FileLock:
    """The thread lock, then the file lock: one writer in all processes and threads."""

    def __init__(self, lock: threading.Lock, fd: int) -> None:
        self.lock, self.fd = lock, fd

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.lock.release()


def _digest(key: str) -> bytes:
    """16 bytes of BLAKE2b: never all zero in practice, so a zeroed slot is empty."""
    return hashlib.blake2b(key.encode(), digest_size=16).digest()
