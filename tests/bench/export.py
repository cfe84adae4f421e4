"""The static export measured in its own process: a full export, then the export after one
commit (as `vellum serve --export` runs it: the catalog current, the exporter warm), and
the whole `vellum export` command after one commit. Prints one JSON line."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

from tests.bench.procs import BenchError, clean_env
from vellum import create_app
from vellum.export.run import Exporter
from vellum.site.audience import PUBLIC

CHANGES = 3


def log(message: str) -> None:
    print(f"  [export] {message}", file=sys.stderr, flush=True)


def commit_one_edit(site: Path, rel: str, n: int) -> None:
    """Append a paragraph to one record's file and commit it."""
    with open(site / rel, "a", encoding="utf-8") as fh:
        fh.write(f"\nA paragraph appended for export measurement {n}.\n")
    subprocess.run(["git", "commit", "-qam", f"Export bench edit {n}"], cwd=site, check=True)


def main(argv: list[str]) -> None:
    """Usage: python -m tests.bench.export SITE STATE_DIR OUT SEED."""
    site, state, out, seed = Path(argv[0]), argv[1], Path(argv[2]), argv[3]
    app = create_app({"SITE": str(site), "STATE_DIR": state, "TEXT_INDEX": "background"})
    vellum = app.extensions["vellum"]
    exporter = Exporter(app, out)
    full = exporter.run()
    log(f"full export: {full.files} files in {full.seconds:.1f} s")
    started = time.perf_counter()
    while exporter.warm(limit=1000):  # as the serve loop does while idle
        pass
    log(f"HTML of every record made in {time.perf_counter() - started:.1f} s")
    catalog = vellum.catalog()
    published = list(catalog.view("blogPost", None, PUBLIC))
    rng = random.Random(f"export-{seed}")
    after_commit, with_index = [], []
    for n, rec in enumerate(rng.sample(published, CHANGES)):
        commit_one_edit(site, rec.path, n)
        started = time.perf_counter()
        vellum.sync(text=False)
        vellum.catalog()
        indexed = time.perf_counter() - started
        report = exporter.run()
        if f"api/blogPost/{rec.id}.json" not in report.changed:
            raise BenchError(f"the export after editing {rec.id} did not rewrite it")
        log(f"after one commit: {report.written} written in {report.seconds:.3f} s")
        after_commit.append(report.seconds)
        with_index.append(indexed + report.seconds)
    vellum.close()
    commit_one_edit(site, rng.choice(published).path, CHANGES)
    started = time.perf_counter()
    command = [sys.executable, "-m", "vellum.cli.main", "--site", str(site), "export", str(out)]
    done = subprocess.run(
        command, env={**clean_env(), "VELLUM_STATE_DIR": state}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BenchError(f"vellum export failed: {done.stderr[-2000:]}")
    command_s = time.perf_counter() - started
    log(done.stdout.strip())
    result = {
        "files": full.files,
        "full_s": full.seconds,
        "after_commit_s": after_commit,
        "with_index_s": with_index,
        "command_s": command_s,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
