"""GraphQL reads over real repositories: the generated schema, lists, filters, limits."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from graphql import build_client_schema, get_introspection_query, print_schema, print_type

from tests.helpers import authorised_client, build_app, commit, write_files
from vellum.api.graphql import schemas
from vellum.cli.main import cli
from vellum.graphql.context import Context
from vellum.graphql.limits import Limits
from vellum.graphql.run import run
from vellum.site.audience import EDITORS
from vellum.site.site import load_site


def gql(client, query: str, variables: dict | None = None, status: int = 200) -> dict:
    """POST one operation; assert the status; return the whole answer."""
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == status, response.get_json()
    return response.get_json()


def data(client, query: str, variables: dict | None = None) -> dict:
    body = gql(client, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def node_ids(client, field: str, args: str = "") -> list[str]:
    """The ids of a list field's nodes, called with these arguments."""
    call = f"{field}({args})" if args else field
    return [n["id"] for n in data(client, f"{{ {call} {{ nodes {{ id }} }} }}")[field]["nodes"]]


def rest_ids(client, path: str) -> list[str]:
    response = client.get(path)
    assert response.status_code == 200, response.get_json()
    return [r["id"] for r in response.get_json()["data"]]


# -- the schema ---------------------------------------------------------------------------
def test_introspection_builds_a_client_schema_with_the_contract_names(sample_client):
    result = data(sample_client, get_introspection_query())
    schema = build_client_schema(result)
    query = schema.query_type.fields
    assert str(query["blogPost"].type) == "BlogPost"
    assert {"id"} <= set(query["blogPost"].args)
    assert str(query["blogPosts"].type) == "BlogPostConnection!"
    assert set(query["blogPosts"].args) == {"limit", "offset", "sort", "filter", "q", "locale"}
    assert query["blogPosts"].args["limit"].default_value == 20
    assert str(query["categories"].type) == "CategoryConnection!"
    assert str(query["contents"].type) == "[Content]!"
    assert str(query["search"].type) == "[SearchHit!]!"
    post = schema.get_type("BlogPost").fields
    for name in ("id", "type", "createdAt", "updatedAt", "version", "versions", "body"):
        assert name in post
    assert str(post["author"].type) == "Author"
    assert str(post["categories"].type) == "[Category!]!"
    assert str(post["featuredImage"].type) == "Media"
    assert str(post["publishedAt"].type) == "DateTime"
    assert str(post["seo"].type) == "JSON" and str(post["tags"].type) == "[String]"
    assert str(schema.get_type("Author").fields["joined"].type) == "Date"
    assert list(schema.get_type("BlogPostStatus").values) == ["DRAFT", "PUBLISHED", "ARCHIVED"]
    assert set(schema.get_type("Media").fields) >= {"url", "mimeType", "size", "alt", "width"}
    page_info = schema.get_type("PageInfo").fields
    assert set(page_info) == {"hasNextPage", "hasPreviousPage", "total"}
    flt = schema.get_type("BlogPostFilter").fields
    assert str(flt["author"].type) == "AuthorFilter" and str(flt["or"].type) == "[BlogPostFilter!]"
    ops = set(schema.get_type("StringFilter").fields)
    assert ops == {
        "eq",
        "ne",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "nin",
        "contains",
        "startsWith",
        "endsWith",
    }
    assert str(flt["status"].type) == "BlogPostStatusFilter"
    mutation = schema.mutation_type.fields
    assert str(mutation["createBlogPost"].type) == "BlogPost!"
    assert str(mutation["createBlogPost"].args["data"].type) == "CreateBlogPostInput!"
    assert str(mutation["updateBlogPost"].args["data"].type) == "UpdateBlogPostInput!"
    assert str(mutation["deleteBlogPost"].type) == "Boolean!"
    create = schema.get_type("CreateBlogPostInput").fields
    assert str(create["author"].type) == "ID" and str(create["authorId"].type) == "ID"
    assert str(create["categories"].type) == "[ID!]"
    assert str(mutation["createContent"].args["input"].type) == "ContentInput!"
    content = schema.get_type("Content").fields
    assert set(content) >= {"id", "type", "title", "body", "status", "author", "data"}
    assert "type BlogPost {" in print_schema(schema)


PINNED = '''"""A post record."""
type Post {
  id: ID!
  type: String!
  locale: String
  createdAt: DateTime
  updatedAt: DateTime
  version: String!
  versions(limit: Int = 20, offset: Int = 0): [Version!]!
  body: String
  html: String
  title: String!
  slug: String
  status: PostStatus
  views: Int
  score: Float
  featured: Boolean
  publishedAt: DateTime
  day: Date
  tags: [String]
  meta: JSON
  author: Person
  categories: [Category!]!
  cover: Media
}

"""The values of post.status."""
enum PostStatus {
  DRAFT
  PUBLISHED
  ARCHIVED
}

"""A page of posts."""
type PostConnection {
  nodes: [Post!]!
  pageInfo: PageInfo!
}

"""Conditions on Post records; all must hold."""
input PostFilter {
  id: IDFilter
  createdAt: DateTimeFilter
  updatedAt: DateTimeFilter
  title: StringFilter
  slug: StringFilter
  status: PostStatusFilter
  views: IntFilter
  score: FloatFilter
  featured: BooleanFilter
  publishedAt: DateTimeFilter
  day: DateFilter
  tags: StringFilter
  author: PersonFilter
  categories: CategoryFilter
  cover: StringFilter
  and: [PostFilter!]
  or: [PostFilter!]
}'''


def test_the_printed_schema_of_a_model_is_pinned(app):
    services = app.extensions["vellum"]
    schema = schemas_of(app).current(services.site, services.catalog()).graphql_schema
    names = ("Post", "PostStatus", "PostConnection", "PostFilter")
    assert "\n\n".join(print_type(schema.get_type(n)) for n in names) == PINNED


def schemas_of(application):
    """The schema holder of an app."""
    return application.extensions["vellum.graphql"]


def test_the_schema_is_cached_and_rebuilt_when_the_models_change(app, client, query_repo):
    holder = app.extensions["vellum.graphql"]
    data(client, "{ posts { nodes { id } } }")
    data(client, "{ posts { nodes { id } } }")
    assert holder.builds == 1
    config = (query_repo / "vellum.yml").read_text()
    write_files(
        query_repo,
        {
            "vellum.yml": config.replace(
                "  category:",
                "  tag:\n    folder: tags\n    fields: {label: {type: string}}\n  category:",
            )
        },
    )
    app.extensions["vellum"].site = load_site(query_repo)  # what reloading vellum.yml does
    tag = data(client, '{ __type(name: "Tag") { fields { name } } }')["__type"]
    assert "label" in [f["name"] for f in tag["fields"]]
    assert holder.builds == 2


CLASHING_MODELS = """\
  postStatus:
    folder: statuses
    format: json
    fields: {name: {type: string}}
  query:
    folder: queries
    format: json
    fields: {name: {type: string}}
  thing:
    folder: things
    format: json
    plural: contents
    fields: {name: {type: string}}
  gadget:
    folder: gadgets
    format: json
    plural: categories
    fields: {name: {type: string}}
  ticket:
    folder: tickets
    format: json
    fields: {state: {type: enum, values: [in-progress, in_progress, done]}}
"""


def test_models_whose_graphql_names_are_taken_are_left_out_and_reported(
    query_repo, tmp_path, runner
):
    config = (query_repo / "vellum.yml").read_text() + CLASHING_MODELS
    write_files(query_repo, {"vellum.yml": config, "things/t.json": '{"name": "T"}'})
    commit(query_repo, "Models whose GraphQL names are taken")
    application = build_app(query_repo, tmp_path / "clash-state")
    try:
        reader = authorised_client(application)
        schema = build_client_schema(data(reader, get_introspection_query()))
        query = schema.query_type.fields
        assert {"posts", "persons", "categories", "contents"} <= set(query)
        assert not {
            "postStatus",
            "postStatuss",
            "query",
            "querys",
            "thing",
            "gadget",
            "ticket",
        } & set(query)
        assert str(query["contents"].type) == "[Content]!"  # the Content API keeps its field
        assert data(reader, '{ post(id: "alpha") { status } }') == {"post": {"status": "PUBLISHED"}}
        # REST still serves every model, and the Content API still finds their records.
        assert rest_ids(reader, "/api/thing") == ["t"]
        assert data(reader, '{ content(id: "t") { type } }') == {"content": {"type": "thing"}}
        status = reader.get("/api/_status").get_json()["data"]["invalid"]
        assert {p["field"]: p["reason"] for p in status} == {
            "models.postStatus": "left out of GraphQL: its type name PostStatus is already used"
            " by model 'post'",
            "models.query": "left out of GraphQL: its type name Query is already used by the"
            " built-in schema",
            "models.thing": "left out of GraphQL: its query field name contents is already used"
            " by the Content API",
            "models.gadget": "left out of GraphQL: its query field name categories is already"
            " used by model 'category'",
            "models.ticket": "left out of GraphQL: enum state: values 'in-progress' and"
            " 'in_progress' both become IN_PROGRESS in GraphQL",
        }
    finally:
        application.extensions["vellum"].close()
    result = runner.invoke(cli, ["--site", str(query_repo), "validate"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "vellum.yml: models.postStatus: left out of GraphQL: its type name PostStatus is"
        " already used by model 'post'"
    )
    assert len(result.output.splitlines()) == 5


# -- reading ----------------------------------------------------------------------------
def test_one_record_with_every_kind_of_field(client):
    post = data(
        client,
        """{ post(id: "alpha") { id type locale title status views score featured publishedAt
             day tags meta author { id name email } categories { name } cover { url }
             body html createdAt updatedAt version } }""",
    )["post"]
    assert post["type"] == "post" and post["status"] == "PUBLISHED" and post["views"] == 10
    assert post["score"] == 1.5 and post["featured"] is True and post["day"] == "2024-01-01"
    assert post["publishedAt"] == "2024-01-01T10:00:00Z" and post["tags"] == ["git", "python"]
    assert post["meta"] == {"color": "red"} and post["author"]["name"] == "Jane Doe"
    assert post["categories"] == [{"name": "Engineering"}] and post["cover"] is None
    assert post["html"].startswith("<p>Alpha talks about <strong>")
    assert post["createdAt"] == post["updatedAt"] == "2024-02-01T12:00:00Z"
    assert len(post["version"]) == 40


def test_connection_paging_and_page_info(client):
    page = data(
        client,
        '{ posts(limit: 2, offset: 2, sort: "title") { nodes { id } pageInfo '
        "{ hasNextPage hasPreviousPage total } } }",
    )["posts"]
    assert [n["id"] for n in page["nodes"]] == ["delta", "epsilon"]
    assert page["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": True, "total": 5}


def test_locale_and_full_text(client):
    fr = data(client, '{ post(id: "alpha", locale: "fr") { title } }')["post"]
    assert fr["title"] == "Alpha en français"
    assert node_ids(client, "posts", 'q: "typography"') == ["beta"]


# The same filters in REST and GraphQL give the same ids (the one query layer).
PARITY = [
    ("filter[status]=published", "{status: {eq: PUBLISHED}}"),
    ("filter[status][$ne]=draft", "{status: {ne: DRAFT}}"),
    ("filter[views][$gt]=50", "{views: {gt: 50}}"),
    ("filter[views][$lte]=100", "{views: {lte: 100}}"),
    ("filter[status][$in]=published,archived", "{status: {in: [PUBLISHED, ARCHIVED]}}"),
    ("filter[status][$nin]=published,archived", "{status: {nin: [PUBLISHED, ARCHIVED]}}"),
    ("filter[title][$contains]=TA", '{title: {contains: "TA"}}'),
    ("filter[title][$startsWith]=ep", '{title: {startsWith: "ep"}}'),
    ("filter[title][$endsWith]=a", '{title: {endsWith: "a"}}'),
    ("filter[score][$gt]=2", "{score: {gt: 2}}"),
    ("filter[featured]=false", "{featured: {eq: false}}"),
    ("filter[publishedAt][$gte]=2024-01-01", '{publishedAt: {gte: "2024-01-01"}}'),
    ("filter[day]=2024-06-01", '{day: {eq: "2024-06-01"}}'),
    ("filter[tags]=python", '{tags: {eq: "python"}}'),
    ("filter[tags][$nin]=python", '{tags: {nin: ["python"]}}'),
    ("filter[author]=john", '{author: {id: {eq: "john"}}}'),
    ("filter[author.name]=Jane%20Doe", '{author: {name: {eq: "Jane Doe"}}}'),
    ("filter[categories.name]=Design", '{categories: {name: {eq: "Design"}}}'),
    ("filter[id][$in]=alpha,gamma", '{id: {in: ["alpha", "gamma"]}}'),
    (
        "filter[status]=published&filter[views][$gt]=20",
        "{status: {eq: PUBLISHED}, views: {gt: 20}}",
    ),
    ("filter[status]=published&sort=-views", '{status: {eq: PUBLISHED}}, sort: "-views"'),
]


@pytest.mark.parametrize(("rest", "graphql"), PARITY)
def test_rest_and_graphql_give_the_same_ids(client, rest, graphql):
    expected = rest_ids(client, f"/api/post?{rest}")
    filter_arg = graphql if "sort" in graphql else graphql
    assert node_ids(client, "posts", f"filter: {filter_arg}") == expected


SAMPLE_PARITY = [
    (
        "filter[status]=published&sort=-publishedAt",
        '{status: {eq: PUBLISHED}}, sort: "-publishedAt"',
    ),
    (
        "filter[author.name]=Jane%20Doe&sort=title",
        '{author: {name: {eq: "Jane Doe"}}}, sort: "title"',
    ),
    ("filter[featured]=true", "{featured: {eq: true}}"),
    ("filter[tags][$in]=git,api", '{tags: {in: ["git", "api"]}}'),
    (
        "filter[categories.name]=Engineering&filter[views][$gte]=100",
        '{categories: {name: {eq: "Engineering"}}, views: {gte: 100}}',
    ),
]


@pytest.mark.parametrize(("rest", "graphql"), SAMPLE_PARITY)
def test_sample_site_rest_and_graphql_agree(sample_client, rest, graphql):
    expected = rest_ids(sample_client, f"/api/blogPost?{rest}&limit=100")
    assert expected
    assert node_ids(sample_client, "blogPosts", f"limit: 100, filter: {graphql}") == expected


def test_sample_testimonials_folder_is_the_testimonial_model(sample_client):
    found = data(
        sample_client,
        '{ testimonials(sort: "id", filter: {rating: {gte: 5}}) { nodes { id __typename } }'
        ' testimonial(id: "harbor-labs") { company } }',
    )
    assert found == {
        "testimonials": {
            "nodes": [
                {"id": "little-fern-studio", "__typename": "Testimonial"},
                {"id": "northwind-press", "__typename": "Testimonial"},
            ]
        },
        "testimonial": {"company": "Harbor Labs"},
    }


def test_and_or_extend_the_query_layer(client):
    ids = node_ids(
        client, "posts", '{filter: {or: [{views: {gt: 500}}, {title: {eq: "Alpha"}}]}}'[1:-1]
    )
    assert ids == ["alpha", "gamma"]
    nested = node_ids(
        client,
        "posts",
        "filter: {and: [{or: [{status: {eq: DRAFT}}, {status: {eq: ARCHIVED}}]}, "
        '{author: {name: {startsWith: "john"}}}]}',
    )
    assert nested == ["delta"]
    related_or = node_ids(
        client,
        "posts",
        'filter: {author: {or: [{name: {eq: "John Roe"}}, {email: {endsWith: "@x"}}]}}',
    )
    assert related_or == rest_ids(client, "/api/post?filter[author]=john")


def test_limit_over_100_is_refused_as_rest_refuses_it(client):
    rest = client.get("/api/post?limit=101").get_json()["error"]
    body = gql(client, "{ posts(limit: 101) { nodes { id } } }", status=400)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST" == rest["code"]
    assert error["message"] == rest["message"] == "limit: must be between 0 and 100, got 101"
    assert error["extensions"]["details"] == [
        {"field": "limit", "message": "must be between 0 and 100, got 101"}
    ]


def test_bad_filters_name_what_is_wrong(client):
    body = gql(client, '{ posts(filter: {views: {contains: "1"}}) { nodes { id } } }', status=400)
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_REQUEST",
        "details": [
            {
                "field": "filter.views.contains",
                "message": "$contains applies to text, not to integer fields",
            }
        ],
    }
    unknown = gql(client, "{ posts { nodes { nope } } }", status=400)
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "nope" in unknown["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (
            "query($l: Int) { posts(limit: $l) { nodes { id } } }",
            {"l": "abc"},
            "Variable '$l' got invalid value 'abc'; Int cannot represent non-integer value",
        ),
        (
            "query($f: PostFilter) { posts(filter: $f) { nodes { id } } }",
            {"f": {"status": {"eq": "published"}}},
            "Value 'published' does not exist in 'PostStatus' enum. Did you mean the enum value"
            " 'PUBLISHED'?",
        ),
        (
            "query($f: PostFilter) { posts(filter: $f) { nodes { id } } }",
            {"f": {"publishedAt": {"gt": "yesterday"}}},
            "expected a datetime (ISO 8601), got 'yesterday'",
        ),
        (
            '{ posts(filter: {day: {gt: "2025-13-45"}}) { nodes { id } } }',
            None,
            "expected a date (YYYY-MM-DD), got '2025-13-45'",
        ),
    ],
)
def test_wrongly_typed_variables_and_literals_are_bad_requests(client, query, variables, message):
    """The request is wrong, not the server: 400 with graphql-core's explanation."""
    body = gql(client, query, variables, status=400)
    assert body["errors"][0]["extensions"] == {"code": "BAD_REQUEST", "details": []}
    assert message in body["errors"][0]["message"]


def test_missing_record_is_not_found_with_partial_data(client):
    body = gql(client, '{ post(id: "nope") { id } people: persons { nodes { id } } }')
    assert body["data"] == {"post": None, "people": {"nodes": [{"id": "jane"}, {"id": "john"}]}}
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert body["errors"][0]["path"] == ["post"]


def test_get_with_query_and_batches(client):
    response = client.get("/graphql?query=" + quote('{ post(id: "beta") { title } }'))
    assert response.status_code == 200 and response.get_json()["data"]["post"]["title"] == "Beta"
    refused = client.get("/graphql?query=" + quote('mutation { deletePost(id: "beta") }'))
    assert refused.status_code == 405
    batch = client.post(
        "/graphql",
        json=[
            {"query": '{ post(id: "alpha") { title } }'},
            {
                "query": "query Q($n: Int) { posts(limit: $n) { nodes { id } } }",
                "variables": {"n": 1},
            },
            {"query": "{ nope }"},
        ],
    )
    assert batch.status_code == 200
    first, second, third = batch.get_json()
    assert first == {"data": {"post": {"title": "Alpha"}}}
    assert second == {"data": {"posts": {"nodes": [{"id": "alpha"}]}}}
    assert third["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    too_many = client.post("/graphql", json=[{"query": "{ __typename }"}] * 51)
    assert too_many.status_code == 400


# -- who may read what ---------------------------------------------------------------------
def test_anonymous_sees_published_only_as_in_rest(anonymous, client):
    assert node_ids(anonymous, "posts", "limit: 10") == ["alpha", "beta", "epsilon"]
    assert node_ids(anonymous, "posts", "limit: 10") == rest_ids(anonymous, "/api/post")
    assert node_ids(client, "posts", "limit: 10") == ["alpha", "beta", "delta", "epsilon", "gamma"]
    hidden = gql(anonymous, '{ post(id: "gamma") { id } }')
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_private_site_needs_credentials(query_repo, tmp_path):
    config = (
        (query_repo / "vellum.yml").read_text().replace("public_read: true", "public_read: false")
    )
    write_files(query_repo, {"vellum.yml": config})
    commit(query_repo, "Private")
    application = build_app(query_repo, tmp_path / "private-state")
    try:
        body = gql(application.test_client(), "{ posts { nodes { id } } }", status=401)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
        wrong = application.test_client().post(
            "/graphql",
            json={"query": "{ posts { nodes { id } } }"},
            headers={"Authorization": "Bearer vk_wrong"},
        )
        assert wrong.status_code == 401
        assert wrong.get_json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
        reader = authorised_client(application, ("read",))
        assert node_ids(reader, "posts", "") == ["alpha", "beta", "epsilon"]
        versions = gql(reader, '{ post(id: "alpha") { versions { version } } }')
        assert versions["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    finally:
        application.extensions["vellum"].close()


def test_versions_of_a_record(client, query_repo):
    versions = data(
        client, '{ post(id: "alpha") { versions { version author { name } message } } }'
    )
    assert versions["post"]["versions"] == [
        {
            "version": versions["post"]["versions"][0]["version"],
            "author": {"name": "Test Writer"},
            "message": "Add the query fixture",
        }
    ]
    refused = gql(client, '{ post(id: "alpha") { versions(limit: 0) { version } } }')
    assert refused["errors"][0]["extensions"]["details"] == [
        {"field": "limit", "message": "must be between 1 and 100, got 0"}
    ]  # the bounds of REST's /versions


# -- limits before execution -------------------------------------------------------------
def test_depth_bomb_is_refused_before_it_runs(sample_client):
    inner = "{ id }"
    for _ in range(10):
        inner = "{ id parent " + inner + " }"
    bomb = 'mutation { createPage(data: {title: "Bomb", parent: "about"}) ' + inner + " }"
    body = gql(sample_client, bomb, status=400)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["message"] == "The query is 12 levels deep; the limit is 10"
    assert rest_ids(sample_client, "/api/page?filter[title]=Bomb") == []  # it never ran


def test_complexity_bomb_is_refused_and_the_limit_is_in_the_message(client):
    aliases = " ".join(f"p{n}: posts(limit: 100) {{ nodes {{ id title }} }}" for n in range(4))
    body = gql(client, "{ " + aliases + " }", status=400)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body["errors"][0]["message"] == "The query's complexity is 1204; the limit is 1000"
    fits = " ".join(f"p{n}: posts(limit: 100) {{ nodes {{ id title }} }}" for n in range(3))
    assert len(data(client, "{ " + fits + " }")) == 3
    with_variables = "query Q($n: Int) { posts(limit: $n) { nodes { id categories { id } } } }"
    refused = client.post("/graphql", json={"query": with_variables, "variables": {"n": 100}})
    assert refused.status_code == 400  # 1 + 100 nodes + 100 ids + 100 lists × 10 ids
    # A page's pageInfo is one object, whatever its size: counting totals is cheap.
    totals = " ".join(f"t{n}: posts(limit: 100) {{ pageInfo {{ total }} }}" for n in range(8))
    assert len(data(client, "{ " + totals + " }")) == 8


def test_limits_come_from_vellum_yml_and_introspection_stays_on(query_repo, tmp_path):
    config = (query_repo / "vellum.yml").read_text() + "graphql:\n  depth: 3\n  complexity: 50\n"
    write_files(query_repo, {"vellum.yml": config})
    commit(query_repo, "Tight limits")
    application = build_app(query_repo, tmp_path / "tight-state")
    try:
        reader = application.test_client()
        assert data(reader, get_introspection_query())["__schema"]["queryType"]["name"] == "Query"
        deep = gql(reader, '{ post(id: "alpha") { author { name } } }')
        assert "errors" not in deep
        body = gql(
            reader, '{ post(id: "alpha") { categories { id } author { name } } } ', status=200
        )
        assert "errors" not in body
        too_deep = gql(reader, "{ posts { nodes { author { name } } } }", status=400)
        assert too_deep["errors"][0]["message"] == "The query is 4 levels deep; the limit is 3"
        costly = gql(reader, "{ posts(limit: 30) { nodes { id } } }", status=400)
        assert costly["errors"][0]["message"] == "The query's complexity is 61; the limit is 50"
    finally:
        application.extensions["vellum"].close()


FULL_TYPE = get_introspection_query()[get_introspection_query().index("fragment") :]


def test_introspection_counts_and_one_full_introspection_fits(client):
    # GraphiQL's question: the whole schema, once, answers.
    graphiql = get_introspection_query(input_value_deprecation=True, schema_description=True)
    assert data(client, graphiql)["__schema"]["queryType"]["name"] == "Query"
    # The same twice over is refused before it runs, however it is spread over aliases.
    twice = "{ a: __schema { types { ...FullType } } b: __schema { types { ...FullType } } }"
    body = gql(client, twice + FULL_TYPE, status=400)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["message"].startswith(
        "The query's introspection is larger than one full introspection of the schema ("
    )
    assert "data" not in body
    # A thousand copies are refused at once, for their length alone.
    aliases = " ".join(f"a{n}: __schema {{ types {{ ...FullType }} }}" for n in range(1000))
    thousand = gql(client, "{ " + aliases + " }" + FULL_TYPE, status=400)
    assert thousand["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    # Aliases inside introspection count too.
    fields = " ".join(
        f"f{n}: fields {{ name args {{ name type {{ name }} }} }}" for n in range(100)
    )
    inner = gql(client, '{ __type(name: "Query") { ' + fields + " } }", status=400)
    assert inner["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    small = '{ __type(name: "Post") { name fields { name } } }'
    assert data(client, small)["__type"]["name"] == "Post"
    # __typename is a field like any other.
    names = " ".join(f"t{n}: __typename" for n in range(10))
    costly = gql(client, "{ posts(limit: 100) { nodes { " + names + " } } }", status=400)
    assert costly["errors"][0]["message"] == "The query's complexity is 1101; the limit is 1000"
    # A limit left to a variable's default counts that default.
    defaulted = "query($n: Int = 100) { posts(limit: $n) { nodes { id categories { id } } } }"
    assert gql(client, defaulted, status=400)["errors"][0]["extensions"]["code"] == (
        "QUERY_TOO_COMPLEX"
    )


@pytest.mark.timeout(60)
def test_fragments_spread_into_fragments_are_refused_before_they_are_walked(client):
    # Ten levels of ten spreads: a short query that spreads into ten billion selections.
    levels = [f"fragment F{n} on Query {{ {f'...F{n + 1} ' * 10}}}" for n in range(10)]
    bomb = "{ ...F0 } " + " ".join(levels) + " fragment F10 on Query { __typename }"
    body = gql(client, bomb, status=400)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body["errors"][0]["message"] == (
        "The query spreads into more than 10000 selections; the complexity limit is 1000"
    )


def test_a_query_longer_than_graphql_length_is_refused_before_it_is_parsed(client):
    padding = "#" * 20_000 + "\n"
    body = gql(client, padding + "{ posts { nodes { id } } }", status=400)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["message"] == "The query is 20027 characters long; the limit is 20000"
    over_get = client.get("/graphql?query=" + quote(padding + "{ posts { nodes { id } } }"))
    assert over_get.status_code == 400
    assert data(client, "#" * 19_000 + "\n{ posts { nodes { id } } }")["posts"]["nodes"]


CONDITIONS = "a filter holds at most 100 conditions (limits.max_conditions in vellum.yml)"
VALUES = "$in and $nin take at most 1000 values (limits.max_values in vellum.yml)"


def details(body: dict) -> list[dict]:
    return body["errors"][0]["extensions"]["details"]


def test_graphql_filters_are_bounded_before_they_are_read(client):
    query = "query($f: PostFilter) { posts(filter: $f) { nodes { id } } }"
    many = {"and": [{"views": {"gt": n}} for n in range(51)]}  # 51 entries, 51 operators
    body = gql(client, query, {"f": many}, status=400)
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert details(body) == [{"field": "filter", "message": CONDITIONS}]
    assert "data" not in body
    fits = {"and": [{"views": {"gt": n}} for n in range(50)]}
    nodes = data(client, query, {"f": fits})["posts"]["nodes"]
    assert {n["id"] for n in nodes} == {"beta", "epsilon", "gamma"}  # views > 49
    # A relation a condition goes through counts, as in REST's filter[author.name].
    through = {"or": [{"author": {"name": {"eq": f"n{n}"}}} for n in range(34)]}
    assert details(gql(client, query, {"f": through}, status=400))[0]["field"] == "filter"
    ids = [f"id{n}" for n in range(1001)]
    body = gql(client, query, {"f": {"id": {"in": ids}}}, status=400)
    assert details(body) == [{"field": "filter.id.in", "message": VALUES}]
    found = data(client, query, {"f": {"id": {"in": ids[:999] + ["beta"]}}})  # 1000 values
    assert found["posts"]["nodes"] == [{"id": "beta"}]
    listed = ", ".join(f'"{i}"' for i in ids)
    literal = "{ posts(filter: {id: {nin: [" + listed + "]}}) { pageInfo { total } } }"
    assert details(gql(client, literal, status=400))[0]["field"] == "filter.id.nin"
    contents = "query($f: ContentFilter) { contents(filter: $f) { id } }"
    spread = {"or": [{"id": {"eq": f"x{n}"}} for n in range(51)]}
    assert details(gql(client, contents, {"f": spread}, status=400)) == [
        {"field": "filter", "message": CONDITIONS}
    ]


def test_filter_limits_come_from_vellum_yml(query_repo, tmp_path):
    config = (query_repo / "vellum.yml").read_text()
    config += "limits:\n  max_conditions: 2\n  max_values: 3\ngraphql:\n  length: 200\n"
    write_files(query_repo, {"vellum.yml": config})
    commit(query_repo, "Small filters")
    application = build_app(query_repo, tmp_path / "small-state")
    try:
        reader = application.test_client()
        two = "/api/post?filter[views][$gt]=1&filter[views][$lt]=500"
        assert rest_ids(reader, two) == ["alpha", "beta", "epsilon"]
        three = reader.get(two + "&filter[status]=published")
        assert three.status_code == 400
        assert "at most 2 conditions" in three.get_json()["error"]["message"]
        assert rest_ids(reader, "/api/post?filter[id][$in]=alpha,b,c") == ["alpha"]
        assert reader.get("/api/post?filter[id][$in]=a,b,c,d").status_code == 400
        posts = "{ posts(filter: %s) { nodes { id } } }"
        assert data(reader, posts % "{views: {gt: 1, lt: 500}}")["posts"]["nodes"]
        refused = gql(reader, posts % "{views: {gt: 1, lt: 500}, featured: {eq: true}}", status=400)
        assert "at most 2 conditions" in refused["errors"][0]["message"]
        assert gql(reader, posts % '{id: {in: ["a", "b", "c", "d"]}}', status=400)
        long = gql(reader, posts % "{views: {gt: 1}}" + " " * 200, status=400)
        assert long["errors"][0]["message"].endswith("characters long; the limit is 200")
    finally:
        application.extensions["vellum"].close()


def test_mutations_are_refused_before_their_variables_are_read(anonymous):
    mutation = "mutation($d: CreatePersonInput!) { createPerson(data: $d) { id } }"
    heavy = {"d": {"name": ["not a name"] * 5000}}  # wrong, and costly to coerce
    body = gql(anonymous, mutation, heavy, status=401)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"


# -- no N+1 ---------------------------------------------------------------------------------
def test_a_page_of_20_posts_reads_each_relation_once_per_level(sample_client):
    application = sample_client.application
    query = """{ blogPosts(limit: 20, filter: {status: {eq: PUBLISHED}}, sort: "-publishedAt") {
        nodes { title author { name } categories { name } } } }"""
    with application.test_request_context("/graphql", method="POST"):
        services = application.extensions["vellum"]
        schema = schemas().current(services.site, services.catalog())
        context = Context(services, audience=EDITORS)
        result, status = run(schema, {"query": query}, context, Limits())
    assert status == 200 and len(result["data"]["blogPosts"]["nodes"]) == 18
    assert context.relations.batches == 2  # one for every author, one for every category
    deeper = """{ blogPosts(limit: 20) { nodes { author { name avatar { url } }
        categories { name } } } pages { nodes { parent { parent { title } } } } }"""
    with application.test_request_context("/graphql", method="POST"):
        context = Context(services, audience=EDITORS)
        result, status = run(schema, {"query": deeper}, context, Limits())
    assert status == 200 and "errors" not in result
    # author, categories, page.parent; no parent has a parent, so level 3 reads nothing
    assert context.relations.batches == 3


def test_graphql_has_rests_rate_limits(query_repo, tmp_path):
    config = (query_repo / "vellum.yml").read_text() + "rate_limits:\n  anonymous: 3 per minute\n"
    write_files(query_repo, {"vellum.yml": config})
    commit(query_repo, "Tight rate limit")
    application = build_app(query_repo, tmp_path / "limited-state")
    try:
        reader = application.test_client()
        statuses = [
            reader.post("/graphql", json={"query": "{ posts { nodes { id } } }"}).status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        assert reader.get("/api/post").status_code == 429  # one budget for GraphQL and REST
        # A batch costs one request per operation.
        batcher = application.test_client()
        batcher.environ_base["REMOTE_ADDR"] = "127.0.0.9"  # a budget of its own
        batch = [{"query": "{ posts { nodes { id } } }"}] * 2
        first = batcher.post("/graphql", json=batch)
        assert first.status_code == 200 and first.headers["X-RateLimit-Remaining"] == "1"
        assert batcher.post("/graphql", json=batch).status_code == 429
    finally:
        application.extensions["vellum"].close()


# -- the seeds' examples, against a site with their models (the sample site) ----------------
def test_scalar_seed_style_list_and_create(sample_client):
    page = data(
        sample_client,
        """query {
          blogPosts(limit: 20, filter: {status: {eq: PUBLISHED}}, sort: "-publishedAt") {
            nodes { title author { name } categories { name } }
            pageInfo { hasNextPage hasPreviousPage total }
          }
        }""",
    )["blogPosts"]
    assert page["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": False, "total": 18}
    rest = sample_client.get(
        "/api/blogPost?filter[status]=published&sort=-publishedAt&populate=author,categories"
    ).get_json()["data"]
    assert page["nodes"] == [
        {
            "title": r["title"],
            "author": {"name": r["author"]["name"]} if r["author"] else None,
            "categories": [{"name": c["name"]} for c in r["categories"]],
        }
        for r in rest
    ]


def test_sveltycms_seed_style_contents(sample_client):
    found = data(
        sample_client,
        """query {
          contents(filter: {type: {eq: "blogPost"}, status: {eq: "published"}}, limit: 5,
                   sort: "-createdAt") {
            id type title body status author { name email } createdAt updatedAt data
          }
        }""",
    )["contents"]
    assert len(found) == 5 and {c["type"] for c in found} == {"blogPost"}
    assert all(c["status"] == "published" and c["author"]["name"] for c in found)
