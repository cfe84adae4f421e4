"""Webhooks: signed deliveries to a real receiver, retries, order, dead letters, the API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import replace

import pytest
from standardwebhooks import Webhook

from tests.helpers import authorised_client, build_app, commit, git, write_files
from tests.receiver import Receiver, wait_threads_gone
from vellum.errors import Conflict
from vellum.live import deliveries
from vellum.live.delivery import sign, signing_key
from vellum.live.dispatcher import Dispatcher
from vellum.live.webhooks import get_endpoint
from vellum.services import Vellum
from vellum.site.config import load_config
from vellum.store import outbox
from vellum.store.events import Event

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
FAST = "retry: {max_attempts: 3, backoff: 0.05, max_delay: 0.2}"


def add_webhook(repo, url: str, extra: str = "") -> None:
    yml = repo / "vellum.yml"
    yml.write_text(
        yml.read_text()
        + f"webhooks:\n  - url: {url}\n    events: ['*']\n    secret: ${{HOOK_SECRET}}\n"
        + f"    {FAST}\n{extra}"
    )
    commit(repo, "Add a webhook")


@pytest.fixture(autouse=True)
def _no_stray_threads():
    before = set(threading.enumerate())
    yield
    wait_threads_gone(before)


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def services(query_repo, tmp_path, receiver, monkeypatch):
    """The query site with one webhook to the receiver; its cursor at the current HEAD."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    add_webhook(query_repo, receiver.url)
    config = {"SITE": str(query_repo), "STATE_DIR": str(tmp_path / "state")}
    vellum = Vellum(load_config({**config, "ALLOW_PRIVATE_WEBHOOKS": True}))
    vellum.sync()
    outbox.process_head(vellum)
    yield vellum
    vellum.close()


def edit_alpha(repo, views: int) -> str:
    path = repo / "posts/alpha.md"
    path.write_text(path.read_text().replace(_views_line(path.read_text()), f"views: {views}"))
    return commit(repo, f"Alpha has {views} views")


def _views_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("views:"))


def test_a_commit_arrives_signed_both_ways(services, receiver, query_repo):
    sha = edit_alpha(query_repo, 11)
    outbox.process_head(services)
    with Dispatcher(services, interval=0.05):
        found = receiver.wait_for(lambda evs: len(evs) == 2)
    assert [e["event"] for e in found] == ["commit", "content.updated"]
    updated = found[1]
    assert updated["model"] == "post"
    assert updated["commit"]["sha"] == sha
    assert updated["commit"]["message"] == "Alpha has 11 views"
    assert updated["data"]["id"] == "alpha"
    assert updated["data"]["type"] == "post"
    assert updated["data"]["changes"] == {"views": 11}
    for got in receiver.received:
        assert Webhook(SECRET).verify(got.body, got.headers) == got.payload
        key = signing_key(SECRET)
        expected = "sha256=" + hmac.new(key, got.body, hashlib.sha256).hexdigest()
        assert got.headers["x-vellum-signature"] == expected
        assert got.headers["webhook-id"] == got.payload["id"]


def test_a_plain_secret_signs_with_its_utf8_bytes():
    headers = sign("plain secret", "evt_1", 1700000000, b"{}")
    digest = hmac.new(b"plain secret", b"{}", hashlib.sha256).hexdigest()
    assert headers["X-Vellum-Signature"] == f"sha256={digest}"
    signed = hmac.new(b"plain secret", b"evt_1.1700000000.{}", hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(signed).decode()


def test_created_deleted_and_media_events(services, receiver, query_repo):
    write_files(query_repo, {"people/ann.json": '{"name": "Ann"}\n', "media/a.png": "png"})
    (query_repo / "people/john.json").unlink()
    commit(query_repo, "Ann in, John out")
    outbox.process_head(services)
    with Dispatcher(services, interval=0.05):
        found = receiver.wait_for(lambda evs: len(evs) == 4)
    names = sorted(e["event"] for e in found)
    assert names == ["commit", "content.created", "content.deleted", "media.created"]
    created = next(e for e in found if e["event"] == "content.created")
    expected = {"id": "ann", "type": "person", "locale": "en", "name": "Ann", "email": None}
    assert created["data"] == expected


def test_receiver_down_then_up_gets_every_event_once_in_order(services, receiver, query_repo):
    receiver.down()
    shas = [edit_alpha(query_repo, n) for n in (21, 22, 23)]
    outbox.process_head(services)
    services.site.settings["webhooks"][0]["retry"] = {"max_attempts": 50, "backoff": 0.05}
    with Dispatcher(services, interval=0.05):
        threading.Event().wait(0.5)  # a few failed attempts while it is down
        receiver.up()
        found = receiver.wait_for(lambda evs: len(evs) == 6)
    ids = [e["id"] for e in found]
    assert len(set(ids)) == 6
    updates = [e for e in found if e["event"] == "content.updated"]
    assert [e["data"]["views"] for e in updates] == [21, 22, 23]
    assert [e["commit"]["sha"] for e in updates] == shas
    attempts = deliveries.attempts_log(services.state, _endpoint_id(services))
    assert any(a["error"] and "Connection" in a["error"] for a in attempts)


def test_non_2xx_is_retried_then_dead_lettered(services, receiver, query_repo):
    receiver.status = 500
    edit_alpha(query_repo, 31)
    outbox.process_head(services)
    with Dispatcher(services, interval=0.05) as dispatcher:
        _wait(lambda: _states(services) == {"dead": 2}, dispatcher)
    assert receiver.attempts == 6  # two events, max_attempts 3
    log = deliveries.attempts_log(services.state, _endpoint_id(services))
    assert {a["statusCode"] for a in log} == {500}
    assert sorted({a["attempt"] for a in log}) == [1, 2, 3]
    receiver.status = 200
    event_id = log[0]["eventId"]
    endpoint = get_endpoint(services, _endpoint_id(services))
    deliveries.redeliver(services.state, endpoint, event_id)
    with Dispatcher(services, interval=0.05):
        found = receiver.wait_for(lambda evs: len(evs) == 1)
    assert found[0]["id"] == event_id
    # An event the endpoint does not take is not sent to it by hand either.
    other = Event("custom.other", {}, key="other")
    outbox.emit(services.state, [other])
    narrow = replace(endpoint, events=["content.updated"])
    with pytest.raises(Conflict, match="does not take custom.other events"):
        deliveries.redeliver(services.state, narrow, other.id)


def test_deliveries_to_an_endpoint_share_one_connection_closed_on_stop(
    services, receiver, query_repo
):
    for views in (71, 72, 73):
        edit_alpha(query_repo, views)
    outbox.process_head(services)
    with Dispatcher(services, interval=0.05):
        receiver.wait_for(lambda evs: len(evs) == 6)
        assert receiver.open_connections() == 1
    assert receiver.connections == 1
    _wait(lambda: receiver.open_connections() == 0)


def test_a_host_name_resolving_to_loopback_is_refused_without_the_setting(
    query_repo, tmp_path, receiver, monkeypatch
):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.delenv("VELLUM_ALLOW_PRIVATE_WEBHOOKS", raising=False)
    add_webhook(query_repo, f"http://localhost:{receiver.port}/hook")
    config = {"SITE": str(query_repo), "STATE_DIR": str(tmp_path / "state")}
    vellum = Vellum(load_config(config))
    vellum.sync()
    outbox.process_head(vellum)
    edit_alpha(query_repo, 81)
    outbox.process_head(vellum)
    with Dispatcher(vellum, interval=0.05) as dispatcher:
        _wait(lambda: _states(vellum) == {"dead": 2}, dispatcher)
    assert receiver.connections == 0
    log = deliveries.attempts_log(vellum.state, _endpoint_id(vellum))
    assert len(log) == 6
    for attempt in log:
        assert attempt["error"].startswith("PrivateTarget: localhost resolves to ")
        assert attempt["error"].endswith("(set VELLUM_ALLOW_PRIVATE_WEBHOOKS=1 to allow)")
    vellum.close()


def test_private_targets_are_refused_without_the_setting(query_repo, tmp_path):
    application = build_app(query_repo, tmp_path / "state")
    admin = authorised_client(application, ["read", "read:drafts", "write", "admin"])
    response = admin.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert response.status_code == 422
    assert "private address" in response.get_json()["error"]["details"][0]["message"]
    response = admin.post("/api/webhooks", json={"url": "http://169.254.169.254/latest"})
    assert response.status_code == 422
    application.extensions["vellum"].close()
    allowed = build_app(query_repo, tmp_path / "state", ALLOW_PRIVATE_WEBHOOKS=True)
    admin = authorised_client(allowed, ["read", "read:drafts", "write", "admin"])
    assert admin.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook"}).status_code == 201
    allowed.extensions["vellum"].close()


def test_webhooks_api_lists_both_kinds_and_never_a_secret(services, query_repo, tmp_path):
    application = build_app(query_repo, tmp_path / "state", ALLOW_PRIVATE_WEBHOOKS=True)
    admin = authorised_client(application, ["read", "read:drafts", "write", "admin"])
    spec = {"url": "http://127.0.0.1:9/x", "events": ["create"], "models": ["post"]}
    created = admin.post("/api/webhooks", json={**spec, "secret": "s3cret"})
    assert created.status_code == 201
    hook_id = created.get_json()["data"]["id"]
    listed = admin.get("/api/webhooks").get_json()["data"]
    assert [h["source"] for h in listed] == ["site", "api"]
    assert "s3cret" not in admin.get("/api/webhooks").get_data(as_text=True)
    assert all("secret" not in h for h in listed)
    patched = admin.patch(f"/api/webhooks/{hook_id}", json={"events": ["content.*"]})
    assert patched.get_json()["data"]["events"] == ["content.*"]
    bad = admin.patch(f"/api/webhooks/{hook_id}", json={"events": ["nonsense"]})
    assert bad.status_code == 422
    site_id = listed[0]["id"]
    assert admin.delete(f"/api/webhooks/{site_id}").status_code == 422
    assert admin.get(f"/api/webhooks/{hook_id}/deliveries").get_json()["data"] == []
    assert admin.delete(f"/api/webhooks/{hook_id}").status_code == 204
    assert admin.get(f"/api/webhooks/{hook_id}").status_code == 404
    reader = authorised_client(application)
    assert reader.get("/api/webhooks").status_code == 403
    application.extensions["vellum"].close()


def test_filters_by_event_and_model(services, receiver, query_repo):
    yml = query_repo / "vellum.yml"
    yml.write_text(
        yml.read_text().replace("events: ['*']", "events: [create]\n    models: [person]")
    )
    commit(query_repo, "Only new people")
    outbox.process_head(services)
    services.site.settings["webhooks"][0].update(events=["create"], models=["person"])
    write_files(query_repo, {"people/ann.json": '{"name": "Ann"}\n', "posts/new.md": "---\n"})
    edit_alpha(query_repo, 41)
    outbox.process_head(services)
    with Dispatcher(services, interval=0.05) as dispatcher:
        found = receiver.wait_for(lambda evs: len(evs) == 1)
        _wait(lambda: not deliveries.due(services.state, _endpoint_id(services), 1e12), dispatcher)
    assert [(e["event"], e["data"]["id"]) for e in receiver.events()] == [
        ("content.created", "ann")
    ]
    assert found


def _endpoint_id(services) -> str:
    from vellum.live.webhooks import site_endpoints

    return site_endpoints(services.site)[0].id


def _states(services) -> dict:
    rows = services.state.query("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state")
    return {r["state"]: r["n"] for r in rows}


def _wait(predicate, dispatcher=None, timeout: float = 15.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        if dispatcher is not None:
            dispatcher.wake()
        done.wait(0.02)
    raise AssertionError("timed out")


def test_cli_webhooks_commands(services, receiver, query_repo, tmp_path, runner, monkeypatch):
    from vellum.cli.main import cli

    monkeypatch.setenv("VELLUM_ALLOW_PRIVATE_WEBHOOKS", "1")
    env = {"VELLUM_STATE_DIR": str(tmp_path / "state")}
    site = ["--site", str(query_repo), "webhooks"]
    added = runner.invoke(cli, [*site, "add", receiver.url, "--event", "commit", "--json"], env=env)
    assert added.exit_code == 0, added.output
    hook_id = json.loads(added.output)["data"]["id"]
    listed = runner.invoke(cli, [*site, "list"], env=env).output.splitlines()
    assert [line.split("\t")[1] for line in listed] == ["site", "api"]
    tested = runner.invoke(cli, [*site, "test", hook_id], env=env)
    assert tested.exit_code == 0 and tested.output.startswith("200")
    assert receiver.events()[0]["event"] == "ping"
    edit_alpha(query_repo, 51)
    outbox.process_head(services)
    with Dispatcher(services, interval=0.05):
        receiver.wait_for(lambda evs: len(evs) == 4)  # ping, then commit twice, the update once
    log = runner.invoke(cli, [*site, "deliveries", hook_id, "--json"], env=env)
    event_id = json.loads(log.output)["data"][0]["eventId"]
    again = runner.invoke(cli, [*site, "redeliver", hook_id, event_id], env=env)
    assert again.exit_code == 0, again.output
    with Dispatcher(services, interval=0.05):
        found = receiver.wait_for(lambda evs: len(evs) == 5)
    assert found[-1]["id"] == event_id
    removed = runner.invoke(cli, [*site, "remove", hook_id], env=env)
    assert removed.exit_code == 0
    assert len(runner.invoke(cli, [*site, "list"], env=env).output.splitlines()) == 1


def test_an_unset_secret_variable_never_sends_unsigned(services, receiver, query_repo, monkeypatch):
    monkeypatch.delenv("HOOK_SECRET")
    edit_alpha(query_repo, 61)
    outbox.process_head(services)
    with Dispatcher(services, interval=0.05) as dispatcher:
        _wait(lambda: _states(services) == {"dead": 2}, dispatcher)
    assert receiver.attempts == 0
    log = deliveries.attempts_log(services.state, _endpoint_id(services))
    assert log[0]["error"] == "the secret's variable HOOK_SECRET is not set"


# -- odd commits never hold back the ones after them -------------------------------------
# Characters Python's str.splitlines() takes for line ends, though Git does not.
LINE_ENDS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def add_person(repo, name: str, message: str | None = None) -> str:
    write_files(repo, {f"people/{name}.json": f'{{"name": "{name.title()}"}}\n'})
    return commit(repo, message or f"Add {name}")


def test_messages_holding_line_ends_arrive_as_written(services, receiver, query_repo):
    messages = [f"Odd{char}one {n}" for n, char in enumerate(LINE_ENDS)]
    shas = [add_person(query_repo, f"odd{n}", m) for n, m in enumerate(messages)]
    shas.append(add_person(query_repo, "plain"))
    outbox.process_head(services)
    with Dispatcher(services, interval=0.05):
        found = receiver.wait_for(lambda evs: len(evs) == 2 * len(shas))
    commits = [e for e in found if e["event"] == "commit"]
    assert [e["data"]["sha"] for e in commits] == shas
    assert [e["data"]["message"] for e in commits] == [*messages, "Add plain"]
    created = [e for e in found if e["event"] == "content.created"]
    assert [e["commit"]["message"] for e in created] == [*messages, "Add plain"]
    assert outbox.get_cursor(services.state) == shas[-1]


def test_a_commit_that_cannot_be_read_is_passed_over_not_retried_for_ever(
    services, receiver, query_repo, tmp_path
):
    ann = add_person(query_repo, "ann")
    bad = add_person(query_repo, "bob")
    cid = add_person(query_repo, "cid")
    # Bob's file is gone from the object store (a damaged or partial clone): that commit's
    # changes cannot be read, though Git still lists it.
    blob = git(query_repo, "rev-parse", f"{bad}:people/bob.json")
    (query_repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    # Ann's events at once; bob's commit is tried again at the next passes, then passed.
    assert outbox.process_head(services) == 2
    assert outbox.get_cursor(services.state) == ann
    for _ in range(outbox.ATTEMPTS - 1):
        outbox.process_head(services)
    assert outbox.get_cursor(services.state) == cid
    with Dispatcher(services, interval=0.05):
        found = receiver.wait_for(lambda evs: len(evs) == 5)
    commits = [e for e in found if e["event"] == "commit"]
    assert [e["data"]["sha"] for e in commits] == [ann, bad, cid]
    assert [s["path"] for s in commits[1]["data"]["skipped"]] == ["people/bob.json"]
    assert "skipped" not in commits[0]["data"] and "skipped" not in commits[2]["data"]
    created = [e["data"]["id"] for e in found if e["event"] == "content.created"]
    assert created == ["ann", "cid"]
    # /api/_status says which commit and file were passed over, and why.
    application = build_app(query_repo, tmp_path / "state")
    status = authorised_client(application).get("/api/_status").get_json()["data"]["events"]
    assert status["processed"] == cid
    [skipped] = status["skipped"]
    assert (skipped["sha"], skipped["path"]) == (bad, "people/bob.json")
    assert skipped["reason"]
    # Without read:drafts, the commit alone: the file it could not read may be a draft's.
    anonymous = application.test_client().get("/api/_status").get_json()["data"]["events"]
    assert [set(s) for s in anonymous["skipped"]] == [{"sha", "at"}]
    application.extensions["vellum"].close()


# -- vellum.yml's webhooks as they are now ---------------------------------------------
def test_a_webhook_committed_by_hand_is_listed_and_delivered_at_once(
    query_repo, tmp_path, receiver, monkeypatch
):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    config = {"SITE": str(query_repo), "STATE_DIR": str(tmp_path / "state")}
    live = Vellum(load_config({**config, "ALLOW_PRIVATE_WEBHOOKS": True}))
    live.sync()
    outbox.process_head(live)
    application = build_app(query_repo, tmp_path / "state")
    admin = authorised_client(application, ["read", "read:drafts", "write", "admin"])
    assert admin.get("/api/webhooks").get_json()["data"] == []
    # The events so far (the admin key's) have gone to the endpoints there were: none. Done
    # here, not left to the dispatcher's first pass, which could come after the commit.
    deliveries.fan_out(live.state, [])
    with Dispatcher(live, interval=0.05):
        add_webhook(query_repo, receiver.url)
        # The post-commit hook (`vellum events process`) emits the commit's events from
        # another process, before this one has looked at the files again.
        hook = Vellum(load_config(config))
        outbox.process_head(hook)
        hook.close()
        found = receiver.wait_for(lambda evs: len(evs) == 1)
    assert found[0]["event"] == "commit" and found[0]["data"]["message"] == "Add a webhook"
    assert [h["url"] for h in admin.get("/api/webhooks").get_json()["data"]] == [receiver.url]
    application.extensions["vellum"].close()
    live.close()


def test_a_wrong_webhook_entry_is_left_out_and_the_others_still_delivered(
    services, receiver, query_repo, tmp_path
):
    yml = query_repo / "vellum.yml"
    yml.write_text(yml.read_text() + "  - url: ftp://example.com/\n    events: [nonsense]\n")
    sha = commit(query_repo, "A webhook with a typo")
    outbox.process_head(services)
    with Dispatcher(services, interval=0.05):
        found = receiver.wait_for(lambda evs: len(evs) == 1)
    assert found[0]["data"]["sha"] == sha
    application = build_app(query_repo, tmp_path / "state")
    admin = authorised_client(application, ["read", "read:drafts", "write", "admin"])
    assert [h["url"] for h in admin.get("/api/webhooks").get_json()["data"]] == [receiver.url]
    invalid = admin.get("/api/_status").get_json()["data"]["invalid"]
    assert any("webhooks[1]" in p["reason"] for p in invalid)
    application.extensions["vellum"].close()


def test_a_listing_that_reads_vellum_yml_again_leaves_the_models_to_the_catalog(
    query_repo, tmp_path
):
    application = build_app(query_repo, tmp_path / "state")
    admin = authorised_client(application, ["read", "read:drafts", "write", "admin"])
    write_files(query_repo, {"notes/one.json": '{"text": "One"}\n'})
    yml = query_repo / "vellum.yml"
    model = "  note:\n    folder: notes\n    format: json\n    fields: {text: {type: string}}\n"
    yml.write_text(yml.read_text() + model)
    commit(query_repo, "A note model")
    assert admin.get("/api/webhooks").status_code == 200  # vellum.yml is read again here
    notes = admin.get("/api/note").get_json()["data"]  # and the index follows its models
    assert [n["id"] for n in notes] == ["one"]
    application.extensions["vellum"].close()
