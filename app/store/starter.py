"""The starter site `vellum init` writes: one model of each format, ready to edit."""

from __future__ import annotations

from pathlib import Path

from vellum.errors import SiteError
from vellum.site.site import CONFIG_FILE
from vellum.store.git import GitRepo, init_repo, work_tree_of

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
    """Write the starter site into target and commit it: in the repository that already
    holds target (a site in that folder of it), else in a new repository made there."""
    target = Path(target)
    top = _repository_of(target)
    _check_target(target, top)
    target.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    repo = GitRepo(target) if top else init_repo(target)
    try:
        # Only the starter's files: whatever else the repository holds or has staged stays.
        prefix = repo.relative(target)
        files = {f"{prefix}/{rel}" if prefix else rel: text.encode() for rel, text in FILES.items()}
        return repo.commit_files(files, "Start a Vellum site", repo.identity())
    finally:
        repo.close()


def _repository_of(target: Path) -> Path | None:
    """The work tree target is (or will be) in, from its nearest existing folder."""
    existing = next(p for p in (target.resolve(), *target.resolve().parents) if p.exists())
    if not existing.is_dir():
        raise SiteError(f"{existing} is a file; choose a new folder")
    return work_tree_of(existing)


def _check_target(target: Path, top: Path | None) -> None:
    """A folder holding nothing (but a repository's own .git), outside any other site."""
    if target.exists() and any(e.name != ".git" for e in target.iterdir()):
        raise SiteError(f"{target} is not empty; choose a new folder")
    if top is None:
        return
    for folder in target.resolve().parents:
        if (folder / CONFIG_FILE).is_file():
            raise SiteError(f"{target} is inside the site {folder}; choose a folder outside it")
        if folder == top:
            return
