"""One outbox poller per server process, fanning new events out to every open event stream.

A stream waits on the fan-out instead of polling SQLite itself: a thousand open streams
cost one query every POLL seconds, not a thousand. The poller runs only while some stream
waits, as a thread (a greenlet under gevent, whose patched threading it then uses). With
the state shared on PostgreSQL a listener runs beside it and wakes it as soon as any
machine writes events (vellum.store.notify); the poll is then the fallback.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from vellum.store import outbox
from vellum.store.notify import Listener
from vellum.store.state import StateStore

log = logging.getLogger("vellum")
POLL = 0.1  # seconds between the poller's queries: an event's latency on top of its commit
KEEP = 1000  # recent events held, so a stream a little behind reads none from SQLite
BATCH = 500
RENDERED = 256  # rendered payloads kept (one per recent event and audience)


class Fanout:
    """The events committed to the outbox since the poller started, for every stream."""

    def __init__(self, state: StateStore, poll: float = POLL, keep: int = KEEP) -> None:
        self._state = state
        self._poll = poll
        self._changed = threading.Condition()
        self._rows: deque = deque(maxlen=keep)  # oldest first
        self._floor = 0  # every event after this seq, up to _last, is in _rows
        self._last = 0
        self._watchers = 0
        self._thread: threading.Thread | None = None
        self._rendered: OrderedDict[Any, str] = OrderedDict()
        self._woken = False
        self.listener: Listener | None = None
        self.stopped = False

    def watch(self) -> Callable[[], None]:
        """Count one stream in (the poller runs while any is); call the result when it ends."""
        with self._changed:
            self._watchers += 1
            starting = self._thread is None and not self.stopped
            if starting:
                self._last = self._floor = outbox.last_seq(self._state)
                self._rows.clear()
                self._thread = threading.Thread(target=self._run, name="vellum-events")
                self._thread.daemon = True
        if starting:  # outside the lock: starting a thread waits for it to run
            self._thread.start()
        return self._unwatch

    def _unwatch(self) -> None:
        with self._changed:
            self._watchers -= 1

    def wait(self, after: int, timeout: float) -> list | None:
        """The events after seq `after`, oldest first, waiting at most `timeout` seconds for
        one; None when `after` is older than what is held (read those from the outbox)."""
        with self._changed:
            if after < self._floor:
                return None
            self._changed.wait_for(lambda: self._last > after or self.stopped, max(timeout, 0))
            if after < self._floor:  # so many came that some were let go meanwhile
                return None
            newer = []
            for row in reversed(self._rows):
                if row["seq"] <= after:
                    break
                newer.append(row)
            return newer[::-1]

    def rendered(self, key: Any, render: Callable[[], str]) -> str:
        """render(), done once per key for every stream (an event as one audience sees it)."""
        with self._changed:
            text = self._rendered.get(key)
        if text is None:
            text = render()
            with self._changed:
                self._rendered[key] = text
                while len(self._rendered) > RENDERED:
                    self._rendered.popitem(last=False)
        return text

    def wake(self) -> None:
        """New events were written (any machine): the poller looks now, not after POLL."""
        with self._changed:
            self._woken = True
            self._changed.notify_all()

    def stop(self) -> None:
        """End every stream now (they send the id to resume from), and the poller."""
        with self._changed:
            self.stopped = True
            self._changed.notify_all()

    def _run(self) -> None:
        url = self._state.url
        listener = self.listener = Listener(url, self.wake).start() if url else None
        try:
            self._poll_while_watched()
        finally:
            if listener is not None:
                listener.stop()

    def _poll_while_watched(self) -> None:
        while True:
            with self._changed:
                if not self._watchers or self.stopped:
                    self._thread = None
                    return
                after, self._woken = self._last, False
            try:
                rows = outbox.since(self._state, after, BATCH)
            except Exception:  # a locked or damaged database: streams wait, the poller goes on
                log.exception("Reading new events for the event streams failed")
                rows = []
            if rows:
                self._add(rows)
            if len(rows) < BATCH:
                with self._changed:
                    self._changed.wait_for(lambda: self.stopped or self._woken, self._poll)

    def _add(self, rows: list) -> None:
        with self._changed:
            for row in rows:
                if len(self._rows) == self._rows.maxlen:
                    self._floor = self._rows[0]["seq"]
                self._rows.append(row)
            self._last = rows[-1]["seq"]
            self._changed.notify_all()
