"""The state store on both engines: its tables and their migrations, `vellum migrate`, and
what must hold when several machines share one PostgreSQL database."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tests.servers import call, free_port, running_server
from vellum.auth import keys, oauth, users
from vellum.cli.main import cli
from vellum.errors import StateNotReady
from vellum.services import Vellum
from vellum.site.config import load_config
from vellum.store import migrate, outbox
from vellum.store.events import Event
from vellum.store.schema import metadata
from vellum.store.sql import IntegrityError, postgres_sql
from vellum.store.state import POOL, StateStore

LEGACY_SCHEMA = (Path(__file__).parent / "state_v1.sql").read_text()
PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """An empty database of each engine, as a URL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return request.getfixturevalue("postgres_url")


def legacy_state(folder: Path) -> Path:
    """A state.db as Vellum made it before migrations, holding a user, a key and an event."""
    folder.mkdir(mode=0o700, parents=True)
    db = sqlite3.connect(folder / "state.db")
    db.executescript(LEGACY_SCHEMA)
    db.execute(
        "INSERT INTO users (name, role, password_hash, created_at, updated_at)"
        " VALUES ('Ann', 'admin', 'x', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')"
    )
    db.execute(
        "INSERT INTO api_keys (id, name, key_hash, scopes, created_at)"
        " VALUES ('abc', 'ci', 'h', '[\"read\"]', '2024-01-01T00:00:00Z')"
    )
    db.execute(
        "INSERT INTO events (id, name, payload, created_at)"
        " VALUES ('evt_1', 'entry.create', '{}', '2024-01-01T00:00:00Z')"
    )
    for client in ("vc_zz", "vc_aa"):  # registered in this order, in the same second
        db.execute(
            "INSERT INTO oauth_clients (id, name, scopes, grants, created_at)"
            f" VALUES ('{client}', '{client}', '[]', '[]', '2024-01-01T00:00:00Z')"
        )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    return folder / "state.db"


def revision_of(url: str) -> str | None:
    return migrate.status(url).current


def test_placeholders_are_translated_for_postgresql_outside_literals():
    sql = "SELECT '?', 'a%b' FROM t WHERE a = ? AND b LIKE '%x' AND c = ?"
    assert postgres_sql(sql) == (
        "SELECT '?', 'a%%b' FROM t WHERE a = %s AND b LIKE '%%x' AND c = %s"
    )


def test_the_migrations_build_exactly_the_declared_tables(database):
    assert migrate.upgrade(database)[-1].startswith(f"upgraded to {migrate.head()}")
    engine = create_engine(migrate.sqlalchemy_url(database), poolclass=NullPool)
    # An index on an expression is not reflected: it is compared by name below.
    opts = {"include_object": lambda obj, name, *_: name != "users_name_lower"}
    with engine.connect() as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert compare_metadata(MigrationContext.configure(conn, opts=opts), metadata) == []
        catalog = "sqlite_master" if conn.dialect.name == "sqlite" else "pg_indexes"
        column = "name" if conn.dialect.name == "sqlite" else "indexname"
        found = conn.exec_driver_sql(f"SELECT {column} FROM {catalog}").scalars().all()
    engine.dispose()
    assert "users_name_lower" in found


def test_an_upgrade_from_the_first_revision_keeps_the_rows(database, tmp_path):
    migrate.upgrade(database, to="0001")
    assert revision_of(database) == "0001"
    folder = tmp_path / "state-folder"
    # Revision 0001 lets names differing in case in; head does not (they are one name).
    engine = create_engine(migrate.sqlalchemy_url(database), poolclass=NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO users (name, role, password_hash, created_at, updated_at)"
            " VALUES ('Ann', 'admin', 'x', 'now', 'now')"
        )
    assert migrate.upgrade(database) == [
        "upgraded to 0002: User names unique whatever their case, by a unique index on lower(name)",
        "upgraded to 0003: Applications keep the order they were registered in, on both engines",
    ]
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT name FROM users").scalars().all() == ["Ann"]
    engine.dispose()
    url = "" if database.startswith("sqlite") else database
    state = StateStore(folder if url else Path(database.removeprefix("sqlite:///")).parent, url)
    with pytest.raises(IntegrityError):
        with state.transaction() as db:
            db.execute(
                "INSERT INTO users (name, role, password_hash, created_at, updated_at)"
                " VALUES ('ann', 'viewer', 'x', 'now', 'now')"
            )
    state.close()


def test_a_state_db_from_before_migrations_is_stamped_and_upgraded_in_place(tmp_path):
    path = legacy_state(tmp_path / "state")
    before = path.stat().st_ino
    state = StateStore(tmp_path / "state")
    assert path.stat().st_ino == before  # the same file, not a new one
    assert [row["name"] for row in state.query("SELECT name FROM users")] == ["Ann"]
    assert keys.get_key(state, "abc").name == "ci"
    assert outbox.last_seq(state) == 1
    assert [client.id for client in oauth.list_clients(state)] == ["vc_zz", "vc_aa"]
    # It goes on as a state of this Vellum: the sequence continues, names stay unique.
    outbox.emit(state, [Event("entry.update", {}, key="k")])
    assert outbox.last_seq(state) == 2
    with pytest.raises(Exception, match="already exists"):
        users.create_user(state, "ANN", PASSWORD)
    state.close()
    assert revision_of(f"sqlite:///{path}") == migrate.head()


def test_a_state_from_a_newer_vellum_is_refused_untouched(tmp_path, runner, site_repo, monkeypatch):
    StateStore(tmp_path / "state").close()
    db = sqlite3.connect(tmp_path / "state" / "state.db")
    with db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    db.close()
    with pytest.raises(StateNotReady, match="revision 0099, made by a newer Vellum"):
        StateStore(tmp_path / "state")
    monkeypatch.setenv("VELLUM_STATE_DIR", str(tmp_path / "state"))
    status = runner.invoke(cli, ["--site", str(site_repo), "migrate", "--status"])
    assert (
        status.output
        == "Current revision: 0099; head: 0003; made by a newer Vellum: upgrade Vellum.\n"
    )
    done = runner.invoke(cli, ["--site", str(site_repo), "migrate"])
    assert done.exit_code == 1 and "made by a newer Vellum" in done.output
    assert revision_of(f"sqlite:///{tmp_path / 'state' / 'state.db'}") == "0099"


def test_vellum_migrate_recognises_an_old_state_db(runner, site_repo, tmp_path, monkeypatch):
    legacy_state(tmp_path / "state")
    monkeypatch.setenv("VELLUM_STATE_DIR", str(tmp_path / "state"))
    status = runner.invoke(cli, ["--site", str(site_repo), "migrate", "--status"])
    assert status.exit_code == 0, status.output
    assert "Current revision: an earlier Vellum's, unstamped; head: 0003;" in status.output
    assert "pending: 0002, 0003 (run `vellum migrate`)" in status.output
    done = runner.invoke(cli, ["--site", str(site_repo), "migrate"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "Recognised the state of an earlier Vellum as revision 0001.",
        "Upgraded to 0002: User names unique whatever their case, by a unique index on"
        " lower(name).",
        "Upgraded to 0003: Applications keep the order they were registered in, on both engines.",
        "State at revision 0003.",
    ]
    db = sqlite3.connect(tmp_path / "state" / "state.db")
    assert db.execute("SELECT name FROM users").fetchall() == [("Ann",)]


def test_vellum_migrate_on_an_empty_postgresql_database(
    runner, site_repo, postgres_url, redis_url, monkeypatch
):
    monkeypatch.setenv("VELLUM_STATE_URL", postgres_url)
    monkeypatch.setenv("VELLUM_REDIS_URL", redis_url)
    # A server refuses a database that is behind, naming the command that upgrades it.
    with pytest.raises(StateNotReady, match=r"no Vellum tables.*run `vellum migrate`"):
        Vellum(load_config({"SITE": str(site_repo)}))
    status = runner.invoke(cli, ["--site", str(site_repo), "migrate", "--status"])
    assert status.output == (
        "Current revision: none; head: 0003; pending: 0001, 0002, 0003 (run `vellum migrate`).\n"
    )
    done = runner.invoke(cli, ["--site", str(site_repo), "migrate"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[0].startswith("Upgraded to 0001: The state: accounts")
    assert done.output.splitlines()[-1] == "State at revision 0003."
    again = runner.invoke(cli, ["--site", str(site_repo), "migrate", "--json"])
    assert again.output.replace(" ", "").replace("\n", "") == (
        '{"current":"0003","head":"0003","done":[]}'
    )
    status = runner.invoke(cli, ["--site", str(site_repo), "migrate", "--status"])
    assert status.output == "Current revision: 0003; head: 0003; up to date.\n"
    Vellum(load_config({"SITE": str(site_repo)})).close()


def test_vellum_migrate_needs_no_site_for_a_shared_database(
    runner, tmp_path, postgres_url, monkeypatch
):
    # An operator migrates the shared database from wherever, before any machine has a clone.
    monkeypatch.setenv("VELLUM_STATE_URL", postgres_url)
    nowhere = tmp_path / "not-a-site"
    nowhere.mkdir()
    done = runner.invoke(cli, ["--site", str(nowhere), "migrate", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["current"] == migrate.head()
    assert not list(nowhere.iterdir())


def test_serve_refuses_a_postgresql_state_behind_its_revision(
    runner, site_repo, postgres_url, monkeypatch
):
    monkeypatch.setenv("VELLUM_STATE_URL", postgres_url)
    migrate.upgrade(postgres_url, to="0001")
    result = runner.invoke(cli, ["--site", str(site_repo), "serve", "--port", str(free_port())])
    assert result.exit_code == 1
    assert "revision 0001; this Vellum needs revision 0003: run `vellum migrate`" in result.output


def test_postgresql_state_without_shared_rate_limit_counts_refuses_to_start(
    runner, site_repo, state_database, monkeypatch
):
    monkeypatch.setenv("VELLUM_STATE_URL", state_database)
    result = runner.invoke(cli, ["--site", str(site_repo), "serve", "--port", str(free_port())])
    assert result.exit_code == 1
    assert "rate limits would count on each machine alone: set VELLUM_REDIS_URL" in result.output
    monkeypatch.setenv("VELLUM_REDIS_URL", "memory://")  # or a storage said outright
    Vellum(load_config({"SITE": str(site_repo)})).close()


# -- several machines on one PostgreSQL database -----------------------------------------
def machine_env(monkeypatch, state_database: str, redis_url: str) -> None:
    monkeypatch.setenv("VELLUM_STATE_URL", state_database)
    monkeypatch.setenv("VELLUM_REDIS_URL", redis_url)


def test_a_usage_limit_is_exact_across_two_machines(
    query_repo, tmp_path, state_database, redis_url, monkeypatch
):
    machine_env(monkeypatch, state_database, redis_url)
    store = StateStore(tmp_path / "setup")
    _, secret = keys.create_key(store, "trial", ["read"], usage_limit=5)
    store.close()
    with (
        running_server(query_repo, tmp_path / "a", tmp_path / "a.log", workers=2) as (one, _),
        running_server(query_repo, tmp_path / "b", tmp_path / "b.log", workers=2) as (two, _),
    ):
        start = threading.Barrier(30)

        def read(n: int) -> int:
            start.wait(timeout=20)
            base = one if n % 2 else two
            return call("GET", f"{base}/api/post", headers={"X-API-Key": secret})[0]

        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = list(pool.map(read, range(30)))
    assert sorted(statuses) == [200] * 5 + [429] * 25


def test_a_token_signed_on_one_machine_is_accepted_by_another(
    query_repo, tmp_path, state_database, redis_url, monkeypatch
):
    """No VELLUM_SECRET_KEY: the machines share the signing secret the first one made."""
    machine_env(monkeypatch, state_database, redis_url)
    store = StateStore(tmp_path / "setup")
    users.create_user(store, "ada", PASSWORD, "admin")
    store.close()
    with (
        running_server(query_repo, tmp_path / "a", tmp_path / "a.log") as (one, _),
        running_server(query_repo, tmp_path / "b", tmp_path / "b.log") as (two, _),
    ):
        login = {"username": "ada", "password": PASSWORD}
        status, _, body = call("POST", f"{one}/api/auth/login", login)
        assert status == 200, body
        bearer = {"Authorization": f"Bearer {body['data']['accessToken']}"}
        status, _, me = call("GET", f"{two}/api/auth/me", headers=bearer)
        assert status == 200 and me["data"]["name"] == "ada"
        for base in (one, two):  # requests, connections and bytes count in the one Redis
            _, _, health = call("GET", f"{base}/api/_health")
            assert health["checks"]["state"] == {"ok": True}
            assert health["checks"]["limits"] == {"ok": True, "storage": "StorageCounts"}
    assert not (tmp_path / "a" / "signing.secret").exists()


def test_a_refresh_token_is_spent_once_under_concurrency(tmp_path, state_database):
    state = StateStore(tmp_path / "state", state_database)
    user = users.create_user(state, "ada", PASSWORD, "admin")
    client, _ = oauth.create_client(state, "app", ["read"], [], grants=["password"])

    def spend(token: str, start: threading.Barrier) -> str:
        start.wait(timeout=20)
        try:
            oauth.rotate_refresh(state, client, token)
        except oauth.OAuthError as exc:
            return exc.error
        return "spent"

    with ThreadPoolExecutor(max_workers=8) as pool:
        for round in range(15):
            grant = oauth.Grant(client.id, user.id, frozenset({"read"}), f"family-{round}")
            token = oauth.issue_refresh(state, grant, {"jti": f"j{round}", "exp": 2**31})
            start = threading.Barrier(8)
            outcomes = list(pool.map(spend, [token] * 8, [start] * 8))
            assert sorted(outcomes) == ["invalid_grant"] * 7 + ["spent"], round
    state.close()


def test_user_names_stay_unique_whatever_the_case_under_concurrency(tmp_path, state_database):
    state = StateStore(tmp_path / "state", state_database)
    names = ["Bo", "bo", "BO", "bO"] * 3
    start = threading.Barrier(len(names))

    def add(name: str) -> bool:
        start.wait(timeout=20)
        try:
            users.create_user(state, name, PASSWORD)
        except Exception as exc:
            assert "already exists" in str(exc)
            return False
        return True

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        assert sum(pool.map(add, names)) == 1
    state.close()


def test_event_sequence_numbers_commit_in_order(tmp_path, state_database):
    """A reader that has seen seq n never finds a smaller one appear later."""
    state = StateStore(tmp_path / "state", state_database)
    stop = threading.Event()
    gaps: list[tuple[int, int]] = []

    def write(n: int) -> None:
        for i in range(25):
            outbox.emit(state, [Event("entry.update", {"n": n, "i": i}, key=f"k{n}")])

    def read() -> None:
        seen = 0
        while not stop.is_set():
            rows = outbox.since(state, seen, 1000)
            for row in rows:
                if row["seq"] != seen + 1:
                    gaps.append((seen, row["seq"]))
                seen = row["seq"]

    reader = threading.Thread(target=read)
    reader.start()
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(6)))
    stop.set()
    reader.join()
    assert gaps == [] and outbox.last_seq(state) == 150
    state.close()


def test_a_thread_gets_a_new_connection_when_postgresql_dropped_its_own(
    tmp_path, state_database, postgres
):
    """A long-lived thread (the webhook dispatcher) goes on after a database restart: the
    statement that meets the dropped connection is a 503, the next one works."""
    state = StateStore(tmp_path / "state", state_database)
    state.connection().execute("SELECT 1")  # this thread now holds a connection
    database = state_database.rsplit("/", 1)[1]
    postgres.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    with pytest.raises(StateNotReady, match="did not answer"):
        state.connection().execute("SELECT 1")
    with state.transaction() as db:
        db.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    assert state.query("SELECT value FROM meta WHERE key = 'k'")[0]["value"] == "v"
    state.close()


def test_a_read_after_postgresql_dropped_the_idle_connections_is_answered(
    tmp_path, state_database, postgres
):
    state = StateStore(tmp_path / "state", state_database)
    users.create_user(state, "ada", PASSWORD)
    with ThreadPoolExecutor(max_workers=4) as pool:  # several idle connections
        list(pool.map(lambda _: users.list_users(state), range(8)))
    database = state_database.rsplit("/", 1)[1]
    postgres.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    assert [user.name for user in users.list_users(state)] == ["ada"]
    state.close()


def test_a_process_opens_at_most_pool_connections_to_postgresql(tmp_path, state_database):
    """Many greenlets or threads at once queue for the pool's connections; none fails."""
    state = StateStore(tmp_path / "state", state_database)
    start = threading.Barrier(30)

    def write(n: int) -> int:
        start.wait(timeout=20)
        with state.transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (f"k{n}",))
            db.execute("SELECT pg_sleep(0.05)")
            return db.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
            ).fetchone()[0]

    with ThreadPoolExecutor(max_workers=30) as pool:
        seen = list(pool.map(write, range(30)))
    assert max(seen) <= POOL
    assert state.query("SELECT COUNT(*) AS n FROM meta")[0]["n"] == 30
    state.close()


def test_closing_the_store_waits_for_a_statement_running_in_another_thread(
    tmp_path, state_database, postgres
):
    """A poller's read in flight when the app closes ends normally; its connection then
    closes, and nothing of the store stays connected."""
    state = StateStore(tmp_path / "state", state_database)
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(state.query, "SELECT pg_sleep(0.5) AS slept")
        time.sleep(0.2)
        state.close()
        assert len(running.result(timeout=10)) == 1
    database = state_database.rsplit("/", 1)[1]
    left = postgres.sql(f"SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '{database}'")
    assert left == "0"
