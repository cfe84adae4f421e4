"""The real server: `vellum serve` on a free loopback port, read over HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app import flock
from tests.conftest import ROOT
from tests.servers import call, running_server


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


def session_members(session: int) -> list[int]:
    """The live processes of a session (the ones a command and its children started)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[3]) == session and fields[0] != "Z":
                members.append(int(stat.parent.name))
    return members


def vellum(*args: str, state: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VELLUM_STATE_DIR": str(state)}
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args], env=env, start_new_session=True, **popen
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
