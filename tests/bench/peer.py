"""The peer: the same files into SQLite with FTS5 via sqlite-utils, timed as a whole."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import frontmatter
import sqlite_utils

POST_FIELDS = (
    "title",
    "slug",
    "excerpt",
    "status",
    "featured",
    "publishedAt",
    "views",
    "readingTime",
    "tags",
    "author",
    "categories",
)


def post_row(path: Path) -> dict:
    """One post file as a row: its id, front matter fields and Markdown body."""
    post = frontmatter.load(path)
    row = {"id": path.stem, **{name: post.get(name) for name in POST_FIELDS}}
    row["body"] = post.content
    return row


def json_rows(folder: Path) -> list[dict]:
    """Every JSON record in a folder, with its id."""
    return [
        {"id": p.stem, **json.loads(p.read_text("utf-8"))} for p in sorted(folder.glob("*.json"))
    ]


def build(site: Path, db_path: Path) -> dict:
    """Parse, insert and index everything; return the seconds taken and the row count."""
    started = time.perf_counter()
    db = sqlite_utils.Database(db_path)
    db["authors"].insert_all(json_rows(site / "authors"), pk="id")
    db["categories"].insert_all(json_rows(site / "categories"), pk="id")
    posts = db["posts"]
    posts.insert_all((post_row(p) for p in sorted(site.glob("posts/**/*.md"))), pk="id")
    posts.enable_fts(["title", "excerpt", "body"], create_triggers=False)
    db.conn.commit()
    seconds = time.perf_counter() - started
    count = posts.count
    db.close()
    return {"seconds": seconds, "posts": count}


def main(argv: list[str]) -> None:
    """Usage: python -m tests.bench.peer SITE DB_PATH; prints {"seconds", "posts"}."""
    site, db_path = argv
    print(json.dumps(build(Path(site), Path(db_path))))


if __name__ == "__main__":
    main(sys.argv[1:])
