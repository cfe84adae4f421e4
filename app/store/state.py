"""The SQLite state store: accounts, keys, tokens and other state that is not content.

It lives in the untracked state folder. WAL mode lets several server processes read
while one writes. A thread (or greenlet) that writes keeps one connection while it lives;
plain reads borrow an idle one. A finished thread's connection goes back to the idle ones,
so a server that starts a greenlet per request holds as many connections as it runs at
once, not one per request it ever answered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("vellum")
# The state folder holds password and key hashes, webhook secrets, the signing secret and
# the index of every record, drafts included: its owner alone may read it.
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600

SCHEMA_VERSION = 1
# Idle connections kept for the next thread; more are closed (a burst of requests on
# greenlets must not leave a connection, and its cache, per request it ran at once).
IDLE = 8
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    email TEXT,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    previous_hash TEXT,
    previous_expires_at TEXT,
    scopes TEXT NOT NULL,
    expires_at TEXT,
    allowed_ips TEXT NOT NULL DEFAULT '[]',
    usage_limit INTEGER,
    rate_limit TEXT,
    connections INTEGER,
    bandwidth TEXT,
    request_count INTEGER NOT NULL DEFAULT 0,
    last_used_at TEXT,
    last_ip TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL,
    rotated_at TEXT,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS key_activity (
    id INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL,
    at TEXT NOT NULL,
    ip TEXT,
    method TEXT,
    path TEXT,
    status INTEGER
);
CREATE INDEX IF NOT EXISTS key_activity_by_key ON key_activity (key_id, id);
CREATE TABLE IF NOT EXISTS revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    scopes TEXT NOT NULL,
    redirect_uris TEXT NOT NULL DEFAULT '[]',
    grants TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    redirect_uri TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    access_jti TEXT,
    access_expires_at INTEGER
);
CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    family TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    access_jti TEXT,
    access_expires_at INTEGER
);
-- Live: the event outbox, the processed-commit cursor, webhooks and their deliveries.
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    model TEXT,
    key TEXT,
    draft INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    models TEXT,
    secret TEXT,
    retry TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    endpoint TEXT NOT NULL,
    seq INTEGER NOT NULL REFERENCES events (seq),
    key TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    PRIMARY KEY (endpoint, seq)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS deliveries_by_key ON deliveries (endpoint, key, seq);
CREATE TABLE IF NOT EXISTS delivery_attempts (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    at TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER,
    error TEXT,
    response TEXT
);
CREATE INDEX IF NOT EXISTS delivery_attempts_by_endpoint ON delivery_attempts (endpoint, id);
-- Failed password checks per user name (known or not), while they count for a lockout.
CREATE TABLE IF NOT EXISTS sign_in_failures (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    at REAL NOT NULL,
    ip TEXT
);
CREATE INDEX IF NOT EXISTS sign_in_failures_by_name ON sign_in_failures (name, at);
CREATE INDEX IF NOT EXISTS sign_in_failures_by_time ON sign_in_failures (at);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def _add_columns(db: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    """Columns added since a state folder was made: ALTER TABLE adds each that is missing
    (a process racing to add the same one finds it there)."""
    have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    for name, kind in columns.items():
        if name not in have:
            try:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise


def state_url() -> str | None:
    """Where the state lives when it is shared by several machines (`VELLUM_STATE_URL`,
    a `postgresql://` URL); None for the SQLite file in the state folder."""
    return os.environ.get("VELLUM_STATE_URL") or None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime | None) -> str | None:
    """Timestamps in the state store and the API: UTC, seconds, 'Z'."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def parse_iso(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


class StateStore:
    """One SQLite database in the state folder, shared by every process of a site."""

    def __init__(self, folder: Path) -> None:
        private_folder(folder)
        self.path = folder / "state.db"
        self.folder = folder
        # SQLite gives the -wal and -shm files the database file's mode.
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._idle: list[sqlite3.Connection] = []
        # Re-entrant: a finished thread's connection may come back (from the garbage
        # collector) while this thread is inside the lock.
        self._all_lock = threading.RLock()
        db = self.connection()
        db.executescript(SCHEMA)  # idempotent; runs in its own transaction
        _add_columns(db, "api_keys", {"connections": "INTEGER", "bandwidth": "TEXT"})
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, kept until the thread ends (then it is reused)."""
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _Held(self, self._take())
        return held.db

    def _take(self) -> sqlite3.Connection:
        with self._all_lock:
            if self._idle:
                return self._idle.pop()
        # check_same_thread=False: a connection moves to the next thread once its own ends.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        with self._all_lock:
            self._all.append(db)
        return db

    def _give_back(self, db: sqlite3.Connection) -> None:
        with self._all_lock:
            if not any(db is known for known in self._all):
                return  # closed since
            if db.in_transaction:  # its thread died half way: nothing of it is kept
                db.execute("ROLLBACK")
            if len(self._idle) < IDLE:
                self._idle.append(db)
                return
            self._all = [known for known in self._all if known is not db]
        db.close()

    def release(self) -> None:
        """Give this thread's connection back now (a thread that lives on without the
        database: an open event stream), if it holds one outside a transaction."""
        held = getattr(self._local, "held", None)
        if held is not None and not held.db.in_transaction:
            self._local.held = None
            # the _Held gives it back as it goes

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT: writers queue on SQLite's lock, never interleave."""
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        """Rows of one statement: on this thread's connection if it holds one (its own
        transaction's writes are seen), else on an idle one borrowed for the statement."""
        held = getattr(self._local, "held", None)
        if held is not None:
            return held.db.execute(sql, params).fetchall()
        db = self._take()
        try:
            return db.execute(sql, params).fetchall()
        finally:
            self._give_back(db)

    def close(self) -> None:
        """Close every thread's connection (at shutdown, when no request is running)."""
        with self._all_lock:
            for db in self._all:
                db.close()
            self._all.clear()
            self._idle.clear()
        self._local = threading.local()

    def secret(self, name: str, env_value: str | None = None) -> str:
        """A secret from the environment, else one generated once into the state folder."""
        if env_value:
            return env_value
        path = self.folder / f"{name}.secret"
        if not path.exists():
            tmp = self.folder / f".{name}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)  # fails if another process won the race: use theirs
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return path.read_text().strip()


class _Held:
    """A thread's connection; when the thread ends, its locals go, and this gives the
    connection back to the idle ones."""

    def __init__(self, store: StateStore, db: sqlite3.Connection) -> None:
        self.store, self.db = store, db

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit, anything may be gone
            self.store._give_back(self.db)


def private_folder(folder: Path) -> Path:
    """Create a folder of the state that only its owner may enter (or make it so)."""
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) != PRIVATE_FOLDER:
        os.chmod(folder, PRIVATE_FOLDER)
    return folder


def make_private(folder: Path) -> list[str]:
    """Make the state folder 0700 and everything in it 0700 (folders) or 0600 (files).

    Run at every start, so a folder made by an older Vellum, copied or restored with a
    loose umask is repaired; returns what was changed, and logs it.
    """
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    fixed = [_fix_mode(folder, folder)]
    for root, folders, files in os.walk(folder):
        for name in (*folders, *files):
            fixed.append(_fix_mode(folder, Path(root) / name))
    changed = [line for line in fixed if line]
    if changed:
        listed = ", ".join(changed)
        log.warning("State folder %s was open to others; now owner-only: %s", folder, listed)
    return changed


def _fix_mode(top: Path, path: Path) -> str | None:
    """Set one entry's private mode; 'name 644->600' when it changed."""
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            return None
        wanted = PRIVATE_FOLDER if stat.S_ISDIR(st.st_mode) else PRIVATE_FILE
        mode = stat.S_IMODE(st.st_mode)
        if mode == wanted:
            return None
        os.chmod(path, wanted)
    except FileNotFoundError:  # an index segment merged away meanwhile
        return None
    except PermissionError:
        log.error("Cannot make %s owner-only: it belongs to another user", path)
        return None
    name = path.relative_to(top).as_posix() if path != top else "."
    return f"{name} {mode:o}->{wanted:o}"
