"""Content hosted elsewhere: fetch, fast-forward, push API writes; never force either side."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import orjson

from vellum.errors import Conflict, ServiceUnavailable, VellumError
from vellum.live.duties import process_alone
from vellum.live.loop import Loop
from vellum.store import outbox
from vellum.store.events import Event
from vellum.store.git import Diverged, RemoteError
from vellum.store.journal import write_lock
from vellum.store.state import StateStore, iso, utcnow

if TYPE_CHECKING:
    from vellum.services import Vellum

log = logging.getLogger("vellum.remote")
STATUS_CURSOR = "remote"


def pull(vellum: Vellum, remote: str) -> str:
    """Bring the branch in line with the remote: 'up-to-date', 'pulled' or 'pushed'. A
    replica only pulls: commits of its own (made by hand in its clone) stay there,
    'ahead', for someone to push or undo; only the primary's writes reach the remote."""
    push = vellum.config.get("ROLE") != "replica"
    try:
        with write_lock(vellum):
            outcome = vellum.repo.sync_remote(remote, push=push)
            if outcome == "pulled":
                # Under the lock: a write checks against the pulled files, and a pull that
                # finds nothing new (a push hook's, another process's) answers once the
                # index holds what the first one brought.
                vellum.sync()
    except RemoteError as exc:
        _failed(vellum.state, remote, exc)
        if isinstance(exc, Diverged):
            raise Conflict(str(exc)) from exc
        raise ServiceUnavailable(str(exc)) from exc
    _record(vellum.state, {"remote": remote, "state": "ok", "last": outcome})
    if outcome == "pulled":
        process_alone(vellum)
    return outcome


def remote_status(state: StateStore) -> dict | None:
    """The last outcome of talking to the remote (shown by /api/_status), if any."""
    value = outbox.get_cursor(state, STATUS_CURSOR)
    return orjson.loads(value) if value else None


def remote_lag(state: StateStore) -> float | None:
    """Seconds since the last successful fetch of the remote; None before the first, or
    while fetches fail."""
    status = remote_status(state) or {}
    if status.get("state") != "ok" or not status.get("at"):
        return None
    at = dt.datetime.fromisoformat(status["at"].replace("Z", "+00:00"))
    return round((dt.datetime.now(dt.UTC) - at).total_seconds(), 1)


def _failed(state: StateStore, remote: str, exc: RemoteError) -> None:
    """Record why; emit sync.failed once per new reason, not on every poll."""
    kind = "diverged" if isinstance(exc, Diverged) else "failed"
    before = remote_status(state) or {}
    _record(state, {"remote": remote, "state": kind, "reason": str(exc)})
    if before.get("reason") != str(exc):
        data = {"remote": remote, "state": kind, "reason": str(exc)}
        outbox.emit(state, [Event("sync.failed", data, key="sync")])


def _record(state: StateStore, status: dict) -> None:
    with state.transaction() as db:
        outbox.set_cursor(db, STATUS_CURSOR, orjson.dumps({**status, "at": iso(utcnow())}).decode())


class Puller(Loop):
    """Polls the remote every `interval` seconds (run beside the watcher by vellum.live.leader)."""

    name = "vellum-puller"

    def __init__(self, vellum: Vellum, remote: str, interval: float) -> None:
        super().__init__(interval)
        self.vellum, self.remote = vellum, remote

    def cycle(self) -> None:
        """One fetch; a refusal is logged and the loop goes on."""
        try:
            pull(self.vellum, self.remote)
        except VellumError as exc:
            log.warning("remote %s: %s", self.remote, exc.message)
