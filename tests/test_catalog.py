"""The catalog reads are answered from (vellum.store.catalog), over a real index of a real
repository: which variant of a record a reader gets, and what a reader without drafts sees."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.helpers import commit, make_repo, write_files
from vellum.services import Vellum
from vellum.site.audience import EDITORS, PUBLIC
from vellum.site.config import load_config
from vellum.store.catalog import render_markdown

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
