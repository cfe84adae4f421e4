"""What a load balancer and an operator rely on: health probes that cost nothing and say
what is wrong, a request id on every answer, and log lines that carry it."""

from __future__ import annotations

import json
import re
import urllib.request

from tests.helpers import build_app
from tests.servers import free_port, running_server
from tests.test_auth import site_with
from vellum.auth import keys

LIMITED = "auth:\n  public_read: true\nrate_limits:\n  anonymous: 2 per minute\n"


def test_health_is_ready_for_anyone_and_never_cached(app):
    browser = app.test_client()
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"X-API-Key": "wrong"}):
        answer = browser.get("/api/_health", headers=headers)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert body["status"] == "ok"
        assert {name: check["ok"] for name, check in body["checks"].items()} == {
            "index": True,
            "state": True,
            "limits": True,
        }
        assert body["checks"]["index"]["generation"] is not None
        assert "no-store" in answer.headers["Cache-Control"]
    assert browser.get("/api/_health/live").get_json() == {"status": "ok"}


def test_probes_spend_no_rate_budget(tmp_path):
    application = build_app(site_with(tmp_path, LIMITED), tmp_path / "state")
    browser = application.test_client()
    probes = [browser.get(path).status_code for path in ["/api/_health", "/api/_health/live"] * 5]
    assert probes == [200] * 10
    reads = [browser.get("/api/post").status_code for _ in range(3)]
    assert reads == [200, 200, 429]  # the whole budget was still there
    assert browser.get("/api/_health").status_code == 200  # and a spent one does not refuse it
    application.extensions["vellum"].close()


def test_a_rate_limit_store_that_is_gone_makes_the_server_not_ready(tmp_path):
    gone = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings = LIMITED.replace("2 per minute\n", f"2 per minute\n  storage: {gone}\n")
    application = build_app(site_with(tmp_path, settings), tmp_path / "state")
    answer = application.test_client().get("/api/_health")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["limits"]["ok"] is False and body["checks"]["limits"]["reason"]
    assert body["checks"]["index"]["ok"] is True
    assert application.test_client().get("/api/_health/live").status_code == 200
    application.extensions["vellum"].close()


def test_every_answer_carries_a_request_id(tmp_path):
    application = build_app(site_with(tmp_path, LIMITED), tmp_path / "state")
    browser = application.test_client()
    made = [browser.get("/api/_health").headers["X-Request-Id"] for _ in range(2)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", found) for found in made) and made[0] != made[1]
    sent = "lb-7f3a.2b/trace=1"
    missing = browser.get("/api/post/nothing", headers={"X-Request-Id": sent})
    assert missing.status_code == 404 and missing.headers["X-Request-Id"] == sent
    browser.get("/api/post")  # the second of two
    refused = browser.get("/api/post", headers={"X-Request-Id": sent})
    assert refused.status_code == 429 and refused.headers["X-Request-Id"] == sent
    for unusable in ("<script>", "x" * 129, "two words"):
        replaced = browser.get("/api/_health", headers={"X-Request-Id": unusable})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-Id"])
    application.extensions["vellum"].close()


def _get(url: str, headers: dict) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def test_json_logs_carry_the_request_id_in_every_process_line(tmp_path):
    site = site_with(tmp_path, "auth:\n  public_read: true\n")
    log = tmp_path / "serve.log"
    with running_server(site, tmp_path / "state", log, args=["--log-format", "json"]) as (
        base,
        _,
    ):
        assert _get(f"{base}/api/post", {"X-Request-Id": "probe-read-1"}) == 200
        signed = urllib.request.Request(
            f"{base}/api/auth/login",
            data=json.dumps({"username": "nobody", "password": "wrong"}).encode(),
            headers={"X-Request-Id": "probe-login-3", "Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(signed, timeout=20)
        except urllib.error.HTTPError as err:
            assert err.code == 401
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    access = [r for r in records if r.get("request_id") == "probe-read-1"]
    assert access and access[0]["path"] == "/api/post" and access[0]["status"] == 200
    assert access[0]["method"] == "GET" and access[0]["ms"] >= 0
    failed = [r for r in records if r["logger"] == "vellum" and r["level"] == "warning"]
    assert failed and failed[0]["request_id"] == "probe-login-3"
    assert all({"time", "level", "pid", "logger", "message"} <= set(r) for r in records)
    started = [r for r in records if r["logger"] == "gunicorn.error"]
    assert started, "gunicorn's own lines are JSON too"


# -- metrics ---------------------------------------------------------------------------
def series(text: str, name: str, **labels) -> float | None:
    """The value of one series in Prometheus' text format (labels in any order)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_need_admin_or_the_scrape_token(tmp_path):
    application = build_app(
        site_with(tmp_path, "auth:\n  public_read: true\n"),
        tmp_path / "state",
        METRICS_TOKEN="scrape-secret-0123456789",
    )
    browser = application.test_client()
    assert browser.get("/metrics").status_code == 401
    assert browser.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    _, reader = keys.create_key(application.extensions["vellum"].state, "r", ["read"])
    assert browser.get("/metrics", headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    browser.get("/api/post/alpha")
    scraped = browser.get("/metrics", headers={"Authorization": "Bearer scrape-secret-0123456789"})
    assert scraped.status_code == 200 and scraped.content_type.startswith("text/plain")
    text = scraped.get_data(as_text=True)
    route = {"route": "/api/<model:model>/<record_id>", "method": "GET", "status": "200"}
    assert series(text, "vellum_http_requests_total", **route) >= 1
    assert series(text, "vellum_index_generation") >= 1
    assert series(text, "vellum_index_records") == len(
        application.extensions["vellum"].catalog().by_key
    )
    assert series(text, "vellum_webhook_deliveries", state="pending") == 0
    _, admin = keys.create_key(application.extensions["vellum"].state, "a", ["admin"])
    assert browser.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    application.extensions["vellum"].close()


def test_metrics_sum_every_worker_of_a_real_server(tmp_path, monkeypatch):
    monkeypatch.setenv("VELLUM_METRICS_TOKEN", "scrape-secret-0123456789")
    site = site_with(tmp_path, "auth:\n  public_read: true\n")
    token = {"Authorization": "Bearer scrape-secret-0123456789"}
    with running_server(site, tmp_path / "state", tmp_path / "serve.log", workers=2) as (base, _):
        for n in range(30):
            assert _get(f"{base}/api/post?limit={n % 5 + 1}", {}) == 200
        stream = urllib.request.urlopen(f"{base}/api/events/stream", timeout=20)
        stream.readline()  # connected: the stream is open
        with urllib.request.urlopen(urllib.request.Request(f"{base}/metrics", headers=token)) as r:
            text = r.read().decode()
        stream.close()
    route = {"route": "/api/<model:model>", "method": "GET", "status": "200"}
    assert series(text, "vellum_http_requests_total", **route) == 30
    assert (
        series(text, "vellum_http_request_seconds_count", route=route["route"], method="GET") == 30
    )
    assert series(text, "vellum_event_streams_open") == 1
    # The delivery gauges read the state store, whichever engine holds it.
    assert series(text, "vellum_webhook_deliveries", state="pending") == 0
    assert series(text, "vellum_events_last_seq") >= 0
