"""The site lease on PostgreSQL: one live process of all machines runs the site's duties,
another takes over when it dies, and one whose connection is cut stops at once."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from tests.helpers import authorised_client, build_app, commit, git, write_files
from tests.servers import running_live
from tests.test_health import series
from vellum.auth import keys
from vellum.live.duties import SiteDuties, process_alone
from vellum.live.lease import LOCK_KEYS, FileLease, PgLease, lease_status
from vellum.store import outbox

TAKEOVER = 10.0


def wait_until(predicate, timeout: float = 15.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.05)
    return found


def holder_pid(url: str, tmp_path: Path) -> int | None:
    holder = lease_status(url, tmp_path)["holder"]
    return holder["pid"] if holder else None


def test_one_of_two_machines_holds_the_site_lease_and_the_other_takes_over_after_kill_9(
    query_repo, shared_state, tmp_path
):
    url = shared_state
    with (
        running_live(query_repo, tmp_path / "a", tmp_path / "a.log", url) as a,
        running_live(query_repo, tmp_path / "b", tmp_path / "b.log", url) as b,
    ):
        status = wait_until(
            lambda: (s := lease_status(url, tmp_path))["holder"] and len(s["waiting"]) == 1 and s,
            what="one holder and one machine waiting",
        )
        holder, waiting = status["holder"]["pid"], status["waiting"][0]["pid"]
        assert {holder, waiting} == {a.pid, b.pid}
        held = postgres_locks(url)
        assert held == 1  # exactly one advisory lock granted, however often both try
        # What /api/_status and /metrics of any machine say.
        application = build_app(query_repo, tmp_path / "web")
        live = authorised_client(application).get("/api/_status").get_json()["data"]["live"]
        assert live["kind"] == "postgresql" and live["holder"]["pid"] == holder
        assert [w["pid"] for w in live["waiting"]] == [waiting]
        _, admin = keys.create_key(application.extensions["vellum"].state, "a", ["admin"])
        scraped = application.test_client().get(
            "/metrics", headers={"Authorization": f"Bearer {admin}"}
        )
        text = scraped.get_data(as_text=True)
        host = live["holder"]["host"]
        assert series(text, "vellum_site_lease_holder", kind="postgresql", host=host, pid=holder)
        assert series(text, "vellum_site_lease_waiting") == 1
        application.extensions["vellum"].close()

        os.kill(holder, signal.SIGKILL)
        started = time.monotonic()
        wait_until(lambda: holder_pid(url, tmp_path) == waiting, TAKEOVER, "the takeover")
        assert time.monotonic() - started < TAKEOVER
        assert lease_status(url, tmp_path)["waiting"] == []


def postgres_locks(url: str) -> int:
    """Grants of the site lease's advisory lock in the site's database (a state-store
    transaction's own short advisory locks, taken meanwhile, are not the lease)."""
    lease = PgLease(url)
    try:
        row = lease._one(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
            " AND l.classid = %s AND l.objid = %s AND l.objsubid = 2",
            LOCK_KEYS,
        )
        return row[0]
    finally:
        lease.release()


def test_a_holder_whose_connection_is_cut_stops_the_sites_duties(
    shared_state, app, postgres, tmp_path
):
    vellum = app.extensions["vellum"]
    other = PgLease(shared_state)  # another machine, waiting
    with SiteDuties(vellum, PgLease(shared_state)) as duties:
        duties.tick()
        assert duties.held and duties.dispatcher is not None
        dispatcher = duties.dispatcher
        assert not other.try_acquire()
        database = shared_state.rsplit("/", 1)[1]
        postgres.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
            " AND granted",
            database,
        )
        duties.tick()  # the next poll: the lease is gone, and so are the duties
        assert not duties.held and duties.dispatcher is None
        assert not dispatcher._thread.is_alive()
        assert duties.process_commits() == 0
        wait_until(other.try_acquire, TAKEOVER, "the other machine taking over")
        duties.tick()
        assert not duties.held  # and this one waits
        other.release()  # the server frees the lock as the session ends, a moment later
        wait_until(lambda: duties.tick() or duties.held, TAKEOVER, "taking it back")
    other.release()


def test_the_commit_processor_waits_for_a_clone_behind_the_shared_cursor(
    shared_state, app, query_repo, tmp_path
):
    vellum = app.extensions["vellum"]
    outbox.take_cursor(vellum)
    # Another machine's clone is ahead: it made a commit and processed it.
    ahead = tmp_path / "ahead"
    git(tmp_path, "clone", "-q", str(query_repo), str(ahead))
    git(ahead, "config", "user.email", "b@example.org")
    git(ahead, "config", "user.name", "B")
    write_files(ahead, {"people/zed.json": '{"name": "Zed"}\n'})
    theirs = commit(ahead, "Add zed")
    with vellum.state.transaction() as db:
        outbox.set_cursor(db, outbox.HEAD_CURSOR, theirs)
    before = outbox.last_seq(vellum.state)
    with SiteDuties(vellum, PgLease(shared_state)) as duties:
        duties.tick()
        assert duties.held
        assert duties.process_commits() == 0  # not in this clone: wait for the pull
        git(query_repo, "fetch", "-q", str(ahead), "HEAD")
        assert duties.process_commits() == 0  # fetched, but the head is behind it still
        assert outbox.get_cursor(vellum.state) == theirs
        git(query_repo, "merge", "-q", "--ff-only", "FETCH_HEAD")
        assert duties.process_commits() == 0  # caught up: nothing is news twice
        write_files(query_repo, {"people/amy.json": '{"name": "Amy"}\n'})
        ours = commit(query_repo, "Add amy")
        assert duties.process_commits() > 0
    rows = outbox.since(vellum.state, before, 100)
    commits = [r["payload"] for r in rows if r["name"] == "commit"]
    assert len(commits) == 1 and ours in commits[0] and theirs not in commits[0]
    # Where no lease is held (a git hook, a pull), the holder's watcher does it instead.
    write_files(query_repo, {"people/bob.json": '{"name": "Bob"}\n'})
    commit(query_repo, "Add bob")
    assert process_alone(vellum) == 0


def test_with_the_state_file_the_status_names_the_process_holding_live_lock(app, tmp_path):
    vellum = app.extensions["vellum"]
    with FileLease(vellum.state_dir / "live.lock") as local:
        assert local.try_acquire()
        live = authorised_client(app).get("/api/_status").get_json()["data"]["live"]
    assert live == {
        "kind": "file",
        "holder": {"host": socket.gethostname(), "pid": os.getpid()},
        "waiting": [],
        "here": "holder",
    }
    reader = authorised_client(app, scopes=("read",))
    shown = reader.get("/api/_status").get_json()["data"]["live"]
    assert shown == {"kind": "file", "held": False, "waiting": 0, "here": None}


def test_a_live_process_whose_lease_connection_is_cut_stops_and_one_holder_remains(
    query_repo, shared_state, postgres, tmp_path
):
    url, database = shared_state, shared_state.rsplit("/", 1)[1]
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    with (
        running_live(query_repo, tmp_path / "a", logs["a"], url) as a,
        running_live(query_repo, tmp_path / "b", logs["b"], url) as b,
    ):
        status = wait_until(
            lambda: (s := lease_status(url, tmp_path))["holder"] and len(s["waiting"]) == 1 and s,
            what="one holder and one machine waiting",
        )
        holder = status["holder"]["pid"]
        log = logs["a"] if holder == a.pid else logs["b"]
        postgres.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
            " AND granted",
            database,
        )
        wait_until(lambda: "the site lease was lost" in log.read_text(), TAKEOVER, "stopping")
        again = wait_until(
            lambda: (s := lease_status(url, tmp_path))["holder"] and len(s["waiting"]) == 1 and s,
            TAKEOVER,
            "a holder again",
        )
        assert again["holder"]["pid"] in (a.pid, b.pid)
        assert postgres_locks(url) == 1
        assert a.poll() is None and b.poll() is None  # both still run their machines' duties
