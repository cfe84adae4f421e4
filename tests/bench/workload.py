"""What the HTTP loads ask for: the varied values (view thresholds, ids, two-word queries),
chosen from the peer's database so that every answer has its full page, and the same
request paths for Vellum and for Datasette, with the check of each answer."""

from __future__ import annotations

import itertools
import random
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

PAGE = 20  # records in every list and search answer
KINDS = ("lists", "gets", "search")
DATASETTE_DB = "peer"  # Datasette names a database after its file: peer.db
# A snippet of the body around the words, as Vellum's /api/search gives (readable text of
# the body). Datasette's `?_search=` table view gives whole rows without a snippet, so the
# equivalent is its SQL endpoint with FTS5's snippet(), ranked, 20 hits.
SEARCH_SQL = (
    "select posts.id, posts.title, "
    "snippet(posts_fts, 2, '<mark>', '</mark>', '…', 24) as snippet "
    "from posts_fts join posts on posts.rowid = posts_fts.rowid "
    f"where posts_fts match :q order by rank limit {PAGE}"
)


@dataclass(frozen=True)
class Workload:
    """The values each request kind is varied over, the same for both servers."""

    thresholds: list[int]  # filter[views][$gt]: published posts, newest first, 20 a page
    ids: list[str]  # gets
    queries: list[str]  # two-word searches, each matching at least a page of posts


def choose(db_path: Path, words: list[str], seed: int, count: int = 256) -> Workload:
    """`count` values of each kind, each one known (from the peer's data) to fill a page."""
    rng = random.Random(f"workload-{seed}")
    db = sqlite3.connect(db_path)
    try:
        return Workload(
            thresholds=_thresholds(db, count),
            ids=_ids(db, rng, count),
            queries=_queries(db, words, rng, count),
        )
    finally:
        db.close()


def _thresholds(db: sqlite3.Connection, count: int) -> list[int]:
    """Distinct view thresholds from 0 to the highest that still leaves a page of posts."""
    views = [
        v for (v,) in db.execute("select views from posts where status = 'published' order by 1")
    ]
    if len(views) < PAGE:
        raise ValueError(f"only {len(views)} published posts: a list page needs {PAGE}")
    top = views[-PAGE] - 1  # views > top holds at least PAGE posts
    step = max(top / max(count - 1, 1), 1)
    return sorted({round(n * step) for n in range(count) if round(n * step) <= top})


def _ids(db: sqlite3.Connection, rng: random.Random, count: int) -> list[str]:
    ids = [i for (i,) in db.execute("select id from posts order by id")]
    return rng.sample(ids, min(count, len(ids)))


def _queries(db: sqlite3.Connection, words: list[str], rng: random.Random, count: int):
    """Pairs of the site's commonest body words that at least a page of posts hold both of."""
    pairs = list(itertools.combinations(words[:60], 2))
    rng.shuffle(pairs)
    found = []
    for first, second in pairs:
        (hits,) = db.execute(
            "select count(*) from posts_fts where posts_fts match ?", (f"{first} {second}",)
        ).fetchone()
        if hits >= PAGE:
            found.append(f"{first} {second}")
            if len(found) == count:
                break
    return found


def _path(route: str, params: list[tuple[str, str]]) -> str:
    """A request target with every query character percent-encoded where it must be."""
    return f"{route}?{urllib.parse.urlencode(params, quote_via=urllib.parse.quote)}"


def vellum_paths(work: Workload) -> dict[str, list[str]]:
    """Vellum's REST paths of each kind (lists of published posts, gets, /api/search)."""
    lists = [
        _path(
            "/api/blogPost",
            [
                ("filter[status]", "published"),
                ("filter[views][$gt]", str(n)),
                ("sort", "-publishedAt"),
                ("limit", str(PAGE)),
            ],
        )
        for n in work.thresholds
    ]
    gets = [f"/api/blogPost/{urllib.parse.quote(i, safe='')}" for i in work.ids]
    search = [
        _path("/api/search", [("q", q), ("models", "blogPost"), ("limit", str(PAGE))])
        for q in work.queries
    ]
    return {"lists": lists, "gets": gets, "search": search}


def datasette_paths(work: Workload) -> dict[str, list[str]]:
    """Datasette's JSON paths for the same requests, as objects (closest to Vellum's)."""
    table = f"/{DATASETTE_DB}/posts.json"
    lists = [
        _path(
            table,
            [
                ("status", "published"),
                ("views__gt", str(n)),
                ("_sort_desc", "publishedAt"),
                ("_size", str(PAGE)),
                ("_shape", "objects"),
                # Vellum suggests no facets: neither does the peer.
                ("_nosuggest", "1"),
            ],
        )
        for n in work.thresholds
    ]
    gets = [
        _path(f"/{DATASETTE_DB}/posts/{tilde_encode(i)}.json", [("_shape", "objects")])
        for i in work.ids
    ]
    search = [
        _path(f"/{DATASETTE_DB}.json", [("sql", SEARCH_SQL), ("q", q), ("_shape", "objects")])
        for q in work.queries
    ]
    return {"lists": lists, "gets": gets, "search": search}


def tilde_encode(value: str) -> str:
    """Datasette's encoding of a primary key in a row's URL: ~XX for each byte that is
    not a letter, digit, `_` or `-`, and `+` for a space."""
    safe = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    return "".join(
        chr(b) if b in safe else "+" if b == 0x20 else f"~{b:02X}" for b in value.encode()
    )


def answer_problem(server: str, kind: str, path: str, status: int, body) -> str | None:
    """Why an answer cannot count (not 200, or not the records asked for); None when it can."""
    if status != 200 or not isinstance(body, dict):
        return f"{server} GET {path} answered {status}"
    records = body.get("data") if server == "vellum" else body.get("rows")
    wanted = 1 if kind == "gets" else PAGE
    if kind == "gets" and server == "vellum":
        records = [records] if isinstance(records, dict) else None
    if not isinstance(records, list) or len(records) != wanted:
        got = len(records) if isinstance(records, list) else records
        return f"{server} GET {path} gave {got} records, not {wanted}"
    if kind == "search" and not all(r.get("snippet") for r in records):
        return f"{server} GET {path} gave a hit without a snippet"
    return None
