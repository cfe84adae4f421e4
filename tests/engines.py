"""Real database engines for the tests: a private PostgreSQL and Redis on free loopback ports.

`make test` installs both from Debian. PostgreSQL refuses to run as root, so when the
tests run as root its cluster belongs to the `postgres` account Debian's package creates.
PostgreSQL is started once per test session and every test gets a database of its own;
Redis starts in a blink, so every test gets a server of its own.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tests.servers import free_port

START_TIMEOUT = 30.0


def _postgres_bin(name: str) -> str:
    """A PostgreSQL server program (Debian keeps them out of PATH, by major version)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    binary = shutil.which(name)
    assert binary, "make test installs postgresql (Debian's package)"
    return binary


def _as_owner() -> dict:
    """Popen arguments that run a PostgreSQL program as the cluster's owner."""
    if os.geteuid() != 0:
        return {}
    owner = pwd.getpwnam("postgres")
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def _wait_for_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {START_TIMEOUT} s")


class Postgres:
    """One PostgreSQL cluster in a temporary folder, trusted on loopback only."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="vellum-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self._numbers = iter(range(1, 1_000_000))
        self._lock = threading.Lock()
        owner = _as_owner()
        if owner:
            os.chown(self.folder, owner["user"], owner["group"])
        subprocess.run(
            [_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            **owner,
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.folder),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
        }
        args = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        self._log = open(self.folder / "server.log", "wb")  # noqa: SIM115 - kept till stop
        self.proc = subprocess.Popen(
            [_postgres_bin("postgres"), "-D", str(self.data), *args],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            **owner,
        )
        _wait_for_port(self.port, self.proc, "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str | None = None) -> str:
        """A new empty database (or a copy of `template`); its URL."""
        with self._lock:
            name = f"vellum_{next(self._numbers)}"
        self.sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql; what it printed (unaligned, tuples only)."""
        done = subprocess.run(
            [_postgres_bin("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
            + ["-d", self.url(database), "-c", statement],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done.stdout.strip()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class Redis:
    """One redis-server on a free loopback port, nothing saved to disk."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "make test installs redis-server"
        self.folder = Path(tempfile.mkdtemp(prefix="vellum-redis-"))
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            cwd=self.folder,
        )
        _wait_for_port(self.port, self.proc, "redis-server")

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)
