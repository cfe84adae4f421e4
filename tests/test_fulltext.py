"""Full-text search on a real Whoosh index: the kept tables answer as Whoosh itself would,
and snippets are the passages Whoosh's highlighter picks."""

from __future__ import annotations

import random

import pytest
from whoosh import scoring
from whoosh.highlight import ContextFragmenter, HtmlFormatter, get_text, highlight
from whoosh.qparser import AndGroup, QueryParser

from vellum.services import PlainBodies
from vellum.store.index import _ANALYZER, _CHAIN, TEXT_SCHEMA, Store, TextDoc
from vellum.store.snippets import snippet

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


class _WhooshMarks(HtmlFormatter):
    """The marks snippets have always had, for Whoosh's own highlighter."""

    def __init__(self, words: tuple[str, ...]) -> None:
        super().__init__(tagname="mark", between=" … ")
        self.numbers = {w: n % self.maxclasses for n, w in enumerate(words)}

    def format_token(self, text, token, replace=False):
        shown = self._text(get_text(text, token, replace))
        return f'<mark class="{self.htmlclass}{self.numbers.get(token.text, 0)}">{shown}</mark>'


def _whoosh_snippet(text: str, terms: tuple[str, ...]) -> str:
    fragmenter = ContextFragmenter(maxchars=160, surround=60)
    return highlight(text, set(terms), _CHAIN, fragmenter, _WhooshMarks(terms), top=2)


PIECES = [
    *WORDS,
    "Alpha",
    "BRAVO",
    "Écho",
    "écho",
    "İndia",
    "the",
    "a",
    "x",
    "golf.hotel",
    "kilo's",
    "<b>",
    "&",
    "—",
    ",",
    ".",
    "\n\n",
    "7",
    "3.14",
    "w" * 70,
    "alpha" * 40,
]


def _text(rng: random.Random, size: int) -> str:
    out = []
    for _ in range(size):
        out.append(rng.choice(PIECES))
        out.append(rng.choice([" ", " ", " ", "", "  ", "\n"]))
    return "".join(out)


def test_snippets_are_the_passages_whoosh_highlights():
    rng = random.Random(11)
    folded = [*WORDS, "echo", "india", "golf.hotel", "kilo's", "3.14", "alpha" * 40, "w" * 70]
    for case in range(2000):
        text = _text(rng, rng.choice([0, 3, 20, 80, 300]))
        terms = tuple(rng.sample(folded, rng.randint(1, 3)))
        assert snippet(text, terms) == _whoosh_snippet(text, terms), (case, text, terms)


def test_a_snippet_of_a_long_text_looks_at_its_first_32k_characters():
    rng = random.Random(5)
    text = _text(rng, 9000)
    assert len(text) > 2**15
    for terms in [("alpha",), ("bravo", "lima"), ("echo", "india"), ("nosuchword",)]:
        assert snippet(text, terms) == _whoosh_snippet(text, terms)
    late = "filler " * 5000 + "zulu here"
    assert snippet(late, ("zulu",)) == "" == _whoosh_snippet(late, ("zulu",))


def test_the_one_pass_analyzer_gives_the_chains_words():
    rng = random.Random(3)
    for _ in range(1000):
        text = _text(rng, rng.choice([0, 5, 50, 300]))
        for options in ({"mode": "index", "boosts": True}, {"mode": "query"}):
            ours = [t.text for t in _ANALYZER(text, **options) if not t.stopped]
            assert ours == [t.text for t in _CHAIN(text, **options) if not t.stopped], text


class _Stored:
    """A record whose body lives in the body store: each read of it is counted."""

    def __init__(self, sha: str, body: str) -> None:
        self.sha, self._body, self.reads = sha, body, 0

    @property
    def body(self) -> str:
        self.reads += 1
        return self._body


def test_snippet_text_is_kept_by_blob_sha_and_read_once():
    plain = PlainBodies(size=2)
    first = _Stored("a" * 40, "## Hello *world*")
    assert plain.of(first) == "Hello world"
    assert plain.of(first) == "Hello world" and first.reads == 1  # a hit reads no body
    edited = _Stored("b" * 40, "Goodbye")  # a new version is a new sha
    assert plain.of(edited) == "Goodbye"
    plain.of(_Stored("c" * 40, "Third"))  # the oldest of two goes
    again = _Stored("a" * 40, "## Hello *world*")
    assert plain.of(again) == "Hello world" and again.reads == 1
    assert plain.of(_Stored("d" * 40, "")) is None
