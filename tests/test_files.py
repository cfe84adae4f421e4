"""Record files as bytes (vellum.store.files): an edit changes what it names and nothing else,
and a file reaches the disk whole or not at all."""

from __future__ import annotations

import json

import pytest

from vellum.store.files import (
    edit_json,
    edit_markdown,
    new_json,
    new_markdown,
    remove_leftovers,
    write_atomically,
)

# A file written by hand: a comment, both kinds of quotes, a flow list, a nested object,
# and a body with double spaces, trailing spaces and a CRLF line.
HAND_WRITTEN = (
    b"---\n"
    b"# Written by hand: keep this comment.\n"
    b'title: "Double quoted"   # trailing comment\n'
    b"slug: 'single-quoted'\n"
    b"tags: [git, python]\n"
    b"meta:\n"
    b"  color: red\n"
    b"  size: 3\n"
    b"views: 10\n"
    b"---\n"
    b"\n"
    b"Body with  two spaces, trailing spaces   \n"
    b"and a CRLF line\r\n"
)
FRONT = HAND_WRITTEN.split(b"---\n\n", 1)[0]  # up to the closing delimiter


@pytest.mark.parametrize(
    ("changes", "body", "expected"),
    [
        ({"views": 11}, None, HAND_WRITTEN.replace(b"views: 10", b"views: 11")),
        ({"slug": None}, None, HAND_WRITTEN.replace(b"slug: 'single-quoted'\n", b"")),
        ({"missing": None}, None, HAND_WRITTEN),
        ({"extra": "new"}, None, HAND_WRITTEN.replace(b"views: 10\n", b"views: 10\nextra: new\n")),
        (
            {"meta": {"color": "blue", "size": 3}},
            None,
            HAND_WRITTEN.replace(b"color: red", b"color: blue"),
        ),
        ({}, "  New body  \n\n", FRONT + b"---\n\nNew body\n"),
    ],
    ids=["change", "remove", "remove-absent", "add", "nested", "body"],
)
def test_an_edit_keeps_every_byte_it_does_not_change(changes, body, expected):
    assert edit_markdown(HAND_WRITTEN, changes, body) == expected


def test_an_edit_of_a_file_without_front_matter_adds_it_and_keeps_the_body():
    edited = edit_markdown(b"Just a body.\n", {"title": "Now titled"}, None)
    assert edited == b"---\ntitle: Now titled\n---\n\nJust a body.\n"


def test_removing_the_last_field_leaves_empty_front_matter():
    assert edit_markdown(b"---\ntitle: T\n---\n\nBody\n", {"title": None}, None) == (
        b"---\n---\n\nBody\n"
    )


def test_a_new_markdown_file_is_front_matter_then_the_stripped_body():
    written = new_markdown({"title": "Hello", "tags": ["a", "b"]}, "\n\nHi.\n\n")
    assert written.decode() == "---\ntitle: Hello\ntags:\n  - a\n  - b\n---\n\nHi.\n"
    assert new_markdown({}, "Only a body") == b"---\n---\n\nOnly a body\n"


def test_a_json_edit_keeps_the_order_of_the_other_keys_and_writes_text_as_is():
    original = new_json({"zeta": 1, "alpha": "a", "mid": [1, 2]})
    edited = edit_json(original, {"alpha": "Zoë ✓", "mid": None, "new": True})
    assert list(json.loads(edited)) == ["zeta", "alpha", "new"]
    assert "Zoë ✓".encode() in edited  # not \u escapes
    assert edited.endswith(b"}\n")


def test_an_atomic_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "posts" / "nested" / "hello.md"  # its folders are made
    write_atomically(path, b"first")
    write_atomically(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == ["hello.md"]


def test_leftovers_of_a_killed_write_are_removed_and_nothing_else(tmp_path):
    path = tmp_path / "hello.md"
    path.write_bytes(b"kept")
    (tmp_path / ".hello.md.4242.tmp").write_bytes(b"half a fi")
    (tmp_path / ".other.md.4242.tmp").write_bytes(b"another file's")
    remove_leftovers(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.md.4242.tmp", "hello.md"]
    assert path.read_bytes() == b"kept"
