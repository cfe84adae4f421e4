"""`vellum export`: the read API as static files, byte for byte what the live API answers."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from tests.helpers import authorised_client, build_app, commit, git
from tests.servers import running_server
from vellum.cli.main import cli
from vellum.errors import BadRequest
from vellum.export import files
from vellum.export.run import Exporter

DRAFT = "api/blogPost/editor-keyboard-shortcuts.json"  # status: draft in the sample


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=20) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def static_server(folder: Path):
    """Python's own static file server over `folder`, on a free loopback port."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def sample(site_repo) -> Path:
    """The sample site, with room in the anonymous rate limit for reading every file."""
    config = site_repo / "vellum.yml"
    config.write_text(config.read_text() + "rate_limits:\n  anonymous: 100000 per minute\n")
    commit(site_repo.parent, "Room for the test's reads")
    return site_repo


def export(site: Path, state: Path, out: Path, *extra: str) -> dict:
    result = _run(site, state, "export", str(out), "--json", *extra)
    return json.loads(result.output)


def _run(site: Path, state: Path, *args: str):
    result = CliRunner().invoke(
        cli, ["--site", str(site), *args], env={"VELLUM_STATE_DIR": str(state)}
    )
    assert result.exit_code == 0, result.output
    return result


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_every_exported_file_is_the_live_answer_byte_for_byte(sample, tmp_path):
    out, state = tmp_path / "out", tmp_path / "state"
    report = export(sample, state, out)
    listed = manifest(out)["files"]
    assert report["files"] == len(listed) and report["written"] == len(listed)
    for must in (
        "api/models.json",
        "api/blogPost/hello-world.json",
        "api/blogPost/hello-world.fr.json",
        "api/blogPost/page/1.json",
        "api/content/page/1.json",
        "api/content/jane-doe.json",
        "media/avatars/jane-doe.svg",
        "search.json",
    ):
        assert must in listed, must
    assert DRAFT not in listed
    with (
        running_server(sample, state, tmp_path / "serve.log") as (live, _),
        static_server(out) as static,
    ):
        for rel, sha in listed.items():
            url = "/" + quote(rel)
            status, exported = fetch(static + url)
            assert status == 200 and hashlib.sha256(exported).hexdigest() == sha, rel
            if rel != "search.json":  # the one file the live API has no path for
                assert fetch(live + url) == (200, exported), rel
        assert fetch(static + "/" + DRAFT)[0] == 404
        assert fetch(live + "/" + DRAFT)[0] == 404


def test_the_live_paths_answer_as_the_routes_they_stand_for(sample, tmp_path):
    app = build_app(sample, tmp_path / "state")
    client = app.test_client()
    pairs = {
        "/api/blogPost/hello-world.json": "/api/blogPost/hello-world",
        "/api/blogPost/hello-world.fr.json": "/api/blogPost/hello-world?locale=fr",
        "/api/blogPost/page/1.json": "/api/blogPost?limit=100&offset=0",
        "/api/blogPost/page/2.json": "/api/blogPost?limit=100&offset=100",
        "/api/models.json": "/api/models",
        "/api/content/page/1.json": "/api/content?limit=100&offset=0",
        "/api/v1/blogPost/hello-world.json": "/api/v1/blogPost/hello-world",
    }
    for path, route in pairs.items():
        got, want = client.get(path), client.get(route)
        assert (got.status_code, got.data) == (want.status_code, want.data) == (200, want.data)
    # The path is the whole question, as a file's is: a query string changes nothing.
    assert (
        client.get("/api/blogPost/hello-world.json?fields=title").data
        == client.get("/api/blogPost/hello-world").data
    )
    # Routes of the API's own named `.json` are not taken for records.
    assert client.get("/api/openapi.json").get_json()["openapi"].startswith("3.1")
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/blogPost/page/0.json").status_code == 404
    etag = client.get("/api/blogPost/page/1.json").headers["ETag"]
    again = client.get("/api/blogPost/page/1.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    app.extensions["vellum"].close()


def test_a_second_export_rewrites_only_what_one_commit_changed(sample, tmp_path):
    out, state = tmp_path / "out", tmp_path / "state"
    export(sample, state, out)
    post = sample / "posts" / "2024" / "hello-world.md"
    post.write_text(post.read_text().replace('title: "Hello', 'title: "Edited Hello', 1))
    (sample / "testimonials" / "harbor-labs.json").unlink()
    commit(sample.parent, "Edit one post, remove a testimonial")
    report = export(sample, state, out)
    assert sorted(report["changed"]) == [
        "api/blogPost/hello-world.en.json",
        "api/blogPost/hello-world.json",
        "api/blogPost/page/1.json",
        "api/content/harbor-labs.json",
        "api/content/hello-world.json",
        "api/content/page/1.json",
        "api/models.json",  # one testimonial fewer
        "api/testimonial/harbor-labs.en.json",
        "api/testimonial/harbor-labs.fr.json",
        "api/testimonial/harbor-labs.json",
        "api/testimonial/page/1.json",
        "search.json",
    ]
    assert report["deleted"] == 4 and report["written"] == 8
    assert not (out / "api/testimonial/harbor-labs.json").exists()
    assert "Edited" in (out / "api/blogPost/hello-world.json").read_text()
    listed = manifest(out)
    assert listed["commit"] == git(sample.parent, "rev-parse", "HEAD")
    assert "api/testimonial/harbor-labs.json" not in listed["files"]
    # Nothing changed: nothing written, and the command says so.
    again = _run(sample, state, "export", str(out)).output
    assert " 0 written" in again and " 0 deleted" in again
    assert not list(out.rglob("*.tmp"))


def test_an_export_that_lost_its_files_writes_them_again(sample, tmp_path):
    out, state = tmp_path / "out", tmp_path / "state"
    export(sample, state, out)
    (out / "api/blogPost/hello-world.json").unlink()
    (out / "manifest.json").unlink()
    report = export(sample, state, out)
    assert report["changed"] == ["api/blogPost/hello-world.json"]
    assert (out / "api/blogPost/hello-world.json").exists()


def test_drafts_are_exported_only_when_asked_and_the_manifest_says_so(sample, tmp_path):
    out, state = tmp_path / "out", tmp_path / "state"
    export(sample, state, out)
    index = json.loads((out / "search.json").read_text())
    assert "editor-keyboard-shortcuts" not in {doc[2] for doc in index["docs"]}
    assert manifest(out)["drafts"] is False
    export(sample, state, out, "--drafts")
    assert DRAFT in manifest(out)["files"] and manifest(out)["drafts"] is True
    draft = json.loads((out / DRAFT).read_text())
    assert draft["data"]["status"] == "draft"


def test_the_search_index_finds_records_by_all_their_words(sample, tmp_path):
    out = tmp_path / "out"
    export(sample, tmp_path / "state", out)
    index = json.loads((out / "search.json").read_text())

    assert index["fields"] == ["url", "type", "id", "locale", "title", "words"]

    def search(q: str) -> set[str]:
        wanted = set(q.lower().split())
        return {doc[0] for doc in index["docs"] if wanted <= set(doc[5].split())}

    found = search("hello world")
    assert "/api/blogPost/hello-world.json" in found
    assert all((out / url.lstrip("/")).is_file() for url in found)
    assert search("zzzunknownword") == set()


def test_paths_from_ids_never_leave_the_folder(tmp_path):
    for bad in ("/api/post/../../etc.json", "/api/post/..%2F..%2Fx.json", "/api//x.json"):
        with pytest.raises(BadRequest):
            files.relative(bad)
    assert files.relative("/api/post/caf%C3%A9%20au%20lait.json") == "api/post/café au lait.json"
    with pytest.raises(BadRequest):
        files.target(tmp_path, "../outside.json")


def test_an_exporter_in_process_renders_without_spending_the_rate_limit(sample, tmp_path):
    config = sample / "vellum.yml"
    config.write_text(config.read_text().replace("100000 per minute", "2 per minute"))
    app = build_app(sample, tmp_path / "state")
    report = Exporter(app, tmp_path / "out").run()
    assert report.skipped == [] and report.files > 100
    app.extensions["vellum"].close()


def test_anonymous_reads_are_public_for_a_while_and_revalidate(sample, tmp_path):
    app = build_app(sample, tmp_path / "state")
    client = app.test_client()
    for path in (
        "/api/blogPost",
        "/api/blogPost/hello-world",
        "/api/blogPost/page/1.json",
        "/api/models",
        "/api/content",
        "/api/content/hello-world",
        "/api/search?q=git",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["Cache-Control"] == (
            "public, max-age=10, stale-while-revalidate=60"
        ), path
        assert {"Authorization", "X-API-Key"} <= set(answer.vary), path
        again = client.get(path, headers={"If-None-Match": answer.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"", path
        assert "max-age=10" in again.headers["Cache-Control"], path
    # With credentials: private, whatever the route.
    keyed = authorised_client(app, scopes=("read",))
    private = keyed.get("/api/blogPost")
    assert private.headers["Cache-Control"] == "private"
    # Writes, errors and the API's other answers are not made public.
    assert "Cache-Control" not in client.get("/api/blogPost/nope").headers
    assert "Cache-Control" not in client.get("/api/_status").headers
    app.extensions["vellum"].close()


def test_cache_lifetimes_come_from_vellum_yml(sample, tmp_path):
    config = sample / "vellum.yml"
    config.write_text(config.read_text() + "cache:\n  max_age: 300\n  stale_while_revalidate: 0\n")
    app = build_app(sample, tmp_path / "state")
    answer = app.test_client().get("/api/blogPost/hello-world.json")
    assert answer.headers["Cache-Control"] == "public, max-age=300, stale-while-revalidate=0"
    app.extensions["vellum"].close()


def wait_for(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_serve_keeps_the_export_current_on_every_commit(sample, tmp_path):
    out, state = tmp_path / "out", tmp_path / "state"
    head = git(sample.parent, "rev-parse", "HEAD")
    args = ["--export", str(out)]
    with running_server(sample, state, tmp_path / "serve.log", args=args) as (live, _):
        wait_for(lambda: (out / "manifest.json").exists() and manifest(out)["commit"] == head)
        post = sample / "posts" / "2024" / "hello-world.md"
        post.write_text(post.read_text().replace('title: "Hello', 'title: "Served Hello', 1))
        head = commit(sample.parent, "Retitle a post")
        wait_for(lambda: manifest(out)["commit"] == head)
        exported = (out / "api/blogPost/hello-world.json").read_bytes()
        assert b"Served Hello" in exported
        assert fetch(live + "/api/blogPost/hello-world.json") == (200, exported)


def test_vellum_yml_can_name_the_export_folder(sample, tmp_path):
    config = sample / "vellum.yml"
    config.write_text(config.read_text() + "export: _public\n")
    commit(sample.parent, "Export into _public")
    with running_server(sample, tmp_path / "state", tmp_path / "serve.log"):
        wait_for(lambda: (sample / "_public" / "manifest.json").exists())
    assert (sample / "_public" / "api/blogPost/hello-world.json").exists()


HUGO_CONFIG = """\
baseURL = "http://example.org/"
disableKinds = ["taxonomy", "term", "rss", "sitemap", "robotstxt", "404", "section"]
[security.funcs]
getenv = ["^VELLUM_"]
[security.http]
urls = ['^http://127\\.0\\.0\\.1:']
"""
HUGO_HOME = """\
{{ $api := printf "%s/api" (os.Getenv "VELLUM_API") }}
{{ $models := resources.GetRemote (printf "%s/models.json" $api) }}
<ul>{{ range ($models.Content | transform.Unmarshal).data }}<li>{{ .name }}: {{ .count }}</li>
{{ end }}</ul>
{{ $posts := resources.GetRemote (printf "%s/blogPost/page/1.json" $api) }}
{{ range ($posts.Content | transform.Unmarshal).data }}
<article><h2>{{ .title }}</h2>
{{ with resources.GetRemote (printf "%s/blogPost/%s.fr.json" $api .id) }}
<p lang="fr">{{ (.Content | transform.Unmarshal).data.title }}</p>
{{ end }}
{{ with .author }}
{{ $author := resources.GetRemote (printf "%s/author/%s.json" $api .) }}
<p>{{ ($author.Content | transform.Unmarshal).data.name }}</p>
{{ end }}
{{ .html | safeHTML }}</article>
{{ end }}
"""


def hugo_build(project: Path, api: str, name: str) -> str:
    """Build the Hugo site against an API base URL; its home page."""
    hugo = Path(sys.executable).parent / "hugo"
    out = project.parent / name
    done = subprocess.run(
        [str(hugo), "--source", str(project), "--destination", str(out), "--quiet"]
        + ["--cacheDir", str(project.parent / f"{name}-cache"), "--ignoreCache"],
        env={**os.environ, "VELLUM_API": api, "HOME": str(project.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return (out / "index.html").read_text()


def test_a_hugo_site_built_against_the_export_equals_one_built_against_the_live_api(
    sample, tmp_path
):
    out, state = tmp_path / "out", tmp_path / "state"
    export(sample, state, out)
    project = tmp_path / "hugo" / "site"
    (project / "layouts").mkdir(parents=True)
    (project / "hugo.toml").write_text(HUGO_CONFIG)
    (project / "layouts" / "index.html").write_text(HUGO_HOME)
    with (
        running_server(sample, state, tmp_path / "serve.log") as (live, _),
        static_server(out) as static,
    ):
        from_live = hugo_build(project, live, "live")
        from_export = hugo_build(project, static, "static")
    assert from_export == from_live
    assert "Hello, world: welcome to Field Notes" in from_live
    assert "Bonjour, le monde" in from_live and "Jane Doe" in from_live
