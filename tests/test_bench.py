"""The benchmark's HTTP requests, without any load: tests/bench/wrk.lua hands each wrk
thread valid request paths in turn, and the paths built for Vellum and for Datasette are
valid request targets that a real server answers with the records asked for."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.parse
from pathlib import Path

import pytest
from lupa import luajit21  # wrk runs its scripts on LuaJIT 2.1

from tests.bench import wrk
from tests.bench.peer import build
from tests.bench.peer_server import running_datasette
from tests.bench.sitegen import generate_site
from tests.bench.workload import (
    KINDS,
    PAGE,
    answer_problem,
    choose,
    datasette_paths,
    tilde_encode,
    vellum_paths,
)
from tests.servers import call
from vellum import create_app
from vellum.auth import keys

# RFC 3986 request target: a path and query of unreserved, sub-delims, ":", "@", "/",
# "?" and percent-escapes only (no space, bracket, quote or non-ASCII character).
TARGET = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
ODD_ID = "odd/id.with space~and-é"


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> dict:
    """A small synthetic site, the peer's database of it, and a workload chosen from both."""
    root = tmp_path_factory.mktemp("bench")
    manifest = generate_site(root / "site", 150, seed=1)
    build(root / "site", root / "peer.db")
    workload = choose(root / "peer.db", list(manifest["words"]), seed=1, count=40)
    return {"root": root, "site": root / "site", "db": root / "peer.db", "workload": workload}


def lua_threads(paths_file: Path, threads: int) -> list:
    """wrk.lua as wrk runs it: setup() per thread in a main state, then init() in each
    thread's own state, which got `thread_number` through thread:set."""
    script = wrk.SCRIPT.read_text(encoding="utf-8")
    main = luajit21.LuaRuntime()
    main.execute(script)
    made = []
    for _ in range(threads):
        made.append(main.eval("{set = function(self, name, value) self[name] = value end}"))
        main.globals().setup(made[-1])
    states = []
    for thread in made:
        lua = luajit21.LuaRuntime()
        lua.execute("wrk = {format = function(method, path) return path end}")
        lua.globals().thread_number = thread.thread_number
        lua.execute(script)
        lua.globals().init(lua.table(str(paths_file)))
        states.append(lua)
    return states


def test_wrk_script_gives_each_thread_every_path_in_turn_from_its_own_place(bench, tmp_path):
    paths = vellum_paths(bench["workload"])["lists"]
    paths_file = wrk.write_paths(paths, tmp_path / "paths.txt")
    first, second = lua_threads(paths_file, 2)
    asked = [[lua.globals().request() for _ in range(len(paths))] for lua in (first, second)]
    for requests in asked:
        assert sorted(requests) == sorted(paths)  # each path once per round
        assert all(a != b for a, b in zip(requests, requests[1:], strict=False))
        assert all(TARGET.fullmatch(r) for r in requests)
    assert asked[0][0] == paths[0]
    assert asked[1][0] == paths[len(paths) // 2]  # the second thread starts half way


def test_wrk_script_refuses_a_file_without_request_paths(tmp_path):
    paths_file = tmp_path / "paths.txt"
    paths_file.write_text("api/blogPost?limit=20\n", encoding="ascii")
    with pytest.raises(luajit21.LuaError, match="not a request path"):
        lua_threads(paths_file, 1)


def test_wrk_script_reports_its_figures_as_the_json_the_bench_reads():
    lua = luajit21.LuaRuntime()
    lua.execute(wrk.SCRIPT.read_text(encoding="utf-8"))
    lua.execute("written = ''; io.write = function(text) written = written .. text end")
    lua.execute(
        """summary = {requests = 5000, duration = 2500000,
                      errors = {connect = 0, read = 0, write = 0, status = 3, timeout = 1}}
           latency = {max = 90000, percentile = function(self, p) return p * 100 end}"""
    )
    lua.eval("done(summary, latency, {})")
    result = wrk.parse("Running 2s test\n" + lua.globals().written)
    assert result["requests"] == 5000 and result["seconds"] == 2.5
    assert result["errors"] == {"connect": 0, "read": 0, "write": 0, "status": 3, "timeout": 1}
    assert (result["p50_ms"], result["p99_ms"], result["max_ms"]) == (5.0, 9.9, 90.0)


def test_vellum_and_datasette_paths_are_request_targets_saying_what_was_meant(bench):
    work = bench["workload"]
    assert len(set(work.thresholds)) == len(work.thresholds) >= 20
    ours, theirs = vellum_paths(work), datasette_paths(work)
    for paths in (ours, theirs):
        assert all(TARGET.fullmatch(p) for kind in KINDS for p in paths[kind])
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(theirs["lists"][3]).query)
    assert query["views__gt"] == [str(work.thresholds[3])]
    assert query["status"] == ["published"] and query["_size"] == [str(PAGE)]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(ours["lists"][3]).query)
    assert query["filter[views][$gt]"] == [str(work.thresholds[3])]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(theirs["search"][0]).query)
    assert query["q"] == [work.queries[0]] and "snippet(posts_fts" in query["sql"][0]
    assert tilde_encode(ODD_ID) == "odd~2Fid~2Ewith+space~7Eand-~C3~A9"


def test_datasette_answers_each_path_with_the_records_asked_for(bench):
    db = bench["root"] / "odd" / "peer.db"  # Datasette names the database after the file
    db.parent.mkdir()
    db.write_bytes(bench["db"].read_bytes())
    with sqlite3.connect(db) as conn:  # an id with every character Datasette encodes
        conn.execute("insert into posts (id, title, status) values (?, 'Odd', 'draft')", (ODD_ID,))
    paths = datasette_paths(bench["workload"])
    with running_datasette(db, bench["root"] / "datasette.log") as (base, _):
        for kind in KINDS:
            for path in paths[kind][:5]:
                status, _, body = call("GET", base + path)
                assert answer_problem("datasette", kind, path, status, body) is None
        odd = f"/peer/posts/{tilde_encode(ODD_ID)}.json?_shape=objects"
        status, _, body = call("GET", base + odd)
    assert status == 200 and body["rows"][0]["id"] == ODD_ID


def test_vellum_answers_each_path_with_the_records_asked_for(bench):
    app = create_app(
        {
            "SITE": str(bench["site"]),
            "STATE_DIR": str(bench["root"] / "state"),
            "SYNC_ON_START": True,
            "TEXT_INDEX": "inline",
        }
    )
    _, secret = keys.create_key(app.extensions["vellum"].state, "bench", ["read", "read:drafts"])
    client = app.test_client()
    paths = vellum_paths(bench["workload"])
    for kind in KINDS:
        for path in paths[kind][:5]:
            response = client.get(path, headers={"Authorization": f"Bearer {secret}"})
            body = json.loads(response.data)
            assert answer_problem("vellum", kind, path, response.status_code, body) is None
