"""The real server: `vellum serve` on a free loopback port, read over HTTP."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

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
