"""Rendered answers of reads, kept per process: the same list or record, asked again of
the same catalog by the same audience, is bytes already made.

A key holds everything an answer depends on: the catalog (a new generation of the index
starts an empty cache), the route, the normalised query string and the audience. Kept
least recently used last, bounded in entries and in bytes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from vellum.store.catalog import Catalog

MAX_ENTRIES = 4096
MAX_BYTES = 64 * 2**20  # a list page of 20 records is some 40 KB: about 1,500 of them


@dataclass(frozen=True)
class Answer:
    body: bytes
    etag: str
    weak: bool


class Answers:
    """A bounded LRU of rendered answers for one catalog at a time."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._lock = threading.Lock()
        self._held: OrderedDict[Hashable, Answer] = OrderedDict()
        self._bytes = 0
        self._of: tuple = (None, None)  # the generation and site the answers come from

    def get(self, catalog: Catalog, key: Hashable, make: Callable[[], Answer]) -> Answer:
        """The answer for `key` in `catalog`, made (outside the lock) when not held."""
        of = (catalog.generation, catalog.site)  # not the catalog: it may go once replaced
        with self._lock:
            if not _same(of, self._of):  # the index or models moved on: answers may differ
                self._held.clear()
                self._bytes, self._of = 0, of
            found = self._held.get(key)
            if found is not None:
                self._held.move_to_end(key)
                return found
        answer = make()
        if len(answer.body) <= self.max_bytes // 16:  # one huge answer never empties it
            self._keep(of, key, answer)
        return answer

    def _keep(self, of: tuple, key: Hashable, answer: Answer) -> None:
        with self._lock:
            if not _same(of, self._of) or key in self._held:
                return
            self._held[key] = answer
            self._bytes += len(answer.body)
            while len(self._held) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._held.popitem(last=False)
                self._bytes -= len(dropped.body)

    def __len__(self) -> int:
        return len(self._held)


def _same(one: tuple, other: tuple) -> bool:
    """The same generation of the same site object (a site compares by value: slow)."""
    return one[0] == other[0] and one[1] is other[1]
