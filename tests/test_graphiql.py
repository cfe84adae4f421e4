"""GraphiQL at GET /graphql: served by Vellum itself, and working in a browser offline."""

from __future__ import annotations

import json

import pytest

from tests.browser import offline_page
from tests.servers import running_server
from vellum.auth import keys
from vellum.store.state import StateStore

ASSETS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql.min.css",
    "vellum-graphiql.js",
)


def test_browsers_get_graphiql_and_its_assets_from_vellum(anonymous):
    page = anonymous.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "https://" not in html and "http://" not in html  # nothing from a CDN
    for name in ASSETS:
        assert f"/static/graphiql/{name}" in html
        asset = anonymous.get(f"/static/graphiql/{name}")
        assert asset.status_code == 200 and len(asset.get_data()) > 500
        asset.close()
    api = anonymous.get("/graphql", headers={"Accept": "application/json"})
    assert api.status_code == 400 and api.get_json()["errors"][0]["extensions"]["code"] == (
        "BAD_REQUEST"
    )


@pytest.fixture
def served(query_repo, tmp_path):
    """`vellum serve` on a free port, and a key that may read drafts."""
    state_dir = tmp_path / "state"
    store = StateStore(state_dir)
    _, secret = keys.create_key(store, "graphiql", ["read", "read:drafts"])
    store.close()
    with running_server(query_repo, state_dir, tmp_path / "server.log") as (base, _):
        yield base, secret


def _introspection(response) -> bool:
    """GraphiQL's schema request: its IntrospectionQuery, POSTed to /graphql."""
    request = response.request
    return request.method == "POST" and "IntrospectionQuery" in (request.post_data or "")


def _editor(page, selector: str) -> str:
    return page.evaluate(f"document.querySelector('{selector} .CodeMirror').CodeMirror.getValue()")


@pytest.mark.timeout(90)
def test_graphiql_runs_a_query_offline_with_the_users_token(served):
    base, secret = served
    with offline_page(base) as (page, outside):
        with page.expect_response(_introspection) as schema_answer:
            page.goto(f"{base}/graphql")  # GraphiQL asks for the whole schema at once
        introspection = schema_answer.value
        schema = introspection.json()
        page.wait_for_selector(".graphiql-query-editor .CodeMirror")
        page.fill("#token", secret)
        query = '{ post(id: "gamma") { title status } }'  # a draft: needs the token
        page.evaluate(
            "q => document.querySelector('.graphiql-query-editor .CodeMirror')"
            ".CodeMirror.setValue(q)",
            query,
        )
        page.click(".graphiql-execute-button")
        page.wait_for_function(
            "() => document.querySelector('.graphiql-response .CodeMirror')"
            ".CodeMirror.getValue().includes('Gamma')"
        )
        answer = json.loads(_editor(page, ".graphiql-response"))
    assert answer == {"data": {"post": {"title": "Gamma", "status": "DRAFT"}}}
    assert outside == []
    # Its introspection fits the limits: one full schema, counted, answered.
    assert introspection.status == 200 and "errors" not in schema
    assert schema["data"]["__schema"]["queryType"]["name"] == "Query"
