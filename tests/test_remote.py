"""Git in and out: pushes to the server's repo, pull mode, diverged remotes, push webhooks."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

import orjson
import pytest

from tests.helpers import authorised_client, build_app, commit, git, make_repo, write_files
from tests.receiver import wait_threads_gone
from tests.servers import call, running_server
from vellum.auth import keys
from vellum.errors import Conflict
from vellum.live.remote import Puller, pull, remote_status
from vellum.live.watcher import Watcher
from vellum.store import outbox
from vellum.store.state import StateStore

HOOK_SECRET = "push-webhook-secret"


@pytest.fixture(autouse=True)
def _no_stray_threads():
    before = set(threading.enumerate())
    yield
    wait_threads_gone(before)


def clone(source, target):
    git(source.parent, "clone", "-q", str(source), str(target))
    git(target, "config", "user.name", "Other Writer")
    git(target, "config", "user.email", "other@example.com")
    return target


def stored(services, name: str) -> list[dict]:
    rows = outbox.since(services.state, 0, 1000)
    return [orjson.loads(r["payload"]) for r in rows if r["name"] == name]


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return found


@pytest.fixture
def upstream(query_repo):
    """The query site as a remote that accepts pushes to its checked-out branch."""
    git(query_repo, "config", "receive.denyCurrentBranch", "updateInstead")
    return query_repo


@pytest.fixture
def served(upstream, tmp_path):
    """A server's clone of upstream (remote `origin`), as an app with REMOTE set."""
    site = clone(upstream, tmp_path / "served")
    application = build_app(
        site, tmp_path / "state", REMOTE="origin", GIT_WEBHOOK_SECRET=HOOK_SECRET
    )
    services = application.extensions["vellum"]
    outbox.process_head(services)
    yield application, site
    services.close()


def test_a_push_from_a_second_clone_is_live_and_fires_events(query_repo, tmp_path):
    application = build_app(query_repo, tmp_path / "state")
    services = application.extensions["vellum"]
    services.repo.accept_pushes()
    outbox.process_head(services)
    other = clone(query_repo, tmp_path / "other")
    write_files(other, {"people/jane.json": '{"name": "Jane Pushed"}\n'})
    sha = commit(other, "Jane, pushed")
    with Watcher(services, interval=0.1):
        git(other, "push", "-q", "origin", "main")
        client = authorised_client(application)
        wait_until(
            lambda: client.get("/api/person/jane").get_json()["data"]["name"] == "Jane Pushed"
        )
        updated = wait_until(lambda: stored(services, "content.updated"))
    assert updated[0]["commit"]["sha"] == sha
    assert updated[0]["data"]["changes"] == {"name": "Jane Pushed", "email": None}
    services.close()


def test_pull_mode_fast_forwards_and_pushes_writes(served, upstream):
    application, site = served
    services = application.extensions["vellum"]
    write_files(upstream, {"people/ann.json": '{"name": "Ann"}\n'})
    theirs = commit(upstream, "Ann, upstream")
    assert pull(services, "origin") == "pulled"
    assert services.repo.head() == theirs
    assert [e["data"]["id"] for e in stored(services, "content.created")] == ["ann"]
    write_files(site, {"people/bea.json": '{"name": "Bea"}\n'})
    ours = commit(site, "Bea, here")
    assert pull(services, "origin") == "pushed"
    assert git(upstream, "rev-parse", "HEAD") == ours
    assert pull(services, "origin") == "up-to-date"


def test_a_diverged_remote_is_never_overwritten(served, upstream):
    application, site = served
    services = application.extensions["vellum"]
    write_files(upstream, {"people/ann.json": '{"name": "Ann"}\n'})
    theirs = commit(upstream, "Ann, upstream")
    write_files(site, {"people/bea.json": '{"name": "Bea"}\n'})
    ours = commit(site, "Bea, here")
    for _ in range(2):
        with pytest.raises(Conflict, match="diverged"):
            pull(services, "origin")
    assert services.repo.head() == ours and git(upstream, "rev-parse", "HEAD") == theirs
    failed = stored(services, "sync.failed")
    assert len(failed) == 1 and failed[0]["data"]["state"] == "diverged"
    status = authorised_client(application).get("/api/_status").get_json()["data"]["remote"]
    assert status["state"] == "diverged" and "diverged" in status["reason"]
    assert remote_status(services.state)["remote"] == "origin"


def test_push_webhooks_need_the_right_signature_or_token(served, upstream):
    application, _ = served
    services = application.extensions["vellum"]
    write_files(upstream, {"people/ann.json": '{"name": "Ann"}\n'})
    theirs = commit(upstream, "Ann, upstream")
    client = application.test_client()
    body = b'{"ref": "refs/heads/main"}'
    wrong = client.post("/api/hooks/git", data=body, headers={"X-Hub-Signature-256": "sha256=0"})
    assert wrong.status_code == 401
    token = client.post("/api/hooks/git", data=body, headers={"X-Gitlab-Token": "nope"})
    assert token.status_code == 403
    assert services.repo.head() != theirs
    signature = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    right = client.post("/api/hooks/git", data=body, headers={"X-Hub-Signature-256": signature})
    assert right.status_code == 200, right.get_json()
    assert right.get_json()["data"]["result"] == "pulled"
    assert services.repo.head() == theirs
    gitlab = client.post("/api/hooks/git", data=body, headers={"X-Gitlab-Token": HOOK_SECRET})
    assert gitlab.get_json()["data"]["result"] == "up-to-date"


def test_the_puller_polls_the_remote(served, upstream):
    application, _ = served
    services = application.extensions["vellum"]
    with Puller(services, "origin", interval=0.1):
        write_files(upstream, {"people/ann.json": '{"name": "Ann"}\n'})
        theirs = commit(upstream, "Ann, upstream")
        wait_until(lambda: services.repo.head() == theirs)
    assert stored(services, "content.created")


def test_vellum_init_accepts_pushes(tmp_path):
    repo = make_repo(tmp_path / "plain")
    assert git(repo, "config", "--default", "", "receive.denyCurrentBranch") == ""


def test_serve_with_a_remote_pulls_and_pushes_for_real(upstream, tmp_path, monkeypatch):
    """`vellum serve --remote origin --poll …` as a process: a commit upstream is served
    within a poll, and an API write reaches upstream."""
    site = clone(upstream, tmp_path / "served")
    state_dir = tmp_path / "state"
    store = StateStore(state_dir)
    _, secret = keys.create_key(store, "editor", ["read", "write"])
    store.close()
    monkeypatch.setenv("VELLUM_REMOTE", "origin")
    monkeypatch.setenv("VELLUM_POLL", "0.5")
    auth = {"Authorization": f"Bearer {secret}"}
    with running_server(site, state_dir, tmp_path / "server.log") as (base, _):
        write_files(upstream, {"people/zoe.json": '{"name": "Zoe"}\n'})
        commit(upstream, "Zoe, upstream")
        wait_until(lambda: call("GET", f"{base}/api/person/zoe", headers=auth)[0] == 200, 20)
        status, _, body = call("PATCH", f"{base}/api/person/zoe", {"name": "Zoe Here"}, auth)
        assert status == 200, body
        wait_until(lambda: "Zoe Here" in git(upstream, "show", "HEAD:people/zoe.json"), 20)
        assert git(upstream, "log", "-1", "--format=%s") == "Update person zoe"

        def remote_status():
            return call("GET", f"{base}/api/_status", headers=auth)[2]["data"]["remote"]

        # A later poll finds nothing new (under load, the pull may still be the latest).
        remote = wait_until(lambda: (r := remote_status())["last"] != "pulled" and r, 20)
        assert (remote["remote"], remote["state"]) == ("origin", "ok")
        assert remote["last"] in {"pushed", "up-to-date"}
