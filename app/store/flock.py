"""Exclusive flocks on files in the state folder.

One lock holds across threads (each taker opens its own descriptor) and processes, and
the kernel releases it when its holder dies, even by kill -9: nothing stale to clean up.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from vellum.errors import IndexBusy


def try_lock(path: Path) -> int | None:
    """The descriptor holding the lock on `path`, or None if someone else holds it.

    Closing the descriptor releases the lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def locked(path: Path, timeout: float, busy: str, poll: float = 0.01) -> Iterator[None]:
    """Hold the lock on `path`; wait at most `timeout` seconds, then IndexBusy(busy)."""
    deadline = time.monotonic() + timeout
    while (fd := try_lock(path)) is None:
        if time.monotonic() > deadline:
            raise IndexBusy(busy)
        time.sleep(poll)
    try:
        yield
    finally:
        os.close(fd)
