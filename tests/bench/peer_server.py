"""The peer served: a real Datasette over the SQLite + FTS5 database tests/bench/peer.py
builds; the only module that runs Datasette."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.bench.procs import BenchError, clean_env
from tests.servers import free_port, stop


@contextlib.contextmanager
def running_datasette(db_path: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`datasette serve -i DB` on a free loopback port, with its defaults otherwise;
    yields (base URL, process) and stops it at the end. Immutable (-i) is how Datasette
    serves data that does not change (as `datasette publish` does): it is its fastest."""
    port = free_port()
    command = [sys.executable, "-m", "datasette", "serve", "-i", str(db_path)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command, env=clean_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc, log)
        yield base, proc
    finally:
        stop(proc)


def _wait_until_up(base: str, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{base}/-/versions.json", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise BenchError(f"Datasette did not start: {log.read_text(errors='replace')[-2000:]}")
