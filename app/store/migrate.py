"""Bring the state's tables to the revision this Vellum needs (Alembic, configured in code).

A state.db made before revisions existed (`PRAGMA user_version = 1`, no alembic_version) is
recognised by its tables: it is stamped as revision 0001, which it already is, then upgraded
like any other. Nothing is recreated, no row is lost. On PostgreSQL the upgrade holds an
advisory lock, so two machines running `vellum migrate` at once take turns.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.pool import NullPool

from vellum.errors import StateNotReady

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FIRST = "0001"
# Columns today's state.db gained after it was first made (added at start until now).
LEGACY_COLUMNS = {"api_keys": {"connections": "INTEGER", "bandwidth": "TEXT"}}
# pg_advisory_lock key of upgrades: "vellum" in ASCII.
UPGRADE_LOCK = 0x76656C6C756D


@dataclass(frozen=True)
class Status:
    current: str | None  # None: an empty database
    head: str
    legacy: bool  # tables of a Vellum from before revisions, not yet stamped

    @property
    def behind(self) -> bool:
        return self.current != self.head


def sqlalchemy_url(url: str) -> str:
    """postgresql://… as SQLAlchemy names psycopg 3; sqlite:///… as it is."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


@functools.cache
def head() -> str:
    """The newest revision shipped with this Vellum."""
    return ScriptDirectory.from_config(_config()).get_current_head()


@functools.cache
def known() -> frozenset[str]:
    """Every revision this Vellum ships (a state at another was made by a newer one)."""
    script = ScriptDirectory.from_config(_config())
    return frozenset(revision.revision for revision in script.walk_revisions())


def status(url: str) -> Status:
    with _connect(url) as conn:
        return _status(conn)


def upgrade(url: str, to: str = "head") -> list[str]:
    """Run what is pending (up to revision `to`); one line per thing done."""
    with _connect(url) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        found = _status(conn)
        if found.current is not None and found.current not in known():
            raise StateNotReady(newer_message(found.current))
        done = []
        config = _config(conn)
        if found.legacy:
            _add_legacy_columns(conn)
            command.stamp(config, FIRST)
            done.append(f"recognised the state of an earlier Vellum as revision {FIRST}")
        start = FIRST if found.legacy else found.current
        for revision in pending(start, to):
            command.upgrade(config, revision.revision)
            done.append(
                f"upgraded to {revision.revision}: {revision.doc.splitlines()[0].rstrip('.')}"
            )
        return done


def newer_message(current: str) -> str:
    return (
        f"The state database is at revision {current}, made by a newer Vellum; this one"
        f" knows revisions up to {head()}: upgrade Vellum"
    )


def pending(current: str | None, to: str = "head") -> list:
    """The revisions after `current` up to `to`, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return list(reversed(list(script.iterate_revisions(to, current))))


@contextlib.contextmanager
def _connect(url: str) -> Iterator[Connection]:
    """One connection in one transaction (DDL is transactional on both engines)."""
    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _status(conn: Connection) -> Status:
    current = MigrationContext.configure(conn).get_current_revision()
    legacy = current is None and inspect(conn).has_table("users")
    return Status(current, head(), legacy)


def _add_legacy_columns(conn: Connection) -> None:
    """An old state.db may predate the columns later Vellums added when they opened it."""
    for table, columns in LEGACY_COLUMNS.items():
        have = {column["name"] for column in inspect(conn).get_columns(table)}
        for name, kind in columns.items():
            if name not in have:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config
