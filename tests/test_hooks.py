"""Git hooks: installed by `vellum hooks install`, a pre-commit check, immediate events."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, git, write_files
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
