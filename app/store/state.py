"""The state store: accounts, keys, tokens and other state that is not content.

By default one SQLite file in the untracked state folder: WAL mode lets several server
processes read while one writes. With `VELLUM_STATE_URL=postgresql://…` it is one
PostgreSQL database that several machines share. Either way a thread (or greenlet) that
writes keeps one connection while it lives (on PostgreSQL: while its transaction lasts);
plain reads borrow an idle one. A finished thread's connection goes back to the idle
ones, so a server that starts a greenlet per request holds as many connections as it runs
at once, not one per request it ever answered; on PostgreSQL at most POOL per process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from vellum.errors import StateNotReady
from vellum.store import migrate
from vellum.store.flock import locked
from vellum.store.sql import Connection, DatabaseError

log = logging.getLogger("vellum")
# The state folder holds password and key hashes, webhook secrets, the signing secret and
# the index of every record, drafts included: its owner alone may read it.
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600

# Idle connections kept for the next thread; more are closed (a burst of requests on
# greenlets must not leave a connection, and its cache, per request it ran at once).
IDLE = 8
# PostgreSQL connections one process opens at most (a server has max_connections for all
# machines and workers); a request waits up to POOL_WAIT seconds for one to come back.
POOL = 10
POOL_WAIT = 30.0
MIGRATE_WAIT = 120.0


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


def target(folder: Path, url: str | None = None) -> str:
    """The database the state of a site lives in, as a URL (its migrations take one)."""
    url = url if url is not None else state_url()
    return url or f"sqlite:///{folder / 'state.db'}"


class StateStore:
    """One database, shared by every process of a site (and every machine, on PostgreSQL)."""

    def __init__(self, folder: Path, url: str | None = None) -> None:
        private_folder(folder)
        self.folder = folder
        self.url = url if url is not None else state_url()
        self.postgres = bool(self.url)
        self.path = folder / "state.db"
        if not self.postgres:
            # SQLite gives the -wal and -shm files the database file's mode.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
        self._local = threading.local()
        self._all: list[Connection] = []
        self._idle: list[Connection] = []
        self._opening = 0
        # Lent to one statement of query() right now: close() leaves these to their
        # borrower, who closes them as it gives them back (closing a connection under a
        # running statement crashes SQLite's driver).
        self._lent: list[Connection] = []
        self._closing = False
        # Re-entrant: a finished thread's connection may come back (from the garbage
        # collector) while this thread is inside the lock.
        self._all_lock = threading.RLock()
        self._returned = threading.Condition(self._all_lock)
        try:
            self._check_revision()
        except BaseException:
            self.close()
            raise

    def _check_revision(self) -> None:
        """SQLite: bring the file to this Vellum's revision (one process at a time).
        PostgreSQL: refuse to run on tables of another revision; `vellum migrate` upgrades
        them, once, rather than every machine racing to as it starts."""
        current, head = self._revision(), migrate.head()
        if current == head:
            return
        if current is not None and current not in migrate.known():
            raise StateNotReady(migrate.newer_message(current))
        if self.postgres:
            found = f"revision {current}" if current else "no Vellum tables"
            raise StateNotReady(
                f"The state database has {found}; this Vellum needs revision {head}:"
                " run `vellum migrate` (once, from any machine)"
            )
        with locked(self.folder / "migrate.lock", MIGRATE_WAIT, "The state is being upgraded"):
            for line in migrate.upgrade(target(self.folder, "")):
                log.info("State %s: %s", self.path, line)

    def _revision(self) -> str | None:
        db = self._take()
        try:
            found = db.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_name = 'alembic_version'"
                if self.postgres
                else "SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'"
            ).fetchone()
            if not found:
                return None
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            return row[0] if row else None
        finally:
            self._give_back(db)

    def connection(self) -> Connection:
        """This thread's connection, kept until the thread ends (then it is reused)."""
        held = getattr(self._local, "held", None)
        if held is None or not held.db.usable:  # a broken one goes (a database restart)
            held = self._local.held = _Held(self, self._take())
        return held.db

    def _take(self) -> Connection:
        deadline = time.monotonic() + POOL_WAIT
        with self._all_lock:
            while not self._idle and self.postgres and len(self._all) + self._opening >= POOL:
                if not self._returned.wait(max(0.0, deadline - time.monotonic())):
                    raise StateNotReady(f"All {POOL} state database connections are busy")
            if self._idle:
                return self._idle.pop()
            self._opening += 1
        try:
            db = self._open()
        finally:
            with self._all_lock:
                self._opening -= 1
        with self._all_lock:
            self._all.append(db)
        return db

    def _open(self) -> Connection:
        if not self.postgres:
            return Connection.open_sqlite(self.path)
        try:
            return Connection.open_postgres(self.url)
        except DatabaseError as exc:
            with self._all_lock:
                self._returned.notify()
            raise StateNotReady(f"The state database cannot be reached: {exc}") from exc

    def _give_back(self, db: Connection) -> None:
        with self._all_lock:
            if not any(db is known for known in self._all):
                return  # closed since
            self._returned.notify()
            if self._closing:  # lent when the store closed: closed now it is back
                self._all = [known for known in self._all if known is not db]
                db.close()
                return
            if db.usable and db.in_transaction:  # its thread died half way: nothing kept
                db.rollback()
            if db.usable and len(self._idle) < (POOL if self.postgres else IDLE):
                self._idle.append(db)
                return
            # One connection dropped by the server: the idle ones most likely were too.
            gone = [db] if db.usable else [db, *self._idle]
            if not db.usable:
                self._idle.clear()
            self._all = [known for known in self._all if not any(known is g for g in gone)]
        for each in gone:
            each.close()

    def release(self) -> None:
        """Give this thread's connection back now (a thread that lives on without the
        database: an open event stream), if it holds one outside a transaction."""
        held = getattr(self._local, "held", None)
        if held is not None and not held.db.in_transaction:
            self._local.held = None
            # the _Held gives it back as it goes

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """BEGIN … COMMIT. SQLite: BEGIN IMMEDIATE, writers queue on its lock, never
        interleave. PostgreSQL: READ COMMITTED; a read-then-write that must not interleave
        with another machine's takes `db.lock(name)` or locks its rows. The connection is
        held for the transaction (on PostgreSQL, only for it: the pool is small)."""
        borrowed = self.postgres and getattr(self._local, "held", None) is None
        db = self.connection()
        try:
            db.begin()
            try:
                yield db
            except BaseException:
                db.rollback()
                raise
            db.execute("COMMIT")
        finally:
            if borrowed:
                self.release()

    def query(self, sql: str, params: tuple = ()) -> list:
        """Rows of one statement: on this thread's connection if it holds one (its own
        transaction's writes are seen), else on an idle one borrowed for the statement."""
        held = getattr(self._local, "held", None)
        if held is not None:
            return held.db.execute(sql, params).fetchall()
        for retry in (True, False):
            db = self._take()
            with self._all_lock:
                self._lent.append(db)
            try:
                return db.execute(sql, params).fetchall()
            except StateNotReady:
                # Dropped while idle (a database restart): a read may simply ask again,
                # on a new connection (the idle ones went with this one).
                if db.usable or not retry:
                    raise
            finally:
                with self._all_lock:
                    self._lent = [lent for lent in self._lent if lent is not db]
                self._give_back(db)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every thread's connection (at shutdown, when no request is running); one
        lent to a statement running in another thread (a poller) closes when it is back."""
        with self._all_lock:
            for db in self._all:
                if not any(db is lent for lent in self._lent):
                    db.close()
            self._all = list(self._lent)
            self._closing = bool(self._all)
            self._idle.clear()
        self._local = threading.local()

    def secret(self, name: str, env_value: str | None = None) -> str:
        """A secret from the environment, else one generated once: into the state folder,
        or on PostgreSQL into the database, so every machine signs and checks alike."""
        if env_value:
            return env_value
        if self.postgres:
            return self._shared_secret(name)
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

    def _shared_secret(self, name: str) -> str:
        """The first machine to ask writes it; the others read the one it wrote."""
        key = f"secret:{name}"
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, secrets.token_urlsafe(48)),
            )
        return self.query("SELECT value FROM meta WHERE key = ?", (key,))[0]["value"]


class _Held:
    """A thread's connection; when the thread ends, its locals go, and this gives the
    connection back to the idle ones."""

    def __init__(self, store: StateStore, db: Connection) -> None:
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
