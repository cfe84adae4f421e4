"""Git hooks: installed by `vellum hooks install`, a pre-commit check, immediate events."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, commit, git, write_files
from vellum.cli.main import cli
from vellum.services import Vellum
from vellum.site.config import load_config
from vellum.store import outbox


@pytest.fixture
def hooked(query_repo, runner, tmp_path):
    """The query site with Vellum's hooks installed; returns the environment hooks need."""
    env = {
        "VELLUM_STATE_DIR": str(tmp_path / "state"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    result = runner.invoke(cli, ["--site", str(query_repo), "hooks", "install"], env=env)
    assert result.exit_code == 0, result.output
    assert "installed" in result.output
    runner.invoke(cli, ["--site", str(query_repo), "events", "process"], env=env)
    return env


def try_commit(repo, env: dict, message: str) -> subprocess.CompletedProcess:
    git(repo, "add", "-A")
    return subprocess.run(
        ["git", "commit", "-q", "-m", message],
        cwd=repo,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )


def test_pre_commit_refuses_an_invalid_record(query_repo, hooked):
    write_files(query_repo, {"people/bad.json": '{"name": '})
    refused = try_commit(query_repo, hooked, "Add a broken person")
    assert refused.returncode != 0
    assert "people/bad.json" in refused.stderr
    assert "commit refused" in refused.stderr


def test_post_commit_emits_the_commit_at_once(query_repo, hooked, tmp_path):
    write_files(query_repo, {"people/ann.json": '{"name": "Ann"}\n'})
    done = try_commit(query_repo, hooked, "Add Ann")
    assert done.returncode == 0, done.stderr
    config = load_config({"SITE": str(query_repo), "STATE_DIR": str(tmp_path / "state")})
    services = Vellum(config)
    try:
        assert outbox.get_cursor(services.state) == services.repo.head()
        assert [r["name"] for r in outbox.since(services.state, 0)] == ["commit", "content.created"]
    finally:
        services.close()


def test_install_keeps_existing_hooks_unless_forced(query_repo, hooked, runner):
    args = ["--site", str(query_repo), "hooks", "install"]
    result = runner.invoke(cli, args, env=hooked)
    assert "kept" in result.output and "installed" not in result.output
    result = runner.invoke(cli, [*args, "--force"], env=hooked)
    assert "installed" in result.output
    assert os.access(query_repo / ".git/hooks/post-commit", os.X_OK)


def shell_without_vellum() -> dict:
    """A commit's environment whose PATH finds git and sh, but no vellum and no virtualenv."""
    path = os.pathsep.join(sorted({str(Path(shutil.which(t)).parent) for t in ("git", "sh")}))
    assert shutil.which("vellum", path=path) is None
    kept = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**kept, "PATH": path}


def events_of(site) -> list[str]:
    """The events recorded in the site's own state (inside .git), and whether they are
    up to date with HEAD."""
    services = Vellum(load_config({"SITE": str(site)}))
    try:
        assert outbox.get_cursor(services.state) == services.repo.head()
        return [r["name"] for r in outbox.since(services.state, 0)]
    finally:
        services.close()


@pytest.fixture
def two_sites(site_repo, runner):
    """A repository holding the sample site in content/ and another in docs/ (so `.` does
    not say which), with hooks installed for content/."""
    repo = site_repo.parent
    write_files(repo, {"docs/vellum.yml": "title: Docs\n"})
    commit(repo, "A second site")
    result = runner.invoke(cli, ["--site", str(site_repo), "hooks", "install"])
    assert result.exit_code == 0, result.output
    runner.invoke(cli, ["--site", str(site_repo), "events", "process"])
    return site_repo


def test_hooks_run_the_vellum_that_installed_them_for_its_site(two_sites):
    repo, shell = two_sites.parent, shell_without_vellum()
    write_files(two_sites, {"posts/bad.md": "---\ntitle: [unclosed\n---\n"})
    refused = try_commit(repo, shell, "Add a broken post")
    assert refused.returncode != 0
    assert "posts/bad.md:2: invalid YAML front matter" in refused.stderr
    assert "commit refused" in refused.stderr
    (two_sites / "posts/bad.md").unlink()
    write_files(two_sites, {"posts/fine.md": "---\ntitle: Fine\n---\nBody.\n"})
    done = try_commit(repo, shell, "Add a fine post")
    assert done.returncode == 0, done.stderr
    assert events_of(two_sites) == ["commit", "content.created"]


def test_a_push_received_emits_its_events_for_its_site(two_sites, tmp_path):
    repo, shell = two_sites.parent, shell_without_vellum()
    git(repo, "config", "receive.denyCurrentBranch", "updateInstead")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    write_files(clone, {"content/posts/pushed.md": "---\ntitle: Pushed\n---\nBody.\n"})
    git(clone, "add", "-A")
    git(clone, "-c", "user.name=W", "-c", "user.email=w@example.com", "commit", "-q", "-m", "Push")
    pushed = subprocess.run(
        ["git", "push", "-q", "origin", "HEAD"],
        cwd=clone,
        env=shell,
        capture_output=True,
        text=True,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert (two_sites / "posts/pushed.md").exists()
    assert events_of(two_sites) == ["commit", "content.created"]
