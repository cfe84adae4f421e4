"""Real `vellum serve` processes for tests: a free loopback port, bounded waits, cleanup."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(method: str, url: str, body=None, headers: dict | None = None):
    """(status, headers, JSON body or None) of one request, errors included."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, dict(err.headers), json.loads(raw) if raw else None


@contextlib.contextmanager
def running_server(
    site: Path, state: Path, log: Path, workers: int = 1, args: list[str] | None = None
) -> Iterator[tuple]:
    """Start `vellum serve` (with extra `args`); yield (base URL, process); kill its process
    group at the end."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VELLUM_STATE_DIR": str(state)}
    command = [sys.executable, "-m", "vellum.cli.main", "serve", str(site), "--port", str(port)]
    command += ["--workers", str(workers), *(args or [])]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        yield base, proc
    finally:
        stop(proc)


def wait_until_up(base: str, proc, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if call("GET", f"{base}/")[0] == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    stop(proc)
    raise AssertionError(f"server did not start: {log.read_text()[-4000:]}")


def stop(proc, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextlib.contextmanager
def running_live(site: Path, state: Path, log: Path, url: str):
    """`vellum live` as one machine runs it: its own state folder (and here the site's
    folder), the state database at `url` shared with the others; stopped at the end."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VELLUM_STATE_DIR": str(state)}
    env["VELLUM_STATE_URL"] = url
    command = [sys.executable, "-m", "vellum.cli.main", "--site", str(site), "live"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
