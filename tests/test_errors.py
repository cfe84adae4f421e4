"""Every error in the JSON envelope, never a 500: parameters, bodies, commit messages,
values a record file cannot hold, and the errors the WSGI server answers itself."""

from __future__ import annotations

import io
import json
import socket

import pytest

from tests.helpers import QUERY_SITE, authorised_client, build_app, commit, git, make_repo
from tests.helpers import write_files as put_files
from tests.servers import running_server
from vellum.auth import keys, oauth


def head(repo) -> str:
    return git(repo, "rev-parse", "HEAD")


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    return response.get_json()["error"]


def fields_of(error: dict) -> list:
    return [d["field"] for d in error["details"]]


@pytest.fixture
def editor(app):
    """Reads and writes (an API key: commits carry the key's name)."""
    return authorised_client(app, ("read", "read:drafts", "write"))


@pytest.fixture
def admin(app):
    return authorised_client(app, ("read", "read:drafts", "write", "admin"))


# -- integer parameters ------------------------------------------------------------------
HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    "url, name",
    [
        (f"/api/post?offset={HUGE}", "offset"),
        (f"/api/post?limit={HUGE}", "limit"),
        (f"/api/post?offset=-{HUGE}", "offset"),
        (f"/api/search?q=alpha&offset={HUGE}", "offset"),
        (f"/api/content?offset={HUGE}", "offset"),
        (f"/api/media?offset={HUGE}", "offset"),
        (f"/api/post/alpha/versions?offset={HUGE}", "offset"),
        (f"/api/post/alpha/versions?limit={HUGE}", "limit"),
        ("/api/post?offset=1e3", "offset"),
        ("/api/post?offset=2147483648", "offset"),
    ],
)
def test_an_integer_parameter_out_of_range_is_a_400_naming_it(client, url, name):
    error = error_of(client.get(url), 400)
    assert error["code"] == "BAD_REQUEST" and fields_of(error) == [name]


def test_the_largest_offset_is_graphqls_int(client):
    response = client.get("/api/post?offset=2147483647")
    assert response.status_code == 200
    assert response.get_json()["meta"]["offset"] == 2147483647


def test_webhook_deliveries_check_their_paging(admin):
    made = admin.post("/api/webhooks", json={"url": "https://93.184.215.14/hook", "events": ["*"]})
    hook = made.get_json()["data"]["id"]
    for query, name in ((f"offset={HUGE}", "offset"), ("limit=-1", "limit"), ("limit=x", "limit")):
        error = error_of(admin.get(f"/api/webhooks/{hook}/deliveries?{query}"), 400)
        assert fields_of(error) == [name]
    assert admin.get(f"/api/webhooks/{hook}/deliveries?limit=5").status_code == 200


def test_graphql_paging_arguments_reach_the_same_checks(client):
    body = client.post(
        "/graphql", json={"query": '{ post(id: "alpha") { versions(offset: -1) { version } } }'}
    ).get_json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert body["errors"][0]["extensions"]["details"][0]["field"] == "offset"


# -- commit messages -------------------------------------------------------------------
def test_a_commit_message_with_a_nul_is_a_422_and_commits_nothing(editor, query_repo):
    before = head(query_repo)
    response = editor.post(
        "/api/post", json={"data": {"title": "Nul"}, "meta": {"message": "one\x00two"}}
    )
    assert fields_of(error_of(response, 422)) == ["meta.message"]
    gql = editor.post(
        "/graphql",
        json={
            "query": 'mutation { createPost(data: {title: "Nul"}, message: "a\\u0000b") { id } }'
        },
    ).get_json()
    assert gql["errors"][0]["extensions"]["details"][0]["field"] == "message"
    deleted = editor.delete("/api/post/beta", json={"meta": {"message": "bye\x00"}})
    assert fields_of(error_of(deleted, 422)) == ["meta.message"]
    assert head(query_repo) == before and git(query_repo, "status", "--porcelain") == ""


def test_a_commit_message_is_capped_at_64_kb_and_kept_whole_below(editor, query_repo):
    before = head(query_repo)
    too_long = editor.post(
        "/api/post", json={"data": {"title": "Long"}, "meta": {"message": "m" * 1_000_000}}
    )
    error = error_of(too_long, 422)
    assert fields_of(error) == ["meta.message"] and "65536" in error["details"][0]["message"]
    assert head(query_repo) == before
    # 64 KB exactly: far past a command line's argument limit for one word, yet committed.
    message = "Subject line\n\n" + "é" * ((65536 - 14) // 2)
    assert len(message.encode()) == 65536
    made = editor.post("/api/post", json={"data": {"title": "Long"}, "meta": {"message": message}})
    assert made.status_code == 201
    assert git(query_repo, "log", "-1", "--format=%B") == message


# -- request bodies --------------------------------------------------------------------
def test_a_json_syntax_error_says_where(editor, query_repo):
    response = editor.post(
        "/api/post", data='{"title": "x",\n  "views": }', content_type="application/json"
    )
    error = error_of(response, 400)
    assert error["code"] == "BAD_REQUEST"
    assert "line 2, column 12" in error["message"]
    assert "Content-Type" not in error["message"]
    nan = editor.post(
        "/api/post", data='{"title": "x", "score": NaN}', content_type="application/json"
    )
    assert "NaN is not a JSON number" in error_of(nan, 400)["message"]
    graphql = editor.post("/graphql", data='{"query": ', content_type="application/json")
    assert graphql.status_code == 400
    assert "line 1, column 11" in graphql.get_json()["errors"][0]["message"]
    sent = {"query": "{ posts { nodes { id } } }", "variables": "{"}
    variables = editor.get("/graphql", query_string=sent)
    details = variables.get_json()["errors"][0]["extensions"]["details"]
    assert variables.status_code == 400 and details[0]["field"] == "variables"


@pytest.mark.parametrize(
    "method, url",
    [
        ("delete", "/api/post/beta"),
        ("post", "/api/post/alpha/restore"),
        ("post", "/api/auth/refresh"),
        ("put", "/api/content/alpha"),
        ("post", "/api/events"),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_400(admin, query_repo, method, url):
    before = head(query_repo)
    response = getattr(admin, method)(url, json=[1, 2])
    assert error_of(response, 400)["message"] == "Expected a JSON object as the body, got a list"
    assert head(query_repo) == before


def test_a_lone_surrogate_outside_records_is_a_422_naming_where(admin):
    response = admin.post("/api/events", json={"event": "custom.deploy", "data": {"a": "\ud800"}})
    error = error_of(response, 422)
    assert fields_of(error) == ["data.a"]
    login = admin.post("/api/auth/login", json={"username": "ada", "password": "\udfff"})
    assert fields_of(error_of(login, 422)) == ["password"]


def test_no_content_answers_carry_no_content_type(editor):
    deleted = editor.delete("/api/post/beta")
    assert deleted.status_code == 204 and deleted.data == b""
    assert "Content-Type" not in deleted.headers
    one = editor.get("/api/post/alpha")
    cached = editor.get("/api/post/alpha", headers={"If-None-Match": one.headers["ETag"]})
    assert cached.status_code == 304 and "Content-Type" not in cached.headers
    listed = editor.get("/api/post")
    cached = editor.get("/api/post", headers={"If-None-Match": listed.headers["ETag"]})
    assert cached.status_code == 304 and "Content-Type" not in cached.headers


def test_every_other_empty_answer_has_no_type_either(app, admin):
    hook = admin.post("/api/webhooks", json={"url": "https://93.184.215.14/h", "events": ["*"]})
    made_app = admin.post("/api/apps", json={"name": "Builder", "scopes": ["read"]})
    made_user = admin.post(
        "/api/users", json={"name": "zed", "password": "correct horse battery", "role": "viewer"}
    )
    for url in (
        f"/api/webhooks/{hook.get_json()['data']['id']}",
        f"/api/apps/{made_app.get_json()['data']['id']}",
        f"/api/users/{made_user.get_json()['data']['id']}",
    ):
        gone = admin.delete(url)
        assert gone.status_code == 204 and "Content-Type" not in gone.headers, url
    client, secret = oauth.create_client(app.extensions["vellum"].state, "Reader", ["read"])
    browser = app.test_client()
    form = {"grant_type": "client_credentials", "scope": "read"}
    token = browser.post("/oauth/token", data=form, auth=(client.id, secret)).get_json()
    revoked = browser.post(
        "/oauth/revoke", data={"token": token["access_token"]}, auth=(client.id, secret)
    )
    assert revoked.status_code == 200 and revoked.data == b""
    assert "Content-Type" not in revoked.headers


# -- values a record file cannot hold --------------------------------------------------
UNSTORABLE = {
    "a lone surrogate": "\ud800",
    "a NUL": "a\x00b",
    "a bell": "ring\x07",
    "a next-line control": "a\x85b",
}


@pytest.mark.parametrize("char", UNSTORABLE.values(), ids=list(UNSTORABLE))
@pytest.mark.parametrize(
    "url, payload, field",
    [
        ("/api/post", lambda c: {"title": c}, "title"),
        ("/api/post", lambda c: {"title": "T", "tags": ["fine", c]}, "tags"),
        ("/api/post", lambda c: {"title": "T", "meta": {"deep": {"value": [c]}}}, "meta"),
        ("/api/post", lambda c: {"title": "T", "meta": {f"key{c}": 1}}, "meta"),
        ("/api/post", lambda c: {"title": "T", "body": f"Text {c} here"}, "body"),
        ("/api/person", lambda c: {"name": c}, "name"),
        ("/api/person", lambda c: {"name": "N", "email": f"x{c}@example.com"}, "email"),
    ],
)
def test_a_value_a_record_cannot_hold_is_a_422_before_anything_is_written(
    editor, query_repo, url, payload, field, char
):
    before = head(query_repo)
    response = editor.post(url, json={"id": "fresh", **payload(char)})
    error = error_of(response, 422)
    assert error["code"] == "VALIDATION_ERROR" and fields_of(error) == [field]
    assert head(query_repo) == before and git(query_repo, "status", "--porcelain") == ""
    assert not list(query_repo.rglob("fresh.*"))


def test_an_unstorable_key_or_update_is_refused_too(editor, query_repo):
    before = head(query_repo)
    patched = editor.patch("/api/post/alpha", json={"title": "Alpha\x00"})
    assert fields_of(error_of(patched, 422)) == ["title"]
    replaced = editor.put("/api/person/jane", json={"name": "Jane", "bio\ud800": "x"})
    assert error_of(replaced, 422)["details"][0]["field"] == "bio\\ud800"
    content = editor.post("/api/content", json={"type": "post", "title": "x\x1b[31m"})
    assert fields_of(error_of(content, 422)) == ["title"]
    assert head(query_repo) == before


FUZZED = 'mutation { createAuthor(data: {name: null, avatar: "\\u0001\\u0000"}) { id } }'


def test_graphql_names_the_field_of_an_unstorable_value(sample_repo_app):
    """The fuzzer's find: createAuthor with a null name and an avatar of control characters."""
    client, repo = sample_repo_app
    before = head(repo)
    body = client.post("/graphql", json={"query": FUZZED})
    assert body.status_code == 422
    error = body.get_json()["errors"][0]
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    assert "avatar" in [d["field"] for d in error["extensions"]["details"]]
    variables = client.post(
        "/graphql",
        json={
            "query": "mutation($d: CreateBlogPostInput!) { createBlogPost(data: $d) { id } }",
            "variables": {"d": {"title": "Fine", "tags": ["\ud83d"]}},
        },
    )
    assert variables.status_code == 422
    details = variables.get_json()["errors"][0]["extensions"]["details"]
    assert [d["field"] for d in details] == ["tags"]
    assert head(repo) == before


@pytest.fixture
def sample_repo_app(site_repo, tmp_path):
    application = build_app(site_repo, tmp_path / "state")
    yield authorised_client(application, ("read", "read:drafts", "write")), site_repo
    application.extensions["vellum"].close()


def test_text_yaml_would_read_as_another_type_is_stored_as_sent(editor, query_repo):
    """YAML 1.1 reads `yes` as true, `1:20` as 80 and 1e-07 as a string: written quoted (or
    with a dot), they come back exactly as sent."""
    sent = {
        "id": "lookalikes",
        "title": "yes",
        "slug": "1:20",
        "tags": ["on", "No", "0x1F", "~"],
        "meta": {"off": "y", "n": 1e-07},
        "score": 1e20,
        "body": "plain",
    }
    made = editor.post("/api/post", json=sent)
    assert made.status_code == 201, made.get_data(as_text=True)
    data = editor.get("/api/post/lookalikes").get_json()["data"]
    assert {k: data[k] for k in ("title", "slug", "tags", "meta", "score")} == {
        k: sent[k] for k in ("title", "slug", "tags", "meta", "score")
    }
    patched = editor.patch("/api/post/lookalikes", json={"title": "Off", "score": 5e-324})
    assert patched.status_code == 200
    assert editor.get("/api/post/lookalikes").get_json()["data"]["title"] == "Off"
    assert editor.get("/api/_status").get_json()["data"]["invalid"] == []


def test_media_paths_too_long_for_the_file_system_are_not_found(editor):
    name = "a" * 5000
    assert error_of(editor.get(f"/api/media/{name}"), 404)["code"] == "NOT_FOUND"
    assert error_of(editor.get(f"/media/{name}.png"), 404)["code"] == "NOT_FOUND"
    made = editor.post("/api/post", json={"title": "Cover", "cover": f"images/{name}.png"})
    assert fields_of(error_of(made, 422)) == ["cover"]


def test_media_text_is_checked_like_record_text(editor):
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    upload = editor.post(
        "/api/upload",
        data={"file": (io.BytesIO(png), "a.png"), "alt": "bad\x00"},
        content_type="multipart/form-data",
    )
    assert fields_of(error_of(upload, 422)) == ["alt"]
    ok = editor.post(
        "/api/upload", data={"file": (io.BytesIO(png), "a.png")}, content_type="multipart/form-data"
    )
    media_id = ok.get_json()["data"]["id"]
    assert fields_of(
        error_of(editor.put(f"/api/media/{media_id}", json={"alt": "\ud800"}), 422)
    ) == ["alt"]


def test_a_locale_names_a_file_so_it_must_be_a_locale_code(tmp_path):
    repo = make_repo(tmp_path / "plain")
    put_files(repo, {"vellum.yml": "title: No locales\n", "notes/a.json": '{"title": "A"}\n'})
    commit(repo, "A site without locales")
    application = build_app(repo, tmp_path / "state")
    try:
        writer = authorised_client(application, ("read", "read:drafts", "write"))
        before = head(repo)
        for locale in ("../../escape", "x\x00"):
            sent = {"data": {"id": "b", "title": "B"}, "meta": {"locale": locale}}
            assert fields_of(error_of(writer.post("/api/note", json=sent), 422)) == ["locale"]
        assert head(repo) == before and not (tmp_path / "escape.json").exists()
        fine = {"data": {"id": "b", "title": "B"}, "meta": {"locale": "pt-BR"}}
        assert writer.post("/api/note", json=fine).status_code == 201
    finally:
        application.extensions["vellum"].close()


# -- the real server -------------------------------------------------------------------
@pytest.fixture
def small_server(tmp_path):
    """`vellum serve` over the query fixture with a 1,000-byte body limit, and a write key."""
    repo = make_repo(tmp_path / "repo")
    files = dict(QUERY_SITE)
    files["vellum.yml"] += "limits:\n  max_body: 1000\n"
    put_files(repo, files)
    commit(repo, "Add the query fixture")
    state = tmp_path / "state"
    application = build_app(repo, state)
    _, secret = keys.create_key(application.extensions["vellum"].state, "t", ["read", "write"])
    application.extensions["vellum"].close()
    with running_server(repo, state, tmp_path / "server.log") as (base, _proc):
        yield int(base.rsplit(":", 1)[1]), secret, repo


def exchange(port: int, request: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes, read the whole answer: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head_part, _, body = raw.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def chunked(body: bytes, size: int = 300) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def post(secret: str, extra: str = "") -> bytes:
    return (
        f"POST /api/post HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


def test_the_servers_own_errors_come_in_the_envelope(small_server):
    port, secret, repo = small_server
    long_line = b"GET /api/post?filter[title]=" + b"a" * 5000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
    status, headers, body = exchange(port, long_line)
    assert status == 414 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "URI_TOO_LONG"
    big_header = b"GET /api/post HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"
    status, headers, body = exchange(port, big_header)
    assert status == 431 and json.loads(body)["error"]["code"] == "HEADERS_TOO_LARGE"
    status, headers, body = exchange(port, b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n")
    assert status == 400 and json.loads(body)["error"]["code"] == "BAD_REQUEST"


def test_a_chunked_body_over_max_body_is_a_413(small_server):
    port, secret, repo = small_server
    before = head(repo)
    too_big = json.dumps({"title": "Big", "body": "x" * 3000}).encode()
    status, headers, body = exchange(
        port, post(secret, "Transfer-Encoding: chunked\r\n") + chunked(too_big)
    )
    assert status == 413 and json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert head(repo) == before
    small = json.dumps({"title": "Chunked", "body": "y" * 100}).encode()
    status, _, body = exchange(
        port, post(secret, "Transfer-Encoding: chunked\r\n") + chunked(small)
    )
    assert status == 201, body
    empty = '{"title": "Exact", "body": ""}'
    exact = empty.replace('""}', '"' + "z" * (1000 - len(empty)) + '"}').encode()
    assert len(exact) == 1000  # the limit itself is allowed
    status, _, body = exchange(
        port, post(secret, "Transfer-Encoding: chunked\r\n") + chunked(exact)
    )
    assert status == 201, body


def test_a_json_syntax_error_and_a_delete_over_http(small_server):
    port, secret, repo = small_server
    broken = b'{"title":\n "x",}'
    status, headers, body = exchange(
        port, post(secret, f"Content-Length: {len(broken)}\r\n") + broken
    )
    assert status == 400 and "line 2, column 6" in json.loads(body)["error"]["message"]
    request = (
        f"DELETE /api/post/beta HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        f"Authorization: Bearer {secret}\r\n\r\n"
    ).encode()
    status, headers, body = exchange(port, request)
    assert status == 204 and body == b"" and "content-type" not in headers
