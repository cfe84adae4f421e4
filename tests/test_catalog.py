"""The catalog reads are answered from (vellum.store.catalog), over a real index of a real
repository: which variant of a record a reader gets, and what a reader without drafts sees."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from tests.helpers import ROOT, commit, make_repo, write_files
from vellum.query.filters import make_filter
from vellum.query.lists import ListQuery
from vellum.query.run import run_list
from vellum.services import Vellum
from vellum.site.audience import EDITORS, PUBLIC
from vellum.site.config import load_config
from vellum.store.catalog import render_markdown
from vellum.store.index import LOG_MAX_KEYS

SITE = {
    "vellum.yml": """\
title: Catalog fixture
locales: [en, fr, de]
default_locale: en
models:
  note:
    folder: notes
    fields:
      title:  {type: string, required: true}
      slug:   {type: string, unique: true}
      status: {type: enum, values: [draft, published], default: draft}
      tag:    {type: relation, to: tag}
  tag:
    folder: tags
    format: json
    fields: {name: {type: string, required: true}}
""",
    "tags/git.json": '{"name": "Git"}\n',
    "notes/live.md": "---\ntitle: Live\nstatus: published\ntag: git\n---\nLive.\n",
    "notes/live.fr.md": "---\ntitle: En ligne\nstatus: published\n---\nEn ligne.\n",
    "notes/draft.md": "---\ntitle: Draft\n---\nNot yet.\n",  # the default: draft
    "notes/mixed.md": "---\ntitle: Mixed\nstatus: published\n---\nOut.\n",
    "notes/mixed.fr.md": "---\ntitle: Mélangé\nstatus: draft\n---\nPas encore.\n",
    "notes/french.fr.md": "---\ntitle: Français\nstatus: published\n---\nSeul.\n",
    "notes/dangling.md": "---\ntitle: Dangling\nstatus: published\ntag: nothing\n---\n",
    "notes/first.md": "---\ntitle: First\nslug: same\nstatus: published\n---\n",
    "notes/second.md": "---\ntitle: Second\nslug: same\nstatus: published\n---\n",
    "notes/sub/live.md": "---\ntitle: Same id elsewhere\nstatus: published\n---\n",
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    base = tmp_path_factory.mktemp("catalog")
    repo = make_repo(base / "repo")
    write_files(repo, SITE)
    commit(repo, "A site with drafts and translations")
    services = Vellum(load_config({"SITE": str(repo), "STATE_DIR": str(base / "state")}))
    services.sync()
    yield services.catalog()
    services.close()


def shown(rec) -> tuple | None:
    return None if rec is None else (rec.id, rec.locale, rec.data["title"])


@pytest.mark.parametrize(
    ("record_id", "locale", "audience", "expected"),
    [
        ("live", "fr", PUBLIC, ("live", "fr", "En ligne")),
        ("live", "de", PUBLIC, ("live", "en", "Live")),  # no German: the default locale
        ("live", None, PUBLIC, ("live", "en", "Live")),
        ("french", "en", PUBLIC, ("french", "fr", "Français")),  # its only variant
        ("draft", "en", PUBLIC, None),  # a draft does not exist for the public
        ("draft", "en", EDITORS, ("draft", "en", "Draft")),
        ("mixed", "fr", PUBLIC, ("mixed", "en", "Mixed")),  # a draft translation hides nothing
        ("mixed", "fr", EDITORS, ("mixed", "fr", "Mélangé")),
        ("nothing", "en", EDITORS, None),
    ],
)
def test_a_record_in_a_locale_falls_back_and_hides_drafts(
    catalog, record_id, locale, audience, expected
):
    assert shown(catalog.get("note", record_id, locale, audience)) == expected


@pytest.mark.parametrize(
    ("locale", "audience", "expected"),
    [
        # The default locale lists its own variants only (`french` has none).
        (None, PUBLIC, "first.en live.en mixed.en"),
        ("en", EDITORS, "draft.en first.en live.en mixed.en"),
        # Another locale: each id once, in that locale where it has a variant to show.
        ("fr", PUBLIC, "first.en french.fr live.fr mixed.en"),
        ("fr", EDITORS, "draft.en first.en french.fr live.fr mixed.fr"),
    ],
)
def test_a_view_has_one_record_per_id_for_its_audience(catalog, locale, audience, expected):
    view = catalog.view("note", locale, audience)
    assert " ".join(f"{r.id}.{r.locale}" for r in view) == expected


def test_counts_follow_the_audience(catalog):
    assert (catalog.count("note", PUBLIC), catalog.count("note", EDITORS)) == (4, 5)


def test_a_model_without_status_is_always_published(catalog):
    assert catalog.get("tag", "git", None, PUBLIC).data == {"name": "Git"}
    assert catalog.count("tag", PUBLIC) == 1


@pytest.mark.parametrize(
    ("path", "field", "line", "reason"),
    [
        ("notes/dangling.md", "tag", 4, "relation to nothing: no tag 'nothing'"),
        ("notes/second.md", "slug", 3, "'same' is already used by notes/first.md"),
        ("notes/sub/live.md", None, None, "duplicate id 'live' in note (also notes/live.md)"),
    ],
)
def test_records_that_break_a_rule_of_the_whole_set_are_left_out_and_reported(
    catalog, path, field, line, reason
):
    [problem] = [p for p in catalog.problems if p.path == path]
    assert (problem.field, problem.line, problem.reason) == (field, line, reason)
    assert path not in catalog.by_key


def test_a_body_is_rendered_once_per_version_with_raw_html_escaped(catalog):
    rec = catalog.get("note", "live", "en", PUBLIC)
    assert catalog.html(rec) == "<p>Live.</p>\n"
    same_version = replace(rec, body="changed without a new blob sha")
    assert catalog.html(same_version) == "<p>Live.</p>\n"
    assert render_markdown("<script>x</script>") == "<p>&lt;script&gt;x&lt;/script&gt;</p>\n"


# -- moving on by changed keys ------------------------------------------------------------
# Two unique fields (checked in this order), relations to tags and between pages, so an
# update meets every check of the whole set a full build makes.
MOVING = {
    "vellum.yml": """\
title: Moving catalog
locales: [en, fr]
default_locale: en
models:
  note:
    folder: notes
    fields:
      title:  {type: string, required: true}
      slug:   {type: string, unique: true}
      code:   {type: string, unique: true}
      rank:   {type: integer}
      status: {type: enum, values: [draft, published], default: draft}
      tag:    {type: relation, to: tag}
  page:
    folder: pages
    fields:
      title:  {type: string, required: true}
      parent: {type: relation, to: page}
  tag:
    folder: tags
    format: json
    fields:
      name: {type: string, required: true}
      slug: {type: string, unique: true}
""",
    "tags/git.json": '{"name": "Git", "slug": "git"}\n',
    "tags/web.json": '{"name": "Web", "slug": "web"}\n',
    "notes/a.md": "---\ntitle: A\nslug: a\ncode: x\nrank: 3\nstatus: published\ntag: git\n---\n",
    "notes/b.md": "---\ntitle: B\nslug: b\ncode: y\nrank: 1\nstatus: published\n---\n",
    "notes/b.fr.md": "---\ntitle: Bé\nslug: b\nstatus: published\n---\n",
    "notes/c.md": "---\ntitle: C\nslug: c\nrank: 2\ntag: web\n---\nDraft.\n",
    "notes/d.md": "---\ntitle: D\nslug: a\ncode: z\nstatus: published\n---\n",  # slug taken
    "notes/e.md": "---\ntitle: E\nslug: e\nstatus: published\ntag: css\n---\n",  # no tag css
    "pages/home.md": "---\ntitle: Home\n---\n",
    "pages/about.md": "---\ntitle: About\nparent: home\n---\n",
}

# Each step: files to write (None: delete), whether a full build is expected.
STEPS = [
    (
        "a new note, an edit, a draft published",
        {
            "notes/f.md": "---\ntitle: F\nslug: f\nrank: 5\nstatus: published\n---\nNew.\n",
            "notes/a.md": "---\ntitle: A2\nslug: a\ncode: x\nrank: 9\nstatus: published\n---\n",
            "notes/c.md": "---\ntitle: C\nslug: c\nrank: 2\nstatus: published\ntag: web\n---\n",
        },
        False,
    ),
    (
        "a tag comes: the note relating to it is served",
        {
            "tags/css.json": '{"name": "CSS", "slug": "css"}\n',
        },
        False,
    ),
    ("a tag goes: the notes relating to it are left out", {"tags/web.json": None}, False),
    ("the holder of a slug goes: the next one by path holds it", {"notes/a.md": None}, False),
    (
        "an earlier path takes a slug and a code",
        {
            "notes/0.md": "---\ntitle: Zero\nslug: a\ncode: y\nstatus: published\n---\n",
        },
        False,
    ),
    (
        "a note back to a draft, a translation removed",
        {
            "notes/f.md": "---\ntitle: F\nslug: f\nrank: 5\nstatus: draft\n---\nNew.\n",
            "notes/b.fr.md": None,
        },
        False,
    ),
    (
        "a translation added (its path comes first)",
        {"notes/f.fr.md": "---\ntitle: Eff\nslug: f\nstatus: published\n---\n"},
        False,
    ),
    (
        "a file that cannot be read, then another fixed",
        {
            "notes/g.md": "---\ntitle: [unclosed\n---\n",
            "notes/e.md": "---\ntitle: E\nslug: e\nstatus: published\ntag: git\n---\n",
        },
        False,
    ),
    (
        "a page left out for a relation, which pages have: built in full",
        {"pages/lost.md": "---\ntitle: Lost\nparent: nowhere\n---\n"},
        True,
    ),
    (
        "the page it relates to comes: built in full",
        {"pages/nowhere.md": "---\ntitle: Now here\nparent: lost\n---\n"},
        True,
    ),
    (
        "the same id twice: built in full",
        {
            "notes/sub/f.md": "---\ntitle: Other F\nslug: f2\nstatus: published\n---\n",
        },
        True,
    ),
    (
        "a field changes type: built in full",
        {
            "vellum.yml": MOVING["vellum.yml"].replace("{type: integer}", "{type: string}"),
        },
        True,
    ),
]


def answers(catalog) -> dict:
    """What readers get: problems, every list of every model for each locale and audience,
    sorted and filtered, and which variants each id has in which order."""
    found = {
        "problems": [(p.path, p.reason, p.line, p.field) for p in catalog.problems],
        "variants": {
            m: {i: list(v.items()) for i, v in sorted(ids.items())}
            for m, ids in sorted(catalog.records.items())
        },
        "by key": sorted(catalog.by_key.items()),
    }
    sorts = [(), (("title", True),), (("rank", False), ("id", True))]
    for model in catalog.site.models:
        for locale, audience, sort in itertools.product((None, "en", "fr"), AUDIENCES, sorts):
            query = ListQuery(sort=sort, locale=locale, audience=audience, limit=100)
            page = run_list(catalog, model, query)
            found[model, locale, audience, sort] = ([_whole(r) for r in page.records], page.total)
            found[model, locale, audience, "count"] = catalog.count(model, audience)
    for path, op, value in [("status", "$eq", "published"), ("tag.name", "$eq", "CSS")]:
        flt = make_filter(catalog, "note", path, op, value)
        for audience in AUDIENCES:
            query = ListQuery(filters=(flt,), sort=(("id", False),), audience=audience)
            found[path, audience] = [_whole(r) for r in run_list(catalog, "note", query).records]
    return found


AUDIENCES = (PUBLIC, EDITORS)


def _whole(rec) -> tuple:
    return (rec.path, rec.model, rec.id, rec.locale, rec.data, rec.sha, rec.created, rec.updated)


@pytest.fixture
def moving_site(tmp_path):
    repo = make_repo(tmp_path / "repo")
    write_files(repo, MOVING)
    commit(repo, "Notes and tags")
    return repo


def test_a_catalog_moved_on_by_changed_keys_answers_as_one_built_in_full(moving_site, tmp_path):
    config = {"SITE": str(moving_site), "STATE_DIR": str(tmp_path / "state")}
    worker, writer = Vellum(load_config(config)), Vellum(load_config(config))
    writer.sync()
    answers(worker.catalog())  # lists asked for already: a moved catalog takes them over
    try:
        for n, (step, files, in_full) in enumerate(STEPS):
            before = worker.catalog()
            for path, text in files.items():
                if text is None:
                    (moving_site / path).unlink()
                else:
                    write_files(moving_site, {path: text})
            commit(moving_site, step)
            # Every other step is synced by the serving process itself (a write through
            # the API), the others by another process (the watcher).
            (worker if n % 2 else writer).sync()
            moved = worker.catalog()
            fresh = Vellum(load_config({**config, "STATE_DIR": str(tmp_path / "state")}))
            try:
                assert answers(moved) == answers(fresh.catalog()), step
            finally:
                fresh.close()
            # Moved on, the catalog shares what did not change (a tag no step touches).
            shared = moved.records["tag"]["git"] is before.records["tag"]["git"]
            assert shared != in_full, step
    finally:
        worker.close()
        writer.close()


def test_a_full_build_in_a_server_worker_holds_up_no_greenlet(tmp_path):
    """Streams and requests of a worker go on while its catalog is built in full: they
    keep their beat, and read the catalog the worker had until the new one is ready."""
    repo = make_repo(tmp_path / "repo")
    write_files(repo, {"vellum.yml": SITE["vellum.yml"]})
    # More changes than the index's change log names: the probe reads every doc back.
    tags = range(LOG_MAX_KEYS + 100)
    write_files(repo, {f"tags/t{n:04}.json": f'{{"name": "Tag {n}"}}\n' for n in tags})
    commit(repo, "Many tags")
    config = {"SITE": str(repo), "STATE_DIR": str(tmp_path / "state")}
    writer = Vellum(load_config(config))
    writer.sync(text=False)
    probe = subprocess.Popen(
        [sys.executable, "-m", "tests.loop_probe", str(repo), str(tmp_path / "state")],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert probe.stdout.readline() == "ready\n"
        writer.sync(rebuild=True, text=False)  # every record changes: a full build
        out, _ = probe.communicate("go\n", timeout=120)
    finally:
        writer.close()
        if probe.poll() is None:
            probe.kill()
            probe.wait()
    assert probe.returncode == 0
    seen = json.loads(out)
    before, after = seen["generations"]
    assert after > before
    assert seen["beats during"] > 0
    assert seen["read during"] == [before]  # the old catalog answered, never a half one
