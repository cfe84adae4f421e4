"""Connections of our own to the shared PostgreSQL state database: the one psycopg seam.

The site lease and the event notifications each hold a connection apart from the state
store's, autocommit, named after the machine and process (so any machine can read who
holds what from `pg_stat_activity`), with TCP keepalives and a user timeout on both
ends: a machine that dies or drops off the network loses its connection, and with it
its locks, within seconds rather than after the kernel's two hours.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading

import psycopg
from psycopg import waiting

Error = psycopg.Error
Connection = psycopg.Connection
PREFIX = "vellum"
# Seconds of silence before a probe, between probes, and probes lost before the
# connection is given up; the user timeout bounds unacknowledged writes the same way.
KEEPALIVE = {"idle": 2, "interval": 1, "count": 3}
USER_TIMEOUT_MS = 4000
CONNECT_TIMEOUT = 3


def identity() -> dict:
    """This machine and process, as the lease and `/api/_status` name them."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def application_name(role: str) -> str:
    """`vellum <role> <host> <pid>`, within PostgreSQL's 63 characters."""
    me = identity()
    return f"{PREFIX} {role} {me['host'][:40]} {me['pid']}"


def parse_application_name(name: str) -> tuple[str, dict] | None:
    """(role, {"host", "pid"}) from what `application_name` wrote; None if not ours."""
    parts = name.split(" ")
    if len(parts) != 4 or parts[0] != PREFIX or not parts[3].isdigit():
        return None
    return parts[1], {"host": parts[2], "pid": int(parts[3])}


def cooperative_waits() -> None:
    """Under gevent, wait on the database with the patched select.poll, so a query blocks
    its greenlet, not the worker. psycopg picks its wait at import, and the server's
    master imports it before a worker patches: pick again once patched (psycopg's own
    test for the patch, the choice it makes when imported after it)."""
    if waiting.wait is not waiting.wait_poll and waiting._is_select_patched():
        waiting.wait = waiting.wait_poll


def connect(url: str, role: str) -> Connection:
    """An autocommit connection that notices (and is noticed) dead within seconds."""
    cooperative_waits()
    server_side = (
        f"-c tcp_keepalives_idle={KEEPALIVE['idle']}"
        f" -c tcp_keepalives_interval={KEEPALIVE['interval']}"
        f" -c tcp_keepalives_count={KEEPALIVE['count']}"
        f" -c tcp_user_timeout={USER_TIMEOUT_MS}"
    )
    return psycopg.connect(
        url,
        autocommit=True,
        application_name=application_name(role),
        connect_timeout=CONNECT_TIMEOUT,
        keepalives=1,
        keepalives_idle=KEEPALIVE["idle"],
        keepalives_interval=KEEPALIVE["interval"],
        keepalives_count=KEEPALIVE["count"],
        tcp_user_timeout=USER_TIMEOUT_MS,
        options=server_side,
    )


def notifications(conn: Connection) -> list[str]:
    """The payloads of notifications already arrived on `conn`, without waiting."""
    return [n.payload for n in conn.notifies(timeout=0)]


class Shared:
    """One connection of a process for short statements (notifications, the lease's
    status), opened on first use and again after a failure; a lock, made on first use
    (after any monkey-patching), keeps threads apart."""

    def __init__(self, url: str, role: str) -> None:
        self.url, self.role = url, role
        self._lock = threading.Lock()
        self._conn: Connection | None = None

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        """The rows of one statement; pg.Error (the connection is then dropped) on failure."""
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = connect(self.url, self.role)
                cursor = self._conn.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
            except (Error, OSError):
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None


_shared: dict[tuple[int, str, str], Shared] = {}


def shared(url: str, role: str) -> Shared:
    """This process's connection for `role` (a forked child opens its own)."""
    key = (os.getpid(), url, role)
    return _shared.get(key) or _shared.setdefault(key, Shared(url, role))


def close_shared() -> None:
    """Close this process's shared connections (at exit; after tests that used them)."""
    for key, conn in list(_shared.items()):
        if key[0] == os.getpid():
            conn.close()
    _shared.clear()


atexit.register(close_shared)
