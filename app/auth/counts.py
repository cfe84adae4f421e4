"""Where rate limits count: the site's tally file (state://), this process (memory://) or
Redis (redis://, for several machines). Each answers `add` the same way.

Request budgets, connections in flight and bandwidth all count here, so with the state on
PostgreSQL (several machines) they must count in Redis too: VELLUM_REDIS_URL is then the
default, and without it (nor rate_limits.storage) the app refuses to start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from limits.storage import MemoryStorage, Storage, storage_from_string

from vellum.auth.tally import Tally
from vellum.errors import StateNotReady
from vellum.site.schema import STATE_STORAGE
from vellum.store.state import state_url

log = logging.getLogger("vellum")


class Counts(Protocol):
    def add(self, key: str, amount: int, seconds: float, renew: bool = False) -> tuple[int, float]:
        """Add to a key's count (one that ends in `seconds` when it starts) → (count, ends)."""

    def get(self, key: str) -> tuple[int, float]:
        """A key's live count and when it ends."""

    def check(self) -> bool:
        """Whether the counts can be reached (a health check)."""

    def close(self) -> None: ...


def storage_uri(given: str | None) -> str:
    """rate_limits.storage if vellum.yml sets it, else VELLUM_REDIS_URL, else state:// (the
    state folder's tally, which one machine alone sees: refused for a shared state)."""
    if given:
        return given
    redis = os.environ.get("VELLUM_REDIS_URL")
    if redis:
        return redis
    if state_url():
        raise StateNotReady(
            "The state is on PostgreSQL (VELLUM_STATE_URL), shared by several machines, but"
            " rate limits would count on each machine alone: set VELLUM_REDIS_URL"
            " (redis://host:6379/0), or rate_limits.storage in vellum.yml"
        )
    return STATE_STORAGE


def open_counts(uri: str, state_folder: Path) -> Counts:
    """The counts rate_limits.storage names (or storage_uri chose)."""
    if urlparse(uri).scheme == "state":
        return Tally(state_folder / "tally.bin")
    return StorageCounts(storage_from_string(uri))


class StorageCounts:
    """Counts in a `limits` storage (Redis, memory). If Redis goes away, this process
    counts in memory rather than fail requests, and goes back when it answers again."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.fallback = MemoryStorage()

    def add(self, key: str, amount: int, seconds: float, renew: bool = False) -> tuple[int, float]:
        def run(storage: Storage) -> tuple[int, float]:
            count = storage.incr(key, int(seconds), amount)
            return count, storage.get_expiry(key)

        return self._either(run)

    def get(self, key: str) -> tuple[int, float]:
        return self._either(lambda storage: (storage.get(key), storage.get_expiry(key)))

    def check(self) -> bool:
        try:
            return bool(self.storage.check())
        except self.storage.base_exceptions:
            return False

    def _either(self, run):
        try:
            return run(self.storage)
        except self.storage.base_exceptions as exc:
            log.warning("rate limit storage unavailable, counting in memory: %s", exc)
            return run(self.fallback)

    def close(self) -> None:
        """Nothing to release: the storage's connections close with the process."""
