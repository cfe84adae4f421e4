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


def test_front_matter_is_yaml_1_2(tmp_path):
    """One dialect, the one writes use: `yes` and `on` are text, a leading zero is decimal,
    `0o` is octal and `1e3` a number."""
    site = query_site(tmp_path)
    data = (
        b"---\ntitle: Typed\nviews: 017\nscore: 1e3\nday: 2024-01-01\n"
        b"a: yes\nb: on\nc: 0o17\nd: 017\ne: 2024-01-01\nf: 1e3\ng: ~\n---\nBody\n"
    )
    rec = parse(site, site.models["post"], "posts/typed.md", data)
    assert isinstance(rec, Record), rec
    read = {k: rec.data[k] for k in ("views", "score", "day", *"abcdefg")}
    assert read == {
        "views": 17,
        "score": 1000.0,
        "day": "2024-01-01",
        "a": "yes",
        "b": "on",
        "c": 15,
        "d": 17,
        "e": "2024-01-01",
        "f": 1000.0,
        "g": None,
    }
    assert [type(read[k]) for k in ("views", "score", "c", "d", "f")] == [
        int,
        float,
        int,
        int,
        float,
    ]


def test_a_boolean_spelled_yes_is_text_and_said_so(tmp_path):
    site = query_site(tmp_path)
    problem = parse(site, site.models["post"], "posts/x.md", b"---\ntitle: X\nfeatured: yes\n---\n")
    assert problem == Problem("posts/x.md", "expected true or false, got 'yes'", 3, "featured")


def test_a_key_given_twice_is_invalid_at_its_second_line(tmp_path):
    """Which of the two values holds is anyone's guess, and the editor refuses it too."""
    site = query_site(tmp_path)
    data = b"---\ntitle: One\nviews: 1\ntitle: Two\n---\n"
    problem = parse(site, site.models["post"], "posts/x.md", data)
    assert problem == Problem(
        "posts/x.md", "invalid YAML front matter: the key 'title' is given twice", 4
    )


def test_front_matter_opens_at_the_top_and_closes_at_the_next_dash_line(tmp_path):
    site = query_site(tmp_path)
    spaced = b"\n---\ntitle: Spaced\n-----  \n\n---\nA rule above.\n"
    rec = parse(site, site.models["post"], "posts/spaced.md", spaced)
    assert (rec.data["title"], rec.body) == ("Spaced", "---\nA rule above.")
    late = b"Intro\n---\ntitle: Late\n---\n"
    problem = parse(site, site.models["post"], "posts/late.md", late)
    assert (problem.field, problem.reason) == ("title", "is required")  # all of it is body
