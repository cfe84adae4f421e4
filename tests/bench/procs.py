"""Running the benchmark's subprocesses: a clean environment and one JSON line back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


class BenchError(RuntimeError):
    """A measurement failed: the benchmark must exit non-zero."""


def clean_env() -> dict[str, str]:
    """os.environ without GIT_* (which would redirect git) or VELLUM_* (which would reconfigure)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "VELLUM_"))}


def run_json(module: str, *args: str) -> dict:
    """Run `python -m module args` from the project root; return the JSON its last line prints."""
    command = [sys.executable, "-m", module, *args]
    done = subprocess.run(
        command, cwd=PROJECT, env=clean_env(), stdout=subprocess.PIPE, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"{' '.join(command)} exited with {done.returncode}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise BenchError(f"{' '.join(command)} printed no result")
    return json.loads(lines[-1])


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended while we looked
            continue
        if int(text.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children(current))
    return found


def command_line(pid: int) -> list[str]:
    """A process's arguments ([] once it has ended)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def write_calls(pid: int) -> int:
    """The write system calls a process has made so far (a server worker makes some for
    every request it answers: its access-log line, its rate-limit count; none when idle)."""
    lines = Path(f"/proc/{pid}/io").read_text().splitlines()
    return next(int(line.split()[1]) for line in lines if line.startswith("syscw:"))


def pss_mb(pids: list[int]) -> float:
    """Proportional set size summed over processes (shared pages split between their
    sharers, so forked workers are not counted twice), from /proc/<pid>/smaps_rollup."""
    total_kb = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:  # it ended while we looked
            continue
        total_kb += next(int(line.split()[1]) for line in lines if line.startswith("Pss:"))
    return total_kb / 1024
