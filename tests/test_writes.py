"""Writes are Git commits: each write path on a real repository, byte for byte."""

from __future__ import annotations

import json

from tests.helpers import commit, git, write_files
from vellum.auth import keys
from vellum.store import outbox


def last_commit(repo) -> str:
    return git(repo, "log", "-1", "--format=%an <%ae>|%cn|%s")


def test_create_markdown_commits_one_file(writer, query_repo):
    response = writer.post(
        "/api/post",
        json={
            "data": {
                "title": "Hello, World!",
                "status": "published",
                "views": 3,
                "body": "Hi *Vellumites*.",
            },
            "meta": {"message": "First post from the API"},
        },
    )
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/post/hello-world"
    data = response.get_json()["data"]
    assert response.headers["ETag"] == f'"{data["version"]}"'
    assert (query_repo / "posts/hello-world.md").read_text() == (
        "---\ntitle: Hello, World!\nstatus: published\nviews: 3\n---\n\nHi *Vellumites*.\n"
    )
    assert last_commit(query_repo) == "ada <ada@example.com>|Vellum|First post from the API"
    assert git(query_repo, "show", "--name-only", "--format=", "HEAD") == "posts/hello-world.md"
    assert git(query_repo, "status", "--porcelain") == ""
    # The index answers at once.
    assert (
        writer.get("/api/post/hello-world").get_json()["data"]["html"]
        == "<p>Hi <em>Vellumites</em>.</p>\n"
    )
    assert writer.get("/api/search?q=vellumites").get_json()["data"][0]["id"] == "hello-world"


def test_create_json_and_ids(writer, query_repo):
    made = writer.post("/api/person", json={"id": "zoe", "name": "Zoe Poe"})
    assert made.status_code == 201
    assert (query_repo / "people/zoe.json").read_text() == '{\n  "name": "Zoe Poe"\n}\n'
    by_slug = writer.post("/api/post", json={"title": "T", "slug": "from-slug"})
    assert by_slug.get_json()["data"]["id"] == "from-slug"
    taken = writer.post("/api/post", json={"title": "Alpha"})
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "CONFLICT"
    bad_id = writer.post("/api/post", json={"id": "../escape", "title": "x"})
    assert bad_id.status_code == 422 and bad_id.get_json()["error"]["details"][0]["field"] == "id"


def test_validation_errors_one_detail_per_field(writer, query_repo):
    response = writer.post(
        "/api/post",
        json={
            "id": "fresh",
            "views": "many",
            "status": "live",
            "author": "ghost",
            "colour": "red",
            "slug": "beta",
        },
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert {d["field"]: d["message"] for d in error["details"]} == {
        "colour": "unknown field of post",
        "views": "expected an integer, got a string 'many'",
        "status": "expected one of draft, published, archived, got 'live'",
        "title": "is required",
        "author": "no person with id 'ghost'",
        "slug": "'beta' is already used by beta",
    }
    assert not (query_repo / "posts/fresh.md").exists()
    assert git(query_repo, "status", "--porcelain") == ""
    blank = writer.patch("/api/post/beta", json={"title": "  "})
    assert blank.status_code == 422
    assert blank.get_json()["error"]["details"] == [
        {"field": "title", "message": "is required (it is empty)"}
    ]


def test_patch_keeps_body_order_and_formatting(writer, query_repo):
    before = (query_repo / "posts/alpha.md").read_text()
    response = writer.patch("/api/post/alpha", json={"views": 11, "featured": None, "score": 2})
    assert response.status_code == 200
    expected = (
        before.replace("views: 10\n", "views: 11\n")
        .replace("featured: true\n", "")
        .replace("score: 1.5\n", "score: 2\n")
    )
    assert (query_repo / "posts/alpha.md").read_text() == expected
    assert last_commit(query_repo) == "ada <ada@example.com>|Vellum|Update post alpha"
    data = response.get_json()["data"]
    assert data["views"] == 11 and data["featured"] is False  # back to its default
    assert data["body"] == "Alpha talks about **version control** and merging branches."


def test_patch_body_and_put_replaces(writer, query_repo):
    writer.patch("/api/post/gamma", json={"body": "Rewritten."})
    assert (query_repo / "posts/gamma.md").read_text().endswith("---\n\nRewritten.\n")
    replaced = writer.put("/api/post/gamma", json={"title": "Gamma 2", "body": "New."})
    assert replaced.status_code == 200
    assert (query_repo / "posts/gamma.md").read_text() == "---\ntitle: Gamma 2\n---\n\nNew.\n"
    assert writer.put("/api/post/gamma", json={"body": "x"}).status_code == 422  # title required


def test_patch_json_keeps_key_order(writer, query_repo):
    writer.patch("/api/person/jane", json={"email": "jd@example.com"})
    assert (query_repo / "people/jane.json").read_text() == (
        '{\n  "name": "Jane Doe",\n  "email": "jd@example.com"\n}\n'
    )


def test_an_edited_record_is_found_once_by_search(writer):
    """The running server's searcher must not keep the versions a write replaced."""
    ids = lambda: [h["id"] for h in writer.get("/api/search?q=merging").get_json()["data"]]  # noqa: E731
    assert ids() == ["alpha"]
    for views in (11, 12, 13):
        assert writer.patch("/api/post/alpha", json={"views": views}).status_code == 200
        assert ids() == ["alpha"]
    writer.patch("/api/post/alpha", json={"body": "Now about rebasing."})
    assert ids() == []
    assert [h["id"] for h in writer.get("/api/search?q=rebasing").get_json()["data"]] == ["alpha"]


def test_delete(writer, query_repo):
    assert writer.delete("/api/post/delta").status_code == 204
    assert not (query_repo / "posts/delta.md").exists()
    assert last_commit(query_repo) == "ada <ada@example.com>|Vellum|Delete post delta"
    assert writer.get("/api/post/delta").status_code == 404
    assert writer.delete("/api/post/delta").status_code == 404


def test_if_match(writer):
    etag = writer.get("/api/post/beta").headers["ETag"]
    stale = '"0000000000000000000000000000000000000000"'
    assert (
        writer.patch("/api/post/beta", json={"views": 1}, headers={"If-Match": stale}).status_code
        == 412
    )
    ok = writer.patch("/api/post/beta", json={"views": 2}, headers={"If-Match": etag})
    assert ok.status_code == 200
    again = writer.patch("/api/post/beta", json={"views": 3}, headers={"If-Match": etag})
    assert again.status_code == 412
    assert again.get_json()["error"]["code"] == "PRECONDITION_FAILED"


def test_a_file_left_out_as_invalid_is_repaired_by_put_or_deleted(app, writer, query_repo):
    broken = "---\ntitle: Broken\nviews: many\n---\nA hand edit went wrong.\n"
    write_files(query_repo, {"posts/2024/broken.md": broken, "posts/gone.md": broken})
    commit(query_repo, "Two broken posts")
    app.extensions["vellum"].sync()
    assert writer.get("/api/post/broken").status_code == 404
    # PATCH has nothing to merge into: it says why, and what to do.
    patched = writer.patch("/api/post/broken", json={"views": 3})
    assert patched.status_code == 409
    assert patched.get_json()["error"]["message"] == (
        "posts/2024/broken.md:3: views: expected an integer, got a string 'many'; it is left"
        " out, so there is nothing to merge into: replace it with PUT or fix it in Git"
    )
    # PUT replaces the file where it is, in one commit, and the record is served again.
    put = writer.put("/api/post/broken", json={"title": "Mended", "views": 3, "body": "Fixed."})
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["data"]["title"] == "Mended"
    assert (query_repo / "posts/2024/broken.md").read_text() == (
        "---\ntitle: Mended\nviews: 3\n---\n\nFixed.\n"
    )
    assert last_commit(query_repo) == "ada <ada@example.com>|Vellum|Repair post broken"
    assert writer.get("/api/post/broken").get_json()["data"]["views"] == 3
    assert [p["path"] for p in writer.get("/api/_status").get_json()["data"]["invalid"]] == [
        "posts/gone.md"
    ]
    # An invalid PUT leaves the file as it was; DELETE removes an invalid file.
    assert writer.put("/api/post/gone", json={"views": "x"}).status_code == 422
    assert (query_repo / "posts/gone.md").read_text() == broken
    assert writer.delete("/api/post/gone").status_code == 204
    assert not (query_repo / "posts/gone.md").exists()
    assert writer.get("/api/_status").get_json()["data"]["invalid"] == []
    assert writer.put("/api/post/never", json={"title": "No"}).status_code == 404


def test_an_untracked_invalid_file_is_refused_saying_to_commit_or_delete_it(
    app, writer, query_repo
):
    broken = "---\ntitle: Broken\nviews: many\n---\nNever committed.\n"
    write_files(query_repo, {"posts/fresh.md": broken})
    app.extensions["vellum"].sync()
    message = (
        "posts/fresh.md is not committed yet, so the API cannot write to it: commit it (or"
        " delete it) in Git first"
    )
    for response in (
        writer.put("/api/post/fresh", json={"title": "Mended", "views": 3}),
        writer.delete("/api/post/fresh"),
    ):
        assert response.status_code == 409
        assert response.get_json()["error"]["message"] == message
    assert (query_repo / "posts/fresh.md").read_text() == broken
    commit(query_repo, "Commit the broken post")  # what the message says: then PUT repairs
    assert writer.put("/api/post/fresh", json={"title": "Mended", "views": 3}).status_code == 200


def test_uncommitted_hand_edits_are_never_overwritten(writer, query_repo):
    path = query_repo / "posts/beta.md"
    path.write_text(path.read_text() + "\nA writer's unsaved thought.\n")
    response = writer.patch("/api/post/beta", json={"views": 5})
    assert response.status_code == 409
    assert "uncommitted edits" in response.get_json()["error"]["message"]
    assert path.read_text().endswith("A writer's unsaved thought.\n")


def test_staged_work_of_a_writer_is_left_alone(writer, query_repo):
    write_files(query_repo, {"people/new.json": '{"name": "Staged"}\n'})
    git(query_repo, "add", "people/new.json")
    writer.patch("/api/post/alpha", json={"views": 12})
    assert git(query_repo, "show", "--name-only", "--format=", "HEAD") == "posts/alpha.md"
    assert git(query_repo, "status", "--porcelain") == "A  people/new.json"


def test_locale_write_creates_a_variant(writer, query_repo):
    made = writer.patch(
        "/api/post/beta", json={"data": {"title": "Bêta"}, "meta": {"locale": "fr"}}
    )
    assert made.status_code == 200 and made.get_json()["data"]["locale"] == "fr"
    assert (query_repo / "posts/beta.fr.md").exists()
    assert writer.get("/api/post/beta?locale=fr").get_json()["data"]["title"] == "Bêta"
    assert writer.get("/api/post/beta").get_json()["data"]["title"] == "Beta"
    created = writer.post("/api/post", json={"data": {"title": "Neu"}, "meta": {"locale": "fr"}})
    assert created.status_code == 201 and (query_repo / "posts/neu.fr.md").exists()
    # A translation goes beside the record it translates, in its folder.
    nested = writer.put(
        "/api/post/epsilon", json={"data": {"title": "Epsilon"}, "meta": {"locale": "fr"}}
    )
    assert nested.status_code == 200, nested.get_json()
    assert (query_repo / "posts/2023/epsilon.fr.md").exists()
    assert not (query_repo / "posts/epsilon.fr.md").exists()


def test_a_write_that_changes_nothing_makes_no_commit(writer, query_repo):
    before = git(query_repo, "rev-parse", "HEAD")
    for body in ({}, {"views": 20}):
        same = writer.patch("/api/post/beta", json=body)
        assert same.status_code == 200, same.get_json()
    assert writer.get("/api/post/beta").get_json()["data"]["views"] == 20
    changed = git(query_repo, "rev-parse", "HEAD")
    assert git(query_repo, "rev-list", "--count", f"{before}..{changed}") == "1"  # views: 20 only
    again = writer.patch("/api/post/beta", json={"views": 20})
    assert again.status_code == 200 and git(query_repo, "rev-parse", "HEAD") == changed
    version = writer.get("/api/post/beta/versions").get_json()["data"][0]["version"]
    restored = writer.post("/api/post/beta/restore", json={"version": version})  # the same bytes
    assert restored.status_code == 200 and git(query_repo, "rev-parse", "HEAD") == changed


def test_write_needs_the_write_scope(app, anonymous):
    _, reader = keys.create_key(app.extensions["vellum"].state, "r", ["read", "read:drafts"])
    refused = anonymous.post(
        "/api/post", json={"title": "x"}, headers={"Authorization": f"Bearer {reader}"}
    )
    assert refused.status_code == 403
    assert anonymous.post("/api/post", json={"title": "x"}).status_code == 401
    _, key = keys.create_key(app.extensions["vellum"].state, "deploy bot", ["read", "write"])
    made = anonymous.post(
        "/api/post", json={"title": "By key"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert made.status_code == 201


def test_bad_bodies(writer):
    assert writer.post("/api/post", data="not json", content_type="text/plain").status_code == 400
    assert writer.post("/api/post", json=[1, 2]).status_code == 422
    assert writer.post("/api/nothing", json={"title": "x"}).status_code == 404


def test_an_integer_over_64_bits_is_refused_and_a_file_with_one_left_out(app, writer, query_repo):
    huge = 99999999999999999999999999
    before = git(query_repo, "rev-parse", "HEAD")
    refused = writer.post("/api/post", json={"title": "Huge", "views": huge, "meta": {"n": huge}})
    assert refused.status_code == 422
    assert {d["field"]: d["message"] for d in refused.get_json()["error"]["details"]} == {
        "views": f"the integer {huge} is too large (more than 64 bits)",
        "meta": f"the integer {huge} is too large (more than 64 bits)",
    }
    assert git(query_repo, "rev-parse", "HEAD") == before  # nothing committed
    # A hand-committed file with one is left out and reported; everything else goes on.
    services = app.extensions["vellum"]
    outbox.process_head(services)  # the events cursor starts here
    write_files(query_repo, {"posts/huge.md": f"---\ntitle: Huge\nviews: {huge}\n---\n"})
    write_files(query_repo, {"people/big.json": f'{{"name": "Big", "extra": {{"n": {huge}}}}}\n'})
    commit(query_repo, "Two files with huge numbers")
    services.sync()
    assert outbox.process_head(services) > 0  # their commit's events are stored
    invalid = {
        p["path"]: p["reason"] for p in writer.get("/api/_status").get_json()["data"]["invalid"]
    }
    assert invalid == {
        "people/big.json": f"the integer {huge} is too large (more than 64 bits)",
        "posts/huge.md": f"the integer {huge} is too large (more than 64 bits)",
    }
    assert writer.post("/api/post", json={"title": "After"}).status_code == 201


def test_a_draft_translation_does_not_hide_the_published_original(app, writer, query_repo):
    made = writer.put(
        "/api/post/beta",
        json={"data": {"title": "Bêta en cours", "status": "draft"}, "meta": {"locale": "fr"}},
    )
    assert made.status_code == 200
    reader = app.test_client()  # anonymous: published records only
    shown = reader.get("/api/post/beta?locale=fr").get_json()["data"]
    assert (shown["title"], shown["locale"]) == ("Beta", "en")
    assert "beta" in [r["id"] for r in reader.get("/api/post?locale=fr").get_json()["data"]]
    drafts = writer.get("/api/post/beta?locale=fr").get_json()["data"]
    assert (drafts["title"], drafts["locale"]) == ("Bêta en cours", "fr")


def test_read_only_keys_come_back_as_they_went_but_do_not_change(writer, query_repo):
    record = writer.get("/api/post/beta").get_json()["data"]
    record["views"] = 77
    back = writer.put("/api/post/beta", json={k: v for k, v in record.items() if k != "html"})
    assert back.status_code == 200, back.get_json()  # id, type, version… as GET gave them
    assert back.get_json()["data"]["views"] == 77
    assert "createdAt" not in (query_repo / "posts/beta.md").read_text()  # Git's, not pinned
    for body, field in (
        ({"id": "renamed", "views": 1}, "id"),
        ({"type": "person", "views": 1}, "type"),
        ({"data": {"views": 1}, "meta": "oops"}, "meta"),
        ({"data": {"views": 1}, "meta": {"locale": 7}}, "meta.locale"),
    ):
        refused = writer.patch("/api/post/beta", json=body)
        assert refused.status_code == 422, body
        assert [d["field"] for d in refused.get_json()["error"]["details"]] == [field]
    assert writer.get("/api/post/beta").get_json()["data"]["views"] == 77


def typed(value) -> str:
    """A value as JSON spells it, so 1000.0 and 1000 or "15" and 15 differ."""
    return json.dumps(value, sort_keys=True)


def test_values_read_back_as_written_with_their_types(writer):
    """Text that YAML could take for something else, and numbers it could take for text."""
    sent = {
        "title": "yes",
        "slug": "017",
        "views": 17,
        "score": 1000.0,
        "featured": True,
        "day": "2024-01-01",
        "tags": ["on", "0o17", "017", "2024-01-01", "1e3", "~", "1:20"],
        "meta": {"yes": "on", "octal": 15, "float": 1e3, "date": "2024-01-01", "none": None},
    }
    made = writer.post("/api/post", json={"id": "typed", **sent})
    assert made.status_code == 201, made.get_json()
    data = writer.get("/api/post/typed").get_json()["data"]
    assert {k: typed(data[k]) for k in sent} == {k: typed(v) for k, v in sent.items()}
    changed = {
        "title": "~",
        "slug": "0o17",
        "views": 15,
        "score": 1e-07,
        "featured": False,
        "tags": ["yes", "1e3"],
        "meta": {"on": "off", "n": 1e3, "when": "2024-01-01T10:00:00Z"},
    }
    assert writer.patch("/api/post/typed", json=changed).status_code == 200
    data = writer.get("/api/post/typed").get_json()["data"]
    assert {k: typed(data[k]) for k in changed} == {k: typed(v) for k, v in changed.items()}
    assert data["day"] == "2024-01-01"


def test_an_edit_keeps_what_it_does_not_change_reading_the_same(app, writer, query_repo):
    hand = "---\ntitle: Hand\nviews: 017\nflag: on\ncode: 0o17\nsize: 1e3\n---\nBody.\n"
    write_files(query_repo, {"posts/hand.md": hand})
    commit(query_repo, "A hand-written post")
    app.extensions["vellum"].sync()
    before = writer.get("/api/post/hand").get_json()["data"]
    assert [before[k] for k in ("views", "flag", "code", "size")] == [17, "on", 15, 1000.0]
    assert writer.patch("/api/post/hand", json={"title": "Edited"}).status_code == 200
    assert (query_repo / "posts/hand.md").read_text() == hand.replace("Hand", "Edited")
    after = writer.get("/api/post/hand").get_json()["data"]
    assert {
        k: typed(v) for k, v in after.items() if k not in ("title", "version", "updatedAt")
    } == {k: typed(v) for k, v in before.items() if k not in ("title", "version", "updatedAt")}


def test_an_edit_finds_the_front_matter_where_reads_do(app, writer, query_repo):
    """A blank line before the opening `---` and a longer closing line, as reads allow."""
    write_files(query_repo, {"posts/spaced.md": "\n---\ntitle: Spaced\nviews: 1\n-----\n\nBody.\n"})
    commit(query_repo, "A spaced post")
    app.extensions["vellum"].sync()
    patched = writer.patch("/api/post/spaced", json={"views": 2})
    assert patched.status_code == 200, patched.get_json()
    assert (patched.get_json()["data"]["views"], patched.get_json()["data"]["body"]) == (2, "Body.")
    assert (query_repo / "posts/spaced.md").read_text() == (
        "---\ntitle: Spaced\nviews: 2\n---\n\nBody.\n"
    )


def test_front_matter_the_editor_cannot_take_is_a_conflict_naming_its_line(app, writer, query_repo):
    """A tab after a colon reads, but the round-trip editor refuses it: PUT still repairs."""
    write_files(query_repo, {"posts/tabbed.md": "---\ntitle: Tabbed\nviews:\t3\n---\nBody.\n"})
    before = commit(query_repo, "A tabbed post")
    app.extensions["vellum"].sync()
    assert writer.get("/api/post/tabbed").get_json()["data"]["views"] == 3
    patched = writer.patch("/api/post/tabbed", json={"views": 4})
    assert patched.status_code == 409
    message = patched.get_json()["error"]["message"]
    assert message.startswith("posts/tabbed.md:3: the front matter cannot be edited in place: ")
    assert message.endswith(": replace it with PUT or fix it in Git")
    assert git(query_repo, "rev-parse", "HEAD") == before
    put = writer.put("/api/post/tabbed", json={"title": "Tabbed", "views": 4, "body": "Body."})
    assert put.status_code == 200


def test_a_date_before_the_year_1000_is_written_and_shown_in_rfc_3339(writer):
    """Four digits of year, as RFC 3339 (and the OpenAPI document's date-time) says."""
    sent = {
        "title": "Old",
        "createdAt": "0098-04-25T17:23:34Z",
        "updatedAt": "0980-01-02T03:04:05.5Z",
    }
    created = writer.post("/api/post", json=sent)
    assert created.status_code == 201, created.get_json()
    shown = writer.get("/api/post/old").get_json()["data"]
    assert shown["createdAt"] == "0098-04-25T17:23:34Z"
    assert shown["updatedAt"] == "0980-01-02T03:04:05.500000Z"


def test_the_content_api_writes_records(writer, query_repo):
    sent = {"data": {"title": "Via content", "body": "Hi."}, "meta": {"message": "Add it"}}
    created = writer.post("/api/content?type=post", json=sent)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["data"]["title"] == "Via content"
    assert git(query_repo, "log", "-1", "--format=%s").strip() == "Add it"
    changed = writer.patch("/api/content/via-content", json={"title": "Renamed", "message": "x"})
    assert changed.status_code == 200 and changed.get_json()["data"]["title"] == "Renamed"
