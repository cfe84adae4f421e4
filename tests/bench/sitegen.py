"""A synthetic Vellum site: authors, categories and N blog posts, committed to a new repo."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import subprocess
from pathlib import Path

from tests.bench.procs import PROJECT, clean_env
from tests.bench.prose import Prose
from tests.bench.words import Vocabulary

SAMPLE_CONFIG = PROJECT / "content" / "vellum.yml"
AUTHORS = 20
CATEGORIES = 8
STATUSES = ("published", "draft", "archived")
STATUS_WEIGHTS = (60, 25, 15)
EPOCH = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
SPAN_SECONDS = 7 * 365 * 86400


def generate_site(root: Path, records: int, seed: int) -> dict:
    """Write the site into `root`, commit it, and return a manifest for the measurements."""
    root.mkdir(parents=True)
    rng = random.Random(seed)
    prose = Prose(rng, Vocabulary(seed))
    shutil.copyfile(SAMPLE_CONFIG, root / "vellum.yml")
    authors = [_write_author(root, prose, n) for n in range(AUTHORS)]
    categories = [_write_category(root, prose, n) for n in range(CATEGORIES)]
    ids, published, size = [], 0, 0
    for n in range(records):
        post_id, status, body = _write_post(root, prose, n, authors, categories)
        ids.append(post_id)
        published += status == "published"
        size += len(body)
    commit_all(root, f"Synthetic site: {records} posts")
    words = dict(prose.used.most_common())
    return {"ids": ids, "published": published, "body_bytes": size, "words": words}


def _write_author(root: Path, prose: Prose, n: int) -> str:
    """authors/<id>.json with a name, an email, a Markdown bio and a join date."""
    first, last = (w.capitalize() for w in prose.vocab.content_words(prose.rng, 2))
    author_id = f"{first}-{last}-{n}".lower()
    joined = dt.date(2018, 1, 1) + dt.timedelta(days=prose.rng.randrange(2000))
    data = {
        "name": f"{first} {last}",
        "email": f"{author_id}@example.com",
        "bio": prose.sentence(),
        "joined": joined.isoformat(),
    }
    _write_json(root / "authors" / f"{author_id}.json", data)
    return author_id


def _write_category(root: Path, prose: Prose, n: int) -> str:
    """categories/<id>.json with a name, slug, description and order."""
    name = " ".join(prose.vocab.content_words(prose.rng, 2)).title()
    category_id = f"{name.lower().replace(' ', '-')}-{n}"
    data = {"name": name, "slug": category_id, "description": prose.sentence(), "order": n}
    _write_json(root / "categories" / f"{category_id}.json", data)
    return category_id


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_post(root: Path, prose: Prose, n: int, authors, categories) -> tuple[str, str, str]:
    """posts/<year>/<id>.md: front matter valid for blogPost, then a ~2 KB Markdown body."""
    rng = prose.rng
    title = prose.title()
    post_id = "-".join(title.lower().split()[:5]) + f"-{n:05d}"
    published_at = EPOCH + dt.timedelta(seconds=rng.randrange(SPAN_SECONDS))
    status = rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0]
    body = prose.body(rng.randint(1400, 1800))
    meta = {
        "title": title,
        "slug": post_id,
        "excerpt": prose.sentence(12, 24),
        "status": status,
        "featured": rng.random() < 0.05,
        "publishedAt": published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "views": int(rng.paretovariate(1.2) * 50),
        "readingTime": round(len(body.split()) / 200, 1),
        "tags": sorted(set(prose.vocab.content_words(rng, rng.randint(1, 5)))),
        "author": rng.choice(authors),
        "categories": sorted(set(rng.sample(categories, rng.randint(1, 3)))),
    }
    path = root / "posts" / str(published_at.year) / f"{post_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{_front_matter(meta)}---\n\n{body}", encoding="utf-8")
    return post_id, status, body


def _front_matter(meta: dict) -> str:
    """YAML lines; strings are JSON-quoted (valid YAML) so no word turns into a boolean."""
    lines = []
    for key, value in meta.items():
        if key == "publishedAt":
            lines.append(f"{key}: {value}")
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def commit_all(root: Path, message: str) -> None:
    """git init, a local identity, then everything in one commit."""
    env = clean_env()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, env=env, check=True)

    git("init", "-q", "-b", "main")
    git("config", "user.name", "Vellum Bench")
    git("config", "user.email", "bench@example.com")
    git("config", "commit.gpgsign", "false")
    git("add", "-A")
    git("commit", "-q", "-m", message)
