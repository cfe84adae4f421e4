"""A background loop as a context-managed thread with a stop event; a failed cycle is logged."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("vellum.live")


class Loop:
    """Runs `cycle()` every `interval` seconds, or at once when woken, until stopped."""

    name = "vellum-loop"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def cycle(self) -> None:
        raise NotImplementedError

    def wake(self) -> None:
        """Run the next cycle now rather than at the end of the interval."""
        self._wake.set()

    def __enter__(self) -> Loop:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the loop to end and wait for its thread."""
        self.stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.cycle()
            except Exception:
                log.exception("%s: cycle failed; going on", self.name)
            self._wake.wait(self.interval)
            self._wake.clear()
