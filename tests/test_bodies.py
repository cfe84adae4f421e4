"""Bodies kept once on disk by blob sha (vellum.store.bodies), over a real index of a real
repository: every process reads the same body and HTML, none holds its own copy."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

from tests.helpers import commit, make_repo, write_files
from vellum.services import Vellum
from vellum.site.audience import EDITORS
from vellum.site.config import load_config
from vellum.store.bodies import Bodies
from vellum.store.records import IN_BODY_STORE, blob_sha

SITE = {
    "vellum.yml": """\
title: Bodies fixture
models:
  note:
    folder: notes
    fields:
      title: {type: string, required: true}
  tag:
    folder: tags
    format: json
    fields: {name: {type: string, required: true}}
""",
    "tags/git.json": '{"name": "Git"}\n',
    "notes/hello.md": "---\ntitle: Hello\n---\nHello, *world*.\n",
    "notes/empty.md": "---\ntitle: Empty\n---\n",
}


def open_site(tmp_path, files=SITE) -> Vellum:
    repo = make_repo(tmp_path / "repo")
    write_files(repo, files)
    commit(repo, "Notes and a tag")
    return Vellum(load_config({"SITE": str(repo), "STATE_DIR": str(tmp_path / "state")}))


def test_the_index_keeps_fields_and_the_body_store_keeps_bodies(tmp_path):
    v = open_site(tmp_path)
    v.sync()
    entries = v.store.snapshot().entries
    assert entries["notes/hello.md"].doc["record"]["body"] is IN_BODY_STORE
    assert entries["notes/empty.md"].doc["record"]["body"] == ""
    assert entries["tags/git.json"].doc["record"]["body"] is None
    rec = v.catalog().get("note", "hello", None, EDITORS)
    assert rec.body == "Hello, *world*."
    assert v.store.bodies.get(rec.sha) == "Hello, *world*."
    assert v.catalog().get("tag", "git", None, EDITORS).body is None
    v.close()


def test_an_edit_is_read_under_its_new_sha_and_the_old_body_stays_right(tmp_path):
    v = open_site(tmp_path)
    v.sync()
    old = v.catalog().get("note", "hello", None, EDITORS)
    path = v.site.root / "notes/hello.md"
    path.write_text("---\ntitle: Hello\n---\nGoodbye.\n")
    v.sync(paths=["notes/hello.md"])
    new = v.catalog().get("note", "hello", None, EDITORS)
    assert new.sha == blob_sha(path.read_bytes()) != old.sha
    assert (new.body, old.body) == ("Goodbye.", "Hello, *world*.")
    assert v.catalog().html(new) == "<p>Goodbye.</p>\n"
    v.close()


def _render_in_child(state: str, sha: str, queue) -> None:
    bodies = Bodies(Path(state))
    queue.put(bodies.html(sha, lambda: "rendered again"))
    bodies.close()


def test_html_rendered_by_one_process_is_read_by_another(tmp_path):
    v = open_site(tmp_path)
    v.sync()
    catalog = v.catalog()
    rec = catalog.get("note", "hello", None, EDITORS)
    assert catalog.html(rec) == "<p>Hello, <em>world</em>.</p>\n"
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(
        target=_render_in_child, args=(str(v.store.bodies.folder), rec.sha, queue)
    )
    child.start()
    assert queue.get(timeout=60) == "<p>Hello, <em>world</em>.</p>\n"
    child.join(timeout=60)
    v.close()


def test_a_forked_process_opens_its_own_handle(tmp_path):
    v = open_site(tmp_path)
    v.sync()
    rec = v.catalog().get("note", "hello", None, EDITORS)
    assert rec.body  # the parent has the store open
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=lambda: queue.put(rec.body))
    child.start()
    assert queue.get(timeout=60) == "Hello, *world*."
    child.join(timeout=60)
    v.close()


def test_a_lost_body_store_is_noticed_and_the_index_rebuilt(tmp_path):
    v = open_site(tmp_path)
    v.sync()
    folder = v.store.bodies.folder
    v.close()
    shutil.rmtree(folder)  # restored from a backup without it, say
    v = Vellum(v.config)
    report = v.sync()
    assert report.rebuilt
    assert v.catalog().get("note", "hello", None, EDITORS).body == "Hello, *world*."
    assert not v.sync().rebuilt  # once
    v.close()
