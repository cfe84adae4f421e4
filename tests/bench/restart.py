"""One restart, in a fresh process: create_app on an up-to-date index until a list answers."""

from __future__ import annotations

import json
import sys
import time

import vellum.api.rest  # noqa: F401 - imported before the clock starts, like everything else
from vellum import create_app


def restart_seconds(site: str, state: str) -> float:
    """Seconds from before create_app (syncing on start) to the first 200 from a list."""
    started = time.perf_counter()
    flask_app = create_app(
        {"SITE": site, "STATE_DIR": state, "SYNC_ON_START": True, "TEXT_INDEX": "inline"}
    )
    response = flask_app.test_client().get("/api/blogPost?limit=1")
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"restart: GET /api/blogPost?limit=1 answered {response.status_code}")
    return elapsed


def main(argv: list[str]) -> None:
    """Usage: python -m tests.bench.restart SITE STATE_DIR; prints {"seconds": …}."""
    site, state = argv
    print(json.dumps({"seconds": restart_seconds(site, state)}))


if __name__ == "__main__":
    main(sys.argv[1:])
