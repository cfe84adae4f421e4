"""The seam to Git (vellum.store.git) on real repositories: commits made as one, messages as
written, dates in UTC, and blobs read back byte for byte."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import commit, git, make_repo, write_files
from vellum.errors import SiteError
from vellum.store.git import IDENTITY, GitRepo

WRITER = ("Ada Writer", "ada@example.com")


@pytest.fixture
def repo(tmp_path):
    path = make_repo(tmp_path / "repo")
    write_files(path, {"posts/a.md": "---\ntitle: A\n---\n", "people/jane.json": "{}\n"})
    commit(path, "Start", date="2024-01-01T10:00:00+02:00")
    opened = GitRepo(path)
    yield opened
    opened.close()


@pytest.mark.parametrize(
    "message",
    [
        "Plain subject",
        "Zoë writes ✓ in 日本語",
        "Subject\n\nA body\nover lines",
        "-n looks like an option",
        "Form\x0cfeed, vertical\x0btab, U+2028\u2028and U+0085\x85inside",
        "Tab\tand carriage\rreturn",
        "Long " + "x" * 200_000,  # past what one command line may hold
    ],
    ids=["plain", "unicode", "body", "dash", "line-ends", "tab-cr", "long"],
)
def test_a_commit_message_is_stored_as_written(repo, message):
    sha = repo.commit_files({"posts/b.md": b"---\ntitle: B\n---\n"}, message, WRITER)
    raw = subprocess.run(
        ["git", "cat-file", "commit", sha], cwd=repo.root, capture_output=True, check=True
    ).stdout
    assert raw.split(b"\n\n", 1)[1] == (message + "\n").encode()
    subject = message.split("\n", 1)[0]
    assert repo.commits_between(None, sha)[-1]["message"] == subject
    assert repo.file_log("posts/b.md", 1, 0)[0]["message"] == subject


def test_a_commit_is_the_writers_on_top_of_head_and_leaves_staged_work_alone(repo):
    write_files(repo.root, {"notes/staged.md": "mine\n"})
    git(repo.root, "add", "notes/staged.md")
    before = repo.head()
    sha = repo.commit_files({"posts/a.md": None, "posts/b.md": b"B\n"}, "Swap", WRITER)
    assert git(repo.root, "rev-parse", f"{sha}^") == before
    assert git(repo.root, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha) == (
        f"{WRITER[0]} <{WRITER[1]}>|{IDENTITY[0]} <{IDENTITY[1]}>"
    )
    assert git(repo.root, "show", "--name-status", "--format=", sha).splitlines() == [
        "D\tposts/a.md",
        "A\tposts/b.md",
    ]
    # What the writer staged is still staged, and only that.
    assert git(repo.root, "diff", "--cached", "--name-only") == "notes/staged.md"


@pytest.mark.parametrize(
    "data",
    [b"", b"plain\n", b"crlf\r\nlines\r\n", b"no newline at end", b"\x00\x01\xffbinary\x00"],
    ids=["empty", "plain", "crlf", "no-eol", "binary"],
)
def test_blobs_read_back_byte_for_byte(repo, data):
    sha = repo.commit_files({"media/file.bin": data}, "Add a file", WRITER)
    blob = repo.committed_blob("media/file.bin")
    assert blob == git(repo.root, "rev-parse", f"{sha}:media/file.bin")
    assert repo.blob(blob) == data
    assert repo.file_at(sha, "media/file.bin") == data
    assert repo.committed_blobs("media") == {"file.bin": blob}


def test_the_committed_blobs_of_named_files_only(repo):
    repo.commit_files({"notes/a.md": b"a\n", "notes/b.md": b"b\n"}, "Two notes", WRITER)
    a = repo.committed_blob("notes/a.md")
    assert repo.committed_blobs("notes", ["a.md", "new.md"]) == {"a.md": a}
    assert repo.committed_blobs("notes", []) == {}


def test_a_file_not_in_a_commit_reads_as_none(repo):
    first = repo.head()
    repo.commit_files({"posts/new.md": b"new\n"}, "Add new", WRITER)
    assert repo.file_at(first, "posts/new.md") is None
    assert repo.committed_blob("posts/missing.md") is None


def test_file_dates_are_the_first_and_last_author_dates_in_utc(repo):
    path = repo.root
    write_files(path, {"posts/a.md": "---\ntitle: A2\n---\n"})
    commit(path, "Edit a", date="2024-03-05T23:30:00-05:00")
    write_files(path, {"people/jane.json": '{"name": "Jane"}\n'})
    last = commit(path, "Edit jane", date="2024-06-01T00:00:00Z")
    dates = repo.file_dates("")
    assert (dates["posts/a.md"].created, dates["posts/a.md"].updated) == (
        "2024-01-01T08:00:00Z",
        "2024-03-06T04:30:00Z",
    )
    assert dates["people/jane.json"].updated == "2024-06-01T00:00:00Z"
    # Since a commit: only what changed after it, relative to the prefix.
    since = git(path, "rev-parse", f"{last}^")
    assert set(repo.file_dates("people", since)) == {"jane.json"}


def test_a_commit_date_with_an_offset_is_listed_in_utc(repo):
    write_files(repo.root, {"posts/c.md": "c\n"})
    sha = commit(repo.root, "Add c", date="2024-12-31T23:59:59-01:00")
    [listed] = repo.commits_between(git(repo.root, "rev-parse", f"{sha}^"), sha)
    assert (listed["sha"], listed["date"]) == (sha, "2025-01-01T00:59:59Z")
    assert repo.file_log("posts/c.md", 10, 0)[0]["date"] == "2025-01-01T00:59:59Z"


@pytest.mark.parametrize("name", ["with space.md", "new\nline.md", "ünï.md", "tab\t.md"])
def test_changes_list_paths_with_odd_characters(repo, name):
    before = repo.head()
    after = repo.commit_files({f"posts/{name}": b"odd\n"}, "Odd name", WRITER)
    assert repo.changes_between(before, after, "posts") == [("A", name)]
    assert repo.paths_ever("posts/*")[0] == f"posts/{name}"


@pytest.mark.parametrize("rev", ["", "-h", "--all", "HEAD\0", "nosuchref", "0" * 40])
def test_a_revision_that_names_no_commit_resolves_to_none(repo, rev):
    assert repo.resolve(rev) is None


def test_a_short_sha_resolves_to_the_commit_and_a_tree_sha_does_not(repo):
    head = repo.head()
    assert repo.resolve(head[:8]) == head
    assert repo.resolve(git(repo.root, "rev-parse", "HEAD^{tree}")) is None


def test_an_empty_repository_has_no_head_and_no_blobs(tmp_path):
    empty = GitRepo(make_repo(tmp_path / "empty"))
    assert empty.head() is None
    assert empty.committed_blobs("") == {}
    assert empty.file_dates("") == {}
    sha = empty.commit_files({"first.md": b"1\n"}, "First", WRITER)
    assert empty.head() == sha and git(empty.root, "rev-list", "--count", sha) == "1"
    empty.close()


def test_a_folder_outside_any_repository_is_a_site_error(tmp_path):
    with pytest.raises(SiteError, match="not inside a Git repository"):
        GitRepo(tmp_path)
