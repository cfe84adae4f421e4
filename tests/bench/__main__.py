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
from tests.bench.report import rows, table
from tests.bench.sitegen import generate_site


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """--records, --seed and --keep."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--records", type=int, default=10000, help="blog posts to generate")
    parser.add_argument("--seed", type=int, default=1, help="seed for the synthetic site")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.records < 3:
        parser.error("--records must be at least 3 (three posts are edited)")
    return args


def step(message: str) -> None:
    """Progress on stderr, so stdout holds only the report."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(work: Path, records: int, seed: int) -> tuple[dict, dict, dict]:
    """Generate the site, then run the peer and Vellum in their own processes."""
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
    step(f"peer built {peer['posts']} posts in {peer['seconds']:.2f} s; measuring Vellum")
    vellum = run_json("tests.bench.measure", str(site), str(state), str(manifest_path), str(seed))
    return manifest, peer, vellum


def versions() -> str:
    """Python and Whoosh versions and today's date, for the report's header."""
    from whoosh import versionstring

    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Python {platform.python_version()}, Whoosh {versionstring()}, {today}"


def notes(manifest: dict, vellum: dict) -> str:
    """What the numbers stand on: posts published, text docs, what the searches matched."""
    lat = vellum["latency"]
    return (
        f"{manifest['published']} posts published; {vellum['text_docs']} docs full-text indexed; "
        f"two-word searches matched a median of {lat['search']['median_total']:g} records; "
        f"restarts {', '.join(f'{s:.2f}' for s in vellum['restart_s'])} s; "
        f"changed files {', '.join(f'{s:.2f}' for s in vellum['change_s'])} s."
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 even when a target is missed, 1 when anything failed."""
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vellum-bench-"))
    try:
        manifest, peer, vellum = run(work, args.records, args.seed)
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
    print(table(rows(vellum, peer)))
    print()
    print(notes(manifest, vellum))
    return 0


if __name__ == "__main__":
    sys.exit(main())
