"""Event streams by the hundred on a real `vellum serve` with its defaults: every open stream
gets a commit's event, the API still answers, and a stopping server ends them all."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from tests.bench.procs import children, command_line
from tests.bench.streams import StreamClients
from tests.helpers import commit, write_files
from tests.servers import call, running_server, stop
from vellum.api.fanout import Fanout
from vellum.store import outbox
from vellum.store.events import Event
from vellum.store.state import StateStore

STREAMS = 200


def open_databases(proc) -> int:
    """State-store files the server's workers hold open (one per SQLite connection)."""
    workers = [p for p in children(proc.pid) if command_line(p) == command_line(proc.pid)]
    fds = [fd for pid in workers for fd in Path(f"/proc/{pid}/fd").iterdir()]
    return sum(os.readlink(fd).endswith("state.db") for fd in fds if fd.exists())


def test_hundreds_of_streams_on_a_default_server_all_get_a_commits_event(query_repo, tmp_path):
    log = tmp_path / "server.log"
    with running_server(query_repo, tmp_path / "state", log, workers=2) as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        clients = StreamClients("127.0.0.1", port, STREAMS)
        try:
            assert clients.open() == {200: STREAMS}  # each its own anonymous caller
            assert call("GET", f"{base}/api/post")[0] == 200  # the API answers meanwhile
            assert open_databases(proc) <= 2 * 10  # a waiting stream holds no connection
            write_files(query_repo, {"people/ann.json": '{"name": "Ann"}\n'})
            sha = commit(query_repo, "Add Ann")
            arrived = clients.wait_for(sha, time.perf_counter(), timeout=30)
            assert len(arrived) == STREAMS and None not in arrived
            # A server told to stop ends every stream with the id to resume from, at once.
            started = time.monotonic()
            stop(proc)
            assert time.monotonic() - started < 5, log.read_text()[-3000:]
            endings = [bytes(c.received).rsplit(b"\n\n", 2)[-2] for c in clients.clients]
            assert all(re.fullmatch(rb"id: [\w-]+", end) for end in endings), endings[:3]
        finally:
            clients.close()


def test_one_poller_serves_every_stream_and_a_late_one_catches_up(tmp_path):
    """Streams wait on one fan-out; one behind what it holds reads the outbox instead."""
    state = StateStore(tmp_path / "state")
    fanout = Fanout(state, poll=0.01, keep=3)
    try:
        before = outbox.last_seq(state)
        done = [fanout.watch() for _ in range(3)]
        events = [Event(f"custom.n{n}", {"n": n}, key="k") for n in range(5)]
        outbox.emit(state, events)
        seqs = [row["seq"] for row in state.query("SELECT seq FROM events ORDER BY seq")]
        deadline = time.monotonic() + 10
        rows = []
        while len(rows) < 3 and time.monotonic() < deadline:
            rows = fanout.wait(seqs[1], timeout=1) or []
        assert [r["seq"] for r in rows] == seqs[2:]  # the newest three, from memory
        assert fanout.wait(before, timeout=0) is None  # older than held: read the outbox
        fanout.stop()
        assert fanout.wait(seqs[-1], timeout=10) == []  # a stopped fan-out waits no more
        for release in done:
            release()
    finally:
        state.close()
