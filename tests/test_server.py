"""The real server: `vellum serve` on a free loopback port, read over HTTP."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import ROOT, build_app, commit, write_files
from tests.receiver import Receiver
from tests.servers import call, running_server
from tests.test_concurrency import writer_secret
from vellum.auth import keys, users
from vellum.store import flock
from vellum.store.state import StateStore


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
    # Full text fills in beside the server. Poll with a growing pause: every poll spends the
    # anonymous caller's rate budget (100 requests per 15 minutes).
    deadline, pause = time.monotonic() + 60, 0.1
    while fetch(f"{base}/api/_status")[2]["data"]["index"]["text"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(pause)
        pause = min(pause * 1.5, 2.0)
    status, _, body = fetch(f"{base}/api/search?q=typography")
    assert [h["id"] for h in body["data"]] == ["beta"]


def test_production_server_not_the_development_one(server):
    base, proc = server
    request = urllib.request.Request(f"{base}/api/_status")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert "gunicorn" in response.headers.get("Server", "")


ROUTES = [
    ("GET", "/api/post", None),
    ("GET", "/api/search?q=alpha", None),
    ("GET", "/api/post/alpha", None),
    ("POST", "/graphql", {"query": "{ posts { nodes { id } } }"}),
    ("GET", "/api/content", None),
]


def test_one_ip_has_one_budget_across_routes_and_workers(query_repo, tmp_path):
    config = (query_repo / "vellum.yml").read_text() + "rate_limits:\n  anonymous: 30 per minute\n"
    write_files(query_repo, {"vellum.yml": config})
    commit(query_repo, "Tight rate limit")
    with running_server(
        query_repo, tmp_path / "state", tmp_path / "server.log", workers=2
    ) as running:
        base, _ = running
        seen = []
        while not seen or seen[-1][0] == 200:
            method, path, body = ROUTES[len(seen) % len(ROUTES)]
            status, headers, _ = call(method, f"{base}{path}", body)
            seen.append((status, headers.get("X-RateLimit-Remaining")))
            assert len(seen) <= 31, seen
        left = [int(remaining) for _, remaining in seen[:-1]]
        assert left == list(range(left[0], -1, -1)) and left[0] >= 25  # down by one a request
        assert seen[-1][0] == 429
        for method, path, body in ROUTES:  # every route, whichever worker answers
            status, _, answer = call(method, f"{base}{path}", body)
            assert status == 429 and answer["error"]["code"] == "RATE_LIMITED"


def test_a_keys_usage_limit_is_exact_across_workers(query_repo, tmp_path):
    store = StateStore(tmp_path / "state")
    _, secret = keys.create_key(store, "trial", ["read"], usage_limit=5)
    store.close()
    with running_server(
        query_repo, tmp_path / "state", tmp_path / "server.log", workers=2
    ) as running:
        base, _ = running
        start = threading.Barrier(30)

        def read(_) -> int:
            start.wait(timeout=20)
            return call("GET", f"{base}/api/post", headers={"X-API-Key": secret})[0]

        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = list(pool.map(read, range(30)))
    assert sorted(statuses) == [200] * 5 + [429] * 25


def loose_entries(folder: Path) -> dict[str, str]:
    """Each entry of the folder (itself included) that is not owner-only: 0700 and 0600."""
    found = {}
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            found[path.relative_to(folder).as_posix()] = f"{mode:o}"
    return found


def test_the_state_folder_is_its_owners_only(query_repo, tmp_path):
    state = tmp_path / "state"
    umask = os.umask(0o022)  # what most systems use: files 0644 unless Vellum says otherwise
    try:
        store = StateStore(state)
        users.create_user(store, "ada", "correct horse", "admin")
        store.close()
        with running_server(query_repo, state, tmp_path / "server.log") as (base, _):
            status, _, body = call(
                "POST", f"{base}/api/auth/login", {"username": "ada", "password": "correct horse"}
            )
            auth = {"Authorization": f"Bearer {body['data']['accessToken']}"}
            created = call("POST", f"{base}/api/post", {"title": "Kept"}, auth)[0]
            deadline = time.monotonic() + 20
            while fetch(f"{base}/api/_status")[2]["data"]["index"]["text"] != "ready":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert (status, created) == (200, 201)
            names = {p.name for p in state.rglob("*")}
            assert {"state.db", "state.db-wal", "state.db-shm", "signing.secret"} <= names
            assert any(p.suffix == ".seg" for p in (state / "index").rglob("*"))
            assert loose_entries(state) == {}
    finally:
        os.umask(umask)


def test_a_state_folder_open_to_others_is_repaired_at_start(query_repo, tmp_path, caplog):
    state = tmp_path / "state"
    build_app(query_repo, state).extensions["vellum"].close()
    for path in [state, *state.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    with caplog.at_level(logging.WARNING, logger="vellum"):
        application = build_app(query_repo, state)
    application.extensions["vellum"].close()
    assert loose_entries(state) == {}
    said = [r.getMessage() for r in caplog.records if "owner-only" in r.getMessage()]
    assert len(said) == 1
    for fixed in (". 755->700", "state.db 644->600", "signing.secret 644->600", "index 755->700"):
        assert fixed in said[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vellum"):
        build_app(query_repo, state).extensions["vellum"].close()
    assert "owner-only" not in caplog.text  # nothing left to repair


def session_members(session: int) -> list[int]:
    """The live processes of a session (the ones a command and its children started)."""
    members = []
    for proc_stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = proc_stat.read_text().rpartition(")")[2].split()
            if int(fields[3]) == session and fields[0] != "Z":
                members.append(int(proc_stat.parent.name))
    return members


def vellum(*args: str, state: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VELLUM_STATE_DIR": str(state)}
    return subprocess.Popen(
        [sys.executable, "-m", "vellum.cli.main", *args], env=env, start_new_session=True, **popen
    )


@contextlib.contextmanager
def live_lock_held(state: Path):
    """The site's live lock, held as the first server of the site holds it."""
    state.mkdir(parents=True, exist_ok=True)
    fd = flock.try_lock(state / "live.lock")
    assert fd is not None
    try:
        yield
    finally:
        os.close(fd)


def test_serve_on_a_taken_port_exits_and_leaves_nothing_running(query_repo, tmp_path):
    state = tmp_path / "state"
    with socket.socket() as taken, live_lock_held(state):
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = vellum(
            "serve", str(query_repo), "--port", str(port), state=state,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            # The output ends only once every process holding it is gone (a piped serve).
            output, _ = proc.communicate(timeout=30)
            assert proc.returncode == 1
            assert f"Cannot listen on 127.0.0.1:{port}" in output, output
            assert session_members(proc.pid) == []
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def test_a_live_process_waiting_for_the_lock_stops_when_its_server_is_gone(query_repo, tmp_path):
    state = tmp_path / "state"
    with live_lock_held(state):
        proc = vellum("--site", str(query_repo), "live", "--parent", "1", state=state)
        try:
            assert proc.wait(timeout=30) == 0  # its parent is not server 1: it is gone
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


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


def test_vellums_own_log_lines_reach_the_server_log_with_time_and_level(query_repo, tmp_path):
    store = StateStore(tmp_path / "state")
    users.create_user(store, "ada", "correct horse", "editor")
    store.close()
    log = tmp_path / "server.log"
    with running_server(query_repo, tmp_path / "state", log) as (base, _):
        body = {"username": "ada", "password": "a wrong guess"}
        assert call("POST", f"{base}/api/auth/login", body)[0] == 401
        deadline = time.monotonic() + 10
        while "Failed sign-in for 'ada'" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
    line = next(x for x in log.read_text().splitlines() if "Failed sign-in for 'ada'" in x)
    assert "[WARNING] vellum: Failed sign-in" in line and line.startswith("[20")


def test_stopping_the_server_loses_no_key_usage(query_repo, tmp_path):
    # Each worker writes its keys' usage in batches; told to stop, it writes what it holds.
    state = tmp_path / "state"
    store = StateStore(state)
    key, secret = keys.create_key(store, "builder", ["read"])
    store.close()
    with running_server(query_repo, state, tmp_path / "server.log", workers=2) as (base, _):
        for n in range(40):
            headers = {"Authorization": f"Bearer {secret}"}
            assert call("GET", f"{base}/api/post?offset={n}", headers=headers)[0] == 200
    store = StateStore(state)
    try:
        assert keys.get_key(store, key.id).request_count == 40
        assert len(keys.activity(store, key.id, limit=100)) == 40
    finally:
        store.close()
