"""The site's duties, run by whichever process holds the site lease: turning commits
into events, the webhook dispatcher and the state-store pruner.

The holder looks at its lease every poll and gives the duties up at once when it is lost
(its database connection cut): two dispatchers never run side by side for long enough
to send one event twice. Commits are turned into events from this machine's clone, but
never while the clone is behind the shared cursor (another machine's clone processed
commits this one has not pulled yet): it waits for its pull, so nothing is skipped or
replayed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from vellum.live.dispatcher import Dispatcher
from vellum.live.lease import SiteLease
from vellum.live.retention import Pruner
from vellum.store import outbox, pg
from vellum.store.events import Event
from vellum.store.notify import Listener

if TYPE_CHECKING:
    from vellum.services import Vellum

log = logging.getLogger("vellum.live")


class SiteDuties:
    """Starts the site's duties when the lease is taken, stops them when it is lost."""

    def __init__(self, vellum: Vellum, lease: SiteLease, dispatch_every: float = 0.2) -> None:
        self.vellum = vellum
        self.lease = lease
        self.dispatch_every = dispatch_every  # the dispatcher's poll, when nothing wakes it
        self.held = False
        self.dispatcher: Dispatcher | None = None
        self._loops = contextlib.ExitStack()
        self._processing = threading.Lock()  # one pass over new commits at a time

    def tick(self) -> None:
        """Once a poll: take the lease if it is free; stop the duties if it was lost."""
        if self.held:
            if not self.lease.check():
                log.warning("live: the site lease was lost; the site's duties stop here")
                self._stop()
            return
        if self.lease.try_acquire():
            try:
                self._start()
            except Exception:  # the state store failed us: give the lease to another
                log.exception("live: the site's duties could not start; trying again")
                self._stop()

    def process_commits(self, vellum: Vellum | None = None) -> int:
        """The events of new commits, when this process holds the lease and its clone has
        every commit the cursor names; else 0 (the holder, or a later pass, does it)."""
        if not self.held:
            return 0
        with self._processing:
            if not self.held or behind_cursor(self.vellum):
                return 0
            count = outbox.process_head(self.vellum)
        if count:
            self.wake()
        return count

    def wake(self) -> None:
        """New events: the dispatcher looks now."""
        if self.dispatcher is not None:
            self.dispatcher.wake()

    def close(self) -> None:
        """Stop the duties and give the lease back."""
        self._stop()

    def __enter__(self) -> SiteDuties:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _start(self) -> None:
        self.held = True
        me = pg.identity()
        log.info("live: this process (%s, %d) runs the site's duties", me["host"], me["pid"])
        self.process_commits()
        self.dispatcher = self._loops.enter_context(Dispatcher(self.vellum, self.dispatch_every))
        self._loops.enter_context(Pruner(self.vellum))
        url = self.vellum.state.url
        if url:  # events written on other machines wake the dispatcher at once
            self._loops.enter_context(Listener(url, self.dispatcher.wake))
        # Announced once every loop runs: a client that waits for it misses no save.
        outbox.emit(self.vellum.state, [Event("system.started", me, key="system")])
        self.dispatcher.wake()

    def _stop(self) -> None:
        self.held = False  # first: no commit is processed from here on
        with self._processing:
            pass  # and none still is once this returns
        self.dispatcher = None
        self._loops.close()
        self._loops = contextlib.ExitStack()
        self.lease.release()


def behind_cursor(vellum: Vellum) -> bool:
    """The shared cursor names a commit this clone has not pulled yet, or one past its
    head. With the SQLite state there is one clone: a head behind the cursor was reset,
    and its events are news (outbox.process_head tells rewritten history)."""
    if not vellum.state.postgres:
        return False
    cursor, head = outbox.get_cursor(vellum.state), vellum.repo.head()
    if not cursor or head is None or cursor == head:
        return False
    if vellum.repo.resolve(cursor) is None:
        return True
    return vellum.repo.is_ancestor(head, cursor)


def process_alone(vellum: Vellum) -> int:
    """process_head where no lease is held (a pull, a git hook): with the state shared,
    the lease holder's watcher turns the commits into events instead, from its clone."""
    return 0 if vellum.state.postgres else outbox.process_head(vellum)
