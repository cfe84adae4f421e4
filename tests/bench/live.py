"""Live timings against a real `vellum serve` (its own watcher, dispatcher and workers):
save → the API answers the new value, commit → the webhook arrives, a 1,000-file checkout."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.receiver import Receiver
from tests.servers import call, running_server
from vellum.auth import keys
from vellum.live import webhooks
from vellum.services import Vellum
from vellum.site.config import load_config

SAMPLES = 10
CHECKOUT_FILES = 1000
RUN = f"{time.time():.0f}"  # titles unique to this run, so a rerun still changes them


def git(site: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=site, check=True, capture_output=True)


def set_title(path: Path, title: str) -> None:
    lines = path.read_text("utf-8").splitlines(keepends=True)
    at = next(n for n, line in enumerate(lines) if line.startswith("title:"))
    lines[at] = f"title: {title}\n"
    path.write_text("".join(lines), "utf-8")


def wait(predicate, timeout: float = 10.0) -> float:
    """Seconds until predicate() holds."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"live bench: timed out waiting for {predicate}")
        time.sleep(0.005)
    return time.perf_counter() - started


class Api:
    """GETs a record's title from the running server."""

    def __init__(self, base: str, secret: str) -> None:
        self.base, self.headers = base, {"Authorization": f"Bearer {secret}"}

    def title(self, post_id: str) -> str:
        return call("GET", f"{self.base}/api/blogPost/{post_id}", headers=self.headers)[2]["data"][
            "title"
        ]


def save_to_visible(api: Api, site: Path, ids: list[str], paths: dict) -> list[float]:
    samples = []
    for n, post_id in enumerate(ids):
        title = f"Saved title {n} {RUN}"
        started = time.perf_counter()
        set_title(site / paths[post_id], title)
        wait(lambda post_id=post_id, title=title: api.title(post_id) == title)
        samples.append(time.perf_counter() - started)
    return samples


def commit_to_webhook(receiver: Receiver, site: Path, ids: list[str], paths: dict) -> list[float]:
    samples = []
    for n, post_id in enumerate(ids):
        wanted = f"Committed title {n} {RUN}"
        set_title(site / paths[post_id], wanted)
        git(site, "commit", "-qam", f"bench {n}")
        started = time.perf_counter()
        wait(lambda w=wanted: any(e["data"].get("title") == w for e in receiver.events()))
        samples.append(time.perf_counter() - started)
    return samples


def checkout_seconds(api: Api, site: Path, paths: dict) -> float:
    """A branch that changes 1,000 files; seconds from checkout until the API shows the last."""
    chosen = sorted(paths)[:CHECKOUT_FILES]
    git(site, "checkout", "-qb", f"bench-many-{RUN}")
    for post_id in chosen:
        set_title(site / paths[post_id], f"Branch title {post_id} {RUN}")
    git(site, "commit", "-qam", "many")
    git(site, "checkout", "-q", "-")
    last, branch_title = chosen[-1], f"Branch title {chosen[-1]} {RUN}"
    wait(lambda: api.title(last) != branch_title, 60)
    started = time.perf_counter()
    git(site, "checkout", "-q", f"bench-many-{RUN}")
    wait(lambda: api.title(last) == branch_title, 60)
    return time.perf_counter() - started


def prepare(site: Path, state: str, receiver: Receiver) -> tuple[str, dict]:
    """An API key without a practical rate limit, the webhook, and each post's path."""
    services = Vellum(load_config({"SITE": str(site), "STATE_DIR": state}))
    scopes = ["read", "read:drafts"]
    _, secret = keys.create_key(services.state, "bench", scopes, rate_limit="1000000 per minute")
    webhooks.create_endpoint(
        services, {"url": receiver.url, "events": ["update", "system.started"]}
    )
    services.sync(text=False)
    records = services.catalog().records["blogPost"]
    paths = {post_id: next(iter(by_locale.values())).path for post_id, by_locale in records.items()}
    services.close()
    return secret, paths


def main(argv: list[str]) -> None:
    """Usage: python -m tests.bench.live SITE STATE_DIR; prints the samples as JSON."""
    site, state = Path(argv[0]).resolve(), argv[1]
    os.environ["VELLUM_ALLOW_PRIVATE_WEBHOOKS"] = "1"
    with Receiver() as receiver:
        secret, paths = prepare(site, state, receiver)
        ids = sorted(paths)[-SAMPLES:]
        log = Path(state) / "live-bench-server.log"
        with running_server(site, Path(state), log, workers=2) as (base, _):
            api = Api(base, secret)
            started = lambda: any(e["event"] == "system.started" for e in receiver.events())  # noqa: E731
            wait(started, 30)  # the watcher and dispatcher are running
            saved = save_to_visible(api, site, ids, paths)
            committed = commit_to_webhook(receiver, site, ids, paths)
            checkout = checkout_seconds(api, site, paths)
    result = {"save_s": saved, "commit_s": committed, "checkout_s": checkout}
    print(json.dumps(result))
    print(
        f"  [live] save p50 {statistics.median(saved) * 1000:.0f} ms, "
        f"commit p50 {statistics.median(committed) * 1000:.0f} ms, checkout {checkout:.2f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
