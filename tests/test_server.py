"""The real server: `vellum serve` on a free loopback port, read over HTTP."""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import commit
from tests.receiver import Receiver
from tests.servers import call, running_server
from tests.test_concurrency import writer_secret


def fetch(url: str) -> tuple[int, dict, dict]:
    status, headers, body = call("GET", url)
    return status, headers, body


@pytest.fixture
def server(query_repo, tmp_path):
    with running_server(query_repo, tmp_path / "state", tmp_path / "server.log") as running:
        yield running


def test_serves_the_api_over_http(server):
    base, proc = server
    status, headers, body = fetch(f"{base}/api/post?filter[status]=published&sort=-views&limit=2")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert [r["id"] for r in body["data"]] == ["beta", "epsilon"]
    assert body["meta"] == {"total": 3, "limit": 2, "offset": 0, "hasMore": True}
    status, _, body = fetch(f"{base}/api/post/nope")
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"
    deadline = time.monotonic() + 20  # full text fills in beside the server
    while fetch(f"{base}/api/_status")[2]["data"]["index"]["text"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status, _, body = fetch(f"{base}/api/search?q=typography")
    assert [h["id"] for h in body["data"]] == ["beta"]


def test_production_server_not_the_development_one(server):
    base, proc = server
    request = urllib.request.Request(f"{base}/api/_status")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert "gunicorn" in response.headers.get("Server", "")


def session_processes(leader: int) -> list[int]:
    """Every live process of the server's session: master, workers, the live process."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == leader:  # the session id: running_server starts a new one
            found.append(int(entry))
    return found


def handles(pid: int, state: Path) -> tuple[int, int] | None:
    """(open files, handles to deleted files of the state folder) of a process."""
    opened = deleted = 0
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None  # gone meanwhile
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        opened += 1
        deleted += target.startswith(str(state)) and target.endswith("(deleted)")
    return opened, deleted


@pytest.mark.timeout(300)
def test_open_files_stay_flat_through_hundreds_of_writes(query_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("VELLUM_ALLOW_PRIVATE_WEBHOOKS", "1")
    state = tmp_path / "state"
    with Receiver() as receiver:
        yml = query_repo / "vellum.yml"
        yml.write_text(
            yml.read_text()
            + f"webhooks:\n  - url: {receiver.url}\n"
            + "rate_limits:\n  authenticated: 100000 per 15 minutes\n"  # a soak, not a flood
        )
        commit(query_repo, "Add a webhook")
        auth = {"Authorization": f"Bearer {writer_secret(query_repo, state)}"}
        with running_server(query_repo, state, tmp_path / "server.log", workers=2) as (base, p):
            stop = threading.Event()
            failures: list = []

            def read() -> None:
                query = {"query": "{ posts { nodes { title author { name } } } }"}
                while not stop.is_set():
                    for method, path, body in (
                        ("GET", "/api/post?sort=-views", None),
                        ("GET", "/api/search?q=alpha", None),
                        ("GET", "/api/person/jane", None),
                        ("GET", "/api/content?limit=50", None),
                        ("POST", "/graphql", query),
                    ):
                        status = call(method, f"{base}{path}", body, auth)[0]
                        if status != 200:
                            failures.append((path, status))
                    stop.wait(0.05)

            def write(n: int) -> None:
                person = {"id": f"p{n}", "name": f"Person {n}"}
                status, _, answer = call("POST", f"{base}/api/person", person, auth)
                assert status == 201, answer

            readers = [threading.Thread(target=read) for _ in range(2)]
            for thread in readers:
                thread.start()
            try:
                for n in range(20):  # every thread and cache of the processes warmed up
                    write(n)
                before = {pid: handles(pid, state) for pid in session_processes(p.pid)}
                for n in range(20, 240):
                    write(n)
                receiver.wait_for(lambda evs: sum(e["event"] == "commit" for e in evs) == 240, 60)
                after = {pid: handles(pid, state) for pid in session_processes(p.pid)}
            finally:
                stop.set()
                for thread in readers:
                    thread.join(30)
            assert not failures
    kept = [pid for pid in before if before[pid] and after.get(pid)]
    assert len(kept) >= 4  # the master, two workers and the live process at least
    for pid in kept:
        (opened_before, _), (opened_after, deleted_after) = before[pid], after[pid]
        assert opened_after - opened_before <= 8, (pid, before[pid], after[pid])
        assert deleted_after <= 6, (pid, before[pid], after[pid])
