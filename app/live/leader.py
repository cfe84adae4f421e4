"""Who runs the live duties: this machine's under its flock, the site's under the site
lease (vellum.live.lease, vellum.live.duties).

`vellum serve` starts `vellum live` beside its workers. Several of them on one machine (two
`serve`s of one site) queue on an flock in the state folder; the kernel releases it when
its holder dies, even by kill -9, and the next in line takes over within a poll interval.
The holder runs the watcher of the machine's clone, the remote puller and the export,
and polls for the site lease: with the SQLite state the flock is that lease too; with the
state shared on PostgreSQL one machine's live process holds it and the others wait.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from vellum.live.duties import SiteDuties
from vellum.live.lease import POLL, FileLease, site_lease
from vellum.live.loop import Loop
from vellum.live.remote import Puller
from vellum.live.watcher import Watcher

if TYPE_CHECKING:
    from vellum.services import Vellum

log = logging.getLogger("vellum.live")
# Without --poll the remote is still pushed to when the head moves, and checked hourly.
IDLE_PULL = 3600.0


def run_live(
    vellum: Vellum,
    stop: threading.Event,
    alive: Callable[[], bool] = lambda: True,
    extra: Sequence[Loop] = (),
) -> bool:
    """Wait for this machine's flock, catch up on missed saves, run this machine's loops
    (and `extra`, woken by the watcher as the dispatcher is: the static export), and run
    the site's duties whenever this process holds the site lease, until `stop`."""
    with FileLease(vellum.state_dir / "live.lock") as local:
        if not local.wait(stop, alive=alive):
            return False
        log.info("live: this process (%d) runs this machine's watcher", os.getpid())
        duties = SiteDuties(vellum, site_lease(vellum.state.url))
        woken: list = []
        watcher = Watcher(
            vellum,
            on_events=lambda: [duties.wake(), *(w.wake() for w in woken)],
            commits=duties.process_commits,
        )
        watcher.observe()  # before the catch-up sync: a save made during it is not lost
        try:
            head = vellum.repo.head()
            vellum.sync()
        except BaseException:
            watcher.stop()
            raise
        watcher.synced_head = head  # no second pass unless the head moved meanwhile
        with contextlib.ExitStack() as loops:
            loops.enter_context(watcher)
            woken.extend(loops.enter_context(loop) for loop in extra)
            remote = vellum.config.get("REMOTE")
            if remote:
                every = vellum.config.get("POLL") or IDLE_PULL
                woken.append(loops.enter_context(Puller(vellum, remote, every)))
            loops.enter_context(duties)
            duties.tick()
            while not stop.wait(POLL) and alive():
                duties.tick()
    return True
