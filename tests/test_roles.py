"""Primary and replica: a replica serves reads and sends content writes to its primary (307),
keeps state writes, pulls the remote; real apps, and real servers over a bare remote."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import pytest

from tests.helpers import authorised_client, build_app, commit, git, write_files
from tests.servers import call, running_server
from vellum.auth import keys
from vellum.cli.main import cli
from vellum.live.remote import pull
from vellum.site.config import load_config
from vellum.store.state import StateStore

PRIMARY = "http://primary.example.org:8080"
HOOK_SECRET = "push-webhook-secret"


@pytest.fixture
def bare(query_repo, tmp_path):
    """The query site as a bare remote every machine clones."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(query_repo), str(remote))
    return remote


def clone(bare, target):
    git(bare.parent, "clone", "-q", str(bare), str(target))
    git(target, "config", "user.name", "Other Writer")
    git(target, "config", "user.email", "other@example.com")
    return target


@pytest.fixture
def replica(bare, tmp_path):
    """A replica's app over its own clone, knowing the primary's URL."""
    application = build_app(
        clone(bare, tmp_path / "replica"),
        tmp_path / "replica-state",
        ROLE="replica",
        REMOTE="origin",
        PRIMARY_URL=PRIMARY + "/",
        ALLOW_PRIVATE_WEBHOOKS=True,
    )
    yield application
    application.extensions["vellum"].close()


def editor(application):
    return authorised_client(application, ("read", "read:drafts", "write", "admin"))


def assert_sent_to_primary(response, path: str) -> None:
    assert response.status_code == 307, response.get_data(as_text=True)
    assert response.headers["Location"] == PRIMARY + path
    error = response.get_json()["error"]
    assert error["code"] == "READ_ONLY_REPLICA"
    assert PRIMARY in error["message"] and "replica" in error["message"]


def test_every_content_write_on_a_replica_is_sent_to_the_primary(replica, bare):
    client = editor(replica)
    person = {"name": "Ann"}
    writes = [
        ("post", "/api/person?locale=en", {"json": {"id": "ann", **person}}),
        ("put", "/api/person/jane", {"json": person}),
        ("patch", "/api/person/jane", {"json": person}),
        ("delete", "/api/person/jane", {}),
        ("post", "/api/v1/person", {"json": {"data": {"type": "person", "attributes": person}}}),
        ("patch", "/api/v1/person/jane", {"json": person}),
        ("post", "/api/content", {"json": {"type": "person", "data": person}}),
        ("delete", "/api/content/jane", {}),
        ("post", "/api/person/jane/restore", {"json": {"version": "abcd"}}),
        ("post", "/api/upload", {"data": {"file": (b"png", "a.png")}}),
        ("delete", "/api/media/images/a.png", {}),
    ]
    for method, path, kwargs in writes:
        assert_sent_to_primary(getattr(client, method)(path, **kwargs), path)
    # Nothing was written here: the clone is as the remote left it.
    assert git(replica.extensions["vellum"].site.root, "rev-parse", "HEAD") == git(
        bare, "rev-parse", "HEAD"
    )
    assert client.get("/api/person/jane").get_json()["data"]["name"] == "Jane Doe"


def test_a_replica_sends_on_writes_before_it_checks_credentials(replica):
    """The key may be the primary's alone: the primary judges it."""
    anonymous = replica.test_client()
    wrong = {"Authorization": "Bearer vk_not_a_key_here"}
    sent = anonymous.patch("/api/person/jane", json={"name": "X"}, headers=wrong)
    assert_sent_to_primary(sent, "/api/person/jane")


def test_graphql_mutations_go_to_the_primary_and_queries_stay(replica):
    client = editor(replica)
    mutation = {"query": 'mutation { updatePerson(id: "jane", data: {name: "J"}) { id } }'}
    assert_sent_to_primary(client.post("/graphql", json=mutation), "/graphql")
    named = {
        "query": 'query Q { person(id: "jane") { name } } mutation M { deletePerson(id: "jane") }',
        "operationName": "M",
    }
    assert_sent_to_primary(client.post("/graphql", json=named), "/graphql")
    assert_sent_to_primary(
        client.post("/graphql", json=[{"query": "{ __typename }"}, mutation]), "/graphql"
    )
    query = client.post("/graphql", json={**named, "operationName": "Q"})
    assert query.status_code == 200
    assert query.get_json() == {"data": {"person": {"name": "Jane Doe"}}}
    broken = client.post("/graphql", json={"query": "mutation {"})
    assert broken.status_code == 400  # answered here: there is nothing to send on


def test_state_writes_stay_on_the_replica(replica):
    client = editor(replica)
    made = client.post("/api/keys", json={"name": "ci", "scopes": ["read"]})
    assert made.status_code == 201, made.get_json()
    secret = made.get_json()["data"]["key"]
    reader = replica.test_client()
    got = reader.get("/api/person/jane", headers={"Authorization": f"Bearer {secret}"})
    assert got.status_code == 200
    hook = client.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert hook.status_code == 201, hook.get_json()
    event = client.post("/api/events", json={"event": "custom.ping", "data": {}})
    assert event.status_code == 202, event.get_json()


def test_a_replica_without_a_primary_refuses_writes_clearly(bare, tmp_path):
    application = build_app(
        clone(bare, tmp_path / "replica"), tmp_path / "state", ROLE="replica", REMOTE="origin"
    )
    try:
        client = editor(application)
        refused = client.post("/api/person", json={"id": "ann", "name": "Ann"})
        assert refused.status_code == 503
        error = refused.get_json()["error"]
        assert error["code"] == "READ_ONLY_REPLICA"
        assert "--primary-url" in error["message"] and "VELLUM_PRIMARY_URL" in error["message"]
        assert "Location" not in refused.headers
        assert client.get("/api/person/jane").status_code == 200
    finally:
        application.extensions["vellum"].close()


def test_single_and_primary_servers_take_writes(query_repo, tmp_path):
    for role in ("single", "primary"):
        application = build_app(query_repo, tmp_path / role, ROLE=role, PRIMARY_URL=PRIMARY)
        try:
            made = editor(application).post("/api/person", json={"id": role, "name": role})
            assert made.status_code == 201, made.get_json()
        finally:
            application.extensions["vellum"].close()


def test_health_and_status_name_the_role(replica):
    client = editor(replica)
    pull(replica.extensions["vellum"], "origin")
    health = client.get("/api/_health").get_json()
    assert health["role"] == "replica"
    assert isinstance(health["lag_seconds"], float) and 0 <= health["lag_seconds"] < 60
    status = client.get("/api/_status").get_json()["data"]
    assert (status["role"], status["primary"]) == ("replica", PRIMARY)


def test_a_replica_never_pushes_its_own_commits(replica, bare):
    services = replica.extensions["vellum"]
    write_files(services.site.root, {"people/zed.json": '{"name": "Zed"}\n'})
    ours = commit(services.site.root, "Zed, by hand on the replica")
    assert pull(services, "origin") == "ahead"
    assert git(bare, "rev-parse", "HEAD") != ours


def test_the_openapi_document_names_the_307_on_writes(replica):
    doc = replica.test_client().get("/api/openapi.json").get_json()
    paths = doc["paths"]
    assert "307" in paths["/api/person"]["post"]["responses"]
    assert "307" in paths["/api/person/{record_id}"]["patch"]["responses"]
    assert "307" in paths["/api/upload"]["post"]["responses"]
    assert "307" in paths["/graphql"]["post"]["responses"]
    assert "307" not in paths["/api/person"]["get"]["responses"]
    assert "307" not in paths["/api/keys"]["post"]["responses"]
    answer = doc["components"]["responses"]["ReadOnlyReplica"]
    assert "Location" in answer["headers"]


def test_role_settings_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="--remote"):
        load_config({"ROLE": "replica"}, environ={})
    with pytest.raises(ValueError, match="VELLUM_ROLE"):
        load_config(environ={"VELLUM_ROLE": "leader"})
    with pytest.raises(ValueError, match="VELLUM_PRIMARY_URL"):
        load_config({"ROLE": "replica", "REMOTE": "o", "PRIMARY_URL": "primary:80"}, environ={})
    replica = load_config(environ={"VELLUM_ROLE": "replica", "VELLUM_REMOTE": "origin"})
    assert (replica["ROLE"], replica["POLL"]) == ("replica", 1.0)
    assert load_config(environ={})["ROLE"] == "single"


def test_serve_refuses_bad_role_combinations(runner, query_repo):
    both = runner.invoke(cli, ["serve", str(query_repo), "--primary", "--replica"])
    assert both.exit_code == 2
    assert "Choose one of --primary and --replica" in both.output
    alone = runner.invoke(cli, ["serve", str(query_repo), "--replica"], env={"VELLUM_REMOTE": None})
    assert alone.exit_code == 1
    assert "A replica needs a Git remote to pull from: give --remote" in alone.output


# -- real servers: a bare remote, a primary and a replica, each with its own clone ---------


def wait_for(predicate, timeout: float) -> float:
    """Seconds until predicate() holds; fails past timeout."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - started


def writer_key(state_dir) -> str:
    store = StateStore(state_dir)
    try:
        return keys.create_key(store, "editor", ["read", "write"])[1]
    finally:
        store.close()


def test_a_primary_and_a_replica_over_one_bare_remote(bare, tmp_path, monkeypatch):
    """A write through the primary is read on the replica within about a second; a write
    sent to the replica is redirected, and following it writes on the primary; a push hook
    makes the replica pull at once."""
    monkeypatch.setenv("VELLUM_GIT_WEBHOOK_SECRET", HOOK_SECRET)
    primary_site, replica_site = clone(bare, tmp_path / "p"), clone(bare, tmp_path / "r")
    auth = {"Authorization": f"Bearer {writer_key(tmp_path / 'p-state')}"}
    # The replica's state is its own here (SQLite): reads there use a key of its own, so
    # that waiting for a record spends no anonymous budget.
    reader = {"Authorization": f"Bearer {writer_key(tmp_path / 'r-state')}"}
    primary_args = ["--primary", "--remote", "origin"]
    with running_server(
        primary_site, tmp_path / "p-state", tmp_path / "p.log", 1, primary_args
    ) as (primary, _):
        replica_args = ["--replica", "--remote", "origin", "--primary-url", primary]
        with running_server(
            replica_site, tmp_path / "r-state", tmp_path / "r.log", 2, replica_args
        ) as (replica, _):
            read_by_polling(bare, primary, replica, auth, reader)
            write_through_the_replica(bare, primary, replica, auth)
            pull_on_the_push_hook(bare, replica, reader, tmp_path / "hook")
            health = call("GET", f"{replica}/api/_health")[2]
            assert health["role"] == "replica" and health["lag_seconds"] < 5
            status = call("GET", f"{primary}/api/_status", headers=auth)[2]["data"]
            assert status["role"] == "primary"


def read_by_polling(bare, primary: str, replica: str, auth: dict, reader: dict) -> None:
    """No hook: the primary pushes its commit, the replica fetches it within a poll."""
    created = call("POST", f"{primary}/api/person", {"id": "ann", "name": "Ann"}, auth)
    assert created[0] == 201, created[2]
    pushed = wait_for(lambda: last_subject(bare) == "Create person ann", 10)
    # The poll is 1 s; the rest is room for a loaded machine.
    seconds = wait_for(
        lambda: call("GET", f"{replica}/api/person/ann", headers=reader)[0] == 200, 4
    )
    print(f"pushed {pushed:.2f} s after the write; read on the replica {seconds:.2f} s later")
    for _ in range(6):  # whichever of its two workers answers
        assert call("GET", f"{replica}/api/person/ann", headers=reader)[0] == 200


def write_through_the_replica(bare, primary: str, replica: str, auth: dict) -> None:
    """307 to the same path and query on the primary; following it makes the write there."""
    status, headers, body = call(
        "PATCH", f"{replica}/api/person/ann?locale=en", {"name": "Ann B"}, auth
    )
    assert status == 307
    assert headers["Location"] == f"{primary}/api/person/ann?locale=en"
    assert body["error"]["code"] == "READ_ONLY_REPLICA" and primary in body["error"]["message"]
    # httpx, like curl and browsers, drops Authorization on a redirect to another origin:
    # a client that trusts both servers sends it on every hop.
    hooks = {"request": [lambda request: request.headers.update(auth)]}
    with httpx.Client(follow_redirects=True, event_hooks=hooks, timeout=20) as client:
        followed = client.patch(f"{replica}/api/person/ann", json={"name": "Ann B"})
        assert followed.status_code == 200, followed.text
        assert str(followed.url) == f"{primary}/api/person/ann"
        assert followed.json()["data"]["name"] == "Ann B"
        mutation = 'mutation { createPerson(data: {id: "bea", name: "Bea"}) { id } }'
        made = client.post(f"{replica}/graphql", json={"query": mutation})
        assert made.json() == {"data": {"createPerson": {"id": "bea"}}}
        assert str(made.url) == f"{primary}/graphql"
    wait_for(lambda: last_subject(bare) == "Create person bea", 10)


def pull_on_the_push_hook(bare, replica: str, reader: dict, workdir) -> None:
    """A commit pushed to the remote by someone else; the signed hook answers after the pull."""
    clone(bare, workdir)
    write_files(workdir, {"people/cy.json": '{"name": "Cy"}\n'})
    commit(workdir, "Cy, pushed")
    git(workdir, "push", "-q", "origin", "HEAD")
    body = b'{"ref": "refs/heads/main"}'
    digest = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    started = time.monotonic()
    pushed = httpx.post(
        f"{replica}/api/hooks/git",
        content=body,
        headers={"X-Hub-Signature-256": f"sha256={digest}"},
        timeout=20,
    )
    assert pushed.status_code == 200, pushed.text
    print(f"push hook answered, pulled and indexed, in {time.monotonic() - started:.2f} s")
    # Pulled by the hook, or by a poll just before it: either way it answers once indexed.
    assert pushed.json()["data"]["result"] in {"pulled", "up-to-date"}
    assert pushed.json()["data"]["head"] == git(bare, "rev-parse", "HEAD")
    for _ in range(4):  # whichever worker answers
        status, _, got = call("GET", f"{replica}/api/person/cy", headers=reader)
        assert status == 200 and got["data"]["name"] == "Cy"
    assert call("GET", f"{replica}/api/person/bea", headers=reader)[0] == 200


def last_subject(bare) -> str:
    return git(bare, "log", "-1", "--format=%s")


def test_the_cli_makes_no_commit_on_a_replica(runner, bare, tmp_path):
    site = clone(bare, tmp_path / "replica")
    env = {
        "VELLUM_ROLE": "replica",
        "VELLUM_REMOTE": "origin",
        "VELLUM_STATE_DIR": str(tmp_path / "s"),
    }
    head = git(site, "rev-parse", "HEAD")
    made = runner.invoke(cli, ["--site", str(site), "new", "person", "--set", "name=Ann"], env=env)
    assert made.exit_code == 1
    assert "This machine is a replica (VELLUM_ROLE=replica)" in made.output
    assert git(site, "rev-parse", "HEAD") == head
    listed = runner.invoke(cli, ["--site", str(site), "get", "person", "jane"], env=env)
    assert listed.exit_code == 0 and "Jane Doe" in listed.output
