"""The one seam to Git (GitPython): HEAD, committed blobs, and each file's commit dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import git

from app.errors import SiteError


@dataclass(frozen=True, slots=True)
class FileDates:
    """A file's first and last commit dates (author dates, canonical UTC strings)."""

    created: str
    updated: str


IDENTITY = ("Vellum", "vellum@localhost")


def init_repo(path: Path) -> GitRepo:
    """Create a repository that accepts pushes to its checked-out branch."""
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("receive", "denyCurrentBranch", "updateInstead")
    repo.close()
    return GitRepo(path)


class GitRepo:
    """The repository a site lives in; one per process, closed when done."""

    def __init__(self, path: Path | str) -> None:
        try:
            self._repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise SiteError(
                f"{path} is not inside a Git repository (run `git init` or `vellum init`)"
            ) from exc
        if self._repo.bare:
            raise SiteError(f"{path} is a bare repository: a site needs a working tree")
        self.root = Path(self._repo.working_tree_dir).resolve()
        self.git_dir = Path(self._repo.git_dir).resolve()

    def close(self) -> None:
        self._repo.close()

    def head(self) -> str | None:
        """The commit HEAD points at, or None in a repository with no commits yet."""
        try:
            return self._repo.head.commit.hexsha
        except ValueError:
            return None

    def is_ancestor(self, older: str, newer: str) -> bool:
        try:
            return self._repo.is_ancestor(older, newer)
        except git.GitCommandError:
            return False

    def committed_blobs(self, prefix: str) -> dict[str, str]:
        """Path (relative to `prefix`) → blob sha of every file in HEAD's tree under prefix."""
        if self.head() is None:
            return {}
        out = self._repo.git.ls_tree("-r", "-z", "HEAD", "--", prefix or ".")
        blobs = {}
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, _, path = entry.partition("\t")
            blobs[_strip(path, prefix)] = meta.split()[2]
        return blobs

    def file_dates(self, prefix: str, since: str | None = None) -> dict[str, FileDates]:
        """Commit dates of every file changed in since..HEAD (all history if since is None)."""
        head = self.head()
        if head is None:
            return {}
        rev = f"{since}..{head}" if since else head
        out = self._repo.git.log(
            rev, "--format=%x01%aI", "--name-only", "--no-renames", "-z", "--", prefix or "."
        )
        dates: dict[str, FileDates] = {}
        for chunk in out.split("\x01")[1:]:
            stamp, _, names = chunk.partition("\n")
            when = _utc(stamp.strip())
            for name in names.split("\0"):
                name = name.strip("\n")
                if not name:
                    continue
                path = _strip(name, prefix)
                seen = dates.get(path)
                # git log lists newest first: the first sighting is the last commit.
                dates[path] = FileDates(when, seen.updated if seen else when)
        return dates

    def commit_all(self, message: str) -> str:
        """Stage everything in the work tree and commit it; the author falls back to Vellum."""
        self._repo.git.add("-A")
        reader = self._repo.config_reader()
        name = reader.get_value("user", "name", IDENTITY[0])
        email = reader.get_value("user", "email", IDENTITY[1])
        actor = git.Actor(name, email)
        return self._repo.index.commit(message, author=actor, committer=actor).hexsha

    def relative(self, path: Path) -> str:
        """A path inside the work tree, relative to its root, with forward slashes."""
        rel = Path(path).resolve().relative_to(self.root).as_posix()
        return "" if rel == "." else rel


def _strip(path: str, prefix: str) -> str:
    return path[len(prefix) + 1 :] if prefix and path.startswith(prefix + "/") else path


def _utc(stamp: str) -> str:
    moment = dt.datetime.fromisoformat(stamp).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
