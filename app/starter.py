"""The starter site `vellum init` writes: one model of each format, ready to edit."""

from __future__ import annotations

from pathlib import Path

from app.errors import SiteError
from app.git import init_repo

FILES = {
    "vellum.yml": """\
title: My Vellum site
default_locale: en
locales: [en]
auth:
  public_read: true      # anyone may read published records; drafts need a key
models:
  post:
    folder: posts
    format: markdown
    fields:
      title:       {type: string, required: true}
      status:      {type: enum, values: [draft, published], default: draft}
      publishedAt: {type: datetime}
      tags:        {type: list, of: string}
      author:      {type: relation, to: author}
  author:
    folder: authors
    format: json
    fields:
      name:  {type: string, required: true}
      email: {type: string}
""",
    "posts/hello-world.md": """\
---
title: Hello, world
status: published
publishedAt: 2025-01-01T09:00:00Z
tags: [welcome]
author: editor
---
This is your first record. Edit this file, commit, and the API shows the change.
""",
    "authors/editor.json": '{\n  "name": "The Editor",\n  "email": "editor@example.com"\n}\n',
}


def create_site(target: Path) -> str:
    """Write the starter site into a new Git repository at target and commit it."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise SiteError(f"{target} is not empty; choose a new folder")
    target.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    repo = init_repo(target)
    try:
        return repo.commit_all("Start a Vellum site")
    finally:
        repo.close()
