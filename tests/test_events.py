"""Events: the outbox, the SSE stream with resume, custom events, account events."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import orjson
import pytest

from tests.helpers import authorised_client, build_app, commit, read_frames, write_files
from tests.receiver import wait_threads_gone
from tests.servers import call, running_server
from vellum.auth import keys, users
from vellum.store import outbox
from vellum.store.events import Event, matches
from vellum.store.state import StateStore

ADMIN = ["read", "read:drafts", "write", "admin"]


@pytest.fixture(autouse=True)
def _no_stray_threads():
    before = set(threading.enumerate())
    yield
    wait_threads_gone(before)


def test_stream_resumes_after_last_event_id(app):
    state = app.extensions["vellum"].state
    first, second, third = (Event(f"custom.n{n}", {"n": n}, key="c") for n in range(3))
    outbox.emit(state, [first, second, third])
    client = authorised_client(app)
    response = client.get("/api/events/stream", headers={"Last-Event-ID": first.id}, buffered=False)
    assert response.mimetype == "text/event-stream"
    frames = read_frames(response, 2)
    assert [f["id"] for f in frames] == [second.id, third.id]
    assert [f["event"] for f in frames] == ["custom.n1", "custom.n2"]
    assert orjson.loads(frames[0]["data"])["data"] == {"n": 1}


def test_stream_hides_drafts_and_accounts_from_readers(app):
    state = app.extensions["vellum"].state
    marker = Event("custom.start", {}, key="c")
    outbox.emit(state, [marker])
    users.create_user(state, "ada", "correct horse battery staple", "admin")
    outbox.emit(state, [Event("content.created", {"id": "d"}, "post", key="k", draft=True)])
    outbox.emit(state, [Event("content.created", {"id": "p"}, "post", key="k")])
    published_reader = app.test_client()  # the query site has auth.public_read
    response = published_reader.get(
        "/api/events/stream", headers={"Last-Event-ID": marker.id}, buffered=False
    )
    assert [orjson.loads(f["data"])["data"]["id"] for f in read_frames(response, 1)] == ["p"]
    admin = authorised_client(app, ADMIN)
    response = admin.get("/api/events/stream", headers={"Last-Event-ID": marker.id}, buffered=False)
    names = [f["event"] for f in read_frames(response, 4)]
    assert names == ["user.created", "content.created", "content.created", "key.created"]


def test_account_events_never_carry_secrets(app):
    state = app.extensions["vellum"].state
    user = users.create_user(state, "bob", "a long enough password", "editor")
    users.update_user(state, user.id, password="another long password")
    key, secret = keys.create_key(state, "build", ["read"])
    keys.revoke_key(state, key.id)
    users.delete_user(state, user.id)
    rows = outbox.since(state, 0)
    assert [r["name"] for r in rows] == [
        "user.created",
        "user.updated",
        "key.created",
        "key.revoked",
        "user.deleted",
    ]
    text = " ".join(r["payload"] for r in rows)
    assert secret not in text and "argon2" not in text and "password" in text
    updated = orjson.loads(rows[1]["payload"])["data"]
    assert updated["changed"] == ["password"]


def test_custom_events_from_the_api_and_the_cli(app, query_repo, runner, tmp_path):
    from vellum.cli.main import cli

    admin = authorised_client(app, ADMIN)
    sent = admin.post("/api/events", json={"event": "custom.deploy", "data": {"env": "prod"}})
    assert sent.status_code == 202
    assert admin.post("/api/events", json={"event": "content.created"}).status_code == 422
    huge = {"event": "custom.x", "data": {"n": 2**70}}  # more than 64 bits: refused, not a 500
    assert admin.post("/api/events", json=huge).status_code == 422
    reader = authorised_client(app)
    assert reader.post("/api/events", json={"event": "custom.x"}).status_code == 403
    env = {"VELLUM_STATE_DIR": str(tmp_path / "state")}
    args = ["--site", str(query_repo), "events", "emit", "custom.build", "--data", '{"n": 1}']
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    rows = [
        r for r in outbox.since(app.extensions["vellum"].state, 0) if r["name"] != "key.created"
    ]
    assert [(r["name"], orjson.loads(r["payload"])["data"]) for r in rows] == [
        ("custom.deploy", {"env": "prod"}),
        ("custom.build", {"n": 1}),
    ]
    assert rows[1]["id"] == result.output.strip()


def test_event_filters():
    assert matches(["create"], "content.created")
    assert not matches(["create"], "content.updated")
    assert matches(["*"], "user.created") and not matches(["*"], "preview")
    assert matches(["media.*"], "media.deleted") and not matches(["media.*"], "content.deleted")


def test_first_start_records_the_head_without_replaying_history(app):
    services = app.extensions["vellum"]
    assert outbox.process_head(services) == 0
    assert outbox.get_cursor(services.state) == services.repo.head()


# -- a real server: streams hold threads, so they are bounded and end to be resumed ---------
def sse_frames(response) -> list[dict]:
    """Every frame of an SSE response until the server ends it (comments left out)."""
    frames, fields = [], {}
    for raw in response:
        line = raw.decode().rstrip("\n")
        if not line:
            if fields:
                frames.append(fields)
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return frames


def test_streams_on_a_real_server_are_bounded_and_resume_without_a_gap(
    query_repo, tmp_path, monkeypatch
):
    monkeypatch.setenv("VELLUM_STREAMS", "1")
    monkeypatch.setenv("VELLUM_STREAM_SECONDS", "2")
    state_dir = tmp_path / "state"
    with running_server(query_repo, state_dir, tmp_path / "server.log") as (base, _):
        state = StateStore(state_dir)
        first = urllib.request.urlopen(f"{base}/api/events/stream", timeout=20)
        assert first.readline() == b"retry: 1000\n"  # reconnect after a second
        # The one stream slot is taken: a second stream is told to come back, the API answers.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/events/stream", timeout=20)
        assert refused.value.code == 503 and refused.value.headers["Retry-After"] == "1"
        assert json.loads(refused.value.read())["error"]["code"] == "UNAVAILABLE"
        assert call("GET", f"{base}/api/post")[0] == 200
        during = Event("custom.during", {"n": 1}, key="c")
        outbox.emit(state, [during])
        frames = sse_frames(first)  # the server ends the stream after 2 s
        first.close()
        assert [f["id"] for f in frames if f.get("event") == "custom.during"] == [during.id]
        assert frames[-1] == {"id": outbox.id_of(state, outbox.last_seq(state))}  # resume here
        # Events while no stream was open arrive on the next one, resumed from that id.
        gap = Event("custom.gap", {"n": 2}, key="c")
        outbox.emit(state, [gap])
        request = urllib.request.Request(
            f"{base}/api/events/stream", headers={"Last-Event-ID": frames[-1]["id"]}
        )
        with urllib.request.urlopen(request, timeout=20) as again:  # the slot was given back
            resumed = sse_frames(again)
        assert [f["event"] for f in resumed if "event" in f][:1] == ["custom.gap"]
        state.close()


def test_a_commit_that_touched_a_draft_is_for_readers_of_drafts(app, query_repo):
    services = app.extensions["vellum"]
    outbox.process_head(services)  # the cursor starts here
    write_files(query_repo, {"posts/secret.md": "---\ntitle: Secret plan\nstatus: draft\n---\n"})
    commit(query_repo, "Create post secret")
    write_files(query_repo, {"posts/open.md": "---\ntitle: Open\nstatus: published\n---\n"})
    commit(query_repo, "Create post open")
    services.sync()
    outbox.process_head(services)
    rows = [(r["name"], bool(r["draft"])) for r in outbox.since(services.state, 0)]
    assert rows == [
        ("commit", True),
        ("content.created", True),
        ("commit", False),
        ("content.created", False),
    ]
    # So an anonymous reader of the stream sees the published post's commit only.
    reader = app.test_client()
    first = outbox.since(services.state, 0)[0]["id"]  # resume after the draft's commit
    response = reader.get("/api/events/stream", headers={"Last-Event-ID": first}, buffered=False)
    frames = read_frames(response, 2)
    assert [f["event"] for f in frames] == ["commit", "content.created"]
    assert orjson.loads(frames[0]["data"])["data"]["message"] == "Create post open"


def test_readers_are_told_when_a_published_record_becomes_a_draft(app, query_repo):
    """A static site built from the anonymous stream must drop a post taken back to draft,
    without learning what the draft now says."""
    services = app.extensions["vellum"]
    outbox.process_head(services)
    marker = Event("custom.start", {}, key="c")
    outbox.emit(services.state, [marker])
    beta = query_repo / "posts/beta.md"
    beta.write_text(
        beta.read_text()
        .replace("status: published", "status: draft")
        .replace("title: Beta", "title: Beta (secret rewrite)")
    )
    commit(query_repo, "Take beta back")
    services.sync()
    outbox.process_head(services)
    reader = app.test_client()  # anonymous, public_read
    frames = read_frames(
        reader.get("/api/events/stream", headers={"Last-Event-ID": marker.id}, buffered=False), 1
    )
    assert frames[0]["event"] == "content.deleted"
    gone = orjson.loads(frames[0]["data"])
    assert gone["event"] == "content.deleted" and gone["commit"] is None
    assert gone["data"] == {"id": "beta", "type": "post", "locale": "en"}
    editor = authorised_client(app)  # read:drafts: the update itself
    seen = read_frames(
        editor.get("/api/events/stream", headers={"Last-Event-ID": marker.id}, buffered=False), 2
    )
    assert [f["event"] for f in seen] == ["commit", "content.updated"]
    assert orjson.loads(seen[1]["data"])["data"]["title"] == "Beta (secret rewrite)"


def test_one_caller_holds_at_most_half_the_streams_by_default(query_repo, tmp_path):
    application = build_app(query_repo, tmp_path / "state", STREAMS=2)  # one per caller
    try:
        anonymous = application.test_client()
        first = anonymous.get("/api/events/stream", buffered=False)
        assert first.status_code == 200
        again = anonymous.get("/api/events/stream")
        assert again.status_code == 429 and again.headers["Retry-After"] == "5"
        assert again.get_json()["error"]["code"] == "RATE_LIMITED"
        reader = authorised_client(application).get("/api/events/stream", buffered=False)
        assert reader.status_code == 200  # the slot the anonymous caller could not take
        full = authorised_client(application).get("/api/events/stream")
        assert full.status_code == 503 and full.headers["Retry-After"] == "1"
        first.close()
        reader.close()
        second = anonymous.get("/api/events/stream", buffered=False)
        assert second.status_code == 200  # its slot came back when its stream closed
        second.close()
    finally:
        application.extensions["vellum"].close()


def open_stream(url: str, secret: str | None = None):
    """An open event stream (its first line read), or the HTTPError that refused it."""
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=20)
    except urllib.error.HTTPError as refused:
        return refused
    assert response.readline() == b"retry: 1000\n"
    return response


def test_anonymous_callers_cannot_take_every_stream_of_a_real_server(
    query_repo, tmp_path, monkeypatch
):
    for name, value in {"THREADS": "6", "STREAMS": "4", "STREAMS_PER_CALLER": "2"}.items():
        monkeypatch.setenv(f"VELLUM_{name}", value)
    monkeypatch.setenv("VELLUM_STREAM_SECONDS", "20")
    state_dir = tmp_path / "state"
    store = StateStore(state_dir)
    _, admin = keys.create_key(store, "ops", ADMIN)
    _, reader = keys.create_key(store, "site", ["read"])
    store.close()
    opened = []
    with running_server(query_repo, state_dir, tmp_path / "server.log") as (base, _):
        url = f"{base}/api/events/stream"
        try:
            opened += [open_stream(url), open_stream(url)]
            assert [s.status for s in opened] == [200, 200]
            refused = open_stream(url)  # a third anonymous stream from the same address
            assert refused.code == 429 and refused.headers["Retry-After"] == "5"
            assert json.loads(refused.read())["error"]["code"] == "RATE_LIMITED"
            refused.close()
            opened.append(open_stream(url, admin))  # the admin's stream still gets a slot
            opened.append(open_stream(url, reader))
            assert [s.status for s in opened] == [200, 200, 200, 200]
            full = open_stream(url, admin)  # the process's four slots are taken
            assert full.code == 503 and full.headers["Retry-After"] == "1"
            full.close()
            assert call("GET", f"{base}/api/post")[0] == 200  # and the API still answers
        finally:
            for stream in opened:
                stream.close()
