"""Plain helpers for tests: real Git repositories in folders, files, commits, and apps with
an API key; the fixtures built from them are in conftest.py."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from vellum import create_app
from vellum.auth import keys
from vellum.store.git import IDENTITY

ROOT = Path(__file__).resolve().parent.parent

# A small site whose every value is known, so query tests can assert literal answers.
QUERY_SITE = {
    "vellum.yml": """\
title: Query fixture
auth:
  public_read: true
locales: [en, fr]
default_locale: en
models:
  post:
    folder: posts
    format: markdown
    fields:
      title:       {type: string, required: true}
      slug:        {type: string, unique: true}
      status:      {type: enum, values: [draft, published, archived], default: draft}
      views:       {type: integer}
      score:       {type: number}
      featured:    {type: boolean, default: false}
      publishedAt: {type: datetime}
      day:         {type: date}
      tags:        {type: list, of: string}
      meta:        {type: object}
      author:      {type: relation, to: person}
      categories:  {type: relation, to: category, many: true}
      cover:       {type: media}
  person:
    folder: people
    format: json
    fields:
      name:  {type: string, required: true}
      email: {type: string}
  category:
    folder: categories
    format: json
    plural: categories
    fields:
      name: {type: string, required: true}
""",
    "people/jane.json": '{"name": "Jane Doe", "email": "jane@example.com"}\n',
    "people/john.json": '{"name": "John Roe", "email": "john@example.com"}\n',
    "categories/eng.json": '{"name": "Engineering"}\n',
    "categories/design.json": '{"name": "Design"}\n',
    "posts/alpha.md": """\
---
title: Alpha
slug: alpha
status: published
views: 10
score: 1.5
featured: true
publishedAt: 2024-01-01T10:00:00Z
day: 2024-01-01
tags: [git, python]
meta: {color: red}
author: jane
categories: [eng]
cover: images/alpha.png
---
Alpha talks about **version control** and merging branches.
""",
    "posts/alpha.fr.md": """\
---
title: Alpha en français
slug: alpha
status: published
views: 10
author: jane
categories: [eng]
---
Alpha parle de gestion de versions.
""",
    "posts/beta.md": """\
---
title: Beta
slug: beta
status: published
views: 100
score: 2.5
publishedAt: 2024-06-01T10:00:00+02:00
day: 2024-06-01
tags: [python]
author: john
categories: [eng, design]
---
Beta is about typography and grids.
""",
    "posts/gamma.md": """\
---
title: Gamma
slug: gamma
status: draft
views: 1000
publishedAt: 2025-01-01T00:00:00Z
tags: []
author: jane
categories: [design]
---
Gamma covers caching strategies.
""",
    "posts/delta.md": """\
---
title: Delta
slug: delta
status: archived
tags: [rust]
author: john
---
Delta is an old post.
""",
    "posts/2023/epsilon.md": """\
---
title: Epsilon rising
slug: epsilon
status: published
views: 50
publishedAt: 2023-03-03T08:00:00Z
author: jane
---
Epsilon sits in a nested folder.
""",
}


def git(cwd: Path, *args: str, env: dict | None = None) -> str:
    """Run git in cwd and return its output; fails the test on a non-zero exit."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def committed_sample(dest: Path, project: Path = ROOT) -> Path:
    """The sample site as the project committed it, copied to dest/content.

    Not the working copy: a user's edits to content/, and the commits Vellum itself made
    there (the README's write examples tried against `make serve`), are left out, so the
    tests' expectations hold on any checkout. A fresh clone gives its HEAD's content/.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

    def run(*args: str) -> bytes:
        return subprocess.run(
            ["git", *args], cwd=project, env=env, capture_output=True, check=True
        ).stdout

    commits = run("log", "--format=%H%x09%ce", "--", "content").decode().splitlines()
    sha = next(
        sha for sha, _, email in (c.partition("\t") for c in commits) if email != IDENTITY[1]
    )
    with tarfile.open(fileobj=io.BytesIO(run("archive", "--format=tar", sha, "content"))) as tar:
        tar.extractall(dest, filter="data")
    return dest / "content"


def make_repo(path: Path) -> Path:
    """An empty Git repository with a local identity."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test Writer")
    git(path, "config", "user.email", "writer@example.com")
    return path


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write UTF-8 files under root, making their folders."""
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def commit(repo: Path, message: str, date: str | None = None) -> str:
    """Commit everything in the work tree (at a fixed date if given); the new sha."""
    env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else None
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD")


def build_app(site: Path, state: Path, **overrides):
    """The Flask app over a site, its state in `state`, with config overrides."""
    return create_app({"SITE": str(site), "STATE_DIR": str(state), **overrides})


def authorised_client(application, scopes=("read", "read:drafts")):
    """A test client that sends an API key with these scopes on every request."""
    _, secret = keys.create_key(application.extensions["vellum"].state, "tests", list(scopes))
    test_client = application.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return test_client


def read_frames(response, count: int) -> list[dict]:
    """The first `count` events of an SSE response, then the stream is closed."""
    frames, buffer = [], b""
    stream = iter(response.response)
    while len(frames) < count:
        buffer += next(stream)
        while b"\n\n" in buffer:
            raw, buffer = buffer.split(b"\n\n", 1)
            lines = dict(line.split(": ", 1) for line in raw.decode().splitlines() if ": " in line)
            if "id" in lines:
                frames.append(lines)
    response.close()
    return frames
