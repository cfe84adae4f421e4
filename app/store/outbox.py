"""The durable outbox: events in the state store, and the processed-commit cursor.

Emitting only inserts rows, so any process (a worker, the CLI) may emit; the single
dispatcher fans new events out to the endpoints. Processing commits advances the cursor
in the same transaction that stores their events, so each commit is emitted once even
when several processes notice the same head move. A commit that cannot be processed is
tried again a few times, then passed with what could be emitted, so that it never holds
back the commits after it; `skipped()` (shown by /api/_status) says which and why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from vellum.store import notify
from vellum.store.commits import Skipped, commit_events, commits_after
from vellum.store.events import Event
from vellum.store.sql import Connection, Row
from vellum.store.state import StateStore, iso, utcnow

if TYPE_CHECKING:
    from vellum.services import Vellum

log = logging.getLogger("vellum.events")
HEAD_CURSOR = "head"
RETRY_CURSOR = "head.retry"  # the commit that failed, and how often
SKIPPED_CURSOR = "head.skipped"  # the latest commits (or files) passed over
ATTEMPTS = 3
KEEP_SKIPPED = 20
UNPUBLISHED = 2  # the `draft` column: 0 published, 1 draft, 2 draft that was published


def emit(state: StateStore, events: Iterable[Event]) -> int:
    """Store events in the outbox; returns how many."""
    with state.transaction() as db:
        count = add(db, events)
    if count:
        notify.events_written(state.url)  # after the commit: a listener woken now finds them
    return count


def add(db: Connection, events: Iterable[Event]) -> int:
    """Store events inside a caller's transaction, so they commit with the change they tell.

    Writers of events take turns (SQLite's write lock, an advisory lock on PostgreSQL): an
    event's seq is then committed after every smaller one, so a reader that has seen seq n
    never misses an event below it that commits later."""
    rows = [
        (
            e.id,
            e.name,
            e.model,
            e.key,
            UNPUBLISHED if e.unpublished else int(e.draft),
            _json(e.payload()),
            e.timestamp,
        )
        for e in events
    ]
    if not rows:
        return 0
    db.lock("events")
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


def set_cursor(db: Connection, name: str, value: str) -> None:
    db.execute(
        "INSERT INTO cursors (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def take_cursor(vellum: Vellum) -> None:
    """Where history stands, if no commit was processed yet: every later commit is news.

    Taken before the server answers, so that a commit made through it is never mistaken
    for history (an empty value: the repository had no commit yet).
    """
    with vellum.state.transaction() as db:
        db.lock("cursor:head")
        row = db.execute("SELECT value FROM cursors WHERE name = ?", (HEAD_CURSOR,)).fetchone()
        if row is None:
            set_cursor(db, HEAD_CURSOR, vellum.repo.head() or "")


@dataclass
class _Batch:
    """What one pass over new commits stores: events, the cursor, the retry state."""

    upto: str | None
    events: list[Event] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    retry: dict[str, Any] = field(default_factory=dict)


def process_head(vellum: Vellum) -> int:
    """Emit the events of every commit since the last processed one; returns how many.

    The first run only records where history stands: earlier commits are not news.
    """
    head = vellum.repo.head()
    old = get_cursor(vellum.state)
    if head is None or head == old:
        return 0
    batch = _Batch(head) if old is None else _events_since(vellum, old, head)
    with vellum.state.transaction() as db:
        db.lock("cursor:head")  # one process emits these commits, on any machine
        row = db.execute("SELECT value FROM cursors WHERE name = ?", (HEAD_CURSOR,)).fetchone()
        if (row["value"] if row else None) != old:
            return 0  # another process emitted these commits first
        count = add(db, batch.events)
        set_cursor(db, HEAD_CURSOR, batch.upto or "")
        set_cursor(db, RETRY_CURSOR, orjson.dumps(batch.retry).decode())
        if batch.skipped:
            _note_skipped(db, batch.skipped)
    if count:
        notify.events_written(vellum.state.url)
        log.info("emitted %d events for %s..%s", count, (old or "")[:7], (batch.upto or "")[:7])
    return count


def _events_since(vellum: Vellum, old: str, head: str) -> _Batch:
    """The events of the commits after `old`, stopping before one that failed fewer than
    ATTEMPTS times (it is tried again next time) and passing one that failed more."""
    retry = _read_json(vellum.state, RETRY_CURSOR) or {}
    try:
        commits = commits_after(vellum, old or None, head)
    except Exception as exc:
        gone = Skipped(head, None, f"the commits up to it cannot be listed: {exc}"[:500])
        batch = _failed(_Batch(old), retry, head, [gone])
        if not batch.retry:
            batch.upto = head
        return batch
    batch = _Batch(old)
    for commit in commits:
        events, skipped = commit_events(vellum, commit)
        if skipped:
            batch = _failed(batch, retry, commit["sha"], skipped)
            if batch.retry:
                return batch  # not past it yet: the next pass tries it again
        batch.events.extend(events)
        batch.upto = commit["sha"]
    batch.upto = head
    return batch


def _failed(batch: _Batch, retry: dict, sha: str, skipped: list[Skipped]) -> _Batch:
    """Count one more failed attempt at `sha`; after ATTEMPTS, pass it (noting why)."""
    attempts = retry.get("attempts", 0) + 1 if retry.get("sha") == sha else 1
    reasons = "; ".join(f"{s.path or 'the commit'}: {s.reason}" for s in skipped)
    if attempts < ATTEMPTS:
        log.warning("commit %s: attempt %d failed (%s); trying again", sha[:7], attempts, reasons)
        batch.retry = {"sha": sha, "attempts": attempts}
        return batch
    log.error(
        "commit %s: passed over after %d attempts, with what could be emitted: %s",
        sha[:7],
        attempts,
        reasons,
    )
    batch.retry = {}
    batch.skipped.extend(skipped)
    return batch


def _note_skipped(db: Connection, skipped: list[Skipped]) -> None:
    row = db.execute("SELECT value FROM cursors WHERE name = ?", (SKIPPED_CURSOR,)).fetchone()
    kept = orjson.loads(row["value"]) if row else []
    kept += [{**s.as_dict(), "at": iso(utcnow())} for s in skipped]
    set_cursor(db, SKIPPED_CURSOR, _json(kept[-KEEP_SKIPPED:]))


def skipped(state: StateStore) -> list[dict]:
    """The latest commits, or files of commits, that could not become events, newest last."""
    return _read_json(state, SKIPPED_CURSOR) or []


def _read_json(state: StateStore, name: str) -> Any:
    value = get_cursor(state, name)
    return orjson.loads(value) if value else None


def _json(payload: Any) -> str:
    """JSON of an event; text that is not valid UTF-8 (a file name in another encoding)
    is written with replacement characters rather than lost with its event."""
    try:
        return orjson.dumps(payload).decode()
    except orjson.JSONEncodeError:
        text = json.dumps(payload, ensure_ascii=False, default=str)
        return text.encode("utf-8", "replace").decode("utf-8")


def since(state: StateStore, after_seq: int, limit: int = 100) -> list[Row]:
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
