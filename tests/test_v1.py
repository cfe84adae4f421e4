"""The two wire formats: /api/v1 answers with SveltyCMS-style resources
({"id", "type", "attributes"} and a meta.timestamp), /api with flat records; both take
either request shape, and a v1 meta.version guards a write as If-Match does."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.helpers import authorised_client, build_app, commit, git, make_repo, write_files
from vellum.api import wire

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
STALE = "0" * 40  # a record version no file has
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)

PRODUCTS = """\
models:
  product:
    folder: products
    format: json
    fields:
      name: {type: string, required: true}
      attributes: {type: object}
"""
# The guide's "Request Format" example, as written.
GUIDE_REQUEST = {
    "data": {"title": "Example Content", "body": "Content body...", "status": "draft"},
    "meta": {"locale": "en", "version": "1.0"},
}
# The guide's "Response Format" example, as written: the shape every v1 record answer has.
GUIDE_RESPONSE = {
    "data": {
        "id": "123",
        "type": "content",
        "attributes": {"title": "Example Content", "body": "Content body..."},
    },
    "meta": {"timestamp": "2023-01-01T00:00:00Z"},
}


@pytest.fixture
def admin(app):
    return authorised_client(app, ("read", "read:drafts", "write", "admin"))


def flat(resource: dict) -> dict:
    """A v1 resource as the flat record /api gives."""
    return {"id": resource["id"], "type": resource["type"], **resource["attributes"]}


def recent(stamp: str) -> bool:
    when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return abs(datetime.now(UTC) - when) < timedelta(minutes=1)


def file_version(repo, path: str) -> str:
    return git(repo, "hash-object", path).strip()


def test_a_record_is_a_resource_with_a_timestamp(client):
    v1 = client.get("/api/v1/post/alpha").get_json()
    record = client.get("/api/post/alpha").get_json()["data"]
    assert set(v1) == set(GUIDE_RESPONSE) and set(v1["data"]) == set(GUIDE_RESPONSE["data"])
    assert v1["data"]["id"] == "alpha" and v1["data"]["type"] == "post"
    assert v1["data"]["attributes"]["title"] == "Alpha"
    assert "id" not in v1["data"]["attributes"] and "type" not in v1["data"]["attributes"]
    assert flat(v1["data"]) == record
    assert TIMESTAMP.match(v1["meta"]["timestamp"]) and recent(v1["meta"]["timestamp"])
    assert "attributes" not in record and "timestamp" not in client.get("/api/post/alpha").json


def test_a_list_is_resources_with_paging_and_a_timestamp(client):
    v1 = client.get("/api/v1/post?limit=2&sort=title").get_json()
    plain = client.get("/api/post?limit=2&sort=title").get_json()
    assert [flat(r) for r in v1["data"]] == plain["data"]
    assert {k: v1["meta"][k] for k in ("total", "limit", "offset", "hasMore")} == plain["meta"]
    assert TIMESTAMP.match(v1["meta"]["timestamp"])


def test_etags_name_the_data_not_the_second(client):
    for url in ("/api/v1/post?limit=2", "/api/v1/post/alpha"):
        first = client.get(url)
        assert first.headers["ETag"] == client.get(url.replace("/v1", "")).headers["ETag"]
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""


def test_relations_stay_inside_attributes(client):
    v1 = client.get("/api/v1/post/alpha?populate=author,categories").get_json()["data"]
    plain = client.get("/api/post/alpha?populate=author,categories").get_json()["data"]
    assert v1["attributes"]["author"] == plain["author"]
    assert v1["attributes"]["author"]["name"] == "Jane Doe"
    assert v1["attributes"]["categories"] == plain["categories"]
    unpopulated = client.get("/api/v1/post/alpha").get_json()["data"]["attributes"]
    assert unpopulated["author"] == "jane" and unpopulated["categories"] == ["eng"]


def test_the_guides_request_example_creates_content(admin, query_repo):
    created = admin.post("/api/v1/content", json=GUIDE_REQUEST)
    assert created.status_code == 201
    answer = created.get_json()
    assert set(answer["data"]) == {"id", "type", "attributes"}
    assert answer["data"]["id"] == "example-content" and answer["data"]["type"] == "post"
    attributes = answer["data"]["attributes"]
    assert {k: attributes[k] for k in GUIDE_RESPONSE["data"]["attributes"]} == {
        "title": "Example Content",
        "body": "Content body...",
    }
    assert attributes["status"] == "draft" and attributes["locale"] == "en"
    assert TIMESTAMP.match(answer["meta"]["timestamp"])
    assert created.headers["Location"] == "/api/v1/content/example-content?type=post"
    assert (query_repo / "posts/example-content.md").exists()
    # the client's own meta.version ("1.0") is no record version: it guards nothing
    assert admin.get(created.headers["Location"]).get_json()["data"] == answer["data"]


@pytest.mark.parametrize("path", ["/api/post", "/api/v1/post", "/api/content"])
def test_the_guides_request_example_works_on_every_path(admin, path):
    created = admin.post(path, json=GUIDE_REQUEST)
    assert created.status_code == 201, created.get_json()
    data = created.get_json()["data"]
    record = data if path.startswith("/api/") and "/v1/" not in path else flat(data)
    assert record["title"] == "Example Content" and record["body"] == "Content body..."
    assert "attributes" not in record


def test_flat_and_resource_requests_are_taken_on_both_paths(admin):
    resource = {"data": {"type": "post", "attributes": {"title": "As a resource"}}}
    for n, prefix in enumerate(("/api", "/api/v1")):
        made = admin.post(f"{prefix}/post", json={"title": f"Flat {n}", "status": "published"})
        assert made.status_code == 201
        wrapped = dict(resource, meta={"message": f"Resource {n}"})
        wrapped["data"] = {**resource["data"], "id": f"res-{n}"}
        made = admin.post(f"{prefix}/post", json=wrapped)
        assert made.status_code == 201, made.get_json()
        assert admin.get(f"/api/post/res-{n}").get_json()["data"]["title"] == "As a resource"
    content = {"data": {"type": "content", "attributes": {"title": "Guide typed"}}}
    made = admin.post("/api/v1/content", json=content)
    assert made.status_code == 201 and made.get_json()["data"]["type"] == "post"


def test_a_resource_of_another_type_is_refused(admin):
    sent = {"data": {"type": "person", "attributes": {"title": "Wrong"}}}
    refused = admin.post("/api/v1/post", json=sent)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"][0]["field"] == "type"


@pytest.mark.parametrize("prefix", ["/api", "/api/v1"])
def test_meta_version_guards_a_write_like_if_match(admin, query_repo, prefix):
    before = (query_repo / "posts/alpha.md").read_bytes()
    current = file_version(query_repo, "posts/alpha.md")
    stale = {"data": {"views": 11}, "meta": {"version": STALE}}
    refused = admin.patch(f"{prefix}/post/alpha", json=stale)
    assert refused.status_code == 412
    assert refused.get_json()["error"]["code"] == "PRECONDITION_FAILED"
    assert (query_repo / "posts/alpha.md").read_bytes() == before
    fresh = {"data": {"views": 11}, "meta": {"version": current}}
    done = admin.patch(f"{prefix}/post/alpha", json=fresh)
    assert done.status_code == 200
    newer = file_version(query_repo, "posts/alpha.md")
    assert done.headers["ETag"] == f'"{newer}"'
    gone = admin.delete(f"{prefix}/post/alpha", json={"meta": {"version": current}})
    assert gone.status_code == 412 and (query_repo / "posts/alpha.md").exists()
    gone = admin.delete(f"{prefix}/post/alpha", json={"meta": {"version": newer}})
    assert gone.status_code == 204 and not (query_repo / "posts/alpha.md").exists()


def test_meta_version_guards_the_content_api(admin, query_repo):
    current = file_version(query_repo, "posts/alpha.md")
    stale = {"data": {"title": "Changed"}, "meta": {"version": STALE}}
    for method in (admin.put, admin.patch):
        refused = method("/api/v1/content/alpha?type=post", json=stale)
        assert refused.status_code == 412, refused.get_json()
    refused = admin.patch("/api/v1/content/alpha", json={"title": "x"}, headers={"If-Match": STALE})
    assert refused.status_code == 412
    assert file_version(query_repo, "posts/alpha.md") == current
    fresh = {"data": {"title": "Changed"}, "meta": {"version": current}}
    done = admin.patch("/api/v1/content/alpha", json=fresh)
    assert done.status_code == 200 and done.get_json()["data"]["attributes"]["title"] == "Changed"
    gone = admin.delete("/api/content/alpha", json={"meta": {"version": current}})
    assert gone.status_code == 412 and (query_repo / "posts/alpha.md").exists()


def test_if_match_and_meta_version_must_agree(admin, query_repo):
    current = file_version(query_repo, "posts/alpha.md")
    sent = {"data": {"views": 12}, "meta": {"version": current}}
    refused = admin.patch("/api/v1/post/alpha", json=sent, headers={"If-Match": f'"{STALE}"'})
    assert refused.status_code == 412
    assert "If-Match and meta.version" in refused.get_json()["error"]["message"]
    both = admin.patch("/api/v1/post/alpha", json=sent, headers={"If-Match": f'"{current}"'})
    assert both.status_code == 200


def test_a_meta_version_that_is_no_text_is_a_422(admin):
    for path in ("/api/v1/post/alpha", "/api/v1/content/alpha"):
        sent = {"data": {"title": "x"}, "meta": {"version": ["1"]}}
        refused = admin.patch(path, json=sent)
        assert refused.status_code == 422
        assert refused.get_json()["error"]["details"][0]["field"] == "meta.version"


def test_errors_are_the_one_envelope_in_v1(admin):
    missing = admin.get("/api/v1/post/nope")
    assert missing.status_code == 404 and set(missing.get_json()) == {"error"}
    invalid = admin.post("/api/v1/post", json={"data": {"type": "post", "attributes": {}}})
    assert invalid.status_code == 422
    assert invalid.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert invalid.get_json()["error"]["details"][0]["field"] == "title"


def test_writes_answer_resources_pointing_at_v1(admin):
    made = admin.post("/api/v1/post", json={"title": "Pointed"})
    assert made.headers["Location"] == "/api/v1/post/pointed"
    assert made.get_json()["data"]["id"] == "pointed"
    assert admin.post("/api/post", json={"title": "Kept"}).headers["Location"] == "/api/post/kept"
    hit = admin.get("/api/v1/search?q=alpha").get_json()["data"][0]
    assert hit["type"] == "post" and hit["attributes"]["url"] == "/api/v1/post/alpha"
    assert admin.get("/api/search?q=alpha").get_json()["data"][0]["url"] == "/api/post/alpha"


def test_models_media_users_and_versions_are_resources(admin):
    models = admin.get("/api/v1/models").get_json()
    assert [(m["id"], m["type"]) for m in models["data"]] == [
        ("category", "model"),
        ("person", "model"),
        ("post", "model"),
    ]
    assert models["meta"]["total"] == 3 and models["meta"]["hasMore"] is False
    upload = admin.post("/api/v1/upload", data={"file": (io.BytesIO(PNG), "a.png")})
    assert upload.status_code == 201
    media = upload.get_json()["data"]
    assert media["type"] == "media" and media["attributes"]["mimeType"] == "image/png"
    assert upload.headers["Location"] == f"/api/v1/media/{media['id']}"
    listed = admin.get("/api/v1/media").get_json()
    assert [m["id"] for m in listed["data"]] == [media["id"]]
    made = admin.post("/api/v1/users", json={"data": {"type": "user", "attributes": {
        "name": "grace", "password": "a long enough password", "role": "editor"}}})  # fmt: skip
    assert made.status_code == 201, made.get_json()
    user = made.get_json()["data"]
    assert user["type"] == "user" and user["attributes"]["role"] == "editor"
    listed = admin.get("/api/v1/users").get_json()
    assert [u["id"] for u in listed["data"]] == [user["id"]] and listed["meta"]["total"] == 1
    me = admin.get("/api/v1/auth/me").get_json()["data"]
    assert me["type"] == "key" and me["attributes"]["name"] == "tests"
    versions = admin.get("/api/v1/post/alpha/versions").get_json()
    assert versions["data"][0]["type"] == "version"
    assert versions["data"][0]["id"] == versions["data"][0]["attributes"]["version"]


def test_sync_shapes_records_and_keeps_deletions(admin):
    token = admin.get("/api/v1/sync").get_json()["meta"]["token"]
    admin.delete("/api/post/alpha")
    admin.post("/api/post", json={"title": "Fresh"})
    changes = admin.get(f"/api/v1/sync?since={token}").get_json()
    assert [(r["id"], r["type"]) for r in changes["data"]["created"]] == [("fresh", "post")]
    plain = admin.get(f"/api/sync?since={token}").get_json()
    assert changes["data"]["deleted"] == plain["data"]["deleted"]
    assert TIMESTAMP.match(changes["meta"]["timestamp"])


def test_every_shaped_answer_is_a_route(app):
    assert set(wire.SHAPES) <= set(app.view_functions)
    assert all(name.split(".")[0].endswith("_v1") for name in wire.SHAPES)


def test_the_v1_document_describes_the_v1_answers(admin):
    doc = admin.get("/api/v1/openapi.json").get_json()
    validate(doc)
    alpha = admin.get("/api/post/alpha").headers["ETag"].strip('"')
    calls = [
        ("get", "/api/v1/post", "/api/v1/post", None, "200"),
        ("get", "/api/v1/post/alpha?populate=author", "/api/v1/post/{record_id}", None, "200"),
        ("get", "/api/v1/models", "/api/v1/models", None, "200"),
        ("get", "/api/v1/search?q=alpha", "/api/v1/search", None, "200"),
        ("get", "/api/v1/content", "/api/v1/content", None, "200"),
        ("get", "/api/v1/post/alpha/versions", "/api/v1/post/{record_id}/versions", None, "200"),
        ("get", "/api/v1/sync", "/api/v1/sync", None, "200"),
        ("get", "/api/v1/auth/me", "/api/v1/auth/me", None, "200"),
        ("get", "/api/v1/keys", "/api/v1/keys", None, "200"),
        ("post", "/api/v1/content", "/api/v1/content", GUIDE_REQUEST, "201"),
        ("patch", "/api/v1/post/alpha", "/api/v1/post/{record_id}",
         {"data": {"type": "post", "attributes": {"views": 3}}, "meta": {"version": alpha}},
         "200"),
    ]  # fmt: skip
    for method, url, path, body, status in calls:
        op = doc["paths"][path][method]
        if body is not None:
            sent = op["requestBody"]["content"]["application/json"]["schema"]
            Draft202012Validator({**sent, "components": doc["components"]}).validate(body)
        answer = getattr(admin, method)(url, json=body)
        assert answer.status_code == int(status), (url, answer.get_json())
        schema = op["responses"][status]["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": doc["components"]})
        assert list(validator.iter_errors(answer.get_json())) == [], url
    flat = admin.get("/api/openapi.json").get_json()["paths"]["/api/post/{record_id}"]["get"]
    schema = flat["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["properties"]["data"] == {"$ref": "#/components/schemas/Record.post"}


def test_media_and_keys_take_v1_resources(admin):
    upload = admin.post("/api/v1/upload", data={"file": (io.BytesIO(PNG), "b.png")})
    media = upload.get_json()["data"]
    sent = {"data": {"id": media["id"], "type": "media", "attributes": {"alt": "A B"}}}
    changed = admin.put(f"/api/v1/media/{media['id']}", json=sent)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["data"]["attributes"]["alt"] == "A B"
    wrong = {"data": {"type": "post", "attributes": {"alt": "x"}}}
    assert admin.put(f"/api/media/{media['id']}", json=wrong).status_code == 422
    key = {"data": {"type": "key", "attributes": {"name": "ci", "scopes": ["read"]}}}
    made = admin.post("/api/v1/keys", json=key)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["data"]["type"] == "key"
    assert made.get_json()["data"]["attributes"]["key"].startswith("vk_")


def test_a_field_called_attributes_is_not_a_resource(tmp_path):
    repo = make_repo(tmp_path / "repo")
    site = PRODUCTS
    write_files(repo, {"vellum.yml": site, "products/cup.json": '{"name": "Cup"}\n'})
    commit(repo, "Add a product")
    application = build_app(repo, tmp_path / "state")
    try:
        editor = authorised_client(application, ("read", "read:drafts", "write"))
        sent = {"data": {"attributes": {"colour": "red"}}}
        changed = editor.patch("/api/v1/product/cup", json=sent)
        assert changed.status_code == 200, changed.get_json()
        attributes = changed.get_json()["data"]["attributes"]
        assert attributes["attributes"] == {"colour": "red"} and attributes["name"] == "Cup"
    finally:
        application.extensions["vellum"].close()


# The guide's REST endpoints, as written (":id" filled in below).
GUIDE_ENDPOINTS = """
GET    /api/v1/content
POST   /api/v1/content
GET    /api/v1/content/:id
PUT    /api/v1/content/:id
DELETE /api/v1/content/:id
GET    /api/v1/media
POST   /api/v1/media
GET    /api/v1/media/:id
PUT    /api/v1/media/:id
DELETE /api/v1/media/:id
GET    /api/v1/users
POST   /api/v1/users
GET    /api/v1/users/:id
PUT    /api/v1/users/:id
DELETE /api/v1/users/:id
"""


def test_the_guides_endpoints_all_answer_in_v1(admin):
    ids, statuses = {}, []
    for line in GUIDE_ENDPOINTS.strip().splitlines():
        method, path = line.split()
        kind = path.split("/")[3]
        body = {
            "content": {"json": GUIDE_REQUEST},
            "media": {"data": {"file": (io.BytesIO(PNG), "guide.png")}},
            "users": {
                "json": {
                    "data": {
                        "type": "user",
                        "attributes": {"name": "guide", "password": "a long enough password"},
                    }
                }
            },  # fmt: skip
        }[kind]
        if method == "PUT":
            body = {"json": {"title": "Put"} if kind == "content" else {"role": "editor"}}
            if kind == "media":
                body = {"json": {"data": {"type": "media", "attributes": {"alt": "Put"}}}}
        url = path.replace(":id", ids.get(kind, ""))
        kwargs = body if method in ("POST", "PUT") else {}
        answer = admin.open(url, method=method, **kwargs)
        statuses.append((method, url, answer.status_code))
        if method == "POST":
            ids[kind] = answer.get_json()["data"]["id"]
        if answer.status_code != 204:
            data = answer.get_json()["data"]
            for item in data if isinstance(data, list) else [data]:
                assert set(item) == {"id", "type", "attributes"}, url
            assert TIMESTAMP.match(answer.get_json()["meta"]["timestamp"]), url
    assert [s for _, _, s in statuses] == [200, 201, 200, 200, 204] * 3, statuses


def test_a_custom_events_data_is_never_taken_for_a_resource(admin):
    data = {"type": "deploy", "attributes": {"env": "prod"}}
    sent = admin.post("/api/v1/events", json={"event": "custom.deploy", "data": data})
    assert sent.status_code == 202
    assert sent.get_json()["data"]["data"] == data
