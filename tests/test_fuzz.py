"""Bounded, deterministic fuzzing runs (schemathesis) against a real `vellum serve` of the
sample site. GraphQL, with a key that may write: no answer may be a 5xx or carry
INTERNAL_ERROR, whatever the arguments. REST, against its OpenAPI document: no 5xx, and no
answer the document does not describe."""

from __future__ import annotations

import re
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.core.failures import FailureGroup

from tests.helpers import build_app, commit, committed_sample, make_repo
from tests.servers import running_server
from vellum.auth import keys

# Examples per operation: about 300 requests in all.
EXAMPLES = {"Query": 4, "Mutation": 12}
NEGATIVE_EXAMPLES = 2
LOCALE_ARGUMENT = re.compile(r'\blocale: ("(?:[^"\\]|\\.)*"|null)')


@pytest.fixture
def sample_server(tmp_path):
    """A real server on a copy of the sample site, and a key with read, drafts and write."""
    repo = make_repo(tmp_path / "repo")
    committed_sample(repo)
    commit(repo, "Add the sample site")
    state = tmp_path / "state"
    application = build_app(repo / "content", state)
    scopes = ["read", "read:drafts", "write"]
    _, secret = keys.create_key(application.extensions["vellum"].state, "fuzz", scopes)
    application.extensions["vellum"].close()
    with running_server(repo / "content", state, tmp_path / "server.log") as (base, _proc):
        yield base, {"Authorization": f"Bearer {secret}"}


# hypothesis settings of every run: the same cases each time, no example database, and
# no health checks (a server answers slower than hypothesis expects of a function).
SETTINGS = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "phases": [Phase.generate],
    "suppress_health_check": list(HealthCheck),
}


def test_fuzzing_graphql_finds_no_server_error(sample_server):
    base, auth = sample_server
    schema = schemathesis.graphql.from_url(f"{base}/graphql", headers=auth)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        kind = operation.label.split(".", 1)[0]
        _fuzz(operation, base, auth, EXAMPLES[kind], GenerationMode.POSITIVE, failures)
        _fuzz(operation, base, auth, NEGATIVE_EXAMPLES, GenerationMode.NEGATIVE, failures)
    assert not failures, "\n\n".join(failures[:10])


def _fuzz(operation, base: str, auth: dict, examples: int, mode, failures: list[str]) -> None:
    """Run one operation with generated arguments; note every server error."""

    @settings(max_examples=examples, **SETTINGS)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        case.body = _some_without_locale(case.body)
        response = case.call(base_url=base, headers=auth, timeout=20)
        if response.status_code >= 500 or "INTERNAL_ERROR" in response.text:
            failures.append(f"{response.status_code} for {case.body}\n{response.text[:500]}")

    run()


def _some_without_locale(body: str) -> str:
    """Half the cases lose their `locale:` argument: a random locale is refused first, and
    the values behind it would never be reached."""
    if zlib.crc32(body.encode()) % 2:
        return LOCALE_ARGUMENT.sub("", body)
    return body


# -- REST, against its OpenAPI document -------------------------------------------------------
# Examples per operation: about 500 requests in all, reads first.
REST_EXAMPLES = {"GET": 4, "WRITE": 3}
# Every answer must be what the document says: its status, type, headers and body; and a
# request without (or with wrong) credentials must be refused where the document asks for
# some. (That the server refuses what the document calls invalid is not checked: a query
# parameter is text, and the server reads `1.5` for an integer field's filter, say.)
REST_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.ignored_auth,
]


@pytest.fixture
def rest_server(tmp_path, monkeypatch):
    """A real server on a copy of the sample site; a key that reads everything (and may
    administer) and one that writes. Anonymous callers get a budget as large as the run
    needs (it checks that requests without credentials are refused), and event streams end
    at once."""
    repo = make_repo(tmp_path / "repo")
    site = committed_sample(repo)
    with open(site / "vellum.yml", "a", encoding="utf-8") as config:
        config.write("rate_limits:\n  anonymous: 100000 per minute\n")
    commit(repo, "Add the sample site")
    monkeypatch.setenv("VELLUM_STREAM_SECONDS", "0.2")
    state = tmp_path / "state"
    application = build_app(site, state)
    vellum = application.extensions["vellum"]
    credentials = {}
    scopes_of = {"GET": ["read", "read:drafts", "admin"], "WRITE": ["read", "write"]}
    for name, scopes in scopes_of.items():
        _, secret = keys.create_key(vellum.state, name, scopes, rate_limit="100000 per minute")
        credentials[name] = {"Authorization": f"Bearer {secret}"}
    inferred = {name for name, model in vellum.site.models.items() if model.inferred}
    vellum.close()
    with running_server(site, state, tmp_path / "server.log") as (base, _proc):
        yield base, credentials, inferred


@pytest.mark.timeout(300)
def test_fuzzing_the_rest_api_finds_nothing_its_openapi_document_does_not_say(rest_server):
    base, credentials, inferred = rest_server
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json", headers=credentials["GET"])
    failures: list[str] = []
    found = [result.ok() for result in schema.get_all_operations()]
    for operation in sorted(found, key=lambda op: op.method.upper() != "GET"):
        kind = "GET" if operation.method.upper() == "GET" else "WRITE"
        if kind == "WRITE" and any(operation.path.startswith(f"/api/{m}") for m in inferred):
            # Any value fits a folder without a model, and changes the types inferred from
            # its files, so the document read at the start would no longer describe them.
            continue
        for mode, examples in (
            (GenerationMode.POSITIVE, REST_EXAMPLES[kind]),
            (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
        ):
            _call(operation, base, credentials[kind], examples, mode, failures)
    assert not failures, "\n\n".join(failures[:10])


def _call(operation, base: str, auth: dict, examples: int, mode, failures: list[str]) -> None:
    """Send generated requests to one operation; note every answer that breaks the document."""

    @settings(max_examples=examples, **SETTINGS)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        try:
            case.call_and_validate(base_url=base, headers=auth, checks=REST_CHECKS, timeout=20)
        except (AssertionError, FailureGroup) as failure:
            failures.append(f"{operation.label} ({mode.name.lower()}): {failure}")

    try:
        run()
    except Unsatisfiable:  # nothing in the operation can be made invalid
        pass
