"""REST reads over a real repository: filters, sort, paging, populate, locales, errors."""

from __future__ import annotations

import time

import pytest

from tests.helpers import authorised_client, build_app, commit, git, write_files
from vellum.api.params import parse_list_query
from vellum.site.audience import EDITORS


def ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [r["id"] for r in response.get_json()["data"]]


def test_list_defaults_to_id_order_with_meta(client):
    body = client.get("/api/post").get_json()
    assert [r["id"] for r in body["data"]] == ["alpha", "beta", "delta", "epsilon", "gamma"]
    assert body["meta"] == {"total": 5, "limit": 20, "offset": 0, "hasMore": False}


def test_record_shape(client, query_repo):
    data = client.get("/api/post/alpha").get_json()["data"]
    assert data["id"] == "alpha" and data["type"] == "post" and data["locale"] == "en"
    assert data["views"] == 10 and data["score"] == 1.5 and data["featured"] is True
    assert data["publishedAt"] == "2024-01-01T10:00:00Z" and data["day"] == "2024-01-01"
    assert data["tags"] == ["git", "python"] and data["meta"] == {"color": "red"}
    assert data["author"] == "jane" and data["categories"] == ["eng"]
    assert data["body"] == "Alpha talks about **version control** and merging branches."
    assert (
        data["html"]
        == "<p>Alpha talks about <strong>version control</strong> and merging branches.</p>\n"
    )
    assert data["createdAt"] == data["updatedAt"] == "2024-02-01T12:00:00Z"
    assert data["version"] == git(query_repo, "hash-object", "posts/alpha.md")


def test_json_record_has_no_body(client):
    data = client.get("/api/person/jane").get_json()["data"]
    assert data == {
        "id": "jane",
        "type": "person",
        "locale": "en",
        "name": "Jane Doe",
        "email": "jane@example.com",
        "createdAt": "2024-02-01T12:00:00Z",
        "updatedAt": "2024-02-01T12:00:00Z",
        "version": data["version"],
    }


def test_datetime_with_offset_is_normalised_to_utc(client):
    assert client.get("/api/post/beta").get_json()["data"]["publishedAt"] == "2024-06-01T08:00:00Z"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("filter[status]=published", ["alpha", "beta", "epsilon"]),
        ("filter[status][$eq]=published", ["alpha", "beta", "epsilon"]),
        ("filter[status][$ne]=draft", ["alpha", "beta", "delta", "epsilon"]),
        ("filter[views][$gt]=50", ["beta", "gamma"]),
        ("filter[views][$gte]=50", ["beta", "epsilon", "gamma"]),
        ("filter[views][$lt]=100", ["alpha", "epsilon"]),
        ("filter[views][$lte]=100", ["alpha", "beta", "epsilon"]),
        ("filter[status][$in]=published,archived", ["alpha", "beta", "delta", "epsilon"]),
        ("filter[status][$nin]=published,archived", ["gamma"]),
        ("filter[title][$contains]=TA", ["beta", "delta"]),
        ("filter[title][$startsWith]=ep", ["epsilon"]),
        ("filter[title][$endsWith]=a", ["alpha", "beta", "delta", "gamma"]),
        ("filter[score][$gt]=2", ["beta"]),
        ("filter[featured]=true", ["alpha"]),
        ("filter[featured]=false", ["beta", "delta", "epsilon", "gamma"]),
        ("filter[publishedAt][$gte]=2024-01-01", ["alpha", "beta", "gamma"]),
        ("filter[publishedAt][$lt]=2024-06-01T10:00:00%2B02:00", ["alpha", "epsilon"]),
        ("filter[day]=2024-06-01", ["beta"]),
        ("filter[tags]=python", ["alpha", "beta"]),
        ("filter[tags][$nin]=python", ["delta", "epsilon", "gamma"]),
        ("filter[tags][$contains]=us", ["delta"]),
        ("filter[author]=john", ["beta", "delta"]),
        ("filter[author.name]=Jane%20Doe", ["alpha", "epsilon", "gamma"]),
        ("filter[author][name]=John%20Roe", ["beta", "delta"]),
        (
            "filter[author.email][$endsWith]=@example.com",
            ["alpha", "beta", "delta", "epsilon", "gamma"],
        ),
        ("filter[categories.name]=Design", ["beta", "gamma"]),
        ("filter[categories]=eng", ["alpha", "beta"]),
        ("filter[id][$in]=alpha,gamma", ["alpha", "gamma"]),
        ("filter[status]=published&filter[views][$gte]=50", ["beta", "epsilon"]),
        ("filters[status]=draft", ["gamma"]),
    ],
)
def test_filter_operators(client, query, expected):
    assert ids(client.get(f"/api/post?{query}")) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-views", ["gamma", "beta", "epsilon", "alpha", "delta"]),
        ("views", ["alpha", "epsilon", "beta", "gamma", "delta"]),
        ("status,-views", ["delta", "gamma", "beta", "epsilon", "alpha"]),
        ("title", ["alpha", "beta", "delta", "epsilon", "gamma"]),
        ("-publishedAt", ["gamma", "beta", "alpha", "epsilon", "delta"]),
        ("publishedAt:desc", ["gamma", "beta", "alpha", "epsilon", "delta"]),
    ],
)
def test_sort(client, sort, expected):
    assert ids(client.get(f"/api/post?sort={sort}")) == expected


@pytest.mark.parametrize(
    ("params", "expected", "has_more"),
    [
        ("limit=2", ["alpha", "beta"], True),
        ("limit=2&offset=4", ["gamma"], False),
        ("limit=1", ["alpha"], True),
        ("limit=100", ["alpha", "beta", "delta", "epsilon", "gamma"], False),
        ("limit=0", [], True),
        ("offset=10", [], False),
    ],
)
def test_pagination_edges(client, params, expected, has_more):
    body = client.get(f"/api/post?{params}").get_json()
    assert [r["id"] for r in body["data"]] == expected
    assert body["meta"]["total"] == 5
    assert body["meta"]["hasMore"] is has_more


def test_populate_one_and_many(client):
    data = client.get("/api/post/beta?populate=author,categories").get_json()["data"]
    assert data["author"]["name"] == "John Roe" and data["author"]["type"] == "person"
    assert [c["name"] for c in data["categories"]] == ["Engineering", "Design"]


def test_populate_star_in_lists(client):
    rows = client.get("/api/post?populate=*&filter[id]=alpha").get_json()["data"]
    assert rows[0]["author"]["id"] == "jane"
    assert rows[0]["categories"][0]["id"] == "eng"


def test_fields_selects(client):
    rows = client.get("/api/post?fields=title,views&limit=1").get_json()["data"]
    assert rows == [{"id": "alpha", "type": "post", "title": "Alpha", "views": 10}]


def test_locale_variant_and_fallback(client):
    rows = client.get("/api/post?locale=fr&fields=title,locale").get_json()["data"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["alpha"] == {
        "id": "alpha",
        "type": "post",
        "title": "Alpha en français",
        "locale": "fr",
    }
    assert by_id["beta"]["locale"] == "en"  # no French file: falls back to the default locale
    assert len(rows) == 5
    one = client.get("/api/post/alpha?locale=fr").get_json()["data"]
    assert one["body"] == "Alpha parle de gestion de versions."


def test_default_locale_list_leaves_out_translations(client):
    titles = [r["title"] for r in client.get("/api/post?fields=title").get_json()["data"]]
    assert "Alpha en français" not in titles


def test_full_text_within_model(client):
    assert ids(client.get("/api/post?q=caching")) == ["gamma"]
    assert ids(client.get("/api/post?q=branches&filter[status]=draft")) == []


def test_search_across_models_has_snippet(client):
    body = client.get("/api/search?q=typography").get_json()
    assert [(h["type"], h["id"]) for h in body["data"]] == [("post", "beta")]
    assert "<mark" in body["data"][0]["snippet"] and "typography" in body["data"][0]["snippet"]
    assert body["meta"]["total"] == 1
    people = client.get("/api/search?q=jane").get_json()["data"]
    assert ("person", "jane") in [(h["type"], h["id"]) for h in people]
    # A word only in the title: the snippet shows the title rather than nothing.
    titled = client.get("/api/search?q=rising").get_json()["data"]
    assert [h["id"] for h in titled] == ["epsilon"] and "rising</mark>" in titled[0]["snippet"]
    john = client.get("/api/search?q=john").get_json()["data"][0]  # a JSON record: no body
    assert john["id"] == "john" and john["snippet"].count("John</mark> Roe") == 1


def test_search_snippets_are_readable_text_with_one_mark_per_word(query_repo, tmp_path):
    write_files(
        query_repo,
        {
            "posts/zeta.md": "---\ntitle: Zeta\nstatus: published\ntags: [caching, hard]\n"
            "cover: images/caching.png\n---\n## Why caching\n\n**Caching** is"
            " [hard](https://example.com/caching-guide), and `caching` <b>too</b>.\n",
        },
    )
    commit(query_repo, "Add zeta")
    application = build_app(query_repo, tmp_path / "state")
    try:
        client = authorised_client(application)

        def snippet(q: str, record: str = "zeta") -> str:
            hits = client.get(f"/api/search?q={q}").get_json()["data"]
            return next(h["snippet"] for h in hits if h["id"] == record)

        # Markdown stripped, no field values glued in; a word is marked alike in any case.
        first = '<mark class="match term0">'
        assert snippet("caching") == (
            f"Why {first}caching</mark> {first}Caching</mark> is hard, and {first}caching</mark>"
            " too"
        )
        second = '<mark class="match term1">'
        assert snippet("hard+caching") == (
            f"Why {second}caching</mark> {second}Caching</mark> is {first}hard</mark>, and"
            f" {second}caching</mark> too"
        )
        # Only the title matched: the title. Only a status matched: the body's opening.
        assert snippet("zeta") == f"{first}Zeta</mark>"
        assert snippet("archived", "delta") == "Delta is an old post."
    finally:
        application.extensions["vellum"].close()


def test_quoted_words_are_searched_as_words(client):
    """The text index keeps no positions: a quoted phrase finds records with its words."""
    for url in ('/api/search?q="version control"', '/api/post?q="version control"'):
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        assert [r["id"] for r in response.get_json()["data"]] == ["alpha"]


def test_search_needs_words(client):
    response = client.get("/api/search")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["field"] == "q"


def test_etag_and_304(client, query_repo):
    first = client.get("/api/post/alpha")
    sha = git(query_repo, "hash-object", "posts/alpha.md")
    assert first.headers["ETag"] == f'"{sha}"'
    again = client.get("/api/post/alpha", headers={"If-None-Match": f'"{sha}"'})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/api/post/alpha", headers={"If-None-Match": '"deadbeef"'})
    assert other.status_code == 200
    weak = client.get("/api/post/alpha", headers={"If-None-Match": f'W/"{sha}"'})
    assert weak.status_code == 304  # If-None-Match compares weakly (RFC 9110 13.1.2)


def test_list_etag_revalidates(client):
    first = client.get("/api/post?limit=2")
    again = client.get("/api/post?limit=2", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_v1_is_the_same_api_as_resources(client):
    v1, plain = client.get("/api/v1/post").get_json(), client.get("/api/post").get_json()
    flat = [{"id": r["id"], "type": r["type"], **r["attributes"]} for r in v1["data"]]
    assert flat == plain["data"]
    assert {k: v for k, v in v1["meta"].items() if k != "timestamp"} == plain["meta"]


def test_models_describe_the_schema(client):
    data = {m["name"]: m for m in client.get("/api/models").get_json()["data"]}
    assert set(data) == {"post", "person", "category"}
    fields = {f["name"]: f for f in data["post"]["fields"]}
    assert fields["status"] == {
        "name": "status",
        "type": "enum",
        "default": "draft",
        "values": ["draft", "published", "archived"],
    }
    assert fields["categories"]["to"] == "category" and fields["categories"]["many"] is True
    assert data["category"]["plural"] == "categories" and data["post"]["plural"] == "posts"


def test_status(client, query_repo):
    data = client.get("/api/_status").get_json()["data"]
    assert data["head"] == git(query_repo, "rev-parse", "HEAD")
    assert data["records"] == {"category": 2, "person": 2, "post": 5}
    assert data["invalid"] == []
    assert data["index"]["text"] == "ready"


def error_of(response, status: int) -> dict:
    assert response.status_code == status
    assert response.content_type == "application/json"
    return response.get_json()["error"]


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/api/post?filter[nope]=1", "filter[nope]"),
        ("/api/post?filter[views][$regex]=1", "filter[views][$regex]"),
        ("/api/post?filter[views][$gt]=many", "filter[views][$gt]"),
        ("/api/post?filter[views][$contains]=1", "filter[views][$contains]"),
        ("/api/post?filter[title.name]=x", "filter[title.name]"),
        ("/api/post?filter[status]=publishd", "filter[status]"),
        ("/api/post?filter[views=1", "filter[views"),
        ("/api/post?filter[$eq][views]=1", "filter[$eq][views]"),
        ("/api/post?limit=101", "limit"),
        ("/api/post?limit=-1", "limit"),
        ("/api/post?offset=x", "offset"),
        ("/api/post?sort=nope", "sort"),
        ("/api/post?sort=tags", "sort"),
        ("/api/post?fields=nope", "fields"),
        ("/api/post?populate=title", "populate"),
        ("/api/post?locale=de", "locale"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, url, param):
    error = error_of(client.get(url), 400)
    assert error["code"] == "BAD_REQUEST"
    assert error["details"][0]["field"] == param
    assert error["message"].startswith(param)


def test_filters_are_bounded_and_the_400_names_the_limit(client):
    conditions = "a filter holds at most 100 conditions (limits.max_conditions in vellum.yml)"
    params = "&".join(f"filter[views][$ne]={n}" for n in range(101))
    refused = client.get(f"/api/post?{params}")
    assert refused.status_code == 400
    assert refused.get_json()["error"] == {
        "code": "BAD_REQUEST",
        "message": f"filter: {conditions}",
        "details": [{"field": "filter", "message": conditions}],
    }
    assert client.get("/api/post?" + params.rsplit("&", 1)[0]).status_code == 200  # 100
    # A relation a condition goes through counts one more.
    through = "&".join(f"filter[author.name]=n{n}" for n in range(51))
    assert client.get(f"/api/post?{through}").status_code == 400
    ids = ",".join(f"id{n}" for n in range(1001))
    too_many = client.get(f"/api/post?filter[id][$in]={ids}")
    assert too_many.status_code == 400
    assert too_many.get_json()["error"]["details"] == [
        {
            "field": "filter[id][$in]",
            "message": "$in and $nin take at most 1000 values (limits.max_values in vellum.yml)",
        }
    ]
    fits = client.get("/api/post?filter[id][$in]=beta," + ids.split(",", 2)[2])  # 1000
    assert [r["id"] for r in fits.get_json()["data"]] == ["beta"]
    assert client.get(f"/api/content?filter[id][$nin]={ids}").status_code == 400
    spread = "&".join(f"filter[id][$ne]=x{n}" for n in range(101))
    assert client.get(f"/api/content?{spread}").status_code == 400


def test_a_field_named_twice_in_sort_or_populate_is_one_pass(client):
    once = client.get("/api/post?sort=-views&populate=author").get_json()
    again = client.get("/api/post?sort=-views,views,-views&populate=author,author").get_json()
    assert again == once
    with client.application.app_context():
        catalog = client.application.extensions["vellum"].catalog()
        args = {"sort": ["-views," + ",".join(["views"] * 500)], "populate": ["author,author"]}
        query = parse_list_query(catalog, "post", args, EDITORS)
    assert query.sort == (("views", True),) and query.populate == ("author",)


def test_unknown_model_and_record_are_404(client):
    assert error_of(client.get("/api/nothing"), 404)["message"] == "No model named 'nothing'"
    assert error_of(client.get("/api/post/nothing"), 404)["message"] == "No post with id 'nothing'"
    assert error_of(client.get("/api/post/alpha/extra/path"), 404)["code"] == "NOT_FOUND"


def test_wrong_method_is_405_in_the_envelope(client):
    response = client.delete("/api/post")
    assert error_of(response, 405)["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]


def test_sample_site_reads(sample_client):
    status = sample_client.get("/api/_status").get_json()["data"]
    assert status["invalid"] == []
    assert status["records"]["blogPost"] >= 20 and status["records"]["testimonial"] == 3
    guide = sample_client.get("/api/blogPost/markdown-style-guide").get_json()["data"]
    for tag in ("<table>", "<del>", "<blockquote>", "<pre><code", "footnote", "<h2"):
        assert tag in guide["html"], tag
    hello = sample_client.get("/api/blogPost/hello-world?locale=fr&populate=*").get_json()["data"]
    assert hello["locale"] == "fr" and isinstance(hello["author"], dict)
    jane = sample_client.get("/api/blogPost?filter[author.name]=Jane%20Doe&limit=100").get_json()
    assert jane["meta"]["total"] > 0
    assert all(r["author"] == "jane-doe" for r in jane["data"])


def test_inferred_model_is_typed_from_its_files(sample_client):
    models = {m["name"]: m for m in sample_client.get("/api/models").get_json()["data"]}
    # The folder testimonials/ is the model testimonial, listed as testimonials.
    testimonial = models["testimonial"]
    assert (testimonial["folder"], testimonial["plural"]) == ("testimonials", "testimonials")
    fields = {f["name"]: f["type"] for f in testimonial["fields"]}
    assert testimonial["inferred"] is True
    assert fields["rating"] == "integer" and fields["verified"] == "boolean"
    top = sample_client.get("/api/testimonial?filter[rating][$gte]=5").get_json()["data"]
    assert top and all(r["rating"] == 5 for r in top)


def test_search_folds_accents_and_respects_locale(client):
    french = client.get("/api/search?q=francais&locale=fr").get_json()["data"]
    assert [(h["id"], h["locale"]) for h in french] == [("alpha", "fr")]
    assert client.get("/api/search?q=francais").get_json()["data"] == []  # default locale


def test_a_changed_vellum_yml_is_served_without_a_restart(client, query_repo):
    config = query_repo / "vellum.yml"
    config.write_text(
        config.read_text().replace(
            "      cover:       {type: media}\n",
            "      cover:       {type: media}\n      subtitle:    {type: string}\n",
        )
    )
    path = query_repo / "posts/alpha.md"
    path.write_text(path.read_text().replace("title: Alpha\n", "title: Alpha\nsubtitle: First\n"))
    models = {m["name"]: m for m in client.get("/api/models").get_json()["data"]}
    assert "subtitle" in [f["name"] for f in models["post"]["fields"]]
    assert client.get("/api/post?filter[subtitle]=First").get_json()["data"][0]["id"] == "alpha"
    answer = client.post("/graphql", json={"query": '{ post(id: "alpha") { subtitle } }'})
    assert answer.get_json() == {"data": {"post": {"subtitle": "First"}}}
    # A broken vellum.yml keeps the last valid one served, and /api/_status says why.
    config.write_text(config.read_text() + "  oops: [\n")
    time.sleep(0.01)  # a new modification time
    assert client.get("/api/post/alpha").status_code == 200
    invalid = client.get("/api/_status").get_json()["data"]["invalid"]
    assert invalid[0]["path"] == "vellum.yml"
    assert invalid[0]["reason"].startswith("invalid YAML")
    assert invalid[0]["reason"].endswith("(the last valid one is still served)")


def test_the_api_root_answers(client):
    for url in ("/", "/api", "/api/", "/api/v1"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.get_json()["data"]["models"] == ["category", "person", "post"]


def test_the_apis_own_names_are_not_taken_for_models(client):
    for url in ("/api/models", "/api/search", "/api/_status", "/api/v1/models"):
        refused = client.post(url, json={"title": "x"})
        assert refused.status_code == 405, url
        assert refused.get_json()["error"]["code"] == "METHOD_NOT_ALLOWED"
        assert "GET" in refused.headers["Allow"]
    assert client.get("/api/search/zed").get_json()["error"]["message"] == "No such endpoint"


def test_text_sorts_without_regard_to_case(app, client, query_repo):
    write_files(query_repo, {"posts/low.md": "---\ntitle: apple pie\nstatus: draft\n---\n"})
    app.extensions["vellum"].sync()
    titles = [r["title"] for r in client.get("/api/post?sort=title").get_json()["data"]]
    assert titles == sorted(titles, key=str.casefold) and titles[0] == "Alpha"
    assert titles[1] == "apple pie"  # not after "Gamma", as code points would put it


def test_in_and_nin_on_an_object_field_match_as_eq_and_ne_do(client):
    """An object equals none of the texts given: $in matches nothing, $nin everything."""
    total = client.get("/api/post").get_json()["meta"]["total"]
    found = client.get("/api/post?filter[meta][$in]=red,blue")
    assert found.status_code == 200 and found.get_json()["meta"]["total"] == 0
    kept = client.get("/api/post?filter[meta][$nin]=red")
    assert kept.status_code == 200 and kept.get_json()["meta"]["total"] == total
