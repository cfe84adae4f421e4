"""Connection and bandwidth limits, on a real `vellum serve` over loopback."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.helpers import commit, write_files
from tests.servers import call, running_server
from vellum.auth import keys, users
from vellum.auth.quotas import check_bandwidth
from vellum.cli.main import cli
from vellum.errors import ValidationError


def limited(repo, settings: str) -> None:
    config = (repo / "vellum.yml").read_text() + settings
    write_files(repo, {"vellum.yml": config})
    commit(repo, "Limits")


def test_requests_in_flight_are_limited_per_caller_across_workers(
    query_repo, tmp_path, monkeypatch
):
    limited(query_repo, "rate_limits:\n  connections:\n    anonymous: 2\n")
    monkeypatch.setenv("VELLUM_STREAMS_PER_CALLER", "4")  # the streams' own cap stays out
    monkeypatch.setenv("VELLUM_THREADS", "6")
    with running_server(query_repo, tmp_path / "state", tmp_path / "log", workers=2) as running:
        base, _ = running
        first = urllib.request.urlopen(f"{base}/api/events/stream", timeout=20)
        second = urllib.request.urlopen(f"{base}/api/events/stream", timeout=20)
        assert first.headers["X-Connection-Limit"] == "2"
        status, headers, body = call("GET", f"{base}/api/post")  # a third, while both are open
        assert status == 429 and body["error"]["code"] == "RATE_LIMITED"
        assert body["error"]["message"] == (
            "Too many requests at once: 2 may be in flight (event streams count until they close)"
        )
        assert int(headers["Retry-After"]) >= 1
        first.close()
        deadline = time.monotonic() + 10
        while (status := call("GET", f"{base}/api/post")[0]) != 200:
            assert time.monotonic() < deadline, "a closed stream never gave its place back"
            time.sleep(0.1)
        for _ in range(5):  # one at a time, a caller never reaches the limit
            assert call("GET", f"{base}/api/post")[0] == 200
        second.close()


def test_bytes_answered_are_limited_per_caller_across_workers(query_repo, tmp_path):
    limited(query_repo, "rate_limits:\n  bandwidth:\n    anonymous: 3 KB per 10 minutes\n")
    with running_server(query_repo, tmp_path / "state", tmp_path / "log", workers=2) as running:
        base, _ = running
        seen = []
        while not seen or seen[-1][0] == 200:
            status, headers, body = call("GET", f"{base}/api/post")
            seen.append((status, headers, body))
            assert len(seen) < 50, "the bandwidth limit never applied"
        answers = [headers for status, headers, _ in seen[:-1]]
        assert {h["X-Bandwidth-Limit"] for h in answers} == {"3000"}
        left = [int(h["X-Bandwidth-Remaining"]) for h in answers]
        (size,) = {int(h["Content-Length"]) for h in answers}  # the same answer each time
        # Down by each answer's length (the server's start-up check spent a little before).
        assert left[0] <= 3000 - size
        assert left[1:] == [max(before - size, 0) for before in left[:-1]]
        assert left[-1] == 0 and left[-2] > 0  # the answer that crossed the line was sent whole
        status, headers, body = seen[-1]
        assert status == 429 and body["error"]["code"] == "RATE_LIMITED"
        assert body["error"]["message"] == "Bandwidth limit exceeded: 3 KB per 10 minutes"
        assert 0 < int(headers["Retry-After"]) <= 600
        assert headers["X-Bandwidth-Remaining"] == "0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100 MB per 15 minutes", (100_000_000, 900)),
        ("1 GiB per day", (2**30, 86400)),
        ("500 per hour", (500, 3600)),
        ("1.5 kB/minute", (1500, 60)),
    ],
)
def test_bandwidth_notation(text, expected):
    width = check_bandwidth(text, "rate_limits.bandwidth.anonymous")
    assert (width.bytes, width.seconds) == expected


def test_a_bandwidth_that_does_not_read_names_its_setting():
    with pytest.raises(ValidationError) as raised:
        check_bandwidth("lots per day", "rate_limits.bandwidth.anonymous")
    assert raised.value.details[0].field == "rate_limits.bandwidth.anonymous"


def test_a_key_has_its_own_connection_and_bandwidth_limits(app):
    store = app.extensions["vellum"].state
    _, narrow = keys.create_key(store, "narrow", ["read"], connections=1)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {narrow}"
    stream = client.get("/api/events/stream", buffered=False)  # held open: one in flight
    assert stream.status_code == 200 and stream.headers["X-Connection-Limit"] == "1"
    refused = client.get("/api/post")
    assert (
        refused.status_code == 429
        and "1 may be in flight" in refused.get_json()["error"]["message"]
    )
    stream.close()
    assert client.get("/api/post").status_code == 200
    _, thin = keys.create_key(store, "thin", ["read"], bandwidth="100 B per hour")
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {thin}"
    first = client.get("/api/post")
    assert first.status_code == 200 and first.headers["X-Bandwidth-Limit"] == "100"
    second = client.get("/api/post")
    assert second.status_code == 429
    assert second.get_json()["error"]["message"] == "Bandwidth limit exceeded: 100 B per hour"


def test_keys_take_their_limits_from_the_cli_and_the_api(app, runner, query_repo):
    made = runner.invoke(
        cli,
        ["--site", str(query_repo), "keys", "create", "feed", "--connections", "3"]
        + ["--bandwidth", "1 GB per hour", "--json"],
    )
    assert made.exit_code == 0, made.output
    shown = json.loads(made.output)["data"]
    assert (shown["connections"], shown["bandwidth"]) == (3, "1 GB per hour")
    bad = runner.invoke(
        cli, ["--site", str(query_repo), "keys", "create", "x", "--bandwidth", "lots"]
    )
    assert bad.exit_code != 0 and "bandwidth" in bad.output
    users.create_user(app.extensions["vellum"].state, "root", "correct horse", "admin")
    admin = app.test_client()
    token = admin.post(
        "/api/auth/login", json={"username": "root", "password": "correct horse"}
    ).get_json()["data"]["accessToken"]
    admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    created = admin.post(
        "/api/keys", json={"name": "app", "connections": 2, "bandwidth": "5 MB per minute"}
    )
    assert created.status_code == 201
    assert (created.get_json()["data"]["connections"], created.get_json()["data"]["bandwidth"]) == (
        2,
        "5 MB per minute",
    )
    refused = admin.post("/api/keys", json={"name": "app", "bandwidth": "fast"})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"][0]["field"] == "bandwidth"
    refused = admin.post("/api/keys", json={"name": "app", "connections": 0})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"][0]["field"] == "connections"
