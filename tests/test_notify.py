"""NOTIFY after outbox writes, LISTEN per process: a waiting event stream and the webhook
dispatcher learn of events another process wrote at once, not at their next poll."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request

from tests.bench.procs import children
from tests.helpers import ROOT, build_app, commit, write_files
from tests.receiver import Receiver
from tests.servers import call, running_server
from tests.test_lease import wait_until
from tests.test_webhooks import SECRET, add_webhook
from vellum.api.fanout import Fanout
from vellum.live.duties import SiteDuties
from vellum.live.lease import PgLease, lease_status
from vellum.store import notify, outbox, pg
from vellum.store.events import Event
from vellum.store.state import StateStore

LONG_POLL = 120.0  # so long that only a notification explains an arrival within a test


def emit_elsewhere(site, state, name: str) -> None:
    """`vellum events emit` in a process of its own, as another machine's API would."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VELLUM_STATE_DIR": str(state)}
    command = [sys.executable, "-m", "vellum.cli.main", "--site", str(site)]
    subprocess.run([*command, "events", "emit", name], env=env, check=True, capture_output=True)


def test_a_notification_wakes_a_listener_in_another_process(shared_state, query_repo, tmp_path):
    woken = threading.Event()
    with notify.Listener(shared_state, woken.set) as listener:
        assert listener.listening.wait(10)
        woken.clear()
        emit_elsewhere(query_repo, tmp_path / "state", "custom.hello")
        assert woken.wait(10)


def test_a_listener_whose_connection_is_cut_listens_again(shared_state, postgres):
    woken = threading.Event()
    database = shared_state.rsplit("/", 1)[1]
    backends = "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'vellum listen %'"
    with notify.Listener(shared_state, woken.set) as listener:
        assert listener.listening.wait(10)
        cut = postgres.sql(backends, database)
        postgres.sql(f"SELECT pg_terminate_backend({cut})", database)
        wait_until(lambda: postgres.sql(backends, database) not in ("", cut), what="again")
        assert listener.listening.wait(10)
        woken.clear()
        notify.events_written(shared_state)
        assert woken.wait(10)


def test_a_waiting_stream_gets_an_event_another_process_wrote_before_the_next_poll(
    shared_state, query_repo, tmp_path
):
    state = StateStore(tmp_path / "state")
    fanout = Fanout(state, poll=LONG_POLL)
    try:
        done = fanout.watch()
        outbox.emit(state, [Event("custom.first", {}, key="k")])
        first = fanout.wait(0, timeout=10)
        assert [r["name"] for r in first] == ["custom.first"]  # the poller waits its poll now
        assert fanout.listener is not None and fanout.listener.listening.wait(10)
        emit_elsewhere(query_repo, tmp_path / "state", "custom.second")
        rows = fanout.wait(first[-1]["seq"], timeout=30)
        assert [r["name"] for r in rows] == ["custom.second"]
        fanout.stop()
        done()
    finally:
        state.close()


def test_the_dispatcher_posts_an_event_another_process_wrote_before_its_next_poll(
    shared_state, query_repo, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("VELLUM_ALLOW_PRIVATE_WEBHOOKS", "1")
    with Receiver() as receiver:
        add_webhook(query_repo, receiver.url)
        application = build_app(query_repo, tmp_path / "state")
        vellum = application.extensions["vellum"]
        try:
            with SiteDuties(vellum, PgLease(shared_state), dispatch_every=LONG_POLL) as duties:
                duties.tick()
                receiver.wait_for(lambda evs: [e["event"] for e in evs] == ["system.started"])
                time.sleep(0.5)  # its cycle is over: it waits for its poll, or to be woken
                emit_elsewhere(query_repo, tmp_path / "state", "custom.elsewhere")
                receiver.wait_for(lambda evs: "custom.elsewhere" in [e["event"] for e in evs])
        finally:
            vellum.close()


def test_a_server_on_shared_state_streams_a_commits_events_and_holds_the_lease(
    shared_state, query_repo, tmp_path
):
    """gevent workers listen (a greenlet on the connection), the live process holds the
    site lease: a commit reaches an open stream, and the status names the holder."""
    with running_server(query_repo, tmp_path / "state", tmp_path / "serve.log", workers=2) as (
        base,
        proc,
    ):
        holder = wait_until(lambda: lease_status(shared_state, tmp_path)["holder"])
        assert holder["pid"] in children(proc.pid)
        with urllib.request.urlopen(f"{base}/api/events/stream", timeout=20) as stream:
            stream.readline()  # connected
            workers = set(children(proc.pid))
            wait_until(lambda: listening_pids(shared_state) & workers, what="a worker listening")
            write_files(query_repo, {"people/ann.json": '{"name": "Ann"}\n'})
            sha = commit(query_repo, "Add Ann")
            deadline = time.monotonic() + 20
            while sha.encode() not in stream.readline():
                assert time.monotonic() < deadline, "the commit's event never came"
        assert call("GET", f"{base}/api/person/ann")[0] == 200


def listening_pids(url: str) -> set[int]:
    """The processes with a LISTEN connection on the shared state."""
    rows = pg.shared(url, "status").execute("SELECT application_name FROM pg_stat_activity")
    found = [pg.parse_application_name(name) for (name,) in rows]
    return {who["pid"] for role, who in filter(None, found) if role == "listen"}
