"""API-key usage written in batches, so a request made with a key writes nothing itself.

Every request with a key used to cost two write transactions (its count, its activity
line). The state database has one writer at a time: with several worker processes
answering keyed reads, each waited its turn for the writer lock, and a gevent worker's
wait held up every request on it (hundreds of ms at the tail). Now each process keeps
the counts and activity lines of its keyed requests and writes them in one transaction
at most every FLUSH_SECONDS (and when MAX_PENDING lines wait, when the store closes, and
before this process reads a key's usage or activity). A key with a usage limit is still
counted by one UPDATE per request, since its limit must hold exactly across processes
and machines; only its activity line waits. A process killed outright loses at most its
last second of usage figures, never a limit's count.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from vellum.store.state import StateStore, iso, utcnow

FLUSH_SECONDS = 1.0
MAX_PENDING = 1000
KEEP_UNWRITTEN = 100_000  # activity lines kept while the database refuses them


@dataclass
class _Count:
    requests: int
    last_used_at: str
    last_ip: str | None


class KeyUse:
    """One process's unwritten usage of every key, for one state store."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._write = threading.Lock()  # one batch written at a time, in order
        self._counts: dict[str, _Count] = {}
        self._lines: list[tuple] = []
        self._wake = threading.Event()
        self._closed = False
        self._writer: threading.Thread | None = None

    def count(self, key_id: str, ip: str | None) -> int:
        """Count a request of a key with no usage limit; the requests not yet written."""
        with self._lock:
            found = self._counts.get(key_id)
            if found is None:
                found = self._counts[key_id] = _Count(0, "", ip)
            found.requests += 1
            found.last_used_at, found.last_ip = iso(utcnow()), ip
            self._start()
            return found.requests

    def log(self, key_id: str, ip: str | None, method: str, path: str, status: int) -> None:
        """Add a request, with its final status, to the key's activity log."""
        with self._lock:
            self._lines.append((key_id, iso(utcnow()), ip, method, path, status))
            full = len(self._lines) >= MAX_PENDING
            self._start()
        if full:
            self.flush()

    def flush(self) -> None:
        """Write what waits, in one transaction (a no-op when nothing does)."""
        with self._write:
            with self._lock:
                counts, self._counts = self._counts, {}
                lines, self._lines = self._lines, []
            if not (counts or lines):
                return
            try:
                self._store(counts, lines)
            except Exception:
                self._put_back(counts, lines)
                raise

    def _put_back(self, counts: dict[str, _Count], lines: list[tuple]) -> None:
        """A batch the database refused waits for the next write, before newer requests."""
        with self._lock:
            for key_id, older in counts.items():
                newer = self._counts.get(key_id)
                if newer is not None:
                    older.requests += newer.requests
                    older.last_used_at, older.last_ip = newer.last_used_at, newer.last_ip
                self._counts[key_id] = older
            self._lines[:0] = lines
            del self._lines[:-KEEP_UNWRITTEN]  # a database away for long: the oldest lines go

    def close(self) -> None:
        """Write what waits and stop the writer; called before the state store closes."""
        self._closed = True
        self._wake.set()
        if self._writer is not None and self._writer is not threading.current_thread():
            self._writer.join(timeout=10)
        self.flush()

    def _store(self, counts: dict[str, _Count], lines: list[tuple]) -> None:
        with self.state.transaction() as db:
            for key_id, found in counts.items():
                db.execute(
                    "UPDATE api_keys SET request_count = request_count + ?, last_used_at = ?,"
                    " last_ip = ? WHERE id = ?",
                    (found.requests, found.last_used_at, found.last_ip, key_id),
                )
            if lines:
                db.executemany(
                    "INSERT INTO key_activity (key_id, at, ip, method, path, status)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    lines,
                )

    def _start(self) -> None:
        """The writer thread, started by the first request that leaves something to write."""
        if self._writer is None and not self._closed:
            self._writer = threading.Thread(target=self._run, name="vellum key use", daemon=True)
            self._writer.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(FLUSH_SECONDS)
            if self._closed:
                return
            try:
                self.flush()
            except Exception:  # the database is away: keep the lines, try again next second
                continue


_USES: weakref.WeakKeyDictionary[StateStore, KeyUse] = weakref.WeakKeyDictionary()
_USES_LOCK = threading.Lock()


def of(state: StateStore) -> KeyUse:
    """The usage waiting to be written to `state` by this process."""
    with _USES_LOCK:
        found = _USES.get(state)
        if found is None:
            found = _USES[state] = KeyUse(state)
        return found


def flush(state: StateStore) -> None:
    """Write this process's waiting usage, so a read of it sees every request."""
    found = _USES.get(state)
    if found is not None:
        found.flush()


def close(state: StateStore) -> None:
    found = _USES.pop(state, None)
    if found is not None:
        found.close()
