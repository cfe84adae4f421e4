"""One watcher, dispatcher and state-store pruner per site, across processes: whoever holds
the flock runs them.

`vellum serve` starts `vellum live` beside its workers. Several of them (two `serve`s of
one site) queue on an flock in the state folder; the kernel releases it when its holder
dies, even by kill -9, and the next in line takes over within a poll interval.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vellum.live.dispatcher import Dispatcher
from vellum.live.loop import Loop
from vellum.live.remote import Puller
from vellum.live.retention import Pruner
from vellum.live.watcher import Watcher
from vellum.store import flock, outbox
from vellum.store.events import Event

if TYPE_CHECKING:
    from vellum.services import Vellum

log = logging.getLogger("vellum.live")
POLL = 0.5
# Without --poll the remote is still pushed to when the head moves, and checked hourly.
IDLE_PULL = 3600.0


class Leader:
    """An exclusive flock on a file; `wait` blocks until it is ours or we are told to stop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it."""
        fd = flock.try_lock(self.path)
        if fd is None:
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def wait(
        self, stop: threading.Event, poll: float = POLL, alive: Callable[[], bool] = lambda: True
    ) -> bool:
        """Poll for the lock until taken (True), or `stop` is set or `alive` says the server
        that started this process is gone (False)."""
        while not stop.is_set() and alive():
            if self.try_acquire():
                return True
            stop.wait(poll)
        return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self) -> Leader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def run_live(
    vellum: Vellum,
    stop: threading.Event,
    alive: Callable[[], bool] = lambda: True,
    extra: Sequence[Loop] = (),
) -> bool:
    """Wait for leadership, catch up on missed commits, run both loops (and `extra`, woken
    by the watcher as the dispatcher is: the static export) until `stop`."""
    with Leader(vellum.state_dir / "live.lock") as leader:
        if not leader.wait(stop, alive=alive):
            return False
        log.info("live: this process (%d) runs the watcher and the dispatcher", os.getpid())
        woken: list = []
        watcher = Watcher(vellum, on_events=lambda: [w.wake() for w in woken])
        watcher.observe()  # before the catch-up sync: a save made during it is not lost
        try:
            vellum.sync()
            outbox.process_head(vellum)
        except BaseException:
            watcher.stop()
            raise
        with contextlib.ExitStack() as loops:
            loops.enter_context(watcher)
            woken.append(loops.enter_context(Dispatcher(vellum)))
            woken.extend(loops.enter_context(loop) for loop in extra)
            loops.enter_context(Pruner(vellum))
            remote = vellum.config.get("REMOTE")
            if remote:
                every = vellum.config.get("POLL") or IDLE_PULL
                woken.append(loops.enter_context(Puller(vellum, remote, every)))
            # Announced once every loop runs: a client that waits for it misses no save.
            started = Event("system.started", {"pid": os.getpid()}, key="system")
            outbox.emit(vellum.state, [started])
            woken[0].wake()
            while not stop.wait(POLL):
                if not alive():
                    break
    return True
