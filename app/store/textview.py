"""One opened generation of the full-text index, with what each search would else redo.

A view holds a Whoosh searcher and, for its generation, each document's key and the
documents of each model (read once, not per hit), and the BM25F score every document
gets for a word, computed by Whoosh's own scorer the first time a query uses the word.
A query of one or two plain words, the common case, is then answered from those tables:
the same hits, scores and order as Whoosh's collector, without walking postings in
Python at every request. Any other query goes through Whoosh's searcher.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from whoosh import query

# Postings kept scored per view; common words of a 10,000-record site hold ~6,000 each.
TERM_CACHE_POSTINGS = 400_000
ALLOWED_CACHE = 32  # (models, keys) filters kept per view


@dataclass(frozen=True, slots=True)
class Hit:
    key: str
    score: float


class TextView:
    """A searcher of one text index generation, its keys, models and scored words."""

    def __init__(self, searcher, field: str) -> None:
        self.searcher = searcher
        self.field = field
        self.keys: dict[int, str] = {}
        self.docnums: dict[str, int] = {}
        self.by_model: dict[str, frozenset[int]] = {}
        models: dict[str, set[int]] = {}
        for docnum, stored in searcher.reader().iter_docs():
            self.keys[docnum] = stored["key"]
            self.docnums[stored["key"]] = docnum
            models.setdefault(stored.get("model") or "", set()).add(docnum)
        self.by_model = {name: frozenset(docs) for name, docs in models.items()}
        self._terms: OrderedDict[str, dict[int, float]] = OrderedDict()
        self._cached = 0
        self._allowed: dict[tuple, tuple] = {}

    def close(self) -> None:
        self.searcher.close()

    def up_to_date(self) -> bool:
        return self.searcher.up_to_date()

    def allowed(self, models: Iterable[str] | None, keys: frozenset[str] | None = None):
        """The documents of these models (None: all) whose keys are in `keys` (None: any
        key), kept for the next search with the same models and the same set of keys."""
        if models is None and keys is None:
            return None
        cache_key = (None if models is None else tuple(models), id(keys))
        found = self._allowed.get(cache_key)
        if found is not None and found[0] is keys:
            return found[1]
        allowed: set[int] | None = None
        if models is not None:
            allowed = set()
            for name in models:
                allowed |= self.by_model.get(name, frozenset())
        if keys is not None:
            docnums = {self.docnums[k] for k in keys if k in self.docnums}
            allowed = docnums if allowed is None else allowed & docnums
        if len(self._allowed) >= ALLOWED_CACHE:
            self._allowed.clear()
        self._allowed[cache_key] = (keys, allowed)  # keys kept: its id is not reused
        return allowed

    def search(self, parsed: query.Query, allowed: set[int] | None, limit: int | None):
        """Hits best first (ties: lower document number first), as Whoosh ranks them."""
        return self.page(parsed, allowed, 0, limit)[0]

    def page(
        self, parsed: query.Query, allowed: set[int] | None, offset: int, limit: int | None
    ) -> tuple[list[Hit], int]:
        """The hits from `offset` on (`limit` of them; None: all), ranked as Whoosh ranks
        them, and how many documents match in all."""
        ranked, total = self.ranked(parsed, allowed, offset, limit)
        return [Hit(self.keys[docnum], round(score, 4)) for docnum, score in ranked], total

    def ranked(
        self, parsed: query.Query, allowed: set[int] | None, offset: int, limit: int | None
    ) -> tuple[list[tuple[int, float]], int]:
        """(docnum, score) from `offset` on, best first, and how many match in all."""
        if allowed is not None and not allowed:
            return [], 0  # Whoosh would take an empty filter for no filter at all
        stop = None if limit is None else offset + limit
        words = _plain_words(parsed, self.field)
        if words is None:
            top = self.searcher.search(parsed, limit=None, filter=allowed).top_n
            return [(docnum, score) for score, docnum in top[offset:stop]], len(top)
        scored = self._score(words, allowed)
        if stop is None:
            return sorted(scored.items(), key=_rank)[offset:], len(scored)
        return heapq.nsmallest(stop, scored.items(), key=_rank)[offset:], len(scored)

    def _score(self, words: list[str], allowed: set[int] | None) -> dict[int, float]:
        """Document → score for every allowed document holding all the words (at most
        two: the sum is then the one Whoosh's intersection makes, in either order)."""
        tables = [self._term(word) for word in words]
        common = tables[0].keys()
        for table in tables[1:]:
            common = common & table.keys()
        if allowed is not None:
            common = common & allowed
        if len(tables) == 1:
            return {docnum: tables[0][docnum] for docnum in common}
        first, second = tables
        return {docnum: first[docnum] + second[docnum] for docnum in common}

    def _term(self, word: str) -> dict[int, float]:
        """Document → Whoosh's BM25F score for one word, kept for later queries."""
        table = self._terms.get(word)
        if table is not None:
            self._terms.move_to_end(word)
            return table
        table = {}
        matcher = query.Term(self.field, word).matcher(self.searcher)
        while matcher.is_active():
            table[matcher.id()] = matcher.score()
            matcher.next()
        self._terms[word] = table
        self._cached += len(table)
        while self._cached > TERM_CACHE_POSTINGS and len(self._terms) > 1:
            _, dropped = self._terms.popitem(last=False)
            self._cached -= len(dropped)
        return table


def _rank(pair: tuple[int, float]) -> tuple[float, int]:
    return (-pair[1], pair[0])


def _plain_words(parsed: query.Query, field: str) -> list[str] | None:
    """The words of a query of one or two unboosted words in `field`; None for any other."""
    terms = parsed.subqueries if isinstance(parsed, query.And) else [parsed]
    if isinstance(parsed, query.And) and parsed.boost != 1.0:
        return None
    if not 1 <= len(terms) <= 2:
        return None
    words = []
    for term in terms:
        if type(term) is not query.Term or term.fieldname != field or term.boost != 1.0:
            return None
        words.append(term.text.decode() if isinstance(term.text, bytes) else term.text)
    return words
