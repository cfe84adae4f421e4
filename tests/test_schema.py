"""vellum.yml's schema: a typo is named with its line and the key meant, wherever a mistake
in vellum.yml is reported; the JSON Schema editors read; every fixture still loads."""

from __future__ import annotations

import json
import time

import jsonschema_rs
import pytest
import yaml

from tests.helpers import QUERY_SITE, ROOT, commit, make_repo, write_files
from tests.test_drafts import SITE as DRAFTS_SITE
from tests.test_webhooks import FAST
from vellum.cli.main import cli
from vellum.errors import SiteError
from vellum.site.schema import json_schema
from vellum.site.site import load_site
from vellum.store.starter import FILES as STARTER

BLOG = """\
title: Typos
models:
  author:
    folder: authors
    format: json
    fields: {name: {type: string, required: true}}
  blogPost:
    folder: posts
    plural: blogPosts
    fields:
      slug:  {type: string, unique: true}
      title: {type: string, requried: true}
"""
SAMPLE = (ROOT / "content" / "vellum.yml").read_text(encoding="utf-8")
PUBLISHED = ROOT / "content" / "vellum.schema.json"
WEBHOOK = (
    f"webhooks:\n  - url: https://example.com/hook\n    secret: ${{HOOK_SECRET}}\n    {FAST}\n"
)


def site(tmp_path, config: str, files: dict[str, str] | None = None):
    repo = make_repo(tmp_path / "repo")
    write_files(repo, {"vellum.yml": config, **(files or {})})
    commit(repo, "A site")
    return repo


def run(runner, repo, *args):
    return runner.invoke(cli, ["--site", str(repo), *args], catch_exceptions=False)


def refused(tmp_path, config: str) -> list[str]:
    """The lines of the error that keeps a site with this vellum.yml from loading."""
    (tmp_path / "vellum.yml").write_text(config)
    with pytest.raises(SiteError) as info:
        load_site(tmp_path)
    return info.value.message.splitlines()


def test_a_typo_in_a_field_names_its_line_and_the_key_meant(tmp_path):
    assert refused(tmp_path, BLOG) == [
        "vellum.yml:12: models.blogPost.fields.title: unknown key 'requried'"
        " (did you mean 'required'?)"
    ]


def test_a_typo_in_a_model_names_its_line_and_the_key_meant(tmp_path):
    config = BLOG.replace("    format: json\n", "    formt: json\n").replace("requried", "required")
    assert refused(tmp_path, config) == [
        "vellum.yml:5: models.author: unknown key 'formt' (did you mean 'format'?)"
    ]


def test_every_mistake_in_the_models_is_named_in_the_order_of_its_lines(tmp_path):
    config = BLOG.replace("      slug:  {type: string, unique: true}\n", "      slug: strnig\n")
    config += "      kind: {type: enum, vals: [a, b]}\n      colour: {type: string, hue: red}\n"
    assert refused(tmp_path, config) == [
        "vellum.yml:11: models.blogPost.fields.slug: type must be one of string, text,"
        " markdown, integer, number, boolean, date, datetime, enum, list, object, relation,"
        " media",
        "vellum.yml:12: models.blogPost.fields.title: unknown key 'requried'"
        " (did you mean 'required'?)",
        "vellum.yml:13: models.blogPost.fields.kind: unknown key 'vals' (did you mean 'values'?)",
        # Nothing like it: the keys a field knows.
        "vellum.yml:14: models.blogPost.fields.colour: unknown key 'hue'"
        " (known: type, required, default, unique, values, of, to, many)",
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("models: {post: {fields: {a: {type: string, required: 'yes'}}}}\n", "must be true or"),
        ("models: {post: {fields: {t: {type: list, of: strings}}}}\n", "unknown type 'strings'"),
        ("models: {post: {fields: {a: {type: relation}}}}\n", "a relation needs 'to'"),
        ("models: {post: {plural: [posts]}}\n", "models.post.plural must be text"),
        ("locales: en\n", "vellum.yml:1: locales must be a list"),
    ],
)
def test_wrong_types_in_the_models_are_refused(tmp_path, config, message):
    assert message in "\n".join(refused(tmp_path, config))


def test_typos_in_the_settings_are_listed_with_their_lines(runner, tmp_path):
    settings = """\
retenton: {events: 7}
auth: {public_raed: true}
media:
  max_sise: 100
graphql: {dept: 3}
webhooks:
  - url: https://example.com/hook
    retry: {max_attempts: 3, backof: 2}
  - {url: https://example.com/other, secert: abc}
cors: {origin: "*"}
"""
    result = run(
        runner, site(tmp_path, BLOG.replace("requried", "required") + settings), "validate"
    )
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "vellum.yml:13: unknown key 'retenton' (did you mean 'retention'?)",
        "vellum.yml:14: auth: unknown key 'public_raed' (did you mean 'public_read'?)",
        "vellum.yml:16: media: unknown key 'max_sise' (did you mean 'max_size'?)",
        "vellum.yml:17: graphql: unknown key 'dept' (did you mean 'depth'?)",
        "vellum.yml:20: webhooks[0].retry: unknown key 'backof' (did you mean 'backoff'?)",
        "vellum.yml:21: webhooks[1]: unknown key 'secert' (did you mean 'secret'?)",
        "vellum.yml:22: cors: unknown key 'origin' (did you mean 'origins'?)",
    ]
    as_json = json.loads(run(runner, tmp_path / "repo", "validate", "--json").output)
    assert as_json["problems"][0] == {
        "path": "vellum.yml",
        "line": 13,
        "field": None,
        "reason": "unknown key 'retenton' (did you mean 'retention'?)",
    }


def test_validate_and_serve_refuse_a_typo_in_a_model(runner, tmp_path):
    repo = site(tmp_path, BLOG, {"posts/hello.md": "---\ntitle: Hello\n---\n"})
    expected = (
        "Error: vellum.yml:12: models.blogPost.fields.title: unknown key 'requried'"
        " (did you mean 'required'?)"
    )
    for command in ("validate", "serve"):
        result = run(runner, repo, command)
        assert result.exit_code == 1, command
        assert result.output.splitlines() == [expected], command


def test_serve_refuses_a_typo_in_a_setting(runner, tmp_path):
    repo = site(tmp_path, BLOG.replace("requried", "required") + "limits: {max_bdy: 10}\n")
    result = run(runner, repo, "serve")
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        "Error: vellum.yml has settings to fix first:",
        "  vellum.yml:13: limits: unknown key 'max_bdy' (did you mean 'max_body'?)",
    ]


@pytest.mark.parametrize(
    ("valid", "typo", "line", "reason"),
    [
        (
            "      title:       {type: string, required: true}",
            "      title:       {type: string, requried: true}",
            11,
            "models.post.fields.title: unknown key 'requried' (did you mean 'required'?)",
        ),
        (
            "  public_read: true",
            "  public_raed: true",
            3,
            "auth: unknown key 'public_raed' (did you mean 'public_read'?)",
        ),
    ],
)
def test_a_running_server_keeps_the_last_valid_vellum_yml(
    client, anonymous, query_repo, valid, typo, line, reason
):
    config = query_repo / "vellum.yml"
    text = config.read_text()
    config.write_text(text.replace(valid, typo, 1))
    time.sleep(0.01)  # a new modification time
    invalid = client.get("/api/_status").get_json()["data"]["invalid"]
    assert invalid == [
        {
            "path": "vellum.yml",
            "line": line,
            "field": None,
            "reason": f"{reason} (the last valid one is still served)",
        }
    ]
    # The last valid vellum.yml is still served: its models, and its settings.
    assert anonymous.get("/api/post/alpha").status_code == 200  # auth.public_read
    post = {m["name"]: m for m in client.get("/api/models").get_json()["data"]}["post"]
    assert {"name": "title", "type": "string", "required": True} in post["fields"]
    config.write_text(text + "\n")
    time.sleep(0.01)
    assert client.get("/api/_status").get_json()["data"]["invalid"] == []


def test_vellum_schema_prints_the_published_json_schema(runner):
    result = runner.invoke(cli, ["schema"])
    assert result.exit_code == 0
    # The committed file is what the command prints: regenerate it with
    # `vellum schema > content/vellum.schema.json` when the schema changes.
    assert result.output == PUBLISHED.read_text(encoding="utf-8")
    assert json.loads(result.output) == json_schema()
    assert SAMPLE.startswith("# yaml-language-server: $schema=vellum.schema.json\n")


FIXTURES = {
    "the sample site": SAMPLE,
    "vellum init's starter": STARTER["vellum.yml"],
    "the query fixture": QUERY_SITE["vellum.yml"],
    "the drafts fixture": DRAFTS_SITE["vellum.yml"],
    "a webhook as the webhook tests add it": QUERY_SITE["vellum.yml"] + WEBHOOK,
    "every settings section": QUERY_SITE["vellum.yml"]
    + """\
description: Every section Vellum reads, with its values written out.
default_model: post
media: {folder: media, allowed_types: [image/png], max_size: 1000}
rate_limits: {anonymous: 10 per minute, authenticated: 100/minute, storage: memory://}
limits: {max_body: 1000, max_conditions: 10, max_values: 10}
cors: {origins: ["https://example.com"]}
graphql: {length: 1000, depth: 5, complexity: 100}
retention: {events: 7, deliveries: 0, activity: 1.5}
""",
}


@pytest.mark.parametrize("name", FIXTURES)
def test_the_sample_and_every_fixture_load_and_fit_the_json_schema(tmp_path, name):
    text = FIXTURES[name]
    (tmp_path / "vellum.yml").write_text(text)
    assert load_site(tmp_path).setting_problems() == []
    validator = jsonschema_rs.validator_for(json.loads(PUBLISHED.read_text()))
    assert validator.is_valid(yaml.safe_load(text)), name


@pytest.mark.parametrize(
    "config",
    [
        BLOG,
        "models: {bad-name: {folder: b}}\n",
        "models: {search: {folder: s}}\n",
        "models: {post: {formt: json}}\n",
        "auth: {public_raed: true}\n",
        "retenton: {events: 7}\n",
        "webhooks: [{url: ftp://example.com/}]\n",
        "graphql: {depth: 0}\n",
    ],
)
def test_an_editor_marks_what_vellum_refuses(config):
    validator = jsonschema_rs.validator_for(json.loads(PUBLISHED.read_text()))
    assert not validator.is_valid(yaml.safe_load(config))
