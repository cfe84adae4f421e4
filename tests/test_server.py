"""The real server: `vellum serve` on a free loopback port, read over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, dict, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


@pytest.fixture
def server(query_repo, tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VELLUM_STATE_DIR": str(tmp_path / "state")}
    command = [sys.executable, "-m", "cli.main", "serve", str(query_repo), "--port", str(port)]
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if fetch(f"{base}/api/_status")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"server did not start: {log_path.read_text()[-4000:]}")
    yield base, proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


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
