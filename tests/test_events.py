"""Events: the outbox, the SSE stream with resume, custom events, account events."""

from __future__ import annotations

import threading

import orjson
import pytest

from app import keys, outbox, users
from app.events import Event, matches
from tests.conftest import authorised_client
from tests.receiver import wait_threads_gone

ADMIN = ["read", "read:drafts", "write", "admin"]


@pytest.fixture(autouse=True)
def _no_stray_threads():
    before = set(threading.enumerate())
    yield
    wait_threads_gone(before)


def read_frames(response, count: int) -> list[dict]:
    """The first `count` events of an SSE response, then the stream is closed."""
    frames, buffer = [], b""
    stream = iter(response.response)
    while len(frames) < count:
        buffer += next(stream)
        while b"\n\n" in buffer:
            raw, buffer = buffer.split(b"\n\n", 1)
            lines = dict(line.split(": ", 1) for line in raw.decode().splitlines() if ": " in line)
            if "id" in lines:
                frames.append(lines)
    response.close()
    return frames


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
    from cli.main import cli

    admin = authorised_client(app, ADMIN)
    sent = admin.post("/api/events", json={"event": "custom.deploy", "data": {"env": "prod"}})
    assert sent.status_code == 202
    assert admin.post("/api/events", json={"event": "content.created"}).status_code == 422
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
