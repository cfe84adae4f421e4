"""Media uploads on a real repository: types checked on content, no escapes, no overwrites."""

from __future__ import annotations

import io

import pytest

from tests.helpers import git
from vellum.auth import keys

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0" + bytes(64)
PDF = b"%PDF-1.7\n" + bytes(32)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture
def editor(app):
    _, secret = keys.create_key(
        app.extensions["vellum"].state, "ed", ["read", "read:drafts", "write"]
    )
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def send(client, data: bytes, name: str, **form):
    return client.post("/api/upload", data={"file": (io.BytesIO(data), name), **form})


def test_upload_commits_file_and_metadata(editor, query_repo):
    response = send(editor, PNG, "Team Photo.PNG", alt="The team", folder="images/2025")
    assert response.status_code == 201
    data = response.get_json()["data"]
    assert {
        k: data[k]
        for k in ("id", "filename", "originalName", "mimeType", "size", "url", "alt", "folder")
    } == {
        "id": "images/2025/team-photo.png",
        "filename": "team-photo.png",
        "originalName": "Team Photo.PNG",
        "mimeType": "image/png",
        "size": len(PNG),
        "url": "/media/images/2025/team-photo.png",
        "alt": "The team",
        "folder": "images/2025",
    }
    assert data["createdAt"].endswith("Z")
    assert (query_repo / "media/images/2025/team-photo.png").read_bytes() == PNG
    assert git(query_repo, "show", "--name-only", "--format=%s", "HEAD").splitlines() == [
        "Upload images/2025/team-photo.png",
        "",
        "media/_meta/images/2025/team-photo.png.json",
        "media/images/2025/team-photo.png",
    ]
    assert git(query_repo, "status", "--porcelain") == ""
    served = editor.get(data["url"])
    assert served.status_code == 200 and served.data == PNG
    assert served.headers["Content-Type"] == "image/png"
    assert "max-age=86400" in served.headers["Cache-Control"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        editor.get(data["url"], headers={"If-None-Match": served.headers["ETag"]}).status_code
        == 304
    )


def test_duplicate_names_never_overwrite(editor, query_repo):
    first = send(editor, PNG, "logo.png").get_json()["data"]["id"]
    second = send(editor, PNG + b"x", "logo.png").get_json()["data"]["id"]
    assert (first, second) == ("logo.png", "logo-1.png")
    assert (query_repo / "media/logo.png").read_bytes() == PNG


@pytest.mark.parametrize(
    ("data", "name", "status"),
    [
        (b"GIF89a" + bytes(16), "liar.png", 415),  # a GIF pretending to be a PNG
        (b"#!/bin/sh\nrm -rf /\n", "photo.jpg", 415),  # not an image at all
        (b"MZ\x90\x00", "tool.exe", 415),
    ],
)
def test_types_are_checked_on_the_content(editor, query_repo, data, name, status):
    response = send(editor, data, name)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert not (query_repo / "media").exists()


@pytest.mark.parametrize("folder", ["../../x", "/etc", "a/../../b", "_meta", "a//b", "a b"])
def test_folders_never_escape(editor, query_repo, folder):
    response = send(editor, PNG, "x.png", folder=folder)
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["field"] == "folder"
    assert git(query_repo, "status", "--porcelain") == ""


def test_multiple_upload_is_all_or_nothing(editor, query_repo):
    files = [(io.BytesIO(PNG), "a.png"), (io.BytesIO(PDF), "b.pdf")]
    made = editor.post("/api/upload/multiple", data={"files[]": files, "folder": "docs"})
    assert made.status_code == 201
    assert [m["id"] for m in made.get_json()["data"]] == ["docs/a.png", "docs/b.pdf"]
    assert git(query_repo, "log", "-1", "--format=%s") == "Upload docs/a.png, docs/b.pdf"
    assert git(query_repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "media/_meta/docs/a.png.json",
        "media/_meta/docs/b.pdf.json",
        "media/docs/a.png",
        "media/docs/b.pdf",
    ]  # one commit for all of them
    twins = [(io.BytesIO(PNG), "a.png"), (io.BytesIO(PNG), "a.png")]
    named = editor.post("/api/upload/multiple", data={"files[]": twins, "folder": "docs"})
    assert [m["id"] for m in named.get_json()["data"]] == ["docs/a-1.png", "docs/a-2.png"]
    missing = editor.post("/api/upload", data={})
    assert (
        missing.get_json()["error"]["message"]
        == "Send the file as multipart/form-data field 'file'"
    )
    bad = [(io.BytesIO(JPEG), "c.jpg"), (io.BytesIO(b"nope"), "d.png")]
    refused = editor.post("/api/upload/multiple", data={"files[]": bad})
    assert refused.status_code == 415
    assert not (query_repo / "media/c.jpg").exists()


def test_library_filter_update_delete(editor, query_repo):
    send(editor, PNG, "one.png", folder="images", alt="First")
    send(editor, PDF, "two.pdf", folder="docs")
    listed = editor.get("/api/media?mimeType=image").get_json()
    assert [m["id"] for m in listed["data"]] == ["images/one.png"] and listed["meta"]["total"] == 1
    assert [m["id"] for m in editor.get("/api/media?folder=docs").get_json()["data"]] == [
        "docs/two.pdf"
    ]
    changed = editor.put("/api/media/images/one.png", json={"alt": "Better alt"})
    assert changed.get_json()["data"]["alt"] == "Better alt"
    record = editor.get("/api/media/images/one.png").get_json()["data"]
    assert record["alt"] == "Better alt"
    head = git(query_repo, "rev-parse", "HEAD")
    assert editor.put("/api/media/images/one.png", json=record).status_code == 200  # as GET gave
    assert git(query_repo, "rev-parse", "HEAD") == head  # the same alt: no commit
    for body, field in (({"alt": 5}, "alt"), ({"filename": "x.png", "bogus": 1}, "bogus")):
        refused = editor.put("/api/media/images/one.png", json=body)
        assert refused.status_code == 422, body
        assert [d["field"] for d in refused.get_json()["error"]["details"]] == [field]
    assert editor.put("/api/media/images/one.png", data={"file": "x"}).status_code == 400
    assert editor.delete("/api/media/images/one.png").status_code == 204
    assert editor.get("/api/media/images/one.png").status_code == 404
    assert editor.get("/media/images/one.png").status_code == 404
    assert git(query_repo, "log", "-1", "--format=%s") == "Delete images/one.png"


def test_media_field_populates(editor, query_repo):
    send(editor, PNG, "alpha.png", folder="images")
    cover = editor.get("/api/post/alpha?populate=cover").get_json()["data"]["cover"]
    assert cover["url"] == "/media/images/alpha.png" and cover["mimeType"] == "image/png"


def test_a_media_field_names_a_file_that_is_there(editor, query_repo):
    refused = editor.patch("/api/post/beta", json={"cover": "images/nope.png"})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"] == [
        {"field": "cover", "message": "no media file 'images/nope.png' (upload it first)"}
    ]
    assert editor.patch("/api/post/beta", json={"cover": "../vellum.yml"}).status_code == 422
    url = "https://cdn.example.com/beta.png"  # a file elsewhere is the writer's business
    assert editor.patch("/api/post/beta", json={"cover": url}).status_code == 200
    send(editor, PNG, "beta.png", folder="images")
    assert editor.patch("/api/post/beta", json={"cover": "images/beta.png"}).status_code == 200
    # A file a record uses is not deleted from under it.
    in_use = editor.delete("/api/media/images/beta.png")
    assert in_use.status_code == 409
    assert in_use.get_json()["error"]["message"] == (
        "images/beta.png is used by post/beta: change those records first"
    )
    assert (query_repo / "media/images/beta.png").exists()


def test_svg_is_sandboxed_and_paths_cannot_escape(editor):
    url = send(editor, SVG, "logo.svg").get_json()["data"]["url"]
    served = editor.get(url)
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert editor.get("/media/../vellum.yml").status_code == 404
    assert editor.get("/media/_meta/logo.svg.json").status_code == 404


def test_uploads_need_write(client):
    assert send(client, PNG, "x.png").status_code == 403
