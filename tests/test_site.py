"""Loading vellum.yml: models, locales, inferred folders, and refused configurations."""

from __future__ import annotations

import pytest

from app.errors import SiteError
from app.site import load_site
from tests.conftest import SAMPLE, write_files


def test_sample_site_models():
    site = load_site(SAMPLE)
    assert {"blogPost", "author", "category", "page", "testimonials"} <= set(site.models)
    assert (
        site.models["blogPost"].folder == "posts" and site.models["blogPost"].format == "markdown"
    )
    assert site.models["testimonials"].inferred and site.models["testimonials"].format == "json"
    assert site.locales == ("en", "fr") and site.default_locale == "en"
    assert "media" not in site.models


def test_split_locale_only_for_known_locales():
    site = load_site(SAMPLE)
    assert site.split_locale("hello.fr") == ("hello", "fr")
    assert site.split_locale("v1.2") == ("v1.2", None)
    assert site.split_locale("hello") == ("hello", None)


def test_site_without_config_infers_everything(tmp_path):
    write_files(tmp_path, {"notes/a.md": "---\ntitle: A\n---\n", "data/b.json": "{}"})
    site = load_site(tmp_path)
    assert {n: m.format for n, m in site.models.items()} == {"data": "json", "notes": "markdown"}


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
