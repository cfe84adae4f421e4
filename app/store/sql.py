"""One connection to the state database, SQLite or PostgreSQL, spoken to the same way.

The call sites write one SQL for both engines, with `?` placeholders, and read rows by
column name (or position). SQLite is opened here; PostgreSQL connections come from
vellum.store.pg, which opens every connection Vellum makes to it.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
from pathlib import Path

import psycopg
from psycopg.pq import TransactionStatus

from vellum.errors import StateNotReady
from vellum.store import pg

# What a unique constraint or a foreign key refused, on either engine.
IntegrityError = (sqlite3.IntegrityError, psycopg.IntegrityError)
# The database cannot be reached or failed (a health check's concern).
DatabaseError = (sqlite3.Error, psycopg.Error)
_IN_TRANSACTION = (
    TransactionStatus.ACTIVE,
    TransactionStatus.INTRANS,
    TransactionStatus.INERROR,
)
# Outside string literals: a `?` placeholder or a `%` psycopg would read as one.
_LITERAL_OR_MARK = re.compile(r"('(?:[^']|'')*')|([?%])")


class Row(tuple):
    """A PostgreSQL row read as sqlite3.Row is: row["name"], row[0], dict(row)."""

    def __new__(cls, values, index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor):
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


@functools.lru_cache(maxsize=1024)
def postgres_sql(sql: str) -> str:
    """`?` → `%s`, `%` → `%%` (outside string literals, where a `%` is doubled too)."""

    def swap(match: re.Match) -> str:
        if match[1] is not None:
            return match[1].replace("%", "%%")
        return "%s" if match[2] == "?" else "%%"

    return _LITERAL_OR_MARK.sub(swap, sql)


class Connection:
    """A driver connection in autocommit mode: transactions are begun explicitly."""

    def __init__(self, raw, postgres: bool) -> None:
        self.raw, self.postgres = raw, postgres

    @classmethod
    def open_sqlite(cls, path: Path) -> Connection:
        # check_same_thread=False: a connection moves to the next thread once its own ends.
        raw = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        raw.row_factory = sqlite3.Row
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("PRAGMA synchronous = NORMAL")
        raw.execute("PRAGMA foreign_keys = ON")
        return cls(raw, postgres=False)

    @classmethod
    def open_postgres(cls, url: str) -> Connection:
        """Opened as the lease's and the listener's are (vellum.store.pg): cooperative under
        gevent, named in pg_stat_activity, dead within seconds when its machine is."""
        raw = pg.connect(url, "state")
        raw.row_factory = _row_factory
        return cls(raw, postgres=True)

    def execute(self, sql: str, params=()):
        """A cursor of one statement: fetchone(), fetchall(), rowcount, iteration."""
        if not self.postgres:
            return self.raw.execute(sql, params)
        try:
            return self.raw.execute(postgres_sql(sql), tuple(params))
        except psycopg.OperationalError as exc:  # gone away, or gave up on a lock: a 503
            raise StateNotReady(f"The state database did not answer: {exc}") from exc

    def executemany(self, sql: str, rows) -> None:
        if self.postgres:
            with self.raw.cursor() as cur:
                cur.executemany(postgres_sql(sql), [tuple(row) for row in rows])
        else:
            self.raw.executemany(sql, rows)

    def begin(self) -> None:
        """SQLite: take the write lock now (writers queue, never interleave). PostgreSQL:
        READ COMMITTED; what must not interleave takes `lock()` or a row lock."""
        self.raw.execute("BEGIN IMMEDIATE" if not self.postgres else "BEGIN")

    def rollback(self) -> None:
        """Undo the open transaction, if the connection can still say so."""
        with contextlib.suppress(*DatabaseError):
            self.raw.execute("ROLLBACK")

    def lock(self, name: str) -> None:
        """Hold a named lock till the transaction ends: on PostgreSQL an advisory lock, on
        SQLite nothing more than the write lock BEGIN IMMEDIATE already holds."""
        if self.postgres:
            self.raw.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))

    @property
    def in_transaction(self) -> bool:
        if self.postgres:
            return self.raw.info.transaction_status in _IN_TRANSACTION
        return self.raw.in_transaction

    @property
    def usable(self) -> bool:
        """False once the server closed it (a restart): the pool drops it."""
        return not (self.postgres and (self.raw.closed or self.raw.broken))

    def close(self) -> None:
        self.raw.close()
