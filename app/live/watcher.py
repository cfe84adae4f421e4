"""The watcher: file saves update the index, head moves become events. The one watchdog seam."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from vellum.live.loop import Loop, log
from vellum.store import outbox
from vellum.store.events import Event
from vellum.store.records import SKIPPED_SUFFIXES, blob_sha
from vellum.store.sync import record_identity

if TYPE_CHECKING:
    from vellum.services import Vellum

WATCHED = {"created", "modified", "moved", "deleted", "closed"}
# Editors' swap, backup and lock files, and vim's write test.
IGNORED_NAMES = ("4913",)
IGNORED_PREFIXES = (".", "#")
REF_NAMES = ("HEAD", "packed-refs")
DEBOUNCE = 0.025
MAX_BATCH_WAIT = 2.0
PREVIEW_LIMIT = 200


class Watcher(Loop):
    """Watches the site's files and its Git refs; syncs in debounced batches."""

    name = "vellum-watcher"

    def __init__(
        self,
        vellum: Vellum,
        on_events: Callable[[], None] | None = None,
        interval: float = 1.0,
        debounce: float = DEBOUNCE,
        commits: Callable[[Vellum], int] = outbox.process_head,
    ) -> None:
        super().__init__(interval)
        self.vellum = vellum
        self.on_events = on_events or (lambda: None)
        # What turns new commits into events (the site lease holder's, when it is ours).
        self.commits = commits
        # The head the index was last synced at; until known, the processed one (as
        # a commit made while nothing watched is both unsynced and unprocessed).
        self.synced_head: str | None | bool = False
        self.debounce = debounce
        self.site_root = vellum.site.root
        self.git_dir = vellum.repo.git_dir
        self._pending: set[str] = set()
        self._head_hint = False
        self._full = False  # a folder came or went: the batch's paths are not the whole story
        self._last = 0.0
        self._mutex = threading.Lock()
        self._observer = Observer()
        self.batches = 0

    def __enter__(self) -> Watcher:
        self.observe()
        super().__enter__()
        return self

    def observe(self) -> None:
        """Start noticing saves (they wait for the loop), so that a caller can sync the
        whole site after this and know nothing saved meanwhile is missed."""
        if self._observer.is_alive():
            return
        # Never .git recursively: its objects folder churns (push quarantines come and go).
        self._handler = _Handler(self)
        self._observer.schedule(self._handler, str(self.site_root), recursive=False)
        for entry in os.scandir(self.site_root):
            if entry.is_dir(follow_symlinks=False):
                self.watch_folder(Path(entry.path))
        self._observer.schedule(self._handler, str(self.git_dir), recursive=False)
        heads = self.git_dir / "refs" / "heads"
        if heads.is_dir():
            self._observer.schedule(self._handler, str(heads), recursive=True)
        self._observer.start()

    def watch_folder(self, folder: Path) -> None:
        """Watch a top-level folder of the site (and all below it) unless it is hidden."""
        if folder.parent == self.site_root and not ignored(Path(folder.name)):
            with contextlib.suppress(OSError):  # gone again already
                self._observer.schedule(self._handler, str(folder), recursive=True)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the observer and the loop, joining both threads."""
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout)
        super().stop(timeout)

    def notice(self, path: str) -> None:
        """Take one file system path from the observer (any thread)."""
        where = Path(path)
        if where.is_relative_to(self.git_dir):
            rel = where.relative_to(self.git_dir).as_posix()
            if rel in REF_NAMES or rel.startswith("refs/heads/"):
                self._head_hint = True
                self.wake()
            return
        if not where.is_relative_to(self.site_root) or ignored(where.relative_to(self.site_root)):
            return
        with self._mutex:
            self._pending.add(where.relative_to(self.site_root).as_posix())
            self._last = time.monotonic()
        self.wake()

    def folder_changed(self, path: str) -> None:
        """A folder in the site came, went or moved: the next sync looks at every file."""
        where = Path(path)
        if where.is_relative_to(self.site_root) and not where.is_relative_to(self.git_dir):
            if not ignored(where.relative_to(self.site_root)):
                self._full = True
                self.notice(str(where / "_"))

    def cycle(self) -> None:
        """Sync a settled batch of saves, then turn any head move into events."""
        paths = self._settled_batch()
        head_hint, self._head_hint = self._head_hint, False
        head = self.vellum.repo.head()
        processed = outbox.get_cursor(self.vellum.state) or None  # "": no commit yet
        if self.synced_head is False:
            self.synced_head = processed
        moved = head != self.synced_head
        unprocessed = head != processed
        full, self._full = self._full, False
        needed = paths or moved or head_hint or full
        count = self._sync(None if full else paths) if needed else 0
        self.synced_head = head
        count += self.commits(self.vellum) if unprocessed else 0
        if paths:
            self.batches += 1
            count += outbox.emit(self.vellum.state, preview_events(self.vellum, paths))
        if count:
            self.on_events()
        if needed:
            # After the events: search may lag a moment, webhooks need not. One process, no fork.
            self.vellum.sync_text(parallel=False)

    def _sync(self, paths: list[str] | None) -> int:
        """Sync the index (only `paths` when given); a rebuild or a failure is an event too."""
        try:
            report = self.vellum.sync(paths=paths, text=False)
        except FileNotFoundError:
            # A file vanished mid-sync (a checkout in progress): look at everything again.
            self._full = True
            self.wake()
            return 0
        except Exception as exc:
            failed = Event("sync.failed", {"error": f"{type(exc).__name__}: {exc}"}, key="sync")
            outbox.emit(self.vellum.state, [failed])
            raise
        if not report.rebuilt:
            return 0
        rebuilt = Event("index.rebuilt", report.as_dict(), key="index")
        return outbox.emit(self.vellum.state, [rebuilt])

    def _settled_batch(self) -> list[str]:
        """Wait until no save came for `debounce` seconds (a checkout is one batch)."""
        started = time.monotonic()
        while not self.stopping.is_set():
            with self._mutex:
                quiet = time.monotonic() - self._last
                if not self._pending or quiet >= self.debounce:
                    break
            if time.monotonic() - started > MAX_BATCH_WAIT:
                break
            time.sleep(self.debounce - quiet)
        with self._mutex:
            paths, self._pending = sorted(self._pending), set()
        return paths


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in WATCHED:
            return
        if event.is_directory:
            if event.event_type in ("created", "moved"):
                self.watcher.watch_folder(Path(os.fsdecode(event.dest_path or event.src_path)))
            if event.event_type in ("created", "moved", "deleted"):  # not a file inside changing
                self.watcher.folder_changed(os.fsdecode(event.src_path))
            return
        try:
            self.watcher.notice(os.fsdecode(event.src_path))
            if event.dest_path:
                self.watcher.notice(os.fsdecode(event.dest_path))
        except Exception:  # the observer thread must survive a surprise
            log.exception("watcher: could not handle %s", event)


def ignored(rel: Path) -> bool:
    """Hidden folders (.git), editor swap and temp files: never a reason to sync."""
    for part in rel.parts:
        if part.startswith(IGNORED_PREFIXES):
            return True
    name = rel.name
    return name.endswith(SKIPPED_SUFFIXES) or name in IGNORED_NAMES or name.endswith("#")


def preview_events(vellum: Vellum, paths: list[str]) -> list[Event]:
    """One `preview` event per record file saved with content that is not committed."""
    prefix = vellum.repo.relative(vellum.site.root)
    committed = vellum.repo.committed_blobs(prefix)
    events = []
    for path in paths[:PREVIEW_LIMIT]:
        ident = record_identity(vellum, path)
        if ident is None:
            continue
        file = vellum.site.root / path
        current = blob_sha(file.read_bytes()) if file.is_file() else None
        if current != committed.get(path):
            data = {**ident, "path": path, "deleted": current is None}
            # Unpublished by definition: for readers of drafts (editors), never anonymous.
            preview = Event("preview", data, ident["type"], key=f"preview:{path}", draft=True)
            events.append(preview)
    return events
