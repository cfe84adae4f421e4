"""`vellum serve --export DIR`: the live process keeps the export current. It sees every
commit (its watcher indexes them), so a commit reaches the files within a poll."""

from __future__ import annotations

import logging

from vellum.export.run import Exporter
from vellum.live.loop import Loop

log = logging.getLogger("vellum.export")
POLL = 0.2  # seconds between looks at the index; the watcher also wakes the loop


class ExportLoop(Loop):
    """Exports again whenever the index (or vellum.yml) moved since the last export."""

    name = "vellum-export"

    def __init__(self, exporter: Exporter, interval: float = POLL) -> None:
        super().__init__(interval)
        self.exporter = exporter
        self._done: tuple | None = None
        self._warm = True

    def cycle(self) -> None:
        catalog = self.exporter.app.extensions["vellum"].catalog()
        seen = (catalog.generation, id(catalog.site))
        if seen == self._done:
            if self._warm:  # idle: make list pages quick to render after the next commit
                self._warm = self.exporter.warm()
            return
        report = self.exporter.run()
        self._done, self._warm = seen, True
        log.info(
            "export: %d written, %d deleted, %d unchanged in %.2fs (%s)",
            report.written,
            report.deleted,
            report.unchanged,
            report.seconds,
            self.exporter.root,
        )

    def stop(self, timeout: float = 15.0) -> None:
        super().stop(timeout)
        self.exporter.app.extensions["vellum"].close()
