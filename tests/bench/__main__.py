"""`python -m tests.bench --records N`: generate a site, measure Vellum and the peer, report."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.procs import BenchError, run_json
from tests.bench.report import rows, served_rows, table
from tests.bench.sitegen import generate_site

LOAD_SECONDS = 10  # wrk's -d of each HTTP load
QUICK_SECONDS = 3  # the same with --quick


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """--records, --seed, --keep, --quick and --streams."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--records", type=int, default=10000, help="blog posts to generate")
    parser.add_argument("--seed", type=int, default=1, help="seed for the synthetic site")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SECONDS} s HTTP loads and one restart"
    )
    parser.add_argument(
        "--streams",
        type=int,
        default=0,
        help="event-stream clients to open (default: the server's stream capacity)",
    )
    args = parser.parse_args(argv)
    if args.records < 3:
        parser.error("--records must be at least 3 (three posts are edited)")
    return args


def step(message: str) -> None:
    """Progress on stderr, so stdout holds only the report."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(work: Path, args: argparse.Namespace) -> tuple[dict, dict, dict, dict]:
    """Generate the site, then run the peer, both servers over HTTP (on the site as it was
    generated: the same records as the peer's), and Vellum in process."""
    records, seed = args.records, args.seed
    site, state = work / "site", work / "state"
    started = time.perf_counter()
    manifest = generate_site(site, records, seed)
    average = manifest["body_bytes"] / max(records, 1)
    step(f"site of {records} posts (bodies {average:.0f} B on average) in {work}")
    step(f"generated and committed in {time.perf_counter() - started:.1f} s")
    manifest_path = work / "manifest.json"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    peer = run_json("tests.bench.peer", str(site), str(work / "peer.db"))
    if peer["posts"] != records:
        raise BenchError(f"the peer stored {peer['posts']} posts of {records}")
    step(f"peer built {peer['posts']} posts in {peer['seconds']:.2f} s; serving both")
    served = run_json("tests.bench.served", *served_args(work, manifest_path, args))
    step("measuring Vellum in process")
    vellum = run_json("tests.bench.measure", str(site), str(state), str(manifest_path), str(seed))
    step("measuring the static export")
    places = (site, work / "export-state", work / "export")
    vellum["export"] = run_json("tests.bench.export", *map(str, places), str(seed))
    return manifest, peer, vellum, served


def served_args(work: Path, manifest_path: Path, args: argparse.Namespace) -> list[str]:
    """tests.bench.served's arguments: its folders, loads as long as --quick says."""
    places = [work / "site", work, work / "peer.db", manifest_path]
    seconds = QUICK_SECONDS if args.quick else LOAD_SECONDS
    options = ["--seed", args.seed, "--seconds", seconds, "--streams", args.streams]
    options += ["--restarts", 1 if args.quick else 3]
    return [str(item) for item in (*places, *options)]


def versions() -> str:
    """Python and Whoosh versions and today's date, for the report's header."""
    from whoosh import versionstring

    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Python {platform.python_version()}, Whoosh {versionstring()}, {today}"


def notes(manifest: dict, vellum: dict, served: dict) -> str:
    """What the numbers stand on: posts published, text docs, what the searches matched,
    and what the HTTP loads asked for."""
    lat = vellum["latency"]
    work = served["workload"]
    return (
        f"{manifest['published']} posts published; {vellum['text_docs']} docs full-text indexed; "
        f"two-word searches matched a median of {lat['search']['median_total']:g} records; "
        f"restarts {', '.join(f'{s:.2f}' for s in vellum['restart_s'])} s; "
        f"changed files {', '.join(f'{s:.2f}' for s in vellum['change_s'])} s.\n"
        "HTTP rows: `vellum serve` with its defaults (2 gevent workers) and "
        "`datasette serve -i` on the peer's database, each request the next of "
        f"{work['lists']} list filters (views > N, published, newest first, 20 a page), "
        f"{work['gets']} ids and {work['search']} two-word searches (20 hits with snippets: "
        "Vellum /api/search, Datasette SQL with FTS5 snippet()), every answer checked once "
        "first; Vellum with a read:drafts API key. Event streams: one anonymous client per "
        "loopback address. Ratio: Vellum's figure over the peer's."
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 even when a target is missed, 1 when anything failed."""
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vellum-bench-"))
    try:
        manifest, peer, vellum, served = run(work, args)
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            step(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"Vellum benchmark: N={args.records} posts, seed {args.seed}; {versions()}")
    print()
    print(table(rows(vellum, peer) + served_rows(served, peer, args.records)))
    print()
    print(notes(manifest, vellum, served))
    return 0


if __name__ == "__main__":
    sys.exit(main())
