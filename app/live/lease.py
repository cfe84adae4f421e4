"""Leases: which process runs a machine's live duties, and which runs the site's.

A machine's duties (the watcher of its clone, the remote puller, the export) go to the
process holding an flock in its state folder (`FileLease`). The site's duties (turning
commits into events, the webhook dispatcher, pruning) must run once for every machine
that shares the state: with the SQLite state file that is one machine, and the same
flock serves (`SameLease`); with the state shared on PostgreSQL it is a session-level
advisory lock on a connection of its own (`PgLease`). PostgreSQL frees that lock when
the connection ends: at once when the holder is killed (its socket closes), within
seconds when its machine dies or is cut off (TCP keepalives, see vellum.store.pg).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from vellum.store import flock, pg

log = logging.getLogger("vellum.live")
POLL = 0.5
# The two keys of the advisory lock ("vell", 1): the site is the database.
LOCK_KEYS = (0x76656C6C, 1)
LIVE_ROLE = "live"


class SiteLease(Protocol):
    def try_acquire(self) -> bool: ...
    def check(self) -> bool: ...
    def release(self) -> None: ...


class FileLease:
    """An exclusive flock on a file; `wait` blocks until it is ours or we are told to stop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it (the file then names this process)."""
        fd = flock.try_lock(self.path)
        if fd is None:
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def wait(
        self, stop: threading.Event, poll: float = POLL, alive: Callable[[], bool] = lambda: True
    ) -> bool:
        """Poll for the lock until taken (True), or `stop` is set or `alive` says the server
        that started this process is gone (False)."""
        while not stop.is_set() and alive():
            if self.try_acquire():
                return True
            stop.wait(poll)
        return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self) -> FileLease:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


class SameLease:
    """The site lease when this machine's flock is it already (the SQLite state file)."""

    def try_acquire(self) -> bool:
        return True

    def check(self) -> bool:
        return True

    def release(self) -> None:
        pass


class PgLease:
    """A session-level advisory lock on a connection of its own. Waiting keeps the
    connection open too, so that every machine's live process shows in `lease_status`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: pg.Connection | None = None
        self.held = False
        self._failing = False  # said once, not every poll while the database is away

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False (and a new connection next time) if the
        database cannot be reached."""
        row = self._one("SELECT pg_try_advisory_lock(%s, %s)", LOCK_KEYS)
        self.held = bool(row and row[0])
        return self.held

    def check(self) -> bool:
        """Whether the lock is still ours: the connection answers and holds it."""
        row = self._one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 2",
            LOCK_KEYS,
        )
        self.held = bool(row and row[0])
        return self.held

    def release(self) -> None:
        """Close the connection: PostgreSQL frees the lock with the session."""
        self.held = False
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _one(self, sql: str, params: tuple) -> tuple | None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = pg.connect(self.url, LIVE_ROLE)
            row = self._conn.execute(sql, params).fetchone()
        except (pg.Error, OSError) as exc:
            if not self._failing:
                log.warning("site lease: the database does not answer: %s", exc)
            self._failing = True
            self.release()
            return None
        if self._failing:
            log.info("site lease: the database answers again")
        self._failing = False
        return row


def site_lease(url: str | None) -> SiteLease:
    """The site lease for state at `url` (shared on PostgreSQL), or beside the flock."""
    return PgLease(url) if url else SameLease()


LEASE_STATUS = (
    "SELECT a.application_name, l.pid IS NOT NULL FROM pg_stat_activity a"
    " LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted"
    " AND l.classid = %s AND l.objid = %s AND l.objsubid = 2"
    " WHERE a.datname = current_database() AND a.application_name LIKE %s"
)


def lease_status(url: str | None, state_dir: Path) -> dict:
    """Who holds the site lease ({"host", "pid"} or None), which machines' live processes
    wait for it, and which of the two this machine's is (`here`); `kind` says what the
    lease is. A database that does not answer is said in `error`, not raised."""
    if not url:
        holder = _file_holder(state_dir / "live.lock")
        return {"kind": "file", "holder": holder, "waiting": [], "here": _here(holder, [])}
    status: dict = {"kind": "postgresql", "holder": None, "waiting": []}
    try:
        rows = pg.shared(url, "status").execute(LEASE_STATUS, (*LOCK_KEYS, f"{pg.PREFIX} %"))
    except (pg.Error, OSError) as exc:
        return {**status, "here": None, "error": f"the state database does not answer: {exc}"}
    for name, holds in rows:
        parsed = pg.parse_application_name(name)
        if parsed is None or parsed[0] != LIVE_ROLE:
            continue
        if holds:
            status["holder"] = parsed[1]
        else:
            status["waiting"].append(parsed[1])
    status["waiting"].sort(key=lambda w: (w["host"], w["pid"]))
    return {**status, "here": _here(status["holder"], status["waiting"])}


def _here(holder: dict | None, waiting: list[dict]) -> str | None:
    """What this machine's live process does: "holder", "waiting", or None (neither)."""
    host = socket.gethostname()
    if holder and holder["host"] == host:
        return "holder"
    return "waiting" if any(w["host"] == host for w in waiting) else None


def _file_holder(path: Path) -> dict | None:
    """The process the lock file names while its lock is held (a free lock is taken and
    let go at once: its holder ended, or is yet to come)."""
    if not path.exists():
        return None
    fd = flock.try_lock(path)
    if fd is not None:
        os.close(fd)
        return None
    try:
        pid = int(path.read_text() or 0)
    except (OSError, ValueError):
        return None
    return {"host": socket.gethostname(), "pid": pid} if pid else None
