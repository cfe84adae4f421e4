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
