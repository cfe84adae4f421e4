"""History and sync on a real repository: versions, a version, diffs, restore, sync tokens."""

from __future__ import annotations

from tests.helpers import commit, git


def versions(client, path):
    response = client.get(f"{path}/versions")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_versions_newest_first_paginated(client, query_repo):
    path = query_repo / "posts/alpha.md"
    for n in (11, 12):
        path.write_text(path.read_text().replace(f"views: {n - 1}", f"views: {n}"))
        commit(query_repo, f"Alpha views {n}", date=f"2024-03-{n:02d}T00:00:00Z")
    body = versions(client, "/api/post/alpha")
    assert [v["message"] for v in body["data"]] == [
        "Alpha views 12",
        "Alpha views 11",
        "Add the query fixture",
    ]
    assert body["meta"] == {"total": 3, "limit": 20, "offset": 0, "hasMore": False}
    first = body["data"][0]
    assert first["author"] == {"name": "Test Writer", "email": "writer@example.com"}
    assert first["date"] == "2024-03-12T00:00:00Z" and first["deleted"] is False
    page = client.get("/api/post/alpha/versions?limit=1&offset=1").get_json()
    assert [v["message"] for v in page["data"]] == ["Alpha views 11"] and page["meta"]["hasMore"]
    old = body["data"][2]["version"]
    at = client.get(f"/api/post/alpha/versions/{old}").get_json()["data"]
    assert at["views"] == 10 and at["version"] == old
    short = client.get(f"/api/post/alpha/versions/{old[:8]}").get_json()["data"]
    assert short["version"] == old
    diff = client.get(f"/api/post/alpha/diff?from={old}&to={first['version']}").get_json()["data"]
    assert diff["changes"] == {"views": {"old": 10, "new": 12}}
    assert diff["body"] == ""


def test_history_keeps_messages_that_hold_any_character(app, client, query_repo):
    """Git output is read by NUL-separated fields: \x01, a form feed or U+2028 in a
    message is text, not a separator or a line end."""
    path = query_repo / "posts/2023/epsilon.md"
    messages = ["Views\x01up", "Form\x0cfeed, line\u2028separator"]
    for n, message in zip((51, 52), messages, strict=True):
        path.write_text(path.read_text().replace(f"views: {n - 1}", f"views: {n}"))
        commit(query_repo, message)
    path.unlink()
    commit(query_repo, "Gone\x1eat last")
    app.extensions["vellum"].sync()  # deleted: found through the history of its folder
    body = versions(client, "/api/post/epsilon")
    assert [v["message"] for v in body["data"]] == [
        "Gone\x1eat last",
        *reversed(messages),
        "Add the query fixture",
    ]
    assert [v["deleted"] for v in body["data"]] == [True, False, False, False]


def test_bad_versions(client):
    assert client.get("/api/post/alpha/versions/zzz").status_code == 400
    missing = client.get("/api/post/alpha/versions/0123456789abcdef")
    assert missing.status_code == 404
    assert client.get("/api/post/nope/versions").status_code == 404
    assert client.get("/api/post/alpha/diff?from=abc").status_code == 400


def writer_key(app):
    from vellum.auth import keys

    _, secret = keys.create_key(
        app.extensions["vellum"].state, "editor", ["read", "read:drafts", "write"]
    )
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def test_body_diff_and_restore_as_a_new_commit(app, query_repo):
    client = writer_key(app)
    first = versions(client, "/api/post/beta")["data"][0]["version"]
    client.patch("/api/post/beta", json={"body": "Beta is about colour.", "views": 7})
    latest = versions(client, "/api/post/beta")["data"][0]["version"]
    diff = client.get(f"/api/post/beta/diff?from={first}&to={latest}").get_json()["data"]
    assert diff["changes"] == {"views": {"old": 100, "new": 7}}
    assert diff["body"].splitlines()[2:] == [
        "@@ -1 +1 @@",
        "-Beta is about typography and grids.",
        "+Beta is about colour.",
    ]
    restored = client.post("/api/post/beta/restore", json={"version": first})
    assert restored.status_code == 200 and restored.get_json()["data"]["views"] == 100
    assert git(query_repo, "log", "-1", "--format=%s") == f"Restore post beta to {first[:7]}"
    assert len(versions(client, "/api/post/beta")["data"]) == 3


def test_deleted_record_keeps_its_history_and_can_be_restored(app, query_repo):
    client = writer_key(app)
    assert client.delete("/api/post/epsilon").status_code == 204
    history = versions(client, "/api/post/epsilon")["data"]
    assert [(v["message"], v["deleted"]) for v in history] == [
        ("Delete post epsilon", True),
        ("Add the query fixture", False),
    ]
    back = client.post("/api/post/epsilon/restore", json={"version": history[1]["version"]})
    assert back.status_code == 200 and back.get_json()["data"]["title"] == "Epsilon rising"
    assert (query_repo / "posts/2023/epsilon.md").exists()  # back in its nested folder
    assert client.get("/api/post/epsilon").status_code == 200


def test_sync_tokens(app, query_repo):
    client = writer_key(app)
    everything = client.get("/api/sync").get_json()
    assert everything["meta"]["created"] == 10  # every record, locale variants too
    token = everything["meta"]["token"]
    assert token == git(query_repo, "rev-parse", "HEAD")
    client.patch("/api/post/alpha", json={"views": 99})
    client.delete("/api/post/delta")
    client.post("/api/post", json={"title": "Zeta"})
    since = client.get(f"/api/sync?since={token}").get_json()
    data = since["data"]
    assert [r["id"] for r in data["created"]] == ["zeta"]
    assert [(r["id"], r["views"]) for r in data["updated"]] == [("alpha", 99)]
    assert data["deleted"] == [{"id": "delta", "type": "post", "locale": "en"}]
    assert since["meta"]["token"] == git(query_repo, "rev-parse", "HEAD")
    nothing = client.get(f"/api/sync?since={since['meta']['token']}").get_json()
    assert (nothing["meta"]["created"], nothing["meta"]["updated"], nothing["meta"]["deleted"]) == (
        0,
        0,
        0,
    )


def test_sync_after_rewritten_history(client, query_repo):
    path = query_repo / "posts/alpha.md"
    path.write_text(path.read_text() + "\nMore.\n")
    token = commit(query_repo, "Will be rewritten")
    git(query_repo, "reset", "-q", "--hard", "HEAD~1")
    response = client.get(f"/api/sync?since={token}")
    assert response.status_code == 409
    assert "sync again from scratch" in response.get_json()["error"]["message"]
    assert client.get("/api/sync?since=nonsense").status_code == 400


def test_anonymous_sync_leaves_out_drafts(anonymous):
    created = anonymous.get("/api/sync").get_json()["data"]["created"]
    assert "gamma" not in [r["id"] for r in created]
    assert anonymous.get("/api/post/alpha/versions").status_code == 401


def test_a_body_diff_breaks_lines_where_an_editor_does(app):
    """A line or paragraph separator inside a line is text, not a line break."""
    client = writer_key(app)
    first = versions(client, "/api/post/beta")["data"][0]["version"]
    body = "Page one\u2029still one\u2028same line\nTwo\n"
    assert client.patch("/api/post/beta", json={"body": body}).status_code == 200
    latest = versions(client, "/api/post/beta")["data"][0]["version"]
    diff = client.get(f"/api/post/beta/diff?from={first}&to={latest}").get_json()["data"]
    assert diff["body"].split("\n")[2:] == [
        "@@ -1 +1,2 @@",
        "-Beta is about typography and grids.",
        "+Page one\u2029still one\u2028same line",
        "+Two",
    ]
