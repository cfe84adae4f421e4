"""The durable outbox: events in the state store, and the processed-commit cursor.

Emitting only inserts rows, so any process (a worker, the CLI) may emit; the single
dispatcher fans new events out to the endpoints. Processing commits advances the cursor
in the same transaction that stores their events, so each commit is emitted once even
when several processes notice the same head move.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable

import orjson

from vellum.store.commits import events_between
from vellum.store.events import Event
from vellum.store.state import StateStore

log = logging.getLogger("vellum.events")
HEAD_CURSOR = "head"
UNPUBLISHED = 2  # the `draft` column: 0 published, 1 draft, 2 draft that was published


def emit(state: StateStore, events: Iterable[Event]) -> int:
    """Store events in the outbox; returns how many."""
    with state.transaction() as db:
        return add(db, events)


def add(db: sqlite3.Connection, events: Iterable[Event]) -> int:
    """Store events inside a caller's transaction, so they commit with the change they tell."""
    rows = [
        (
            e.id,
            e.name,
            e.model,
            e.key,
            UNPUBLISHED if e.unpublished else int(e.draft),
            orjson.dumps(e.payload()).decode(),
            e.timestamp,
        )
        for e in events
    ]
    db.executemany(
        "INSERT INTO events (id, name, model, key, draft, payload, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def get_cursor(state: StateStore, name: str = HEAD_CURSOR) -> str | None:
    """A stored cursor (the last processed commit for `head`)."""
    rows = state.query("SELECT value FROM cursors WHERE name = ?", (name,))
    return rows[0]["value"] if rows else None


def set_cursor(db: sqlite3.Connection, name: str, value: str) -> None:
    db.execute(
        "INSERT INTO cursors (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def process_head(services) -> int:
    """Emit the events of every commit since the last processed one; returns how many.

    The first run only records where history stands: earlier commits are not news.
    """
    head = services.repo.head()
    old = get_cursor(services.state)
    if head is None or head == old:
        return 0
    events = events_between(services, old, head) if old else []
    with services.state.transaction() as db:
        row = db.execute("SELECT value FROM cursors WHERE name = ?", (HEAD_CURSOR,)).fetchone()
        if (row["value"] if row else None) != old:
            return 0  # another process emitted these commits first
        count = add(db, events)
        set_cursor(db, HEAD_CURSOR, head)
    if count:
        log.info("emitted %d events for %s..%s", count, (old or "")[:7], head[:7])
    return count


def since(state: StateStore, after_seq: int, limit: int = 100) -> list[sqlite3.Row]:
    """Stored events after a sequence number, oldest first."""
    return state.query(
        "SELECT seq, id, name, model, key, draft, payload FROM events WHERE seq > ?"
        " ORDER BY seq LIMIT ?",
        (after_seq, limit),
    )


def seq_of(state: StateStore, event_id: str) -> int | None:
    """The sequence number of an event id (for Last-Event-ID), or None if unknown."""
    rows = state.query("SELECT seq FROM events WHERE id = ?", (event_id,))
    return rows[0]["seq"] if rows else None


def id_of(state: StateStore, seq: int) -> str | None:
    """The id of the event at a sequence number, or None (none yet, or pruned)."""
    rows = state.query("SELECT id FROM events WHERE seq = ?", (seq,))
    return rows[0]["id"] if rows else None


def last_seq(state: StateStore) -> int:
    """The newest event's sequence number (0 when there is none)."""
    return state.query("SELECT COALESCE(MAX(seq), 0) AS seq FROM events")[0]["seq"]
