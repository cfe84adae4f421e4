"""Vellum measured in its own process (so peak memory is Vellum's alone); prints one JSON line."""

from __future__ import annotations

import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

from tests.bench.procs import BenchError, run_json
from vellum import create_app
from vellum.auth import keys
from vellum.services import Vellum
from vellum.site.audience import EDITORS
from vellum.site.config import load_config

RESTARTS = 3
CHANGES = 3
WARMUP = 20
REQUESTS = 300


def full_build(site: str, state: str, manifest: dict) -> tuple[Vellum, dict]:
    """(a) From an empty state folder: the records phase, then the full-text phase."""
    v = Vellum(load_config({"SITE": site, "STATE_DIR": state}))
    started = time.perf_counter()
    report = v.sync(text=False)
    catalog = v.catalog()
    records_s = time.perf_counter() - started
    started = time.perf_counter()
    docs = v.sync_text(parallel=True)
    text_s = time.perf_counter() - started
    expected = len(manifest["ids"])
    indexed = catalog.count("blogPost", EDITORS)
    if indexed != expected or catalog.problems:
        problems = [str(p) for p in catalog.problems[:5]]
        raise BenchError(f"{indexed} of {expected} posts indexed: {problems}")
    log(f"full build: {report.as_dict()}, text docs written: {docs}")
    return v, {"records_s": records_s, "text_s": text_s, "text_docs": docs}


def one_changed_file(v: Vellum, post_id: str, n: int) -> float:
    """(c) Append a paragraph to one post, then time sync + catalog on the open Vellum."""
    path = Path(v.site.root) / v.catalog().get("blogPost", post_id, None, EDITORS).path
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"\nAn appended paragraph, edit number {n}, to measure one changed file.\n")
    started = time.perf_counter()
    report = v.sync(text=True)
    v.catalog()
    seconds = time.perf_counter() - started
    log(f"one changed file ({path.name}): {report.as_dict()}, reindexed={report.reindexed}")
    if report.reindexed != 1:
        raise BenchError(f"expected exactly 1 file reindexed, the report says {report.reindexed}")
    return seconds


def restarts(site: str, state: str) -> list[float]:
    """(b) Fresh processes on the up-to-date index: create_app until the first list answers."""
    return [run_json("tests.bench.restart", site, state)["seconds"] for _ in range(RESTARTS)]


def percentiles(samples: list[float]) -> dict:
    """p50 and p95 in milliseconds."""
    cuts = statistics.quantiles(samples, n=20, method="inclusive")
    return {"p50": statistics.median(samples) * 1000, "p95": cuts[18] * 1000}


def latency(client, urls: list[str]) -> tuple[dict, list]:
    """(d) Warm up, then time each request; every answer must be 200. Also meta.total each."""
    samples, totals = [], []
    for n, url in enumerate(urls):
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise BenchError(f"GET {url} answered {response.status_code}: {response.data[:200]}")
        if n >= WARMUP:
            samples.append(elapsed)
            totals.append(response.get_json()["meta"].get("total"))
    return percentiles(samples), totals


def request_urls(manifest: dict, seed: int) -> dict[str, list[str]]:
    """The request mixes: a published list by date (also with a new filter each time),
    a get by id, a two-word search."""
    rng = random.Random(f"requests-{seed}")
    count = WARMUP + REQUESTS
    words, weights = zip(*manifest["words"].items(), strict=True)
    lists = [
        f"/api/blogPost?filter[status]=published&sort=-publishedAt&limit=20&offset={20 * (n % 21)}"
        for n in range(count)
    ]
    # A different filter each time: no request is answered from the per-index memo.
    fresh = [
        f"/api/blogPost?filter[status]=published&filter[views][$gte]={n}&sort=-publishedAt&limit=20"
        for n in range(count)
    ]
    gets = [f"/api/blogPost/{post_id}" for post_id in rng.choices(manifest["ids"], k=count)]
    searches = [
        "/api/search?q=" + "+".join(rng.choices(words, weights=weights, k=2)) for _ in range(count)
    ]
    return {"list": lists, "fresh": fresh, "get": gets, "search": searches}


GRAPHQL_LIST = """{ blogPosts(limit: 20, filter: {status: {eq: PUBLISHED}}, sort: "-publishedAt")
  { nodes { title author { name } categories { name } } } }"""
REST_POPULATE = (
    "/api/blogPost?filter[status]=published&sort=-publishedAt&limit=20"
    "&populate=author,categories&fields=title,author,categories"
)


def graphql_latency(client) -> dict:
    """(e) The issue's blogPosts query by POST /graphql, and REST's equivalent with populate."""
    samples: dict[str, list[float]] = {"graphql": [], "rest_populate": []}
    for n in range(WARMUP + REQUESTS):
        for name in samples:
            started = time.perf_counter()
            if name == "graphql":
                response = client.post("/graphql", json={"query": GRAPHQL_LIST})
            else:
                response = client.get(REST_POPULATE)
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or (name == "graphql" and "errors" in response.json):
                raise BenchError(f"{name} answered {response.status_code}: {response.data[:200]}")
            if n >= WARMUP:
                samples[name].append(elapsed)
    return {name: percentiles(values) for name, values in samples.items()}


def serve_latencies(site: str, state: str, manifest: dict, seed: int) -> dict:
    """(d) p50/p95 of each request mix through the Flask test client."""
    flask_app = create_app(
        {"SITE": site, "STATE_DIR": state, "SYNC_ON_START": True, "TEXT_INDEX": "inline"}
    )
    client = flask_app.test_client()
    # Measured as a static site builder calls: with an API key that reads drafts too
    # (every key request is counted and logged) and a budget above the run's requests.
    _, secret = keys.create_key(
        flask_app.extensions["vellum"].state,
        "bench",
        ["read", "read:drafts"],
        rate_limit="1000000 per minute",
    )
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    results = {}
    for name, urls in request_urls(manifest, seed).items():
        results[name], totals = latency(client, urls)
        known = [t for t in totals if t is not None]
        results[name]["median_total"] = statistics.median(known) if known else None
    results.update(graphql_latency(client))
    if results["list"]["median_total"] != manifest["published"]:
        found = results["list"]["median_total"]
        raise BenchError(
            f"the list says {found} published posts, the site has {manifest['published']}"
        )
    return results


def log(message: str) -> None:
    """Progress and reports go to stderr; stdout carries only the JSON result."""
    print(f"  [vellum] {message}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> None:
    """Usage: python -m tests.bench.measure SITE STATE_DIR MANIFEST SEED."""
    site, state, manifest_path, seed = argv
    manifest = json.loads(Path(manifest_path).read_text("utf-8"))
    v, result = full_build(site, state, manifest)
    rng = random.Random(f"changes-{seed}")
    changes = [
        one_changed_file(v, pid, n) for n, pid in enumerate(rng.sample(manifest["ids"], CHANGES))
    ]
    v.close()
    del v
    result["change_s"] = changes
    result["restart_s"] = restarts(site, state)
    log(f"restarts: {[round(s, 3) for s in result['restart_s']]}")
    result["latency"] = serve_latencies(site, state, manifest, int(seed))
    # Last: it commits to the site and checks out a branch.
    result["live"] = run_json("tests.bench.live", site, state)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
