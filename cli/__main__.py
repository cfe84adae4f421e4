"""`python -m vellum.cli`: the vellum command where its script is not on PATH (git hooks)."""

from __future__ import annotations

from vellum.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="vellum")
