"""Pruning the state store: old rows go, nothing a webhook consumer may still need does."""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import write_files
from vellum.auth import key_use, keys
from vellum.cli.main import cli
from vellum.errors import SiteError
from vellum.live import deliveries
from vellum.live.delivery import Outcome
from vellum.live.retention import Pruner, prune, retention_of
from vellum.live.webhooks import Endpoint
from vellum.services import Vellum
from vellum.site.config import load_config
from vellum.site.site import load_site
from vellum.store import outbox
from vellum.store.events import Event
from vellum.store.state import StateStore

DAY = 86400.0
OLD = "2026-01-01T00:00:00Z"  # far older than any default retention on the dates below
NOW = time.mktime((2026, 6, 1, 0, 0, 0, 0, 0, 0))
KEEP = {"events": 30.0, "deliveries": 30.0, "activity": 90.0}


def emit(state: StateStore, name: str, timestamp: str = OLD) -> Event:
    event = Event(name, {}, key=name, timestamp=timestamp)
    outbox.emit(state, [event])
    return event


def attempt(state: StateStore, endpoint: Endpoint, event: Event, ok: bool) -> str:
    """One delivery attempt of a due event, as the dispatcher records it."""
    row = next(r for r in deliveries.due(state, endpoint.id, time.time()) if r["id"] == event.id)
    return deliveries.record_attempt(state, endpoint, row, Outcome(ok, 200 if ok else 500, 3))


def ids(state: StateStore, table: str, column: str = "id") -> set:
    return {r[column] for r in state.query(f"SELECT {column} FROM {table}")}  # noqa: S608


def test_prune_keeps_what_a_consumer_may_still_need(tmp_path):
    state = StateStore(tmp_path)
    hook = Endpoint(
        "hook",
        "http://127.0.0.1:9/",
        ["*"],
        retry={"max_attempts": 1, "backoff": 1, "max_delay": 1},
    )
    delivered, dead, pending = emit(state, "a"), emit(state, "b"), emit(state, "c")
    recent = emit(state, "d", timestamp="2026-05-30T00:00:00Z")
    deliveries.fan_out(state, [hook])
    assert attempt(state, hook, delivered, ok=True) == "delivered"
    assert attempt(state, hook, dead, ok=False) == "dead"
    late = emit(state, "e")  # old, but not fanned out yet: the dispatcher has not seen it
    _, secret = keys.create_key(state, "k", ["read"])
    key = keys.verify_key(state, secret, "127.0.0.1")
    keys.record_use(state, key.id, "127.0.0.1", "GET", "/api", 200)
    key_use.flush(state)  # a process writes its keys' activity in batches
    with state.transaction() as db:
        db.execute("UPDATE key_activity SET at = ?", (OLD,))
        db.execute("UPDATE delivery_attempts SET at = ?", (OLD,))
    keys.record_use(state, key.id, "127.0.0.1", "GET", "/api/post", 200)
    key_use.flush(state)

    counts = prune(state, KEEP, now=NOW)

    assert counts == {"events": 2, "deliveries": 2, "activity": 1, "expired": 0}
    kept = ids(state, "events") - {
        r["id"] for r in state.query("SELECT id FROM events WHERE name LIKE 'key.%'")
    }
    assert kept == {pending.id, recent.id, late.id}
    assert {r["state"] for r in state.query("SELECT state FROM deliveries")} == {"pending"}
    assert [r["path"] for r in state.query("SELECT path FROM key_activity")] == ["/api/post"]
    assert prune(state, KEEP, now=NOW) == dict.fromkeys(counts, 0)  # nothing left to do
    # The pending delivery still goes out, and so does the event fanned out later.
    deliveries.fan_out(state, [hook])
    due = deliveries.due(state, hook.id, time.time())
    assert [r["id"] for r in due if r["name"] in {"c", "d", "e"}] == [
        pending.id,
        recent.id,
        late.id,
    ]
    state.close()


def test_zero_days_keeps_for_ever(tmp_path):
    state = StateStore(tmp_path)
    emit(state, "a")
    deliveries.fan_out(state, [])
    assert prune(state, {"events": 0, "deliveries": 0, "activity": 0}, now=NOW)["events"] == 0
    assert len(ids(state, "events")) == 1
    assert prune(state, KEEP, now=NOW)["events"] == 1
    state.close()


def test_retention_settings_are_checked(query_repo):
    assert retention_of(load_site(query_repo)) == KEEP
    config = (query_repo / "vellum.yml").read_text()
    write_files(query_repo, {"vellum.yml": config + "retention:\n  events: 7\n  activity: 0\n"})
    assert retention_of(load_site(query_repo)) == {**KEEP, "events": 7.0, "activity": 0.0}
    for bad in ("retention:\n  events: -1\n", "retention:\n  event: 7\n", "retention: 7\n"):
        write_files(query_repo, {"vellum.yml": config + bad})
        with pytest.raises(SiteError, match="retention"):
            retention_of(load_site(query_repo))


def test_the_live_pruner_and_the_cli(query_repo, tmp_path, runner, monkeypatch):
    monkeypatch.setenv("VELLUM_STATE_DIR", str(tmp_path / "state"))
    services = Vellum(load_config({"SITE": str(query_repo), "STATE_DIR": str(tmp_path / "state")}))
    emit(services.state, "old")
    deliveries.fan_out(services.state, [])
    with Pruner(services):  # prunes at once when started, then hourly
        deadline = time.monotonic() + 10
        while ids(services.state, "events") and time.monotonic() < deadline:
            time.sleep(0.05)
    assert ids(services.state, "events") == set()

    emit(services.state, "older")
    deliveries.fan_out(services.state, [])
    result = runner.invoke(cli, ["--site", str(query_repo), "prune", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"events": 1, "deliveries": 0, "activity": 0, "expired": 0}
    services.close()
