"""Loads a server with Debian's wrk and tests/bench/wrk.lua (each request the next path of
a list); the only module that runs wrk."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.bench.procs import BenchError

SCRIPT = Path(__file__).with_name("wrk.lua")
THREADS = 2
CONNECTIONS = 16


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds


def write_paths(paths: list[str], file: Path) -> Path:
    """The paths file wrk.lua reads: one request path a line."""
    if not paths or any(not p.startswith("/") or any(c.isspace() for c in p) for p in paths):
        raise BenchError(f"not request paths for wrk: {paths[:3]}")
    file.write_text("\n".join(paths) + "\n", encoding="ascii")
    return file


def command(base: str, paths_file: Path, seconds: int, headers: dict[str, str]) -> list[str]:
    """wrk -t2 -c16 -dNs with the script, its paths file, and the headers of every request."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    args = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    return [*args, "-s", str(SCRIPT), base, "--", str(paths_file)]


def run(base: str, paths_file: Path, seconds: int, headers: dict[str, str] | None = None) -> Load:
    """Load `base` for `seconds`; any error (a non-2xx, a timeout, a socket error) fails."""
    args = command(base, paths_file, seconds, headers or {})
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    result = parse(done.stdout)
    errors = {name: n for name, n in result["errors"].items() if n}
    if errors or not result["requests"]:
        raise BenchError(f"wrk on {base} ({paths_file.name}): errors {errors}, {done.stdout}")
    return Load(result["requests"], result["seconds"], result["p50_ms"], result["p99_ms"])


def parse(stdout: str) -> dict:
    """The JSON line wrk.lua's done() prints after wrk's own report."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"wrk printed no result line: {stdout[-500:]}")
