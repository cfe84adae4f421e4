"""Concurrent writes: threads, two server processes, If-Match races and kill -9."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import build_app, commit, git, write_files
from tests.servers import call, running_server, stop
from vellum.auth import keys
from vellum.services import Vellum
from vellum.site.config import load_config

COUNT = 50


@pytest.fixture
def crowd_repo(query_repo):
    """The query fixture plus 50 people to write to."""
    write_files(
        query_repo,
        {f"people/p{n:02d}.json": f'{{"name": "Person {n}"}}\n' for n in range(COUNT)},
    )
    commit(query_repo, "Add fifty people")
    return query_repo


def writer_secret(site, state) -> str:
    services = Vellum(load_config({"SITE": str(site), "STATE_DIR": str(state)}))
    _, secret = keys.create_key(services.state, "load", ["read", "read:drafts", "write"])
    services.close()
    return secret


def commits_since(repo, base: str) -> list[str]:
    return git(repo, "log", "--format=%s", f"{base}..HEAD").splitlines()


def test_fifty_threads_fifty_commits(crowd_repo, tmp_path):
    application = build_app(crowd_repo, tmp_path / "state")
    secret = writer_secret(crowd_repo, tmp_path / "state")
    base = git(crowd_repo, "rev-parse", "HEAD")

    def patch(n: int) -> int:
        client = application.test_client()
        response = client.patch(
            f"/api/person/p{n:02d}",
            json={"email": f"p{n}@example.com"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(patch, range(COUNT)))
    assert statuses == [200] * COUNT
    assert sorted(commits_since(crowd_repo, base)) == sorted(
        f"Update person p{n:02d}" for n in range(COUNT)
    )
    for n in range(COUNT):
        assert f'"email": "p{n}@example.com"' in (crowd_repo / f"people/p{n:02d}.json").read_text()
    assert git(crowd_repo, "status", "--porcelain") == ""
    git(crowd_repo, "fsck", "--strict")
    application.extensions["vellum"].close()


def test_two_server_processes_lose_nothing(crowd_repo, tmp_path):
    state = tmp_path / "state"
    secret = writer_secret(crowd_repo, state)
    headers = {"Authorization": f"Bearer {secret}"}
    base = git(crowd_repo, "rev-parse", "HEAD")
    with (
        running_server(crowd_repo, state, tmp_path / "a.log") as (url_a, _),
        running_server(crowd_repo, state, tmp_path / "b.log") as (url_b, _),
    ):

        def patch(n: int) -> int:
            url = url_a if n % 2 else url_b
            body = {"email": f"p{n}@example.com"}
            return call("PATCH", f"{url}/api/person/p{n:02d}", body, headers)[0]

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(patch, range(COUNT)))
        assert statuses == [200] * COUNT
        # Each process sees the other's writes.
        seen = call("GET", f"{url_a}/api/person/p00", headers=headers)[2]["data"]
        assert seen["email"] == "p0@example.com"
    assert len(commits_since(crowd_repo, base)) == COUNT
    assert git(crowd_repo, "status", "--porcelain") == ""
    git(crowd_repo, "fsck", "--strict")


def test_if_match_race_has_exactly_one_winner(query_repo, tmp_path):
    application = build_app(query_repo, tmp_path / "state")
    secret = writer_secret(query_repo, tmp_path / "state")
    etag = (
        application.test_client()
        .get("/api/post/beta", headers={"Authorization": f"Bearer {secret}"})
        .headers["ETag"]
    )
    barrier = threading.Barrier(6)

    def patch(n: int) -> int:
        client = application.test_client()
        barrier.wait(timeout=10)
        return client.patch(
            "/api/post/beta",
            json={"views": n},
            headers={"Authorization": f"Bearer {secret}", "If-Match": etag},
        ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(patch, range(6)))
    assert statuses == [200, 412, 412, 412, 412, 412]
    application.extensions["vellum"].close()


def test_kill_9_during_a_burst_leaves_a_clean_repo(crowd_repo, tmp_path):
    state = tmp_path / "state"
    secret = writer_secret(crowd_repo, state)
    headers = {"Authorization": f"Bearer {secret}"}
    stop_flag = threading.Event()
    done: list[int] = []

    with running_server(crowd_repo, state, tmp_path / "kill.log") as (url, proc):

        def burst() -> None:
            for n in range(COUNT):
                if stop_flag.is_set():
                    return
                try:
                    status = call(
                        "PATCH", f"{url}/api/person/p{n:02d}", {"email": "x@y.z"}, headers
                    )
                    done.append(status[0])
                except OSError:
                    return

        thread = threading.Thread(target=burst)
        thread.start()
        deadline = time.monotonic() + 20
        while len(done) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop(proc, signal.SIGKILL)
        stop_flag.set()
        thread.join(timeout=30)
        assert not thread.is_alive()
    git(crowd_repo, "fsck", "--strict")
    # The next write is not blocked and recovers whatever the killed one left behind
    # (a record file is never half written: it is renamed into place whole).
    application = build_app(crowd_repo, state)
    client = application.test_client()
    response = client.patch("/api/person/p49", json={"name": "After the crash"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert git(crowd_repo, "status", "--porcelain") == ""
    assert not list(crowd_repo.rglob("*.tmp")), "a temporary file was left behind"
    assert application.extensions["vellum"].catalog().problems == []
    application.extensions["vellum"].close()
