"""The CLI through click's runner, on real repositories."""

from __future__ import annotations

import json

import pytest

from tests.helpers import git, make_repo, write_files
from vellum import create_app
from vellum.cli.main import cli
from vellum.cli.reads import filter_option
from vellum.query.filters import Filter
from vellum.services import Vellum
from vellum.site.config import load_config


def run(runner, site, *args):
    return runner.invoke(cli, ["--site", str(site), *args], catch_exceptions=False)


def test_init_creates_a_committed_site(runner, tmp_path):
    target = tmp_path / "blog"
    result = runner.invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "vellum.yml").exists()
    assert git(target, "log", "--format=%s") == "Start a Vellum site"
    assert git(target, "status", "--porcelain") == ""
    assert git(target, "config", "receive.denyCurrentBranch") == "updateInstead"
    listed = run(runner, target, "list", "post", "--json")
    assert [r["id"] for r in json.loads(listed.output)["data"]] == ["hello-world"]
    assert run(runner, target, "validate").exit_code == 0


def test_init_refuses_a_folder_with_files(runner, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    result = runner.invoke(cli, ["init", str(tmp_path / "x")])
    assert result.exit_code == 1 and "not empty" in result.output


def test_init_dot_in_a_new_repository_makes_the_site_there(runner, tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "fresh")  # `git init` first, then `vellum init .`
    monkeypatch.chdir(repo)
    result = runner.invoke(cli, ["init", "."])
    assert result.exit_code == 0, result.output
    assert (repo / "vellum.yml").exists() and (repo / "posts" / "hello-world.md").exists()
    assert git(repo, "log", "--format=%an|%s") == "Test Writer|Start a Vellum site"
    assert git(repo, "status", "--porcelain") == ""
    assert runner.invoke(cli, ["validate"]).output == "All records are valid.\n"


def test_init_inside_a_repository_adds_a_site_to_it(runner, site_repo, monkeypatch):
    repo = site_repo.parent
    before = git(repo, "rev-parse", "HEAD")
    write_files(repo, {"notes.txt": "staged", "scratch.txt": "untracked"})
    git(repo, "add", "notes.txt")
    monkeypatch.chdir(repo)
    result = runner.invoke(cli, ["init", "docs/site"])
    assert result.exit_code == 0, result.output
    site = repo / "docs" / "site"
    assert (site / "vellum.yml").exists() and not (site / ".git").exists()
    assert git(repo, "rev-parse", "HEAD~1") == before  # one commit, in this repository
    assert git(repo, "show", "--name-only", "--format=%s", "HEAD").splitlines() == [
        "Start a Vellum site",
        "",
        "docs/site/authors/editor.json",
        "docs/site/posts/hello-world.md",
        "docs/site/vellum.yml",
    ]
    assert git(repo, "status", "--porcelain") == "A  notes.txt\n?? scratch.txt"
    listed = run(runner, site, "list", "post", "--json")
    assert [r["id"] for r in json.loads(listed.output)["data"]] == ["hello-world"]
    inside = runner.invoke(cli, ["init", "content/more"])  # a site cannot hold another
    assert inside.exit_code == 1 and "is inside the site" in inside.output
    assert not (repo / "content" / "more").exists()


def test_validate_reports_each_problem_and_exits_1(runner, query_repo):
    write_files(
        query_repo,
        {"posts/bad.md": "---\ntitle: Bad\nviews: many\n---\n", "people/x.json": "{oops"},
    )
    result = run(runner, query_repo, "validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "people/x.json:1: invalid JSON: Expecting property name enclosed in double quotes",
        "posts/bad.md:3: views: expected an integer, got a string 'many'",
    ]
    as_json = json.loads(run(runner, query_repo, "validate", "--json").output)
    assert as_json["valid"] is False and len(as_json["problems"]) == 2


def test_validate_clean_site(runner, query_repo):
    result = run(runner, query_repo, "validate")
    assert result.exit_code == 0 and result.output == "All records are valid.\n"


def test_list_with_filters_sort_and_limit(runner, query_repo):
    result = run(
        runner, query_repo, "list", "post", "--filter", "status=published",
        "--filter", "views[$gte]=50", "--sort", "-views", "--json",
    )  # fmt: skip
    body = json.loads(result.output)
    assert [r["id"] for r in body["data"]] == ["beta", "epsilon"]
    text = run(runner, query_repo, "list", "post", "--sort", "title", "--limit", "2")
    assert text.output.splitlines()[:2] == ["alpha\tAlpha", "beta\tBeta"]


def test_list_refuses_what_the_api_refuses(runner, query_repo):
    result = run(runner, query_repo, "list", "post", "--filter", "nope=1")
    assert result.exit_code == 1
    assert "filter[nope]: unknown field 'nope' in post" in result.output
    assert run(runner, query_repo, "list", "ghost").exit_code == 1


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["author.name=Jane Doe"], ["alpha", "epsilon", "gamma"]),
        (["author[name][$eq]=John Roe"], ["beta", "delta"]),
        (["id[$in]=gamma, alpha"], ["alpha", "gamma"]),
        (["views[$lt]=50", "tags=git"], ["alpha"]),
        (["title[$contains]=ALP"], ["alpha"]),
        (["publishedAt[$gte]=2024-06-01"], ["beta", "gamma"]),
        (["featured=true", "status[$ne]=draft"], ["alpha"]),
    ],
)
def test_list_filters_as_the_api_does(runner, query_repo, filters, expected):
    options = [arg for item in filters for arg in ("--filter", item)]
    result = run(runner, query_repo, "list", "post", *options, "--sort", "id", "--json")
    assert [r["id"] for r in json.loads(result.output)["data"]] == expected


@pytest.mark.parametrize(
    ("option", "code", "message"),
    [
        ("views", 2, "expected field=value or field[$op]=value, got 'views'"),
        ("views[$gt=1", 2, "expected field=value or field[$op]=value"),
        ("views[$gt]=abc", 1, "filter[views][$gt]: expected a number, got 'abc'"),
        ("views[$like]=1", 1, "filter[views][$like]: unknown operator '$like'"),
        ("author.nope=x", 1, "filter[author.nope]: unknown field 'nope' in person"),
    ],
)
def test_a_wrong_filter_option_is_refused_naming_it(runner, query_repo, option, code, message):
    result = run(runner, query_repo, "list", "post", "--filter", option)
    assert result.exit_code == code and message in result.output


def test_filter_options_are_typed_filters(query_repo, tmp_path):
    services = Vellum(load_config({"SITE": str(query_repo), "STATE_DIR": str(tmp_path / "s")}))
    try:
        catalog = services.catalog()
        assert filter_option(catalog, "post", "views[$gt]=100") == Filter(
            ("views",), "$gt", 100, "filter[views][$gt]"
        )
        assert filter_option(catalog, "post", "author[name]=Jane Doe") == Filter(
            ("author", "name"), "$eq", "Jane Doe", "filter[author][name]"
        )
    finally:
        services.close()


def test_list_pages_shows_fields_and_embeds_relations(runner, query_repo):
    result = run(
        runner, query_repo, "list", "post", "--sort", "title", "--offset", "1", "--limit", "1",
        "--fields", "title,author", "--populate", "author", "--locale", "fr", "--json",
    )  # fmt: skip
    body = json.loads(result.output)
    assert body["meta"] == {"total": 5, "limit": 1, "offset": 1, "hasMore": True, "locale": "fr"}
    [row] = body["data"]
    assert (row["id"], row["title"], row["author"]["name"]) == ("beta", "Beta", "John Roe")
    assert set(row) == {"id", "type", "title", "author"}
    over = run(runner, query_repo, "list", "post", "--limit", "101")
    assert over.exit_code == 1 and "limit: must be between 0 and 100, got 101" in over.output


def test_get_and_search(runner, query_repo):
    got = json.loads(
        run(runner, query_repo, "get", "post", "beta", "--populate", "author", "--json").output
    )
    assert got["data"]["author"]["name"] == "John Roe"
    text = run(runner, query_repo, "get", "person", "jane").output
    assert "name: Jane Doe" in text
    missing = run(runner, query_repo, "get", "post", "nope")
    assert missing.exit_code == 1 and "No post with id 'nope'" in missing.output
    found = json.loads(run(runner, query_repo, "search", "typography", "--json").output)
    assert [(h["type"], h["id"]) for h in found["data"]] == [("post", "beta")]


def test_index_and_rebuild(runner, query_repo):
    first = json.loads(run(runner, query_repo, "index", "--json").output)
    assert first["added"] == 10 and first["textIndexed"] == 10
    second = json.loads(run(runner, query_repo, "index", "--json").output)
    assert (second["added"], second["unchanged"], second["textIndexed"]) == (0, 10, 0)
    rebuilt = json.loads(run(runner, query_repo, "index", "--rebuild", "--json").output)
    assert rebuilt["rebuilt"] is True and rebuilt["added"] == 10 and rebuilt["textIndexed"] == 10


def test_site_from_environment(runner, query_repo, monkeypatch):
    monkeypatch.setenv("VELLUM_SITE", str(query_repo))
    result = runner.invoke(cli, ["list", "person", "--json"])
    assert [r["id"] for r in json.loads(result.output)["data"]] == ["jane", "john"]


def test_not_a_site(runner, tmp_path):
    result = run(runner, tmp_path / "missing", "list", "post")
    assert result.exit_code == 1 and "does not exist" in result.output
    plain = tmp_path / "plain"
    plain.mkdir()
    result = run(runner, plain, "validate")
    assert result.exit_code == 1 and "not inside a Git repository" in result.output


def test_the_site_is_found_as_git_finds_its_folder(runner, site_repo, monkeypatch):
    repo = site_repo.parent  # the sample site in content/, as in Vellum's own repository
    monkeypatch.chdir(repo)
    made = runner.invoke(cli, ["keys", "create", "ci", "--scope", "read", "--json"])
    assert made.exit_code == 0, made.output
    key = json.loads(made.output)["data"]["key"]
    assert sorted(p.name for p in (repo / ".git" / "vellum").iterdir()) == ["content"]
    application = create_app({"SITE": str(site_repo)})  # the server of `make serve`
    try:
        answer = application.test_client().get(
            "/api/blogPost/hello-world", headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 200
    finally:
        application.extensions["vellum"].close()
    listed = runner.invoke(cli, ["list", "blogPost", "--limit", "1", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.output)["meta"]["total"] >= 20
    assert runner.invoke(cli, ["validate"]).output == "All records are valid.\n"
    monkeypatch.chdir(site_repo / "posts" / "2024")  # a folder inside the site: the site
    assert runner.invoke(cli, ["get", "blogPost", "hello-world"]).exit_code == 0


def test_outside_any_site_commands_refuse_and_create_nothing(runner, site_repo, monkeypatch):
    repo = site_repo.parent
    second = repo / "docs"
    write_files(
        second,
        {"vellum.yml": "models: {page: {folder: pages}}\n", "pages/a.md": "---\ntitle: A\n---\n"},
    )
    monkeypatch.chdir(repo)
    refused = runner.invoke(cli, ["keys", "create", "ci"])
    assert refused.exit_code == 1
    assert "repository" in refused.output and "holds 2 (content, docs)" in refused.output
    assert "--site" in refused.output
    assert not (repo / ".git" / "vellum").exists()
    # --site and VELLUM_SITE still choose, from anywhere.
    chosen = runner.invoke(cli, ["--site", "docs", "list", "page", "--json"])
    assert [r["id"] for r in json.loads(chosen.output)["data"]] == ["a"]
    monkeypatch.setenv("VELLUM_SITE", str(site_repo))
    assert runner.invoke(cli, ["validate"]).exit_code == 0
    monkeypatch.delenv("VELLUM_SITE")
    # A repository with no site at all.
    bare = make_repo(repo.parent / "plain")
    monkeypatch.chdir(bare)
    nothing = runner.invoke(cli, ["validate"])
    assert nothing.exit_code == 1 and "is not a Vellum site: no vellum.yml" in nothing.output
    assert not (bare / ".git" / "vellum").exists()


def test_users_commands(runner, query_repo):
    added = runner.invoke(
        cli,
        ["--site", str(query_repo), "users", "add", "ada", "--role", "admin", "--password-stdin"],
        input="correct horse\n",
    )
    assert added.exit_code == 0, added.output
    assert added.output == "Added ada (admin).\n"
    prompted = runner.invoke(
        cli, ["--site", str(query_repo), "users", "add", "bo"], input="long enough\nlong enough\n"
    )
    assert prompted.exit_code == 0, prompted.output
    rows = json.loads(run(runner, query_repo, "users", "list", "--json").output)["data"]
    assert [(r["name"], r["role"]) for r in rows] == [("ada", "admin"), ("bo", "viewer")]
    assert (
        run(runner, query_repo, "users", "set-role", "bo", "editor").output == "bo is now editor.\n"
    )
    last = runner.invoke(cli, ["--site", str(query_repo), "users", "remove", "ada"])
    assert last.exit_code == 1 and "last admin" in last.output
    short = runner.invoke(
        cli,
        ["--site", str(query_repo), "users", "add", "cy", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code == 1 and "password: must be at least 8 characters" in short.output
    bad_email = runner.invoke(
        cli,
        ["--site", str(query_repo), "users", "add", "cy", "--email", "cy@x.io\nBcc: y@x.io"],
        input="long enough\nlong enough\n",
    )
    assert bad_email.exit_code == 1 and "Invalid email (email: " in bad_email.output
    assert run(runner, query_repo, "users", "remove", "bo").output == "Removed bo.\n"


def test_keys_commands(runner, query_repo):
    made = json.loads(
        run(
            runner, query_repo, "keys", "create", "ci", "--scope", "read", "--scope", "write",
            "--expires", "30d", "--ip", "10.0.0.0/8", "--usage-limit", "5", "--json",
        ).output
    )["data"]  # fmt: skip
    assert made["key"].startswith(f"vk_{made['id']}_")
    assert made["scopes"] == ["read", "write"] and made["allowedIps"] == ["10.0.0.0/8"]
    listed = run(runner, query_repo, "keys", "list").output
    assert f"{made['id']}\tci\tread,write\tactive\t0 requests" in listed
    assert (
        "key"
        not in json.loads(run(runner, query_repo, "keys", "show", made["id"], "--json").output)[
            "data"
        ]
    )
    rotated = json.loads(run(runner, query_repo, "keys", "rotate", made["id"], "--json").output)
    assert rotated["data"]["key"] != made["key"]
    assert (
        run(runner, query_repo, "keys", "revoke", made["id"]).output
        == f"vk_{made['id']} revoked.\n"
    )
    bad = runner.invoke(cli, ["--site", str(query_repo), "keys", "create", "x", "--ip", "nope"])
    assert bad.exit_code == 1 and "allowedIps" in bad.output


def test_new_history_diff_restore(runner, query_repo, tmp_path):
    body = tmp_path / "body.md"
    body.write_text("First words.\n")
    made = run(
        runner, query_repo, "new", "post", "--set", "title=From the CLI", "--set", "views=3",
        "--set", 'tags=["cli"]', "--body-file", str(body), "-m", "Write from the terminal",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert made.output == "Created post from-the-cli (posts/from-the-cli.md).\n"
    assert git(query_repo, "log", "-1", "--format=%an|%s") == "Test Writer|Write from the terminal"
    first = git(query_repo, "rev-parse", "HEAD")
    path = query_repo / "posts/from-the-cli.md"
    path.write_text(path.read_text().replace("views: 3", "views: 4"))
    git(query_repo, "commit", "-qam", "Four views")
    second = git(query_repo, "rev-parse", "HEAD")
    versions = run(runner, query_repo, "history", "post", "from-the-cli").output.splitlines()
    assert [line.split("  ")[-1] for line in versions] == ["Four views", "Write from the terminal"]
    changed = run(runner, query_repo, "diff", "post", "from-the-cli", first, second).output
    assert changed == "views: 3 -> 4\n"
    back = run(runner, query_repo, "restore", "post", "from-the-cli", first)
    assert back.exit_code == 0 and back.output.startswith(
        f"Restored post from-the-cli to {first[:10]}"
    )
    assert "views: 3" in path.read_text()
    invalid = run(runner, query_repo, "new", "post", "--set", "id=x", "--set", "views=lots")
    assert invalid.exit_code == 1
    assert "views: expected an integer" in invalid.output and "title: is required" in invalid.output


def test_validate_names_folders_that_are_not_served(runner, query_repo):
    write_files(
        query_repo,
        {
            "blog-posts/a.md": "---\ntitle: A\n---\n",
            "users/u.json": "{}",
            "_drafts/d.md": "---\ntitle: D\n---\n",  # _ keeps a folder out, silently
            "notes/n.md": "---\ntitle: N\n---\n",  # inferred: served
        },
    )
    result = run(runner, query_repo, "validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "blog-posts/: not served: model names start with a letter and hold only letters,"
        " digits and _; declare a model for it in vellum.yml: models: {blogPost: {folder:"
        " blog-posts}} (or name it _blog-posts to keep it out)",
        "users/: not served: 'users' is reserved by the API (apps, auth, content, events,"
        " hooks, keys, media, models, search, sync, upload, users, webhooks); declare a model"
        " for it in vellum.yml: models: {<name>: {folder: users}} (or name it _users to keep"
        " it out)",
    ]
    assert (
        json.loads(run(runner, query_repo, "list", "note", "--json").output)["data"][0]["id"] == "n"
    )


def test_validate_checks_the_settings_of_vellum_yml(runner, query_repo):
    config = (query_repo / "vellum.yml").read_text().replace("auth:\n  public_read: true\n", "")
    mistakes = """\
retenton: {events: 7}
default_model: article
auth: {public_read: "yes"}
media: {max_size: big}
rate_limits: {anonymous: lots}
graphql: {depth: 0}
webhooks: [{url: "ftp://example.com/hook"}]
retention: {events: -1}
"""
    write_files(query_repo, {"vellum.yml": config + mistakes})
    result = run(runner, query_repo, "validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "vellum.yml:34: unknown key 'retenton' (did you mean 'retention'?)",
        "vellum.yml:35: default_model 'article' is not a model (post, person, category)",
        "vellum.yml:36: auth.public_read must be true or false",
        "vellum.yml:37: media.max_size must be a positive number of bytes",
        "vellum.yml:38: Invalid rate limit: rate_limits.anonymous: expected e.g."
        " '100 per 15 minutes': couldn't parse rate limit string 'lots'",
        "vellum.yml:39: graphql.depth must be a positive integer",
        "vellum.yml:40: Invalid webhook webhooks[0]: url: expected an http:// or https:// URL",
        "vellum.yml:41: retention.events must be a number of days (0: keep)",
    ]


def test_validate_checks_the_size_limits(runner, query_repo):
    config = (query_repo / "vellum.yml").read_text()
    limits = "limits: {max_conditions: 0}\ngraphql: {length: long}\n"
    write_files(query_repo, {"vellum.yml": config + limits})
    result = run(runner, query_repo, "validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "vellum.yml:36: limits.max_conditions must be a positive integer",
        "vellum.yml:37: graphql.length must be a positive integer",
    ]
    write_files(query_repo, {"vellum.yml": config + "limits: {max_values: -1}\n"})
    assert run(runner, query_repo, "validate").output.splitlines() == [
        "vellum.yml:36: limits.max_values must be a positive integer"
    ]


def test_serve_refuses_to_start_on_a_wrong_setting(runner, query_repo):
    config = (query_repo / "vellum.yml").read_text()
    write_files(query_repo, {"vellum.yml": config + "limits: {max_body: big}\n"})
    result = run(runner, query_repo, "serve")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "  vellum.yml:36: limits.max_body must be a positive number of bytes"
    )
