"""One opened generation of the full-text index, with what each search would else redo.

A view holds a Whoosh searcher and, for its generation, each document's key and the
documents of each model (read once, not per hit), and the BM25F score every document
gets for a word, computed by Whoosh's own scorer the first time a query uses the word.
A query of one or two plain words, the common case, is then answered from those tables:
the same hits, scores and order as Whoosh's collector, without walking postings in
Python at every request. Any other query goes through Whoosh's searcher.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from whoosh import query

# Postings kept scored per view; common words of a 10,000-record site hold ~6,000 each.
TERM_CACHE_POSTINGS = 400_000


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
        self.by_model: dict[str, frozenset[int]] = {}
        models: dict[str, set[int]] = {}
        for docnum, stored in searcher.reader().iter_docs():
            self.keys[docnum] = stored["key"]
            models.setdefault(stored.get("model") or "", set()).add(docnum)
        self.by_model = {name: frozenset(docs) for name, docs in models.items()}
        self._terms: OrderedDict[str, dict[int, float]] = OrderedDict()
        self._cached = 0

    def close(self) -> None:
        self.searcher.close()

    def up_to_date(self) -> bool:
        return self.searcher.up_to_date()

    def allowed(self, models: Iterable[str] | None) -> set[int] | None:
        """The documents of these models (None: every document)."""
        if models is None:
            return None
        allowed: set[int] = set()
        for name in models:
            allowed |= self.by_model.get(name, frozenset())
        return allowed

    def search(self, parsed: query.Query, allowed: set[int] | None, limit: int | None):
        """Hits best first (ties: lower document number first), as Whoosh ranks them."""
        if allowed is not None and not allowed:
            return []  # Whoosh would take an empty filter for no filter at all
        words = _plain_words(parsed, self.field)
        if words is None:
            results = self.searcher.search(parsed, limit=limit, filter=allowed)
            return [Hit(self.keys[docnum], round(score, 4)) for score, docnum in results.top_n]
        scored = self._score(words, allowed)
        ranked = sorted(scored.items(), key=lambda pair: (-pair[1], pair[0]))
        if limit is not None:
            ranked = ranked[:limit]
        return [Hit(self.keys[docnum], round(score, 4)) for docnum, score in ranked]

    def _score(self, words: list[str], allowed: set[int] | None) -> dict[int, float]:
        """Document → score for every document holding all the words (at most two: the
        sum is then the one Whoosh's intersection makes, in whichever order it adds)."""
        tables = sorted((self._term(word) for word in words), key=len)
        first, rest = tables[0], tables[1:]
        found: dict[int, float] = {}
        for docnum, score in first.items():
            if allowed is not None and docnum not in allowed:
                continue
            if rest:
                other = rest[0].get(docnum)
                if other is None:
                    continue
                score = score + other
            found[docnum] = score
        return found

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
