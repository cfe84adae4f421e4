"""Loading vellum.yml: models, locales, inferred folders, and refused configurations."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import (
    QUERY_SITE,
    ROOT,
    authorised_client,
    build_app,
    commit,
    committed_sample,
    make_repo,
    write_files,
)
from vellum.errors import SiteError
from vellum.site.site import load_site


def test_sample_site_models(sample_site):
    site = load_site(sample_site)
    assert {"blogPost", "author", "category", "page", "testimonial"} <= set(site.models)
    assert (
        site.models["blogPost"].folder == "posts" and site.models["blogPost"].format == "markdown"
    )
    testimonial = site.models["testimonial"]
    assert testimonial.inferred and testimonial.format == "json"
    assert (testimonial.folder, testimonial.list_name) == ("testimonials", "testimonials")
    assert site.locales == ("en", "fr") and site.default_locale == "en"
    assert "media" not in site.models


def test_split_locale_only_for_known_locales(sample_site):
    site = load_site(sample_site)
    assert site.split_locale("hello.fr") == ("hello", "fr")
    assert site.split_locale("v1.2") == ("v1.2", None)
    assert site.split_locale("hello") == ("hello", None)


def test_site_without_config_infers_everything(tmp_path):
    write_files(tmp_path, {"notes/a.md": "---\ntitle: A\n---\n", "data/b.json": "{}"})
    site = load_site(tmp_path)
    assert {n: m.format for n, m in site.models.items()} == {"data": "json", "note": "markdown"}


@pytest.mark.parametrize(
    ("folder", "model", "plural"),
    [
        ("testimonials", "testimonial", "testimonials"),
        ("categories", "category", "categories"),
        ("people", "person", "people"),
        ("case_studies", "case_study", "case_studies"),
        ("FAQs", "FAQ", "FAQs"),
        # Singular already: the name stays as it is.
        ("blog", "blog", "blogs"),
        ("status", "status", "statuses"),
        ("analysis", "analysis", "analyses"),
        ("campus", "campus", "campuses"),
        ("data", "data", "dataList"),
        ("news", "news", "newsList"),
    ],
)
def test_an_inferred_model_is_the_singular_of_its_folder(tmp_path, folder, model, plural):
    write_files(tmp_path, {f"{folder}/a.json": "{}"})
    site = load_site(tmp_path)
    assert {n: (m.folder, m.list_name) for n, m in site.models.items()} == {model: (folder, plural)}


def test_naming_a_model_does_not_slow_every_command_down():
    """inflect's typeguard checks cost seconds at import; Vellum imports it without them."""
    code = (
        "import sys; from vellum.site.nouns import singular; assert singular('posts') == 'post';"
        " print('typeguard' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout == "False\n"


def test_a_folder_whose_model_is_taken_is_not_served(tmp_path):
    files = {"note/a.md": "", "notes/b.md": "", "posts/c.md": "", "articles/d.md": ""}
    write_files(tmp_path, {"vellum.yml": "models: {post: {folder: articles}}\n", **files})
    site = load_site(tmp_path)
    assert {n: m.folder for n, m in site.models.items()} == {"post": "articles", "note": "note"}
    assert site.unserved == {
        "notes": "not served: the folder 'note' is already the model 'note'",
        "posts": "not served: the model 'post' is declared with folder 'articles'",
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("models:\n  search: {folder: s}\n", "'search' is reserved by the API"),
        ("models:\n  content: {folder: c}\n", "'content' is reserved by the API"),
        ("models:\n  bad-name: {folder: b}\n", "model names start with a letter"),
        ("models:\n  post: {format: xml}\n", "models.post.format: expected one of"),
        ("models:\n  post: {fields: {a: {type: colour}}}\n", "models.post.fields.a: type must be"),
        ("models:\n  post: {fields: {s: {type: enum}}}\n", "an enum needs values"),
        ("models:\n  post: {fields: {a: {type: relation, to: ghost}}}\n", "unknown model 'ghost'"),
        ("models:\n  post: {folder: ../outside}\n", "must stay inside the site folder"),
        ("title: [unclosed\n", "invalid YAML"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_bad_config_is_refused(tmp_path, config, message):
    (tmp_path / "vellum.yml").write_text(config)
    with pytest.raises(SiteError) as info:
        load_site(tmp_path)
    assert message in info.value.message


def test_missing_folder(tmp_path):
    with pytest.raises(SiteError, match="does not exist"):
        load_site(tmp_path / "nowhere")


def test_tests_take_the_sample_site_as_the_project_committed_it(tmp_path):
    project = make_repo(tmp_path / "project")
    write_files(project / "content", QUERY_SITE)
    commit(project, "The sample site")
    committed = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    # Trying the README's write example against `make serve` commits into content/ ...
    application = build_app(project / "content", tmp_path / "state")
    try:
        writer = authorised_client(application, ("read", "write"))
        assert writer.post("/api/post", json={"title": "Hello", "body": "Hi."}).status_code == 201
    finally:
        application.extensions["vellum"].close()
    # ... and hand edits change the working copy too.
    write_files(project / "content", {"posts/beta.md": "edited", "posts/extra.md": "new"})
    copied = committed_sample(tmp_path / "copy", project)
    files = {p.relative_to(copied.parent).as_posix() for p in copied.rglob("*") if p.is_file()}
    assert files == {p for p in committed if p.startswith("content/")}
    assert (copied / "posts" / "beta.md").read_text() == QUERY_SITE["posts/beta.md"]
