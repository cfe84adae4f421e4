"""GraphQL mutations and the model-agnostic content API (GraphQL and REST), on real repos."""

from __future__ import annotations

from tests.helpers import (
    authorised_client,
    build_app,
    commit,
    committed_sample,
    git,
    make_repo,
    write_files,
)
from tests.test_graphql import data, gql, rest_ids
from vellum.site.site import load_site


def last_commit(repo) -> str:
    return git(repo, "log", "-1", "--format=%an <%ae>|%s")


# -- per-model mutations (the Scalar seed's shape) ---------------------------------------
def test_create_update_delete_a_post(writer, query_repo):
    created = data(
        writer,
        """mutation { createPost(data: {title: "Hello GraphQL", status: PUBLISHED, views: 3,
             authorId: "jane", categories: ["eng", "design"], body: "Hi *there*."}) {
             id status author { name } categories { id } html } }""",
    )["createPost"]
    assert created == {
        "id": "hello-graphql",
        "status": "PUBLISHED",
        "author": {"name": "Jane Doe"},
        "categories": [{"id": "eng"}, {"id": "design"}],
        "html": "<p>Hi <em>there</em>.</p>\n",
    }
    assert (query_repo / "posts/hello-graphql.md").read_text() == (
        "---\ntitle: Hello GraphQL\nstatus: published\nviews: 3\nauthor: jane\n"
        "categories:\n  - eng\n  - design\n---\n\nHi *there*.\n"
    )
    assert last_commit(query_repo) == "ada <ada@example.com>|Create post hello-graphql"
    assert rest_ids(writer, "/api/post?filter[author]=jane&filter[views]=3") == ["hello-graphql"]
    updated = data(
        writer,
        'mutation { updatePost(id: "hello-graphql", data: {views: 4, author: "john"}) '
        "{ views title author { id } } }",
    )["updatePost"]
    assert updated == {"views": 4, "title": "Hello GraphQL", "author": {"id": "john"}}
    assert data(writer, 'mutation { deletePost(id: "hello-graphql") }') == {"deletePost": True}
    assert not (query_repo / "posts/hello-graphql.md").exists()
    assert last_commit(query_repo) == "ada <ada@example.com>|Delete post hello-graphql"


def test_a_relation_and_its_id_alias_must_agree(writer):
    body = gql(
        writer,
        'mutation { createPost(data: {title: "Two authors", author: "jane", authorId: "john"})'
        " { id } }",
        status=422,
    )
    assert body["errors"][0]["extensions"]["details"] == [
        {"field": "authorId", "message": "differs from author; send one of them"}
    ]


def test_a_validation_error_carries_code_and_details(writer, query_repo):
    head = git(query_repo, "rev-parse", "HEAD")
    body = gql(
        writer,
        'mutation { createPost(data: {id: "bad", title: "Bad", slug: "alpha", author: "nobody"})'
        " { id } }",
        status=422,
    )
    error = body["errors"][0]
    assert error["message"] == "The post is not valid"
    assert error["path"] == ["createPost"]
    assert error["extensions"] == {
        "code": "VALIDATION_ERROR",
        "details": [
            {"field": "slug", "message": "'alpha' is already used by alpha"},
            {"field": "author", "message": "no person with id 'nobody'"},
        ],
    }
    assert git(query_repo, "rev-parse", "HEAD") == head
    clash = gql(
        writer, 'mutation { createPerson(data: {id: "jane", name: "J"}) { id } }', status=409
    )
    assert clash["errors"][0]["extensions"]["code"] == "CONFLICT"


def test_mutations_need_the_write_scope(app, anonymous, query_repo):
    head = git(query_repo, "rev-parse", "HEAD")
    mutation = 'mutation { createPerson(data: {name: "Eve"}) { id } }'
    denied = gql(anonymous, mutation, status=401)
    assert denied["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
    reader = authorised_client(app, ("read", "read:drafts"))
    forbidden = gql(reader, mutation, status=403)
    assert forbidden["errors"][0]["extensions"] == {"code": "FORBIDDEN", "details": []}
    assert forbidden["errors"][0]["message"] == "This needs the 'write' scope"
    assert git(query_repo, "rev-parse", "HEAD") == head
    key_writer = authorised_client(app, ("read", "write"))
    assert data(key_writer, mutation) == {"createPerson": {"id": "eve"}}
    assert last_commit(query_repo).endswith("|Create person eve")


# -- the model-agnostic API (the SveltyCMS seed's shape) ---------------------------------
def test_contents_across_models_with_filters(client):
    everything = data(client, "{ contents(limit: 100) { id type } }")["contents"]
    assert len(everything) == 9 and everything[0] == {"id": "design", "type": "category"}
    rest = client.get("/api/content?limit=100").get_json()
    assert [(c["id"], c["type"]) for c in rest["data"]] == [
        (c["id"], c["type"]) for c in everything
    ]
    assert rest["meta"] == {"total": 9, "limit": 100, "offset": 0, "hasMore": False}
    posts = data(
        client,
        '{ contents(filter: {type: {eq: "post"}, status: {eq: "published"}}, sort: "-updatedAt,id")'
        " { id title status } }",
    )["contents"]
    assert [p["id"] for p in posts] == ["alpha", "beta", "epsilon"]
    assert posts[2] == {"id": "epsilon", "title": "Epsilon rising", "status": "published"}
    rest_posts = rest_ids(client, "/api/content?filter[type]=post&filter[status]=published")
    assert rest_posts == ["alpha", "beta", "epsilon"]
    either = data(
        client,
        '{ contents(filter: {or: [{type: {eq: "person"}}, {id: {in: ["eng", "gamma"]}}]}) { id } }',
    )["contents"]
    assert [c["id"] for c in either] == ["eng", "jane", "john", "gamma"]
    assert rest_ids(client, "/api/content?filter[type][$in]=person,category") == [
        "design",
        "eng",
        "jane",
        "john",
    ]
    found = data(client, '{ contents(q: "typography") { id } }')["contents"]
    assert found == [{"id": "beta"}]
    refused = client.get("/api/content?limit=101")
    assert (
        refused.status_code == 400 and refused.get_json()["error"]["details"][0]["field"] == "limit"
    )


def test_contents_sort_by_the_title_they_show(client):
    """A person's or category's title is its name: it sorts among the posts' titles."""
    titles = [
        c["title"]
        for c in data(client, '{ contents(limit: 100, sort: "title") { title } }')["contents"]
    ]
    assert len(titles) == 9 and {"Design", "Jane Doe", "Alpha"} <= set(titles)
    assert titles == sorted(titles)
    backwards = data(client, '{ contents(limit: 100, sort: "-title") { title } }')["contents"]
    assert [c["title"] for c in backwards] == titles[::-1]
    rest = client.get("/api/content?limit=100&sort=title").get_json()["data"]
    assert [c["title"] for c in rest] == titles


def test_content_shape_author_and_bare_ids(client, query_repo):
    one = data(
        client,
        '{ content(id: "alpha") { id type title body status author { name email } data } '
        'person: content(id: "john", type: "person") { title body status author { name } } }',
    )
    assert one["content"]["title"] == "Alpha" and one["content"]["status"] == "published"
    assert one["content"]["author"] == {"name": "Jane Doe", "email": "jane@example.com"}
    assert one["content"]["data"]["views"] == 10
    # No author relation: the Git author of the record's first commit.
    assert one["person"] == {
        "title": "John Roe",
        "body": None,
        "status": None,
        "author": {"name": "Test Writer"},
    }
    rest = client.get("/api/content/alpha").get_json()["data"]
    assert rest["author"] == one["content"]["author"] and rest["type"] == "post"
    assert client.get("/api/content/john").get_json()["data"]["author"]["email"] == (
        "writer@example.com"
    )


def test_an_ambiguous_bare_id_is_a_bad_request_naming_the_models(app, client, query_repo):
    write_files(query_repo, {"categories/jane.json": '{"name": "Jane\'s picks"}\n'})
    commit(query_repo, "A category named like a person")
    app.extensions["vellum"].sync()
    body = gql(client, '{ content(id: "jane") { id } }')  # content is nullable: data is there
    error = body["errors"][0]
    assert error["message"] == "The id 'jane' is used by category, person; say which with type"
    assert error["extensions"]["code"] == "BAD_REQUEST"
    rest = client.get("/api/content/jane")
    assert rest.status_code == 400 and "category, person" in rest.get_json()["error"]["message"]
    picked = data(client, '{ content(id: "jane", type: "category") { title } }')
    assert picked == {"content": {"title": "Jane's picks"}}
    assert client.get("/api/content/jane?type=person").get_json()["data"]["title"] == "Jane Doe"
    missing = gql(client, '{ content(id: "nobody") { id } }')
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_search_hits(client):
    hits = data(
        client, '{ search(q: "typography", limit: 5) { score snippet content { id type } } }'
    )
    assert [h["content"] for h in hits["search"]] == [{"id": "beta", "type": "post"}]
    assert "typography" in hits["search"][0]["snippet"] and hits["search"][0]["score"] > 0


def test_content_writes_in_graphql_and_rest(writer, query_repo):
    made = data(
        writer,
        'mutation { createContent(input: {title: "Seed post", body: "From *Svelty*.", '
        'status: "draft", data: {views: 7}, type: "post"}) { id type title status body } }',
    )["createContent"]
    assert made == {
        "id": "seed-post",
        "type": "post",
        "title": "Seed post",
        "status": "draft",
        "body": "From *Svelty*.",
    }
    assert last_commit(query_repo) == "ada <ada@example.com>|Create post seed-post"
    changed = data(
        writer,
        'mutation { updateContent(id: "seed-post", input: {status: "published"}) { status data } }',
    )["updateContent"]
    assert changed["status"] == "published" and changed["data"]["views"] == 7
    person = writer.post("/api/content", json={"data": {"type": "person", "title": "Zoe Poe"}})
    assert person.status_code == 201 and person.get_json()["data"]["id"] == "zoe-poe"
    assert person.headers["Location"] == "/api/content/zoe-poe?type=person"
    patched = writer.patch("/api/content/zoe-poe", json={"data": {"data": {"email": "z@x.io"}}})
    assert patched.get_json()["data"]["data"]["email"] == "z@x.io"
    invalid = writer.post("/api/content", json={"type": "person", "title": "X", "body": "no"})
    assert invalid.status_code == 422
    assert invalid.get_json()["error"]["details"] == [
        {"field": "body", "message": "person records have no body"}
    ]
    stray = writer.post("/api/content", json={"type": "person", "name": "Y", "data": {}})
    assert stray.status_code == 422 and stray.get_json()["error"]["details"][0]["field"] == "name"
    assert writer.delete("/api/content/zoe-poe").status_code == 204
    assert data(writer, 'mutation { deleteContent(id: "seed-post") }') == {"deleteContent": True}
    assert not (query_repo / "posts/seed-post.md").exists()


def test_content_type_defaults_to_default_model(app, writer, query_repo):
    made = data(writer, 'mutation { createContent(input: {title: "First"}) { type } }')
    assert made == {"createContent": {"type": "post"}}  # no default_model: the first model
    config = (query_repo / "vellum.yml").read_text() + "default_model: person\n"
    write_files(query_repo, {"vellum.yml": config})
    commit(query_repo, "Default model")
    app.extensions["vellum"].site = load_site(query_repo)
    made = data(writer, 'mutation { createContent(input: {title: "Second"}) { type } }')
    assert made == {"createContent": {"type": "person"}}


# -- every signature the contract quotes, used with the types it quotes ----------------------
CONTRACT_DOCUMENT = """
query Posts($limit: Int = 20, $offset: Int = 0, $sort: String, $filter: BlogPostFilter,
            $q: String, $locale: String) {
  blogPosts(limit: $limit, offset: $offset, sort: $sort, filter: $filter, q: $q,
            locale: $locale) {
    nodes { id title status author { name } categories { name } }
    pageInfo { hasNextPage hasPreviousPage total }
  }
}
query Post($id: ID!) {
  blogPost(id: $id) { id type title createdAt updatedAt version versions { version message } }
}
query One($id: ID!, $type: String) {
  content(id: $id, type: $type) {
    id type title body status author { name email } createdAt updatedAt data
  }
}
query Many($filter: ContentFilter, $limit: Int, $offset: Int, $sort: String, $q: String) {
  contents(filter: $filter, limit: $limit, offset: $offset, sort: $sort, q: $q) { id type }
}
query Find($q: String!, $limit: Int) {
  search(q: $q, limit: $limit) { content { id type } snippet score }
}
mutation Create($data: CreateBlogPostInput!) {
  createBlogPost(data: $data) { id title status author { name } categories { name } }
}
mutation Update($id: ID!, $data: UpdateBlogPostInput!) {
  updateBlogPost(id: $id, data: $data) { id title status }
}
mutation Delete($id: ID!) { deleteBlogPost(id: $id) }
mutation CreateContent($input: ContentInput!) {
  createContent(input: $input) { id type title body status author { name } }
}
mutation UpdateContent($id: ID!, $input: ContentInput!) {
  updateContent(id: $id, input: $input) { id title status }
}
mutation DeleteContent($id: ID!) { deleteContent(id: $id) }
"""


def run_op(client, name: str, **variables) -> dict:
    response = client.post(
        "/graphql",
        json={"query": CONTRACT_DOCUMENT, "operationName": name, "variables": variables},
    )
    body = response.get_json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


def test_clients_typed_as_the_contract_quotes_it_work(tmp_path):
    """Operations whose variables carry the types DESIGN.md and the issue quote (the
    seeds' signatures) validate and run against the sample site's models."""
    repo = make_repo(tmp_path / "repo")
    committed_sample(repo)
    commit(repo, "Add the sample site")
    application = build_app(repo / "content", tmp_path / "state")
    client = authorised_client(application, ("read", "read:drafts", "write"))
    try:
        jane = {"name": {"eq": "Jane Doe"}}
        page = run_op(
            client,
            "Posts",
            limit=2,
            sort="-publishedAt,title",
            filter={"status": {"eq": "PUBLISHED"}, "author": jane},
        )["blogPosts"]
        assert [n["author"] for n in page["nodes"]] == [{"name": "Jane Doe"}] * 2
        assert page["pageInfo"]["hasNextPage"] and not page["pageInfo"]["hasPreviousPage"]
        rest = client.get(
            "/api/blogPost?filter[status]=published&filter[author.name]=Jane Doe"
            "&sort=-publishedAt,title&limit=2"
        ).get_json()
        assert [n["id"] for n in page["nodes"]] == [r["id"] for r in rest["data"]]
        assert page["pageInfo"]["total"] == rest["meta"]["total"]

        post = run_op(client, "Post", id="hello-world")["blogPost"]
        assert post["type"] == "blogPost" and len(post["versions"]) == 1
        assert post["versions"][0]["message"] == "Add the sample site"
        made = run_op(
            client,
            "Create",
            data={
                "title": "Typed by the contract",
                "status": "PUBLISHED",
                "authorId": "jane-doe",
                "categories": ["engineering"],
                "body": "Written through *GraphQL*.",
            },
        )["createBlogPost"]
        assert made == {
            "id": "typed-by-the-contract",
            "title": "Typed by the contract",
            "status": "PUBLISHED",
            "author": {"name": "Jane Doe"},
            "categories": [{"name": "Engineering"}],
        }
        assert run_op(client, "Update", id=made["id"], data={"status": "ARCHIVED"})[
            "updateBlogPost"
        ] == {"id": made["id"], "title": "Typed by the contract", "status": "ARCHIVED"}
        one = run_op(client, "One", id=made["id"], type="blogPost")["content"]
        assert one["title"] == "Typed by the contract" and one["status"] == "archived"
        assert one["author"] == {"name": "Jane Doe", "email": "jane.doe@example.com"}
        assert one["body"] == "Written through *GraphQL*." and one["data"]["views"] is None
        assert run_op(client, "Delete", id=made["id"]) == {"deleteBlogPost": True}

        created = run_op(
            client,
            "CreateContent",
            input={"title": "Untyped", "body": "Goes to the default model.", "status": "draft"},
        )["createContent"]
        assert created["type"] == "blogPost" and created["status"] == "draft"
        updated = run_op(client, "UpdateContent", id=created["id"], input={"title": "Renamed"})
        assert updated["updateContent"] == {"id": "untyped", "title": "Renamed", "status": "draft"}
        many = run_op(
            client,
            "Many",
            filter={"or": [{"type": {"eq": "author"}}, {"id": {"eq": "untyped"}}]},
            limit=10,
            offset=0,
            sort="id",
            q=None,
        )["contents"]
        assert [c["id"] for c in many] == [
            "jane-doe",
            "lea-moreau",
            "marcus-okafor",
            "priya-raman",
            "untyped",
        ]
        hits = run_op(client, "Find", q="renamed", limit=5)["search"]
        assert [h["content"]["id"] for h in hits] == ["untyped"] and hits[0]["score"] > 0
        assert run_op(client, "DeleteContent", id="untyped") == {"deleteContent": True}
        assert client.get("/api/blogPost/untyped").status_code == 404
    finally:
        application.extensions["vellum"].close()


def test_a_flat_content_input_keeps_its_locale_and_message_and_a_body_must_be_text(
    writer, query_repo
):
    sent = {"type": "post", "title": "Bonjour", "locale": "fr", "message": "Un billet"}
    made = writer.post("/api/content", json=sent)
    assert made.status_code == 201 and made.get_json()["data"]["locale"] == "fr"
    assert (query_repo / "posts/bonjour.fr.md").exists()
    assert last_commit(query_repo).endswith("|Un billet")
    for body in ([1], 5, {"text": "x"}):
        refused = writer.post("/api/content", json={"type": "post", "title": "B", "body": body})
        assert refused.status_code == 422
        assert refused.get_json()["error"]["details"] == [
            {"field": "body", "message": "expected a string"}
        ]
        replaced = writer.put("/api/content/bonjour?type=post", json={"body": body})
        assert replaced.status_code == 422
    wrong = writer.post("/api/content", json={"type": "post", "title": "M", "message": 5})
    assert wrong.status_code == 422 and wrong.get_json()["error"]["details"][0]["field"] == (
        "message"
    )
