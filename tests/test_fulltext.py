"""Full-text search on a real Whoosh index: the kept tables answer as Whoosh itself would."""

from __future__ import annotations

import random

import pytest
from whoosh import scoring
from whoosh.qparser import AndGroup, QueryParser

from vellum.store.index import TEXT_SCHEMA, Store, TextDoc

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()


def _docs(rng: random.Random, count: int, prefix: str) -> list[TextDoc]:
    docs = []
    for n in range(count):
        words = rng.choices(WORDS, k=rng.randint(3, 40))
        model = "post" if n % 3 else "page"
        docs.append(TextDoc(f"{prefix}{n}.md", f"sha{n}", model, " ".join(words)))
    return docs


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    """Three segments, with documents replaced and removed across them."""
    rng = random.Random(7)
    store = Store(tmp_path_factory.mktemp("fulltext"))
    store.update_text(_docs(rng, 120, "a/"), [])
    store.update_text(_docs(rng, 60, "b/"), [f"a/{n}.md" for n in range(0, 120, 7)])
    replaced = _docs(rng, 30, "a/")  # a/0 … a/29 again, with new words
    store.update_text(replaced, [d.key for d in replaced])
    yield store
    store.close()


def _whoosh(store: Store, text: str, models: list[str] | None, limit: int | None):
    """The answer of Whoosh's own searcher and collector, as (key, score) best first."""
    parsed = QueryParser("content", TEXT_SCHEMA, group=AndGroup).parse(text)
    with store.text.searcher(weighting=scoring.BM25F()) as searcher:
        allowed = None
        if models is not None:
            allowed = {n for n, f in searcher.reader().iter_docs() if f["model"] in models}
            if not allowed:
                return []
        results = searcher.search(parsed, limit=limit, filter=allowed)
        return [(hit["key"], round(hit.score, 4)) for hit in results]


@pytest.mark.parametrize(
    "text",
    ["alpha", "bravo charlie", "charlie bravo", "delta delta", "echo nosuchword", "Golf HOTEL"],
)
@pytest.mark.parametrize("models", [None, ["post"], ["page", "post"], ["nomodel"]])
@pytest.mark.parametrize("limit", [None, 5])
def test_word_searches_rank_as_whoosh_does(store, text, models, limit):
    hits, _ = store.search(text, models=models, limit=limit)
    expected = _whoosh(store, text, models, limit)
    assert [(h.key, h.score) for h in hits] == expected
    if text == "alpha" and models is None and limit is None:
        assert len(expected) > 100  # the index holds what the fixture wrote


def test_other_queries_are_answered_by_whoosh(store):
    for text in ("alpha bravo charlie", "ech*", "alpha^2 bravo", "(india juliet)"):
        for models in (None, ["page"], ["nomodel"]):
            hits, _ = store.search(text, models=models)
            expected = _whoosh(store, text, models, None)
            assert [(h.key, h.score) for h in hits] == expected, (text, models)


def test_a_commit_is_searched_at_once(tmp_path):
    store = Store(tmp_path / "index")
    try:
        store.update_text([TextDoc("x.md", "1", "post", "kilo lima")], [])
        assert [h.key for h in store.search("kilo lima")[0]] == ["x.md"]
        store.update_text([TextDoc("x.md", "2", "post", "kilo mike")], ["x.md"])
        assert store.search("kilo lima")[0] == []
        assert [h.key for h in store.search("kilo")[0]] == ["x.md"]  # once, not twice
    finally:
        store.close()
