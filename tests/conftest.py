"""Fixtures: real Git repositories in temporary folders, and apps built over them (the
plain helpers they use are in tests/helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
import redis
from click.testing import CliRunner

from tests.engines import Postgres, Redis
from tests.helpers import (
    QUERY_SITE,
    authorised_client,
    build_app,
    commit,
    committed_sample,
    make_repo,
    write_files,
)
from vellum.auth import users
from vellum.store import migrate, pg

# Modules whose every test runs twice: state in SQLite, then in PostgreSQL (with Redis).
BOTH_ENGINES = {
    "test_auth",
    "test_oauth",
    "test_lockout",
    "test_delivery",
    "test_retention",
    "test_health",
    "test_webhooks",
}


@pytest.fixture(autouse=True)
def _clean_git_env(monkeypatch):
    """Tests must not see the caller's repository through GIT_* variables."""
    for name in list(os.environ):
        if name.startswith("GIT_") or name.startswith("VELLUM_"):
            monkeypatch.delenv(name)


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__.rsplit(".", 1)[-1] in BOTH_ENGINES:
        metafunc.parametrize("state_engine", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(autouse=True)
def state_engine(request, _clean_git_env, monkeypatch) -> str:
    """Where the state lives for this test: SQLite in the state folder (the default), or a
    fresh PostgreSQL database at head, with rate limits counted in a real Redis."""
    engine = getattr(request, "param", "sqlite")
    if engine == "postgresql":
        monkeypatch.setenv("VELLUM_STATE_URL", request.getfixturevalue("state_database"))
        monkeypatch.setenv("VELLUM_REDIS_URL", request.getfixturevalue("shared_redis_url"))
    return engine


@pytest.fixture(scope="session")
def migrated_database(postgres) -> str:
    """One database at head for the session; each test empties it before it starts."""
    url = postgres.new_database()
    migrate.upgrade(url)
    return url


@pytest.fixture
def state_database(migrated_database) -> str:
    """The state's tables at head, no rows (emptying them is quicker than a new database)."""
    with psycopg.connect(migrated_database, autocommit=True) as db:
        db.execute("SET lock_timeout = '10s'")  # a test that left a transaction open: fail
        tables = [name for name in public_tables(db) if name != "alembic_version"]
        db.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    return migrated_database


def public_tables(db) -> list[str]:
    rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return [row[0] for row in rows]


@pytest.fixture(scope="session")
def _redis_server():
    server = Redis()
    yield server
    server.stop()


@pytest.fixture
def shared_redis_url(_redis_server) -> str:
    """The session's redis-server, emptied for this test."""
    with redis.Redis.from_url(_redis_server.url()) as client:
        client.flushall()
    return _redis_server.url()


@pytest.fixture
def query_repo(tmp_path) -> Path:
    """A repository holding QUERY_SITE at its root, committed once."""
    repo = make_repo(tmp_path / "repo")
    write_files(repo, QUERY_SITE)
    commit(repo, "Add the query fixture", date="2024-02-01T12:00:00Z")
    return repo


@pytest.fixture
def site_repo(tmp_path) -> Path:
    """A copy of the sample site in content/ of a fresh repository; returns the site folder."""
    repo = make_repo(tmp_path / "repo")
    committed_sample(repo)
    commit(repo, "Add the sample site")
    return repo / "content"


@pytest.fixture
def app(query_repo, tmp_path):
    application = build_app(query_repo, tmp_path / "state")
    yield application
    application.extensions["vellum"].close()


@pytest.fixture
def client(app):
    """Reads everything, drafts included."""
    return authorised_client(app)


@pytest.fixture
def writer(app):
    """A client writing as a signed-in editor, so commits carry a person's name."""
    users.create_user(
        app.extensions["vellum"].state, "ada", "correct horse", "editor", "ada@example.com"
    )
    client = app.test_client()
    token = client.post(
        "/api/auth/login", json={"username": "ada", "password": "correct horse"}
    ).get_json()["data"]["accessToken"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def anonymous(app):
    return app.test_client()


@pytest.fixture(scope="module")
def sample_client(tmp_path_factory):
    """The sample site, read-only, shared by a module's tests."""
    base = tmp_path_factory.mktemp("sample")
    repo = make_repo(base / "repo")
    committed_sample(repo)
    commit(repo, "Add the sample site")
    application = build_app(repo / "content", base / "state")
    yield authorised_client(application)
    application.extensions["vellum"].close()


@pytest.fixture
def sample_site(tmp_path) -> Path:
    """The committed sample site in a temporary folder (not a repository)."""
    return committed_sample(tmp_path)


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL server, started on first use and kept for the session."""
    server = Postgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres):
    """A new empty PostgreSQL database for one test."""
    return postgres.new_database()


@pytest.fixture
def shared_state(postgres_url, shared_redis_url, monkeypatch):
    """State shared on a fresh PostgreSQL database at head (VELLUM_STATE_URL) and counts in
    Redis, as every machine of a site shares them; this process's connections to the
    database are closed after the test."""
    migrate.upgrade(postgres_url)
    monkeypatch.setenv("VELLUM_STATE_URL", postgres_url)
    monkeypatch.setenv("VELLUM_REDIS_URL", shared_redis_url)
    yield postgres_url
    pg.close_shared()


@pytest.fixture
def redis_url():
    """A real redis-server on a free loopback port, for the length of one test."""
    server = Redis()
    yield server.url()
    server.stop()
