"""The one seam to Git (GitPython): HEAD, committed blobs, and each file's commit dates."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import git
from gitdb import IStream

from vellum.errors import SiteError


@dataclass(frozen=True, slots=True)
class FileDates:
    """A file's first and last commit dates (author dates, canonical UTC strings)."""

    created: str
    updated: str


IDENTITY = ("Vellum", "vellum@localhost")
# The tree of a commit with no parent is diffed against the empty tree.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# A `--name-status` status (never a 40-digit sha, the first field of each commit).
STATUS = re.compile(r"[ACDMRTUXB][0-9]*")


class RemoteError(Exception):
    """The remote could not be fetched, merged or pushed to."""


class Diverged(RemoteError):
    """The local branch and the remote's both have commits the other lacks."""


class HeadMoved(Exception):
    """The branch moved while a commit was being made: build it again on the new HEAD."""


def init_repo(path: Path) -> GitRepo:
    """Create a repository that accepts pushes to its checked-out branch."""
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("receive", "denyCurrentBranch", "updateInstead")
    repo.close()
    return GitRepo(path)


def work_tree_of(path: Path) -> Path | None:
    """The top of the work tree that holds path, or None outside one (or in a bare one)."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        return None if repo.bare else Path(repo.working_tree_dir).resolve()
    finally:
        repo.close()


def _locked(method):
    """GitPython keeps long-lived `git cat-file` pipes per Repo: one thread at a time."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class GitRepo:
    """The repository a site lives in; one per process, closed when done. Thread-safe."""

    def __init__(self, path: Path | str) -> None:
        try:
            self._repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise SiteError(
                f"{path} is not inside a Git repository (run `git init` or `vellum init`)"
            ) from exc
        if self._repo.bare:
            raise SiteError(f"{path} is a bare repository: a site needs a working tree")
        self._lock = threading.RLock()
        self.root = Path(self._repo.working_tree_dir).resolve()
        self.git_dir = Path(self._repo.git_dir).resolve()

    @_locked
    def close(self) -> None:
        self._repo.close()

    @_locked
    def head(self) -> str | None:
        """The commit HEAD points at, or None in a repository with no commits yet."""
        try:
            return self._repo.head.commit.hexsha
        except ValueError:
            return None

    @_locked
    def is_ancestor(self, older: str, newer: str) -> bool:
        try:
            return self._repo.is_ancestor(older, newer)
        except git.GitCommandError:
            return False

    @_locked
    def committed_blobs(self, prefix: str, paths: Iterable[str] | None = None) -> dict[str, str]:
        """Path (relative to `prefix`) → blob sha of every file in HEAD's tree under prefix
        (only of these `paths`, relative to it, when given: a tree of 100,000 files takes
        a tenth of a second to list)."""
        if self.head() is None:
            return {}
        wanted = (
            [prefix or "."] if paths is None else [f"{prefix}/{p}" if prefix else p for p in paths]
        )
        if not wanted:
            return {}
        out = self._repo.git.ls_tree("-r", "-z", "HEAD", "--", *wanted)
        blobs = {}
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, _, path = entry.partition("\t")
            blobs[_strip(path, prefix)] = meta.split()[2]
        return blobs

    @_locked
    def file_dates(self, prefix: str, since: str | None = None) -> dict[str, FileDates]:
        """Commit dates of every file changed in since..HEAD (all history if since is None)."""
        head = self.head()
        if head is None:
            return {}
        rev = f"{since}..{head}" if since else head
        out = self._repo.git.log(
            rev, "-z", "--format=%H%x00%aI", "--name-status", "--no-renames", "--", prefix or "."
        )
        dates: dict[str, FileDates] = {}
        for (_, stamp), changes in _log_entries(out, 2):
            when = _utc(stamp)
            for _, name in changes:
                path = _strip(name, prefix)
                seen = dates.get(path)
                # git log lists newest first: the first sighting is the last commit.
                dates[path] = FileDates(when, seen.updated if seen else when)
        return dates

    @_locked
    def files_named(self, name: str) -> list[Path]:
        """Every file called `name` in the work tree, tracked or not (ignored ones aside)."""
        out = self._repo.git.ls_files(
            "-z", "--cached", "--others", "--exclude-standard", "--", f":(glob)**/{name}"
        )
        found = {self.root / p for p in out.split("\0") if p}
        return sorted(p for p in found if p.is_file())

    @_locked
    def identity(self) -> tuple[str, str]:
        """The configured user.name and user.email, else Vellum's own."""
        reader = self._repo.config_reader()
        return (
            str(reader.get_value("user", "name", IDENTITY[0])),
            str(reader.get_value("user", "email", IDENTITY[1])),
        )

    def commit_all(self, message: str) -> str:
        """Stage everything in the work tree and commit it; the author falls back to Vellum."""
        actor = git.Actor(*self.identity())
        with self._lock:
            self._repo.git.add("-A")
            return self._repo.index.commit(message, author=actor, committer=actor).hexsha

    @_locked
    def commit_files(
        self, changes: dict[str, bytes | None], message: str, author: tuple[str, str]
    ) -> str:
        """One commit of these files (repo paths → bytes, None = removed) on top of HEAD.

        Built in a temporary index and published by a compare-and-swap of the branch, so
        whatever a writer has staged is left alone and a concurrent commit is never lost.
        """
        head = self.head()
        cmd = self._repo.git
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            if head:
                cmd.read_tree(head, env=env)
            entries = self._stage(changes, env)
            tree = cmd.write_tree(env=env)
            # From a file, not argv: a long message is past what a command line holds.
            message_file = Path(tmp) / "message"
            text = message if message.endswith("\n") else message + "\n"  # as -m ends it
            message_file.write_bytes(text.encode("utf-8"))
            parents = ["-p", head] if head else []
            commit = cmd.commit_tree(tree, *parents, "-F", str(message_file), env=_identity(author))
        try:
            subject = message.strip().split("\n", 1)[0][:200]
            cmd.update_ref("-m", f"vellum: {subject}", "HEAD", commit, head or "")
        except git.GitCommandError as exc:
            raise HeadMoved(str(exc)) from exc
        self.stage_in_index(entries)
        return commit

    def _stage(self, changes: dict[str, bytes | None], env: dict) -> list[tuple[str, str | None]]:
        entries = []
        for path, data in changes.items():
            if data is None:
                self._repo.git.update_index("--force-remove", "--", path, env=env)
                entries.append((path, None))
                continue
            stored = self._repo.odb.store(IStream(b"blob", len(data), BytesIO(data)))
            sha = stored.hexsha.decode() if isinstance(stored.hexsha, bytes) else stored.hexsha
            self._repo.git.update_index("--add", "--cacheinfo", f"100644,{sha},{path}", env=env)
            entries.append((path, sha))
        return entries

    @_locked
    def blob(self, sha: str) -> bytes:
        """The bytes of a blob."""
        return self._repo.odb.stream(bytes.fromhex(sha)).read()

    @_locked
    def stage_in_index(self, entries: list[tuple[str, str | None]]) -> None:
        """Make the work tree's index agree with the new commit for these paths only."""
        for attempt in range(50):
            try:
                for path, sha in entries:
                    if sha is None:
                        self._repo.git.update_index("--force-remove", "--", path)
                    else:
                        self._repo.git.update_index("--add", "--cacheinfo", f"100644,{sha},{path}")
                return
            except git.GitCommandError:
                # Someone (a writer's own git) holds .git/index.lock: wait a little.
                if attempt == 49:
                    raise
                time.sleep(0.1)

    @_locked
    def committed_blob(self, path: str) -> str | None:
        """The blob sha of a repo path in HEAD, or None when HEAD does not have it."""
        try:
            return self._repo.git.rev_parse("--verify", "-q", f"HEAD:{path}")
        except git.GitCommandError:
            return None

    @_locked
    def resolve(self, rev: str) -> str | None:
        """The full sha of a commit named by a (possibly short) sha, or None."""
        if not rev or "\0" in rev or rev.startswith("-"):  # not a name, or an option
            return None
        try:
            return self._repo.git.rev_parse("--verify", "-q", f"{rev}^{{commit}}")
        except git.GitCommandError:
            return None

    @_locked
    def file_log(self, path: str, limit: int, offset: int) -> list[dict]:
        """Commits that touched a repo path, newest first: sha, author, date, message."""
        out = self._repo.git.log(
            f"--max-count={limit}",
            f"--skip={offset}",
            "-z",
            "--format=%H%x00%an%x00%ae%x00%aI%x00%s",
            "--name-status",
            "--no-renames",
            "HEAD",
            "--",
            path,
        )
        commits = []
        for (sha, name, email, date, subject), changes in _log_entries(out, 5):
            status = changes[0][0] if changes else "M"
            commits.append(
                {
                    "version": sha,
                    "author": {"name": _text(name), "email": _text(email)},
                    "date": _utc(date),
                    "message": _text(subject),
                    "deleted": status == "D",
                }
            )
        return commits

    @_locked
    def count_commits(self, path: str) -> int:
        if self.head() is None:
            return 0
        return int(self._repo.git.rev_list("--count", "HEAD", "--", path) or 0)

    @_locked
    def file_at(self, commit: str, path: str) -> bytes | None:
        """A file's bytes as of a commit, or None if it did not exist there."""
        try:
            sha = self._repo.git.rev_parse("--verify", "-q", f"{commit}:{path}")
        except git.GitCommandError:
            return None
        return self.blob(sha)

    @_locked
    def paths_ever(self, pathspec: str) -> list[str]:
        """Every path matching a glob pathspec in the history, most recent first."""
        if self.head() is None:
            return []
        out = self._repo.git.log(
            "-z", "--format=%H", "--name-status", "--no-renames", "HEAD", "--", pathspec
        )
        seen: dict[str, None] = {}
        for _, changes in _log_entries(out, 1):
            for _, path in changes:
                seen.setdefault(path, None)
        return list(seen)

    @_locked
    def changes_between(self, old: str, new: str, prefix: str) -> list[tuple[str, str]]:
        """(status A/M/D, path relative to prefix) for each file changed in old..new."""
        out = self._repo.git.diff(
            "--name-status", "--no-renames", "-z", old, new, "--", prefix or "."
        )
        parts = [p for p in out.split("\0") if p]
        return [(parts[i][0], _strip(parts[i + 1], prefix)) for i in range(0, len(parts) - 1, 2)]

    @_locked
    def commits_between(self, old: str | None, new: str) -> list[dict]:
        """Commits after old up to new along first parents, oldest first, with their parent."""
        spec = f"{old}..{new}" if old else new
        out = self._repo.git.log(
            "-z",
            "--first-parent",
            "--reverse",
            "--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%s",
            spec,
        )
        commits = []
        for (sha, parents, name, email, date, subject), _ in _log_entries(out, 6):
            parent = parents.split()[0] if parents else EMPTY_TREE
            author = {"name": _text(name), "email": _text(email)}
            commits.append(
                {
                    "sha": sha,
                    "parent": parent,
                    "author": author,
                    "date": _utc(date),
                    "message": _text(subject),
                }
            )
        return commits

    @_locked
    def staged_files(self, prefix: str) -> dict[str, bytes | None]:
        """Files the next commit changes under prefix: path (relative to it) → staged bytes."""
        args = ["--cached", "--name-status", "--no-renames", "-z"]
        out = self._repo.git.diff(*args, "HEAD" if self.head() else EMPTY_TREE, "--", prefix or ".")
        parts = [p for p in out.split("\0") if p]
        staged: dict[str, bytes | None] = {}
        for status, path in zip(parts[::2], parts[1::2], strict=True):
            blob = None if status == "D" else self._repo.git.rev_parse(f":{path}")
            staged[_strip(path, prefix)] = None if blob is None else self.blob(blob)
        return staged

    @_locked
    def accept_pushes(self) -> None:
        """Let `git push` update the checked-out branch and its files (when the tree is clean)."""
        with self._repo.config_writer() as cfg:
            cfg.set_value("receive", "denyCurrentBranch", "updateInstead")

    @_locked
    def sync_remote(self, remote: str, push: bool = True) -> str:
        """Fetch `remote`, then fast-forward to it or (if `push`) push to it; never
        overwrite either side.

        Returns 'up-to-date', 'pulled', 'pushed' or (not pushing) 'ahead'; raises Diverged
        when both sides moved.
        """
        try:
            branch = self._repo.active_branch.name
            self._repo.git.fetch("--quiet", remote, branch)
            theirs = self._repo.git.rev_parse(f"{remote}/{branch}")
        except (git.GitCommandError, TypeError) as exc:
            raise RemoteError(f"cannot fetch {remote}: {exc}") from exc
        ours = self._repo.head.commit.hexsha
        if theirs == ours:
            return "up-to-date"
        try:
            if self._repo.is_ancestor(ours, theirs):
                self._repo.git.merge("--ff-only", "--quiet", theirs)
                return "pulled"
            if self._repo.is_ancestor(theirs, ours):
                if not push:
                    return "ahead"
                self._repo.git.push("--quiet", remote, f"HEAD:{branch}")
                return "pushed"
        except git.GitCommandError as exc:
            raise RemoteError(f"cannot bring {branch} in line with {remote}: {exc}") from exc
        raise Diverged(
            f"{branch} and {remote}/{branch} have diverged ({ours[:7]} vs {theirs[:7]}): "
            "merge or rebase by hand; Vellum never force-overwrites either side"
        )

    def relative(self, path: Path) -> str:
        """A path inside the work tree, relative to its root, with forward slashes."""
        rel = Path(path).resolve().relative_to(self.root).as_posix()
        return "" if rel == "." else rel


def _identity(author: tuple[str, str]) -> dict[str, str]:
    name, email = author
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": IDENTITY[0],
        "GIT_COMMITTER_EMAIL": IDENTITY[1],
    }


def _log_entries(out: str, width: int) -> list[tuple[list[str], list[tuple[str, str]]]]:
    """Each commit of `git log -z --format=<width fields joined by %x00, %H first>
    [--name-status]`: its fields and its (status, path) pairs.

    Split on NUL alone, the one character no message, name or path can hold: a message
    may hold a form feed, U+2028 or any other line end, and a path a newline.
    """
    tokens = out.split("\0")
    entries = []
    at = 0
    while at + width <= len(tokens) and tokens[at].strip():
        fields = tokens[at : at + width]
        fields[0] = fields[0].strip()
        at += width
        changes = []
        # Git puts a newline between a commit's fields and its first status.
        while at + 1 < len(tokens) and STATUS.fullmatch(tokens[at].lstrip("\n")):
            changes.append((tokens[at].lstrip("\n")[0], tokens[at + 1]))
            at += 2
        entries.append((fields, changes))
    return entries


def _text(value: str) -> str:
    """Text Git gave as bytes that are not UTF-8 (kept as surrogates), made valid."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _strip(path: str, prefix: str) -> str:
    return path[len(prefix) + 1 :] if prefix and path.startswith(prefix + "/") else path


def _utc(stamp: str) -> str:
    moment = dt.datetime.fromisoformat(stamp).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
