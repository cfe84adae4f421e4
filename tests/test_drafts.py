"""Drafts are for readers of drafts only: on every path that shows a record, and every verb.

The site below has one draft page, `unveiling`, that published records point at. A reader
without `read:drafts` must never see its id, title or body, nor be able to tell it apart
from an id that does not exist.
"""

from __future__ import annotations

import base64
import json
import threading

import orjson
import pytest

from tests.helpers import build_app, commit, git, make_repo, read_frames, write_files
from tests.receiver import Receiver, wait_threads_gone
from vellum.auth import keys, oauth, users
from vellum.live.dispatcher import Dispatcher
from vellum.store import outbox
from vellum.store.events import Event

DRAFT = "unveiling"  # the draft page's id; its title and body say "Unveiling" too
SITE = {
    "vellum.yml": """\
title: Drafts fixture
auth:
  public_read: true
locales: [en, fr]
default_locale: en
models:
  page:
    folder: pages
    format: markdown
    fields:
      title:   {type: string, required: true}
      status:  {type: enum, values: [draft, published], default: draft}
      parent:  {type: relation, to: page}
      related: {type: relation, to: page, many: true}
  note:
    folder: notes
    format: json
    fields:
      name: {type: string, required: true}
      page: {type: relation, to: page}
""",
    "pages/unveiling.md": "---\ntitle: Unveiling plan\nstatus: draft\n---\nUnveiling on Monday.\n",
    "pages/home.md": "---\ntitle: Home\nstatus: published\n---\nWelcome home, harbour.\n",
    "pages/child.md": "---\ntitle: Child\nstatus: published\nparent: unveiling\n"
    "related: [home, unveiling]\n---\nThe child page, harbour side.\n",
    "pages/grandchild.md": "---\ntitle: Grandchild\nstatus: published\nparent: child\n---\n"
    "Two levels down.\n",
    "notes/hint.json": '{"name": "Hint", "page": "unveiling"}\n',
}
MISSING = "nowhere"  # an id no model has


@pytest.fixture(autouse=True)
def _no_stray_threads():
    before = set(threading.enumerate())
    yield
    wait_threads_gone(before)


@pytest.fixture
def repo(tmp_path):
    path = make_repo(tmp_path / "repo")
    write_files(path, SITE)
    commit(path, "Add the drafts fixture")
    return path


@pytest.fixture
def app(repo, tmp_path):
    application = build_app(repo, tmp_path / "state")
    yield application
    application.extensions["vellum"].close()


def key_client(application, *scopes: str):
    _, secret = keys.create_key(application.extensions["vellum"].state, "k", list(scopes))
    client = application.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


@pytest.fixture
def readers(app):
    """Who may read published records only: anonymous (public_read) and a `read` key."""
    return [app.test_client(), key_client(app, "read")]


@pytest.fixture
def editor(app):
    return key_client(app, "read", "read:drafts")


def hidden(answer) -> None:
    """Nothing of the draft shows: neither its id nor its title or body."""
    text = answer if isinstance(answer, str) else json.dumps(answer)
    assert DRAFT not in text.lower(), text


def gql(client, query: str, status: int = 200) -> dict:
    response = client.post("/graphql", json={"query": query})
    assert response.status_code == status, response.get_json()
    return response.get_json()


# -- REST reads --------------------------------------------------------------------------
REST_READS = [
    "/api/page/child",
    "/api/page",
    "/api/page?populate=*",
    "/api/page/child?populate=parent,related",
    "/api/page/grandchild?populate=parent",  # the embedded child's own relations
    "/api/page?populate=parent&filter[id]=grandchild",
    "/api/note",
    "/api/note/hint?populate=page",
    "/api/search?q=harbour",
    "/api/search?q=monday",
    "/api/page?q=unveiling",
    "/api/sync",
    "/api/content?limit=100",
    "/api/content/child",
    "/api/content/hint",
    "/api/content?q=harbour",
    "/api/models",
]


@pytest.mark.parametrize("path", REST_READS)
def test_rest_reads_never_show_a_draft_to_readers(app, readers, editor, path):
    for reader in readers:
        response = reader.get(path)
        assert response.status_code == 200, response.get_json()
        hidden(response.get_json())
    assert editor.get(path).status_code == 200


def test_relations_to_a_draft_are_empty_for_readers_and_whole_for_editors(readers, editor):
    for reader in readers:
        child = reader.get("/api/page/child?populate=parent,related").get_json()["data"]
        assert (child["parent"], [r["id"] for r in child["related"]]) == (None, ["home"])
        grand = reader.get("/api/page/grandchild?populate=parent").get_json()["data"]
        assert grand["parent"]["id"] == "child" and grand["parent"]["parent"] is None
        assert grand["parent"]["related"] == ["home"]
    grand = editor.get("/api/page/grandchild?populate=parent").get_json()["data"]
    assert (grand["parent"]["parent"], grand["parent"]["related"]) == (DRAFT, ["home", DRAFT])
    child = editor.get("/api/content/child").get_json()["data"]
    assert child["data"]["parent"] == DRAFT


def test_counts_leave_drafts_out_for_readers(readers, editor):
    for reader in readers:
        models = {m["name"]: m["count"] for m in reader.get("/api/models").get_json()["data"]}
        assert models == {"note": 1, "page": 3}
        status = reader.get("/api/_status").get_json()["data"]
        assert status["records"] == {"note": 1, "page": 3}
        assert "records" not in status["index"]  # every file's count would count drafts
    assert editor.get("/api/_status").get_json()["data"]["index"]["records"] == 5
    assert {m["name"]: m["count"] for m in editor.get("/api/models").get_json()["data"]} == {
        "note": 1,
        "page": 4,
    }


def test_an_invalid_files_path_is_for_readers_of_drafts(app, repo, readers, editor):
    """A file left out as invalid may be a draft: its path would name it."""
    write_files(repo, {"pages/secret-launch.md": "---\ntitle: [unclosed\n---\n"})
    app.extensions["vellum"].sync()
    for reader in readers:
        assert reader.get("/api/_status").get_json()["data"]["invalid"] == []
    invalid = editor.get("/api/_status").get_json()["data"]["invalid"]
    assert [p["path"] for p in invalid] == ["pages/secret-launch.md"]


def test_filters_and_sorts_see_relations_as_readers_see_them(readers, editor):
    """Filtering or sorting by a relation must not confirm a draft's id either."""

    def ids(client, query):
        response = client.get(f"/api/page?{query}")
        assert response.status_code == 200, response.get_json()
        return [r["id"] for r in response.get_json()["data"]]

    for reader in readers:
        assert ids(reader, f"filter[parent]={DRAFT}") == []
        assert ids(reader, f"filter[related][$in]={DRAFT}") == []
        assert ids(reader, f"filter[parent][$ne]={DRAFT}") == ["child", "grandchild", "home"]
        # Without a visible parent, child sorts with the pages that have none: last.
        assert ids(reader, "sort=parent,id") == ["grandchild", "child", "home"]
        body = gql(
            reader,
            f'{{ pages(filter: {{parent: {{id: {{eq: "{DRAFT}"}}}}}}) {{ nodes {{ id }} }} }}',
        )
        assert body["data"]["pages"]["nodes"] == []
    assert ids(editor, f"filter[parent]={DRAFT}") == ["child"]
    assert ids(editor, f"filter[related][$in]={DRAFT}") == ["child"]
    assert ids(editor, "sort=parent,id") == ["grandchild", "child", "home", DRAFT]


# -- sync ------------------------------------------------------------------------------
def test_sync_since_a_token_never_names_a_draft(app, repo, readers, editor):
    token = readers[0].get("/api/sync").get_json()["meta"]["token"]
    draft = repo / "pages/unveiling.md"
    draft.write_text(draft.read_text().replace("Monday", "Tuesday"))  # an edited draft
    write_files(repo, {"pages/quiet.md": "---\ntitle: Quiet\nstatus: draft\n---\n"})
    child = repo / "pages/child.md"
    child.write_text(child.read_text().replace("harbour side", "by the harbour"))
    commit(repo, "Edit the drafts and the child")
    (repo / "pages/quiet.md").unlink()  # a draft created and deleted since the token
    commit(repo, "Drop quiet")
    app.extensions["vellum"].sync()
    for reader in readers:
        since = reader.get(f"/api/sync?since={token}").get_json()
        hidden(since)
        assert "quiet" not in json.dumps(since)
        data = since["data"]
        assert [(r["id"], r["parent"]) for r in data["updated"]] == [("child", None)]
        assert (data["created"], data["deleted"]) == ([], [])
    full = editor.get(f"/api/sync?since={token}").get_json()["data"]
    assert sorted((r["id"], r["parent"]) for r in full["updated"]) == [
        ("child", DRAFT),
        (DRAFT, None),
    ]
    # quiet was created and deleted since the token: it is news to nobody.
    assert full["deleted"] == []


def test_sync_tells_readers_of_a_page_taken_back_to_draft(app, repo, readers):
    token = readers[0].get("/api/sync").get_json()["meta"]["token"]
    home = repo / "pages/home.md"
    home.write_text(home.read_text().replace("status: published", "status: draft"))
    commit(repo, "Take home back")
    app.extensions["vellum"].sync()
    for reader in readers:
        data = reader.get(f"/api/sync?since={token}").get_json()["data"]
        assert data["deleted"] == [{"id": "home", "type": "page", "locale": "en"}]
        assert data["updated"] == []


# -- GraphQL ---------------------------------------------------------------------------
GRAPHQL_READS = [
    '{ page(id: "child") { id parent { id title } related { id title } } }',
    "{ pages(limit: 20) { nodes { id parent { id } related { id } } pageInfo { total } } }",
    '{ page(id: "grandchild") { parent { id parent { id } related { id } } } }',
    "{ notes { nodes { id page { id title body } } } }",
    "{ contents(limit: 100) { id title data } }",
    '{ content(id: "child") { id data } }',
    '{ content(id: "hint") { id data } }',
    '{ search(q: "harbour") { content { id data } } }',
    '{ search(q: "monday") { content { id data } } }',
]


@pytest.mark.parametrize("query", GRAPHQL_READS)
def test_graphql_reads_never_show_a_draft_to_readers(readers, editor, query):
    for reader in readers:
        body = gql(reader, query)
        assert "errors" not in body, body
        hidden(body)
    assert "errors" not in gql(editor, query)


def test_graphql_editors_see_the_relations(editor):
    body = gql(editor, '{ content(id: "child") { data } page(id: "child") { parent { id } } }')
    assert body["data"]["content"]["data"]["parent"] == DRAFT
    assert body["data"]["page"]["parent"] == {"id": DRAFT}


def test_ids_of_a_model_left_out_of_graphql_hide_drafts_too(app, repo, readers, editor):
    """A relation to a model GraphQL leaves out is a field of ids: readers' ids only."""
    memo = """\
  memo:
    folder: memos
    format: json
    fields:
      status: {type: enum, values: [draft, published]}
      state:  {type: enum, values: [in-progress, in_progress]}
"""
    relations = (
        "      memo:  {type: relation, to: memo}\n"
        "      memos: {type: relation, to: memo, many: true}\n"
    )
    config = (repo / "vellum.yml").read_text().replace("  note:\n", memo + "  note:\n")
    config = config.replace(
        "      page: {type: relation, to: page}\n",
        "      page: {type: relation, to: page}\n" + relations,
    )
    write_files(
        repo,
        {
            "vellum.yml": config,
            "memos/open.json": '{"status": "published"}\n',
            "memos/hush.json": '{"status": "draft"}\n',
            "notes/hint.json": '{"name": "Hint", "memo": "hush", "memos": ["open", "hush"]}\n',
        },
    )
    commit(repo, "Memos, left out of GraphQL")
    services = app.extensions["vellum"]
    services.catalog()  # reloads vellum.yml
    services.sync()
    query = '{ note(id: "hint") { memo memos } }'
    for reader in readers:
        assert gql(reader, query)["data"]["note"] == {"memo": None, "memos": ["open"]}
    assert gql(editor, query)["data"]["note"] == {"memo": "hush", "memos": ["open", "hush"]}


# -- a draft is as absent as a missing id, on every verb ------------------------------------
REST_VERBS = [
    ("GET", "/api/page/{id}", None),
    ("GET", "/api/page/{id}?populate=*", None),
    ("PUT", "/api/page/{id}", {"title": "x"}),
    ("PATCH", "/api/page/{id}", {}),
    ("DELETE", "/api/page/{id}", None),
    ("GET", "/api/page/{id}/versions", None),
    ("GET", "/api/page/{id}/versions/{sha}", None),
    ("GET", "/api/page/{id}/diff?from={sha}&to={sha}", None),
    ("POST", "/api/page/{id}/restore", {"version": "{sha}"}),
    ("GET", "/api/content/{id}", None),
    ("GET", "/api/content/{id}?type=page", None),
    ("PUT", "/api/content/{id}", {"title": "x"}),
    ("PATCH", "/api/content/{id}", {}),
    ("DELETE", "/api/content/{id}", None),
]
GRAPHQL_VERBS = [
    '{{ page(id: "{id}") {{ id title }} }}',
    '{{ content(id: "{id}") {{ id title }} }}',
    '{{ content(id: "{id}", type: "page") {{ id }} }}',
    'mutation {{ updatePage(id: "{id}", data: {{}}) {{ id title }} }}',
    'mutation {{ deletePage(id: "{id}") }}',
    'mutation {{ updateContent(id: "{id}", input: {{}}) {{ id title }} }}',
    'mutation {{ deleteContent(id: "{id}") }}',
]


def _same_as_missing(ask) -> int:
    """ask(id) answers the draft's id exactly as a missing id (the id aside); its status."""
    draft, missing = ask(DRAFT), ask(MISSING)
    assert draft.status_code == missing.status_code, (draft.get_json(), missing.get_json())
    assert draft.get_data(as_text=True).replace(DRAFT, MISSING) == missing.get_data(as_text=True)
    return draft.status_code


def _rest(client, method: str, path: str, body: dict | None, sha: str):
    """A REST call on an id, with the version sha filled in."""
    if body is not None:
        body = {k: v.format(sha=sha) if isinstance(v, str) else v for k, v in body.items()}
    return lambda ident: client.open(path.format(id=ident, sha=sha), method=method, json=body)


def _graphql(client, query: str):
    """A GraphQL operation on an id."""
    return lambda ident: client.post("/graphql", json={"query": query.format(id=ident)})


def test_every_verb_answers_a_reader_as_for_a_missing_id(app, repo, readers):
    head = git(repo, "rev-parse", "HEAD")
    sha = head[:12]
    for client in readers:
        for method, path, body in REST_VERBS:
            _same_as_missing(_rest(client, method, path, body, sha))
        for query in GRAPHQL_VERBS:
            _same_as_missing(_graphql(client, query))
    anonymous, reader = readers
    assert _same_as_missing(_rest(anonymous, "GET", "/api/page/{id}", None, sha)) == 404
    assert _same_as_missing(_rest(reader, "GET", "/api/content/{id}", None, sha)) == 404
    assert _same_as_missing(_rest(reader, "PATCH", "/api/page/{id}", {}, sha)) == 403
    assert git(repo, "rev-parse", "HEAD") == head  # nothing was written


# -- write implies read:drafts -----------------------------------------------------------
def test_a_write_key_reads_back_the_draft_it_writes(app, repo):
    """The README's own key (`--scope read --scope write`) reads what it writes."""
    writer = key_client(app, "read", "write")
    made = writer.post("/api/page", json={"title": "Fresh draft", "parent": DRAFT})
    assert made.status_code == 201 and made.get_json()["data"]["parent"] == DRAFT
    assert writer.get("/api/page/fresh-draft").get_json()["data"]["title"] == "Fresh draft"
    assert DRAFT in [r["id"] for r in writer.get("/api/page").get_json()["data"]]
    assert writer.get(f"/api/page/{DRAFT}/versions").status_code == 200
    # A draft's answers to writes are its own: PATCH {} changes nothing and shows it.
    head = git(repo, "rev-parse", "HEAD")
    patched = writer.patch(f"/api/page/{DRAFT}", json={})
    assert patched.get_json()["data"]["body"] == "Unveiling on Monday."
    assert git(repo, "rev-parse", "HEAD") == head
    shown = gql(writer, f'mutation {{ updatePage(id: "{DRAFT}", data: {{}}) {{ title }} }}')
    assert shown["data"]["updatePage"]["title"] == "Unveiling plan"
    only_write = key_client(app, "write")  # write alone still reads no published lists
    assert only_write.get("/api/page").status_code == 403
    assert only_write.patch(f"/api/page/{DRAFT}", json={}).status_code == 200


def test_write_implies_read_drafts_for_users_and_oauth_tokens(app):
    state = app.extensions["vellum"].state
    client, secret = oauth.create_client(state, "builder", ["read", "write"])
    token = app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read write"},
        headers={"Authorization": _basic(client.id, secret)},
    )
    assert token.status_code == 200, token.get_json()
    access = token.get_json()["access_token"]
    seen = app.test_client().get(
        f"/api/page/{DRAFT}", headers={"Authorization": f"Bearer {access}"}
    )
    assert seen.status_code == 200
    # A client registered with write may be granted read:drafts, which write implies.
    asked = app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read:drafts"},
        headers={"Authorization": _basic(client.id, secret)},
    )
    assert asked.status_code == 200, asked.get_json()
    for role, scopes in users.ROLES.items():
        assert "write" not in scopes or "read:drafts" in scopes, role


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- GraphQL scope errors: one rule for both mutation families ------------------------------
@pytest.mark.parametrize(
    "mutation",
    [
        'mutation { createPage(data: {title: "X"}) { id } }',
        'mutation { createContent(input: {type: "page", title: "X"}) { id } }',
        'mutation { updatePage(id: "home", data: {title: "X"}) { id } }',
        'mutation { updateContent(id: "home", input: {title: "X"}) { id } }',
        'mutation { deletePage(id: "home") }',
        'mutation { deleteContent(id: "home") }',
    ],
)
def test_a_mutation_without_write_is_refused_like_rest(app, repo, mutation):
    head = git(repo, "rev-parse", "HEAD")
    # Refused before it runs: a request error, so no `data` at all (GraphQL spec, 7.1.2).
    denied = gql(app.test_client(), mutation, status=401)
    assert denied.get("data") is None
    assert denied["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
    forbidden = gql(key_client(app, "read", "read:drafts"), mutation, status=403)
    assert forbidden.get("data") is None
    assert forbidden["errors"][0]["extensions"] == {"code": "FORBIDDEN", "details": []}
    assert git(repo, "rev-parse", "HEAD") == head


def test_a_refused_content_write_answers_its_rest_status(app):
    writer = key_client(app, "read", "write")
    taken = gql(
        writer,
        'mutation { createContent(input: {type: "page", id: "home", title: "H"}) { id } }',
        409,
    )
    assert taken["errors"][0]["extensions"]["code"] == "CONFLICT"
    invalid = gql(
        writer, 'mutation { updateContent(id: "home", input: {status: "gone"}) { id } }', 422
    )
    assert invalid["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"
    missing = gql(writer, f'mutation {{ deleteContent(id: "{MISSING}") }}', 404)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


# -- events and webhooks -------------------------------------------------------------------
def _link_home_to_the_draft(app, repo) -> Event:
    """Start the cursor, then commit a published page that now points at the draft."""
    services = app.extensions["vellum"]
    outbox.process_head(services)
    marker = Event("custom.start", {}, key="c")
    outbox.emit(services.state, [marker])
    home = repo / "pages/home.md"
    home.write_text(
        home.read_text().replace("status: published\n", f"status: published\nparent: {DRAFT}\n")
    )
    write_files(repo, {"notes/tip.json": f'{{"name": "Tip", "page": "{DRAFT}"}}\n'})
    commit(repo, "Point home and a tip at the plan")
    services.sync()
    outbox.process_head(services)
    return marker


def test_the_event_stream_shows_readers_relations_as_rest_does(app, repo, readers, editor):
    marker = _link_home_to_the_draft(app, repo)
    headers = {"Last-Event-ID": marker.id}
    for reader in readers:
        frames = read_frames(reader.get("/api/events/stream", headers=headers, buffered=False), 3)
        assert [f["event"] for f in frames] == ["commit", "content.created", "content.updated"]
        created, updated = (orjson.loads(f["data"])["data"] for f in frames[1:])
        assert (created["id"], created["page"]) == ("tip", None)
        assert (updated["id"], updated["parent"], updated["changes"]) == (
            "home",
            None,
            {"parent": None},
        )
        for frame in frames:
            hidden(frame["data"])
    frames = read_frames(editor.get("/api/events/stream", headers=headers, buffered=False), 3)
    updated = orjson.loads(frames[2]["data"])["data"]
    assert (updated["parent"], updated["changes"]) == (DRAFT, {"parent": DRAFT})


def test_webhooks_receive_what_readers_of_drafts_see(repo, tmp_path):
    """A webhook endpoint is set up by an admin or a writer, who may read drafts: it gets
    drafts' events and whole relations, as a reader of drafts does on the stream."""
    with Receiver() as receiver:
        yml = repo / "vellum.yml"
        yml.write_text(
            yml.read_text() + f"webhooks:\n  - url: {receiver.url}\n    events: ['content.*']\n"
        )
        commit(repo, "Add a webhook")
        application = build_app(repo, tmp_path / "hook-state", ALLOW_PRIVATE_WEBHOOKS=True)
        services = application.extensions["vellum"]
        try:
            _link_home_to_the_draft(application, repo)
            draft = repo / f"pages/{DRAFT}.md"
            draft.write_text(draft.read_text().replace("Monday", "Friday"))
            commit(repo, "Move the plan")
            services.sync()
            outbox.process_head(services)
            with Dispatcher(services, interval=0.05):
                found = receiver.wait_for(lambda evs: len(evs) == 3)
        finally:
            services.close()
    by_id = {e["data"]["id"]: e for e in found}
    assert by_id["home"]["data"]["parent"] == DRAFT
    assert by_id["tip"]["data"]["page"] == DRAFT
    assert by_id[DRAFT]["data"]["body"] == "Unveiling on Friday."
