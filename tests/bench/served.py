"""Vellum as users meet it, beside Datasette on the same records: a real `vellum serve` (its
defaults) from a new state folder and after restarts, both servers loaded over HTTP with
wrk, the serve's memory, and event-stream clients timed to a commit. Prints one JSON line."""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.bench import wrk
from tests.bench.live import git, set_title
from tests.bench.peer_server import running_datasette
from tests.bench.procs import (
    BenchError,
    children,
    clean_env,
    command_line,
    pss_mb,
    tree,
    write_calls,
)
from tests.bench.streams import StreamClients
from tests.bench.workload import (
    KINDS,
    Workload,
    answer_problem,
    choose,
    datasette_paths,
    vellum_paths,
)
from tests.servers import call, free_port, stop
from vellum.api.events import DEFAULT_STREAMS
from vellum.site.config import load_config

MIN_QUERIES = 200  # distinct two-word searches, each with a full page of hits
START_SECONDS = 600  # a fresh site of 100k records takes a while
STREAM_WAIT_SECONDS = 30
STATE = "served-state"  # the state folder of the served site, inside the work folder
# wrk's connections stay open, so one worker may hold them all: a worker left out is then
# sent requests on new connections, in rounds of this many at once, until it answers some.
ROUND = 8
ROUNDS = 50


@dataclass
class Server:
    """A running `vellum serve`: its process (the gunicorn master), URL and start time."""

    proc: subprocess.Popen
    base: str
    port: int
    started: float
    log: Path

    def processes(self) -> list[int]:
        """The master, its workers, the live process and the indexer while it runs."""
        return tree(self.proc.pid)

    def workers(self) -> list[int]:
        """The gunicorn workers: forks of the master, with its command line."""
        own = command_line(self.proc.pid)
        return [pid for pid in children(self.proc.pid) if command_line(pid) == own]

    def indexing(self) -> bool:
        """Whether the full-text indexer `vellum serve` started beside it still runs."""
        return any("--text-only" in command_line(pid) for pid in self.processes())

    def fail(self, message: str) -> BenchError:
        tail = self.log.read_text(errors="replace")[-3000:]
        return BenchError(f"{message}; the server's log ends:\n{tail}")


def vellum_command() -> list[str]:
    """The `vellum` command installed beside this Python."""
    script = Path(sys.executable).with_name("vellum")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vellum.cli.main"]


def start_vellum(site: Path, state: Path, log: Path) -> Server:
    """`vellum serve SITE --port P` with every other setting at its default."""
    port = free_port()
    env = {**clean_env(), "VELLUM_STATE_DIR": str(state)}
    command = [*vellum_command(), "serve", str(site), "--port", str(port)]
    with open(log, "ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(proc, f"http://127.0.0.1:{port}", port, started, log)


def get(url: str, headers: dict | None = None) -> tuple[int, object]:
    """(status, JSON body) of a GET; connection refused is an OSError."""
    status, _, body = call("GET", url, headers=headers)
    return status, body


def first_answer(server: Server, path: str, headers: dict) -> float:
    """Seconds from the start until `path` answers 200 with its page (asked with the bench
    key: polling spends a budget, and an anonymous one of 100 is gone in seconds)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise server.fail(f"vellum serve exited with {server.proc.returncode}")
        try:
            status, body = get(server.base + path, headers)
        except (urllib.error.URLError, OSError):
            time.sleep(0.01)
            continue
        if answer_problem("vellum", "lists", path, status, body) is None:
            return time.perf_counter() - server.started
        time.sleep(0.05)
    raise server.fail(f"no list answer within {START_SECONDS} s")


def full_text_seconds(server: Server, path: str, headers: dict) -> float:
    """Seconds from the start until search answers from the whole text index: the indexer
    is watched in /proc (no request spent), then one search says it is complete."""
    deadline = time.monotonic() + START_SECONDS
    while server.indexing():
        if time.monotonic() > deadline:
            raise server.fail(f"the full-text index was not built in {START_SECONDS} s")
        time.sleep(0.02)
    while time.monotonic() < deadline:
        status, body = get(server.base + path, headers)
        meta = body.get("meta", {}) if isinstance(body, dict) else {}
        if status == 200 and meta.get("total") and "searchComplete" not in meta:
            return time.perf_counter() - server.started
        if status != 200:
            raise server.fail(f"GET {path} answered {status}: {body}")
        time.sleep(0.02)
    raise server.fail(f"search was not complete within {START_SECONDS} s")


def create_key(site: Path, state: Path) -> str:
    """An API key that reads drafts too (the peer serves every post) with a rate limit
    above any load, made with `vellum keys create`."""
    command = [*vellum_command(), "--site", str(site), "keys", "create", "bench"]
    command += ["--scope", "read", "--scope", "read:drafts"]
    command += ["--rate-limit", "100000000 per minute", "--json"]
    env = {**clean_env(), "VELLUM_STATE_DIR": str(state)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"vellum keys create failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)["data"]["key"]


def check_answers(server: str, base: str, paths: dict, headers: dict | None = None) -> None:
    """Every path once before any load: 200 with the records asked for, or the run fails."""
    for kind in KINDS:
        for path in paths[kind]:
            status, body = get(base + path, headers)
            problem = answer_problem(server, kind, path, status, body)
            if problem:
                raise BenchError(problem)


def load_vellum(server: Server, paths: dict, files: dict, seconds: int, headers: dict) -> dict:
    """Each kind loaded in turn; then every worker has answered each kind (the memory
    figure counts every worker's caches), those wrk left out on new connections."""
    results = {}
    for kind in KINDS:
        workers = server.workers()
        if not workers:
            raise server.fail("vellum serve has no workers")
        before = {pid: write_calls(pid) for pid in workers}
        results[kind] = as_dict(wrk.run(server.base, files[kind], seconds, headers))
        results[kind]["workers_loaded"] = sum(write_calls(p) > before[p] for p in workers)
        results[kind]["workers"] = len(workers)
        answer_everywhere(server, kind, paths[kind], headers, before)
        log(f"vellum {kind}: {results[kind]}")
    return results


def answer_everywhere(server: Server, kind: str, paths: list[str], headers: dict, before: dict):
    """Send `kind` requests, each on a new connection, until every worker has answered."""
    waiting = [pid for pid in before if write_calls(pid) == before[pid]]
    for round_number in range(ROUNDS):
        if not waiting:
            return
        batch = [paths[(round_number * ROUND + n) % len(paths)] for n in range(ROUND)]
        with ThreadPoolExecutor(ROUND) as pool:
            answers = list(pool.map(lambda path: get(server.base + path, headers), batch))
        for path, (status, body) in zip(batch, answers, strict=True):
            problem = answer_problem("vellum", kind, path, status, body)
            if problem:
                raise BenchError(problem)
        waiting = [pid for pid in waiting if write_calls(pid) == before[pid]]
    raise server.fail(f"workers {waiting} answered none of {ROUNDS * ROUND} {kind} requests")


def load_peer(base: str, files: dict, seconds: int) -> dict:
    results = {}
    for kind in KINDS:
        results[kind] = as_dict(wrk.run(base, files[kind], seconds))
        log(f"datasette {kind}: {results[kind]['rate']:.0f} req/s")
    return results


def as_dict(load: wrk.Load) -> dict:
    return {
        "rate": load.rate,
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
        "requests": load.requests,
    }


def stream_capacity() -> int:
    """The event streams `vellum serve` keeps open with its settings: per process
    VELLUM_STREAMS (0: 1000), times its workers."""
    config = load_config(environ=clean_env())
    return config["WORKERS"] * (config["STREAMS"] or DEFAULT_STREAMS)


def commit_title(site: Path, post_id: str) -> str:
    """Change one published post's title and commit it; the commit's sha."""
    path = next(site.glob(f"posts/*/{post_id}.md"))
    set_title(path, f"A title for the event streams {time.time():.0f}")
    git(site, "commit", "-qam", "Bench: one title for the event streams")
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=site, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def event_streams(
    server: Server, site: Path, post_id: str, count: int, lists: Path, seconds: int, headers: dict
) -> dict:
    """Lists without streams; K clients open streams; the serve's memory before and with
    them; a commit; when its event reached each; lists meanwhile."""
    without = wrk.run(server.base, lists, seconds, headers)
    before_mb = pss_mb(server.processes())
    clients = StreamClients("127.0.0.1", server.port, count)
    try:
        statuses = clients.open()
        time.sleep(1)  # every stream is past its first frame and waiting
        open_mb = pss_mb(server.processes())
        log(f"event streams: {dict(statuses)}; PSS {before_mb:.0f} MB -> {open_mb:.0f} MB")
        sha = commit_title(site, post_id)
        since = time.perf_counter()
        delays = clients.wait_for(sha, since, STREAM_WAIT_SECONDS)
        with_streams = wrk.run(server.base, lists, seconds, headers)
    finally:
        clients.close()
    return {
        "asked": count,
        "statuses": {str(k): n for k, n in statuses.items()},
        "delays_s": [d for d in delays if d is not None],
        "missing": sum(d is None for d in delays),
        "lists_rate": with_streams.rate,
        "lists_rate_without": without.rate,
        "pss_before_mb": before_mb,
        "pss_open_mb": open_mb,
    }


def published_id(db_path: Path) -> str:
    """A published post (its events reach anonymous readers)."""
    db = sqlite3.connect(db_path)
    try:
        return db.execute("select id from posts where status = 'published' limit 1").fetchone()[0]
    finally:
        db.close()


def path_files(work: Path, name: str, paths: dict) -> dict[str, Path]:
    return {kind: wrk.write_paths(paths[kind], work / f"{name}-{kind}.txt") for kind in KINDS}


def fresh_site(site: Path, state: Path, log_file: Path, paths: dict, headers: dict) -> dict:
    """A first `vellum serve` on a new state folder (holding only the bench key): until
    lists answer, then search."""
    server = start_vellum(site, state, log_file)
    try:
        first_list = first_answer(server, paths["lists"][0], headers)
        full_text = full_text_seconds(server, paths["search"][0], headers)
    finally:
        stop(server.proc)
    return {"first_list_s": first_list, "full_text_s": full_text}


def restarts(site: Path, state: Path, log_file: Path, path: str, count: int, headers: dict):
    """`count` starts on the up-to-date state folder, each timed to its first list answer;
    the last server is left running (and returned) for the loads."""
    seconds: list[float] = []
    for n in range(count):
        server = start_vellum(site, state, log_file)
        try:
            seconds.append(first_answer(server, path, headers))
        except BaseException:
            stop(server.proc)
            raise
        if n < count - 1:
            stop(server.proc)
    return server, seconds


def loads(server: Server, peer: tuple, work: Path, workload: Workload, args) -> dict:
    """Both servers checked, then loaded kind by kind; the memory of each after its loads;
    then the event streams."""
    (peer_base, peer_proc), site = peer, Path(args.site)
    ours, theirs = vellum_paths(workload), datasette_paths(workload)
    files, peer_files = path_files(work, "vellum", ours), path_files(work, "datasette", theirs)
    headers = {"Authorization": f"Bearer {create_key(site, work / STATE)}"}
    check_answers("vellum", server.base, ours, headers)
    check_answers("datasette", peer_base, theirs)
    result = {"vellum": load_vellum(server, ours, files, args.seconds, headers)}
    processes = server.processes()
    result["memory_mb"] = {"vellum": pss_mb(processes), "processes": len(processes)}
    log(f"vellum serve's processes: {[' '.join(command_line(p)[-3:]) for p in processes]}")
    result["datasette"] = load_peer(peer_base, peer_files, args.seconds)
    result["memory_mb"]["datasette"] = pss_mb(tree(peer_proc.pid))
    count = args.streams or stream_capacity()
    post = published_id(Path(args.db))
    streams = event_streams(server, site, post, count, files["lists"], args.seconds, headers)
    result["streams"] = {**streams, "capacity": stream_capacity()}
    return result


def run(args: argparse.Namespace) -> dict:
    """Every measurement in order; each server is stopped however the run ends."""
    site, work = Path(args.site), Path(args.work)
    manifest = json.loads(Path(args.manifest).read_text("utf-8"))
    workload = choose(Path(args.db), list(manifest["words"]), args.seed)
    if len(set(workload.queries)) < MIN_QUERIES:
        # The search load is meant to hit the index, not a cache of a few answers.
        raise BenchError(
            f"only {len(set(workload.queries))} distinct two-word searches fill a page"
        )
    ours = vellum_paths(workload)
    state, log_file = work / STATE, work / "served.log"
    result: dict = {"workload": {k: len(v) for k, v in ours.items()}, "seconds": args.seconds}
    headers = {"Authorization": f"Bearer {create_key(site, state)}"}  # probes spend no IP budget
    result["fresh"] = fresh_site(site, state, log_file, ours, headers)
    log(f"fresh site: {result['fresh']}")
    first = ours["lists"][0]
    server, result["restart_s"] = restarts(site, state, log_file, first, args.restarts, headers)
    log(f"restarts: {[round(s, 2) for s in result['restart_s']]}")
    try:
        with running_datasette(Path(args.db), work / "datasette.log") as peer:
            result.update(loads(server, peer, work, workload, args))
    finally:
        stop(server.proc)
    return result


def log(message: str) -> None:
    print(f"  [served] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.served", description=__doc__)
    for name in ("site", "work", "db", "manifest"):
        parser.add_argument(name)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10, help="wrk's -d of each load")
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--streams", type=int, default=0, help="0: the server's capacity")
    args = parser.parse_args(argv)
    if args.restarts < 1:
        parser.error("--restarts must be at least 1 (the last server is the one loaded)")
    return args


def main(argv: list[str]) -> None:
    """Usage: python -m tests.bench.served SITE WORK DB MANIFEST [--seconds S] [--streams K]."""
    result = run(parse_args(argv))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
