"""Parsing one file: ids from paths, locales, front matter, JSON, and their errors."""

from __future__ import annotations

from tests.helpers import QUERY_SITE, git, make_repo, write_files
from vellum.site.site import load_site
from vellum.store.records import Problem, Record, blob_sha, parse


def query_site(tmp_path):
    write_files(tmp_path, QUERY_SITE)
    return load_site(tmp_path)


def test_markdown_record_from_a_nested_locale_file(tmp_path):
    site = query_site(tmp_path)
    data = b"---\ntitle: Bonjour\nviews: 3\n---\n\nLe corps.\n"
    rec = parse(site, site.models["post"], "posts/2024/hello.fr.md", data)
    assert isinstance(rec, Record)
    assert (rec.id, rec.locale, rec.body) == ("hello", "fr", "Le corps.")
    assert rec.data["views"] == 3 and rec.data["status"] == "draft"


def test_json_record(tmp_path):
    site = query_site(tmp_path)
    rec = parse(site, site.models["person"], "people/ann.json", b'{"name": "Ann"}')
    assert (rec.id, rec.locale, rec.body, rec.data) == (
        "ann",
        "en",
        None,
        {"name": "Ann", "email": None},
    )


def test_markdown_without_front_matter_fails_required_fields(tmp_path):
    site = query_site(tmp_path)
    problem = parse(site, site.models["post"], "posts/plain.md", b"Just text\n")
    assert problem == Problem("posts/plain.md", "is required", None, "title")


def test_non_utf8_and_non_object_json(tmp_path):
    site = query_site(tmp_path)
    assert "not valid UTF-8" in parse(site, site.models["post"], "posts/x.md", b"\xff\xfe").reason
    problem = parse(site, site.models["person"], "people/x.json", b"[1, 2]")
    assert problem.reason == "a JSON record must be an object"


def test_blob_sha_matches_git(tmp_path):
    repo = make_repo(tmp_path / "r")
    (repo / "f.md").write_bytes(b"---\ntitle: x\n---\nbody\n")
    assert blob_sha((repo / "f.md").read_bytes()) == git(repo, "hash-object", "f.md")


def test_problem_reads_as_one_line():
    assert (
        str(Problem("posts/a.md", "is required", 2, "title")) == "posts/a.md:2: title: is required"
    )
    assert str(Problem("posts/a.md", "broken")) == "posts/a.md: broken"
