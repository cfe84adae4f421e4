"""The watcher: saves reach the API, head moves become events, noise triggers nothing."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from tests.helpers import authorised_client, build_app, commit, git, write_files
from tests.receiver import wait_threads_gone
from vellum.live.leader import run_live
from vellum.live.watcher import Watcher, ignored
from vellum.site.audience import EDITORS
from vellum.store import outbox


@pytest.fixture(autouse=True)
def _no_stray_threads():
    before = set(threading.enumerate())
    yield
    wait_threads_gone(before)


@pytest.fixture
def live_app(query_repo, tmp_path):
    """An app over the query site and a running watcher on the same state folder."""
    application = build_app(query_repo, tmp_path / "state")
    services = application.extensions["vellum"]
    outbox.process_head(services)
    woken = threading.Event()
    with Watcher(services, on_events=woken.set, interval=0.2) as watcher:
        yield application, watcher, woken
    services.close()


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out")


def stored(services, name: str) -> list[dict]:
    import orjson

    return [
        orjson.loads(r["payload"])
        for r in outbox.since(services.state, 0, 1000)
        if r["name"] == name
    ]


def test_a_saved_file_is_visible_through_the_api(live_app, query_repo):
    application, watcher, _ = live_app
    client = authorised_client(application)
    path = query_repo / "people/jane.json"
    path.write_text('{"name": "Jane Saved", "email": "jane@example.com"}\n')
    wait_until(lambda: client.get("/api/person/jane").get_json()["data"]["name"] == "Jane Saved")
    services = application.extensions["vellum"]
    previews = wait_until(lambda: stored(services, "preview"))
    assert previews[0]["data"]["path"] == "people/jane.json"
    assert previews[0]["data"]["id"] == "jane"


def test_a_commit_by_hand_becomes_events(live_app, query_repo):
    application, _, woken = live_app
    write_files(query_repo, {"people/ann.json": '{"name": "Ann"}\n'})
    sha = commit(query_repo, "Add Ann")
    assert woken.wait(10)
    services = application.extensions["vellum"]
    created = wait_until(lambda: stored(services, "content.created"))
    assert created[0]["data"]["id"] == "ann"
    assert created[0]["commit"]["sha"] == sha
    assert outbox.get_cursor(services.state) == sha


def test_a_checkout_of_many_files_is_a_few_batches(live_app, query_repo):
    application, watcher, _ = live_app
    git(query_repo, "checkout", "-q", "-b", "many")
    write_files(query_repo, {f"people/m{n:03d}.json": f'{{"name": "M {n}"}}\n' for n in range(300)})
    commit(query_repo, "Three hundred people")
    git(query_repo, "checkout", "-q", "main")
    client = authorised_client(application)
    wait_until(lambda: client.get("/api/person?limit=1").get_json()["meta"]["total"] == 2)
    before = watcher.batches
    git(query_repo, "checkout", "-q", "many")
    wait_until(lambda: client.get("/api/person?limit=1").get_json()["meta"]["total"] == 302)
    assert watcher.batches - before <= 3


def test_swap_files_and_git_internals_trigger_nothing(live_app, query_repo):
    _, watcher, _ = live_app
    time.sleep(0.3)
    before = watcher.batches
    for name in ("people/.jane.json.swp", "people/jane.json~", "people/#jane.json#", "4913"):
        (query_repo / name).write_text("x")
    subprocess.run(["git", "status"], cwd=query_repo, capture_output=True, check=True)
    time.sleep(0.5)
    assert watcher.batches == before


def test_ignored_names():
    from pathlib import Path

    assert ignored(Path(".git/index"))
    assert ignored(Path("posts/.hello.md.swp"))
    assert ignored(Path("posts/hello.md~"))
    assert not ignored(Path("posts/hello.md"))


def test_a_sync_limited_to_paths_looks_at_those_alone(app, query_repo):
    services = app.extensions["vellum"]
    write_files(query_repo, {"people/jane.json": '{"name": "J1"}\n'})
    write_files(query_repo, {"people/john.json": '{"name": "J2"}\n'})
    (query_repo / "categories/eng.json").unlink()
    report = services.sync(paths=["people/jane.json", "categories/eng.json", "notes.txt"])
    assert (report.updated, report.removed, report.unchanged) == (1, 1, 0)
    assert services.catalog().get("person", "john", None, EDITORS).data["name"] == "John Roe"
    report = services.sync()
    assert (report.updated, report.removed) == (1, 0)


def test_a_moved_folder_is_a_full_sync(live_app, query_repo):
    application, _, _ = live_app
    client = authorised_client(application)
    (query_repo / "people").rename(query_repo / "folks")
    wait_until(lambda: client.get("/api/person?limit=1").get_json()["meta"]["total"] == 0)
    (query_repo / "folks").rename(query_repo / "people")
    wait_until(lambda: client.get("/api/person?limit=1").get_json()["meta"]["total"] == 2)


def test_a_save_made_just_after_the_catch_up_sync_is_not_lost(query_repo, tmp_path):
    """The live process syncs the whole site at start, then runs its loops: a file saved
    between the two must still reach the index (the watcher observes before the sync)."""
    application = build_app(query_repo, tmp_path / "state")
    services = application.extensions["vellum"]
    catch_up = services.sync
    jane = query_repo / "people/jane.json"

    def catch_up_then_a_save(**kwargs):
        report = catch_up(**kwargs)
        if not kwargs:  # the live process's catch-up sync (the watcher's pass paths)
            jane.write_text('{"name": "Jane Meanwhile"}\n')
        return report

    services.sync = catch_up_then_a_save
    stop = threading.Event()
    live = threading.Thread(target=run_live, args=(services, stop))
    live.start()
    try:
        client = authorised_client(application)
        wait_until(
            lambda: client.get("/api/person/jane").get_json()["data"]["name"] == "Jane Meanwhile"
        )
    finally:
        stop.set()
        live.join(20)
        services.close()
