"""Deliveries in the state store: fan-out, what is due, each attempt, the log, redelivery."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable

from vellum.errors import Conflict, NotFound
from vellum.live.delivery import Outcome
from vellum.live.webhooks import Endpoint
from vellum.store.outbox import set_cursor
from vellum.store.sql import Row
from vellum.store.state import StateStore, iso, utcnow

FANOUT_CURSOR = "fanout"
BATCH = 500


def fan_out(state: StateStore, endpoints: Iterable[Endpoint]) -> int:
    """Give every event not yet fanned out a pending delivery per endpoint that wants it."""
    endpoints = list(endpoints)
    now = time.time()
    with state.transaction() as db:
        db.lock("cursor:fanout")  # one fan-out at a time, on any machine
        row = db.execute("SELECT value FROM cursors WHERE name = ?", (FANOUT_CURSOR,)).fetchone()
        after = int(row["value"]) if row else 0
        events = db.execute(
            "SELECT seq, name, model, key FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, BATCH),
        ).fetchall()
        if not events:
            return 0
        rows = [
            (e.id, ev["seq"], ev["key"], now)
            for ev in events
            for e in endpoints
            if e.wants(ev["name"], ev["model"])
        ]
        db.executemany(
            "INSERT INTO deliveries (endpoint, seq, key, state, attempts, next_at)"
            " VALUES (?, ?, ?, 'pending', 0, ?) ON CONFLICT DO NOTHING",
            rows,
        )
        set_cursor(db, FANOUT_CURSOR, str(events[-1]["seq"]))
    return len(rows)


def due(state: StateStore, endpoint_id: str, now: float, limit: int = 100) -> list[Row]:
    """An endpoint's pending deliveries whose time has come and no earlier one of their key
    awaits (asked per endpoint, so one endpoint's backlog never starves another)."""
    return state.query(
        "SELECT d.endpoint, d.seq, d.attempts, e.id, e.name, e.payload"
        " FROM deliveries d JOIN events e ON e.seq = d.seq"
        " WHERE d.endpoint = ? AND d.state = 'pending' AND d.next_at <= ? AND NOT EXISTS ("
        "   SELECT 1 FROM deliveries p WHERE p.endpoint = d.endpoint"
        "   AND p.key IS NOT DISTINCT FROM d.key AND p.state = 'pending' AND p.seq < d.seq)"
        " ORDER BY d.seq LIMIT ?",
        (endpoint_id, now, limit),
    )


def record_attempt(state: StateStore, endpoint: Endpoint, row: Row, outcome: Outcome) -> str:
    """Log one attempt and move the delivery on: delivered, retried later, or dead."""
    attempts = row["attempts"] + 1
    retry = endpoint.retry
    if outcome.ok:
        new_state, next_at = "delivered", 0.0
    elif attempts >= retry["max_attempts"]:
        new_state, next_at = "dead", 0.0
    else:
        new_state, next_at = "pending", time.time() + backoff(retry, attempts)
    with state.transaction() as db:
        db.execute(
            "INSERT INTO delivery_attempts (endpoint, event_id, event, at, attempt, status_code,"
            " duration_ms, error, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                endpoint.id,
                row["id"],
                row["name"],
                iso(utcnow()),
                attempts,
                outcome.status,
                outcome.duration_ms,
                outcome.error,
                outcome.response,
            ),
        )
        db.execute(
            "UPDATE deliveries SET state = ?, attempts = ?, next_at = ?"
            " WHERE endpoint = ? AND seq = ?",
            (new_state, attempts, next_at, endpoint.id, row["seq"]),
        )
    return new_state


def backoff(retry: dict, attempts: int) -> float:
    """Exponential delay after the n-th failed attempt, capped, with jitter (half to full)."""
    delay = min(retry["max_delay"], retry["backoff"] * 2 ** (attempts - 1))
    return delay * random.uniform(0.5, 1.0)


def attempts_log(state: StateStore, endpoint_id: str, limit: int = 100, offset: int = 0) -> list:
    """An endpoint's delivery attempts, newest first."""
    rows = state.query(
        "SELECT event_id, event, at, attempt, status_code, duration_ms, error, response"
        " FROM delivery_attempts WHERE endpoint = ? ORDER BY id DESC LIMIT ? OFFSET ?",
        (endpoint_id, limit, offset),
    )
    return [
        {
            "eventId": r["event_id"],
            "event": r["event"],
            "at": r["at"],
            "attempt": r["attempt"],
            "statusCode": r["status_code"],
            "durationMs": r["duration_ms"],
            "error": r["error"],
            "response": r["response"],
        }
        for r in rows
    ]


def redeliver(state: StateStore, endpoint: Endpoint, event_id: str) -> None:
    """Queue an event for an endpoint again, from its first attempt; only an event the
    endpoint takes (its events and models)."""
    endpoint_id = endpoint.id
    with state.transaction() as db:
        row = db.execute(
            "SELECT seq, key, name, model FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"No event {event_id!r}")
        if not endpoint.wants(row["name"], row["model"]):
            raise Conflict(f"Webhook {endpoint_id} does not take {row['name']} events")
        db.execute(
            "INSERT INTO deliveries (endpoint, seq, key, state, attempts, next_at)"
            " VALUES (?, ?, ?, 'pending', 0, ?) ON CONFLICT (endpoint, seq) DO UPDATE"
            " SET state = 'pending', attempts = 0, next_at = excluded.next_at",
            (endpoint_id, row["seq"], row["key"], time.time()),
        )
