"""The OpenAPI 3.1 document at /api/openapi.json (and /api/v1/…), generated from the models,
and the API reference at /docs, which works in a browser with no network but Vellum."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint
from openapi_spec_validator import validate

from tests.browser import offline_page
from tests.helpers import build_app, commit, write_files
from tests.servers import running_server
from vellum.api.openapi.records import read_schema, value_schema
from vellum.auth import keys
from vellum.site.models import FIELD_TYPES, Field
from vellum.store.state import StateStore

ARGUMENT = re.compile(r"<(?:\w+:)?(\w+)>")
SKIPPED = {"HEAD", "OPTIONS"}
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "vellum-docs.js", "oauth2-redirect.html")


def document(client, prefix: str = "/api") -> dict:
    answer = client.get(f"{prefix}/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    return answer.get_json()


def api_routes(app) -> list[tuple[str, str]]:
    """(path as OpenAPI writes it, method) for every route under /api; a route of any
    model is one path per model of the site."""
    models = sorted(app.extensions["vellum"].site.models)
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule != "/api" and not rule.rule.startswith("/api/"):
            continue
        paths = [rule.rule]
        if "<model:model>" in rule.rule:
            paths = [rule.rule.replace("<model:model>", m) for m in models]
        for path in paths:
            for method in sorted(rule.methods - SKIPPED):
                found.append((ARGUMENT.sub(r"{\1}", path), method))
    return found


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def parameters(op: dict) -> dict[str, dict]:
    return {p["name"]: p for p in op.get("parameters", [])}


# -- the document ------------------------------------------------------------------------
def test_the_document_is_valid_openapi_3_1_under_both_prefixes(sample_client):
    for prefix in ("/api", "/api/v1"):
        doc = document(sample_client, prefix)
        validate(doc)  # raises on any problem
        assert doc["openapi"] == "3.1.0"
        assert doc["info"]["title"] == "Field Notes · Vellum API"
        assert f"{prefix}/blogPost/{{record_id}}" in doc["paths"]
        ids = [op["operationId"] for _, _, op in operations(doc)]
        assert len(ids) == len(set(ids))


def test_every_route_under_api_is_in_the_document(app, client):
    """Fails when a route is added under /api and nobody describes it."""
    docs = {prefix: document(client, prefix)["paths"] for prefix in ("/api", "/api/v1")}
    missing = []
    for path, method in api_routes(app):
        paths = docs["/api/v1" if path.startswith("/api/v1") else "/api"]
        if method.lower() not in paths.get(path, {}):
            missing.append(f"{method} {path}")
    assert missing == []
    assert len(api_routes(app)) > 100


def test_a_path_takes_the_methods_the_document_lists_and_no_other(client):
    """Whatever the document leaves out of a path is a 405 naming what it lists."""
    wrong = []
    for path, item in document(client)["paths"].items():
        url = re.sub(r"{[^{}]+}", "x", path)
        listed = {method.upper() for method in item}
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - listed:
            answer = client.open(url, method=method)
            allowed = set(answer.headers.get("Allow", "").replace(" ", "").split(","))
            if answer.status_code != 405 or allowed - {"HEAD", "OPTIONS"} != listed:
                wrong.append(f"{method} {url}: {answer.status_code} {sorted(allowed)}")
    assert wrong == []


def test_a_route_nobody_described_is_left_out_for_the_test_above_to_notice(query_repo, tmp_path):
    extra = Blueprint("undescribed", __name__)
    extra.add_url_rule("/api/shiny", "shiny", lambda: "new", methods=["GET"])
    application = build_app(query_repo, tmp_path / "state")
    application.register_blueprint(extra)
    try:
        doc = document(application.test_client())
        assert ("/api/shiny", "GET") in api_routes(application)
        assert "/api/shiny" not in doc["paths"]
    finally:
        application.extensions["vellum"].close()


def test_the_document_is_read_only_and_no_model_of_that_name(client):
    for method in ("post", "put", "delete"):
        answer = getattr(client, method)("/api/openapi.json", json={"title": "x"})
        assert answer.status_code == 405, method
        assert "GET" in answer.headers["Allow"]
        assert answer.get_json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_the_document_follows_vellum_yml_and_is_built_once_per_change(app, client, query_repo):
    first = client.get("/api/openapi.json")
    again = client.get("/api/openapi.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    holder = app.extensions["vellum.openapi"]
    builds = holder.builds
    config = (query_repo / "vellum.yml").read_text()
    recipe = "  recipe:\n    folder: recipes\n    format: json\n    fields:\n"
    recipe += "      name: {type: string, required: true}\n      serves: {type: integer}\n"
    write_files(
        query_repo,
        {"vellum.yml": config + recipe, "recipes/soup.json": '{"name": "Soup", "serves": 4}\n'},
    )
    commit(query_repo, "Add recipes")
    changed = client.get("/api/openapi.json")
    assert changed.headers["ETag"] != first.headers["ETag"]
    doc = changed.get_json()
    assert {"/api/recipe", "/api/recipe/{record_id}"} <= set(doc["paths"])
    serves = doc["components"]["schemas"]["Record.recipe"]["properties"]["serves"]
    assert serves["type"] == ["integer", "null"] and serves["format"] == "int64"
    assert "/api/recipe" not in first.get_json()["paths"]
    client.get("/api/openapi.json")
    assert holder.builds == builds + 1


def test_fields_are_typed_as_declared(client):
    schemas = document(client)["components"]["schemas"]
    post = schemas["Record.post"]
    assert post["required"] == ["id", "type"]
    props = post["properties"]
    assert props["type"]["const"] == "post"
    assert props["title"]["type"] == "string"  # required: never null
    assert props["slug"]["type"] == ["string", "null"]
    assert props["views"] == {**props["views"], "type": ["integer", "null"], "format": "int64"}
    assert props["score"]["type"] == ["number", "null"]
    assert props["featured"]["type"] == "boolean"  # a default: never unset
    assert props["publishedAt"]["format"] == "date-time"
    assert props["day"]["format"] == "date"
    assert props["status"]["enum"] == ["draft", "published", "archived"]
    assert props["tags"]["items"] == {"type": "string"}
    assert props["meta"]["type"] == ["object", "null"]
    person = {"$ref": "#/components/schemas/Record.person"}
    assert props["author"]["oneOf"] == [{"type": "string"}, person, {"type": "null"}]
    category = {"$ref": "#/components/schemas/Record.category"}
    assert props["categories"]["items"]["oneOf"] == [{"type": "string"}, category]
    media = {"$ref": "#/components/schemas/Media"}
    assert props["cover"]["oneOf"] == [{"type": "string"}, media, {"type": "null"}]
    for name in ("id", "locale", "createdAt", "updatedAt", "version", "body", "html"):
        assert name in props
    assert props["createdAt"]["format"] == "date-time"
    assert "body" not in schemas["Record.person"]["properties"]  # JSON records have none


def test_every_field_type_has_a_schema():
    """Fails when a field type is added and the document does not know it."""
    for kind in FIELD_TYPES:
        field = Field("f", kind, values=("a",), of="string", to="other")
        assert value_schema(field)
        assert read_schema(field, inferred=False)


def test_folders_without_a_model_are_typed_from_their_files(sample_client):
    props = document(sample_client)["components"]["schemas"]["Record.testimonial"]["properties"]
    assert props["rating"]["type"] == ["integer", "null"]
    assert props["verified"]["type"] == ["boolean", "null"]
    assert props["quote"]["type"] == ["string", "null"]


def test_write_bodies_are_the_fields_flat_or_data_and_meta(client):
    doc = document(client)
    schemas = doc["components"]["schemas"]
    create = schemas["Input.post"]
    assert create["required"] == ["title"] and create["additionalProperties"] is False
    assert create["properties"]["status"]["oneOf"][0]["enum"] == ["draft", "published", "archived"]
    assert "required" not in schemas["Patch.post"]
    assert set(schemas["WriteMeta"]["properties"]) == {"locale", "message", "version"}
    body = doc["paths"]["/api/post"]["post"]["requestBody"]["content"]["application/json"]
    flat, envelope, resource = body["schema"]["anyOf"]
    assert flat == {"$ref": "#/components/schemas/Input.post"}
    assert envelope["properties"]["meta"] == {"$ref": "#/components/schemas/WriteMeta"}
    attributes = resource["properties"]["data"]["properties"]["attributes"]
    assert attributes == {"$ref": "#/components/schemas/Input.post"}
    patch = doc["paths"]["/api/post/{record_id}"]["patch"]
    assert "If-Match" in parameters(patch)
    assert "412" in patch["responses"] and "422" in patch["responses"]


def test_a_list_names_each_filter_with_its_type_and_its_other_parameters(client):
    params = parameters(document(client)["paths"]["/api/post"]["get"])
    assert params["filter[views][$gt]"]["schema"] == {"type": "integer", "format": "int64"}
    assert params["filter[publishedAt][$lte]"]["schema"]["format"] == "date-time"
    assert params["filter[status]"]["schema"]["enum"] == ["draft", "published", "archived"]
    listed = params["filter[tags][$in]"]
    assert listed["schema"] == {"type": "array", "items": {"type": "string"}}
    assert listed["style"] == "form" and listed["explode"] is False
    assert "filter[title][$contains]" in params and "filter[createdAt][$gte]" in params
    assert "filter[views][$contains]" not in params  # refused with a 400
    assert "filter[featured][$gt]" not in params and "filter[meta][$lt]" not in params
    sort = re.compile(params["sort"]["schema"]["items"]["pattern"])
    assert sort.match("-views") and sort.match("title:desc") and not sort.match("tags")
    assert params["populate"]["schema"]["items"]["enum"] == ["author", "categories", "cover", "*"]
    assert {"title", "body", "createdAt"} <= set(params["fields"]["schema"]["items"]["enum"])
    assert params["locale"]["schema"]["enum"] == ["en", "fr"]
    assert params["limit"]["schema"]["maximum"] == 100
    assert params["offset"]["schema"]["minimum"] == 0
    assert "q" in params


def test_errors_are_one_reusable_envelope_per_status(client):
    doc = document(client)
    responses = doc["components"]["responses"]

    def codes(name: str) -> list[str]:
        schema = responses[name]["content"]["application/json"]["schema"]
        return schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]

    assert codes("NotFound") == ["NOT_FOUND"]
    assert codes("ValidationError") == ["VALIDATION_ERROR"]
    assert codes("InternalError") == ["INTERNAL_ERROR", "SITE_ERROR"]
    assert "Retry-After" in responses["RateLimited"]["headers"]
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(error["properties"]["error"]["required"]) == {"code", "message", "details"}
    for path, method, op in operations(doc):
        if path.startswith("/api/_health"):  # probes: anyone, never counted
            assert {"401", "429"}.isdisjoint(op["responses"]) and op["security"] == []
            continue
        assert {"401", "429"} <= set(op["responses"]), f"{method} {path}"
    got = doc["paths"]["/api/post/{record_id}"]["get"]["responses"]["404"]
    assert got == {"$ref": "#/components/responses/NotFound"}


def test_security_jwt_api_keys_and_oauth2_with_the_scopes(client):
    doc = document(client)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["jwt"] == {**schemes["jwt"], "type": "http", "scheme": "bearer"}
    assert schemes["jwt"]["bearerFormat"] == "JWT"
    assert schemes["apiKey"]["scheme"] == "bearer" and schemes["apiKey"]["bearerFormat"].startswith(
        "vk_"
    )
    assert schemes["apiKeyHeader"] == {
        **schemes["apiKeyHeader"],
        "in": "header",
        "name": "X-API-Key",
    }
    flows = schemes["oauth2"]["flows"]
    assert set(flows) == {"authorizationCode", "clientCredentials", "password"}
    assert flows["authorizationCode"]["authorizationUrl"] == "/oauth/authorize"
    for flow in flows.values():
        assert flow["tokenUrl"] == "/oauth/token"
        assert set(flow["scopes"]) == {"read", "read:drafts", "write", "admin"}
    reading = doc["paths"]["/api/post"]["get"]["security"]
    assert {} in reading and {"oauth2": ["read"]} in reading  # auth.public_read is on
    writing = doc["paths"]["/api/post"]["post"]["security"]
    assert {} not in writing and {"apiKeyHeader": ["write"]} in writing
    assert {"oauth2": ["admin"]} in doc["paths"]["/api/keys"]["get"]["security"]
    assert "security" not in doc["paths"]["/api/auth/login"]["post"]


def test_a_private_site_documents_reads_as_needing_credentials(query_repo, tmp_path, app):
    config = (
        (query_repo / "vellum.yml").read_text().replace("public_read: true", "public_read: false")
    )
    write_files(query_repo, {"vellum.yml": config})
    commit(query_repo, "Private")
    _, secret = keys.create_key(app.extensions["vellum"].state, "docs", ["read"])
    anonymous = app.test_client()
    doc = anonymous.get("/api/openapi.json", headers={"X-API-Key": secret}).get_json()
    assert {} not in doc["paths"]["/api/post"]["get"]["security"]
    assert anonymous.get("/api/openapi.json").status_code == 401


# -- the reference page ------------------------------------------------------------------
def test_the_reference_page_and_its_assets_come_from_vellum(anonymous):
    page = anonymous.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "https://" not in html and "http://" not in html  # nothing from a CDN
    assert 'data-spec="/api/openapi.json"' in html
    for name in ASSETS:
        assert f"/static/swagger/{name}" in html or name == "oauth2-redirect.html"
        asset = anonymous.get(f"/static/swagger/{name}")
        assert asset.status_code == 200 and len(asset.get_data()) > 90
        asset.close()


@pytest.fixture
def served(query_repo, tmp_path):
    state_dir = tmp_path / "state"
    StateStore(state_dir).close()
    with running_server(query_repo, state_dir, tmp_path / "server.log") as (base, _):
        yield base


@pytest.mark.timeout(90)
def test_the_reference_renders_in_a_browser_cut_off_from_everything_but_vellum(served):
    base = served
    with offline_page(base, timeout_ms=30_000) as (page, outside):
        with page.expect_response(lambda r: r.url.endswith("/api/openapi.json")) as spec:
            page.goto(f"{base}/docs")
        assert spec.value.status == 200
        page.wait_for_selector(".opblock-summary-path[data-path='/api/post/{record_id}']")
        title = page.inner_text(".information-container .title")
        page.click("#operations-post-getApiPost .opblock-summary")
        page.wait_for_selector("tr[data-param-name='filter[views][$gt]']")
        authorize = page.is_visible("button.authorize")
    assert "Query fixture" in title
    assert authorize  # the security schemes are offered
    assert outside == []
