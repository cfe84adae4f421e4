"""Word that events were written, across machines: NOTIFY after an outbox write, and a
LISTEN connection per process that wakes whoever waits for new events.

Only with the state shared on PostgreSQL (`StateStore.url`); with the SQLite state file the
sender does nothing and nobody listens (one machine: the pollers' short intervals are
the news). Polling stays either way: a lost notification delays an event by a poll
interval, never loses it, since the outbox, not the notification, holds the events.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable

from vellum.store import pg

log = logging.getLogger("vellum.events")
CHANNEL = "vellum_events"
WAIT = 1.0  # seconds a listener waits on its socket before looking at its stop flag
RETRY = 1.0  # seconds between attempts to listen again after the connection broke


def events_written(url: str | None) -> None:
    """Tell every process listening on the shared state at `url` (a StateStore's; None for
    the SQLite file) that new events are in the outbox. Call it after the transaction that
    wrote them commits; never raises."""
    if not url:
        return
    try:
        pg.shared(url, "notify").execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    except (pg.Error, OSError) as exc:
        # The events are stored already: the pollers find them a moment later.
        log.warning("could not announce new events: %s", exc)


class Listener:
    """A thread LISTENing for new events; calls `on_notify` on each batch of notifications
    and each time it starts listening (whatever came while it was not)."""

    def __init__(self, url: str, on_notify: Callable[[], None]) -> None:
        self.url = url
        self.on_notify = on_notify
        self.listening = threading.Event()
        self._stopping = threading.Event()
        self._outage = False
        self._thread = threading.Thread(target=self._run, name="vellum-listen", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except (pg.Error, OSError) as exc:
                if not self._outage:  # logged once, not at every retry
                    log.warning("listening for new events: %s; trying again", exc)
                self._outage = True
            except Exception:  # the thread must outlive a surprise: polling is the fallback
                log.exception("listening for new events failed; trying again")
            self.listening.clear()
            self._stopping.wait(RETRY)

    def _listen(self) -> None:
        with pg.connect(self.url, "listen") as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            self._outage = False
            self.on_notify()
            fd = conn.fileno()
            while not self._stopping.is_set():
                # select, not psycopg's wait: cooperative under gevent's patched select.
                ready, _, _ = select.select([fd], [], [], WAIT)
                if ready and pg.notifications(conn):
                    self.on_notify()
