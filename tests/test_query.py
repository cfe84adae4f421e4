"""The query layer as a library: typed filters, sorts, paging, fields and populate, checked
against the models and run over a real catalog of the query fixture site."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.helpers import QUERY_SITE, commit, make_repo, write_files
from vellum.api.params import parse_content_query, parse_list_query
from vellum.errors import InvalidParameter, ModelNotFound
from vellum.query import content
from vellum.query.filters import Filter, FilterGroup, make_filter
from vellum.query.lists import (
    DEFAULT_LIMIT,
    FilterLimits,
    check_filters,
    comma_list,
    list_query,
    search_query,
    sort_keys,
)
from vellum.query.render import to_json
from vellum.query.run import run_list
from vellum.services import Vellum
from vellum.site.audience import EDITORS, PUBLIC
from vellum.site.config import load_config

ALL_POSTS = ["alpha", "beta", "delta", "epsilon", "gamma"]


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """The query fixture site, indexed once for the module (the tests only read it)."""
    root = tmp_path_factory.mktemp("query")
    repo = make_repo(root / "repo")
    write_files(repo, QUERY_SITE)
    commit(repo, "Add the query fixture", date="2024-02-01T12:00:00Z")
    opened = Vellum(load_config({"SITE": str(repo), "STATE_DIR": str(root / "state")}))
    opened.sync()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def catalog(services):
    return services.catalog()


def ids(catalog, query, model="post") -> list[str]:
    return [r.id for r in run_list(catalog, model, query).records]


def refusal(call) -> tuple[str, str]:
    """(the parameter named, the message) of the 400 a call raises."""
    with pytest.raises(InvalidParameter) as caught:
        call()
    detail = caught.value.details[0]
    assert caught.value.param == detail.field
    return detail.field, detail.message


# -- filters ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "op", "value", "expected"),
    [
        ("views", "$eq", 100, ["beta"]),
        ("views", "$eq", "100", ["beta"]),  # text is read as the field's type
        ("views", "$ne", 100, ["alpha", "delta", "epsilon", "gamma"]),  # no value: not equal
        ("views", "$gt", 50, ["beta", "gamma"]),
        ("views", "$gte", 50, ["beta", "epsilon", "gamma"]),
        ("views", "$lt", 50, ["alpha"]),
        ("views", "$lte", 50.0, ["alpha", "epsilon"]),
        ("views", "$in", [10, 50], ["alpha", "epsilon"]),
        ("views", "$in", "10, 50", ["alpha", "epsilon"]),  # text: comma-separated values
        ("views", "$nin", (10, 50), ["beta", "delta", "gamma"]),
        ("score", "$gt", 2, ["beta"]),
        ("score", "$lt", "2.0", ["alpha"]),
        ("featured", "$eq", True, ["alpha"]),
        ("featured", "$ne", "true", ["beta", "delta", "epsilon", "gamma"]),
        ("featured", "$eq", "0", ["beta", "delta", "epsilon", "gamma"]),
        ("publishedAt", "$gte", dt.datetime(2024, 6, 1, 8, tzinfo=dt.UTC), ["beta", "gamma"]),
        ("publishedAt", "$lt", "2024-01-01", ["epsilon"]),  # a date is its midnight, UTC
        ("publishedAt", "$eq", "2024-06-01T10:00:00+02:00", ["beta"]),
        ("day", "$eq", dt.date(2024, 6, 1), ["beta"]),
        ("day", "$lte", "2024-01-01", ["alpha"]),
        ("status", "$in", ["draft", "archived"], ["delta", "gamma"]),
        ("status", "$eq", "published", ["alpha", "beta", "epsilon"]),
        ("title", "$contains", "ALP", ["alpha"]),  # the text operators ignore case
        ("title", "$startsWith", "eps", ["epsilon"]),
        ("title", "$endsWith", "RISING", ["epsilon"]),
        ("tags", "$eq", "python", ["alpha", "beta"]),  # a list matches when an item does
        ("tags", "$nin", ["python", "git"], ["delta", "epsilon", "gamma"]),  # when none does
        ("author", "$eq", "john", ["beta", "delta"]),
        ("author.name", "$eq", "Jane Doe", ["alpha", "epsilon", "gamma"]),
        (("categories", "name"), "$eq", "Design", ["beta", "gamma"]),
        (["categories.name"], "$startsWith", "eng", ["alpha", "beta"]),
        ("id", "$in", ["beta", "alpha", "nope"], ["alpha", "beta"]),
        ("createdAt", "$gte", "2024-02-01", ALL_POSTS),
    ],
)
def test_a_filter_keeps_the_records_it_describes(catalog, path, op, value, expected):
    flt = make_filter(catalog, "post", path, op, value)
    query = list_query(catalog, "post", filters=[flt], audience=EDITORS)
    assert sorted(ids(catalog, query)) == expected


def test_filters_are_values_whatever_the_form_of_their_input(catalog):
    by_text = make_filter(catalog, "post", "author.name", "$in", "Jane Doe, John Roe", "x")
    by_values = make_filter(catalog, "post", ("author", "name"), "$in", ["John Roe", "Jane Doe"])
    assert by_text.value == by_values.value == frozenset({"Jane Doe", "John Roe"})
    assert by_text.path == by_values.path == ("author", "name")
    assert by_values.param == "author.name"  # what an error about it would name
    assert make_filter(catalog, "post", "views", "$eq", "1e2") == Filter(
        ("views",), "$eq", 100, "views"
    )


@pytest.mark.parametrize(
    ("path", "op", "value", "message"),
    [
        ("nope", "$eq", 1, "unknown field 'nope' in post"),
        ("author.nope", "$eq", 1, "unknown field 'nope' in person"),
        ("title.name", "$eq", "x", "'title' is not a relation, so it has no 'name'"),
        ("views", "$gt", "abc", "expected a number, got 'abc'"),
        ("views", "$eq", True, "expected a number, got 'true'"),
        ("views", "$in", [1, "x"], "expected a number, got 'x'"),
        ("views", "$contains", "1", "$contains applies to text, not to integer fields"),
        ("featured", "$gt", True, "$gt does not apply to boolean fields"),
        ("meta", "$lt", "x", "$lt does not apply to object fields"),
        ("featured", "$eq", "maybe", "expected true or false, got 'maybe'"),
        ("status", "$eq", "gone", "expected one of draft, published, archived, got 'gone'"),
        ("publishedAt", "$eq", "soon", "expected a datetime (ISO 8601), got 'soon'"),
        ("day", "$eq", "2024-13-01", "expected a date (YYYY-MM-DD), got '2024-13-01'"),
        ("views", "$eq", [1, 2], "$eq takes one value; $in and $nin take several"),
        ("author..name", "$eq", "x", "a filter names a field: field or relation.field"),
    ],
)
def test_a_wrong_filter_is_a_400_naming_it(catalog, path, op, value, message):
    assert refusal(lambda: make_filter(catalog, "post", path, op, value)) == (path, message)
    named = refusal(lambda: make_filter(catalog, "post", path, op, value, param="filter[x]"))
    assert named == ("filter[x]", message)


def test_an_unknown_operator_or_model_is_refused(catalog):
    field, message = refusal(lambda: make_filter(catalog, "post", "views", "$like", "1"))
    assert field == "views" and message.startswith("unknown operator '$like'; use one of $eq")
    with pytest.raises(ModelNotFound):
        make_filter(catalog, "ghost", "views", "$eq", 1)
    with pytest.raises(ModelNotFound):
        list_query(catalog, "ghost", audience=EDITORS)


def test_filter_groups_join_conditions_with_or_and_and(catalog):
    many_views = make_filter(catalog, "post", "views", "$gt", 500)
    alpha = make_filter(catalog, "post", "title", "$eq", "Alpha")
    jane = make_filter(catalog, "post", "author", "$eq", "jane")
    either = FilterGroup("or", (many_views, alpha))
    assert sorted(
        ids(catalog, list_query(catalog, "post", filters=[either], audience=EDITORS))
    ) == [
        "alpha",
        "gamma",
    ]
    both = FilterGroup("and", (jane, FilterGroup("or", (alpha, many_views))))
    only = list_query(catalog, "post", filters=[both, alpha], audience=EDITORS)
    assert ids(catalog, only) == ["alpha"]


def test_check_filters_holds_built_filters_to_the_limits(catalog):
    limits = FilterLimits(conditions=3, values=2)
    through = make_filter(catalog, "post", "author.name", "$eq", "Jane Doe")  # counts two
    check_filters([through], limits)
    views = make_filter(catalog, "post", "views", "$gt", 1, "filter[views][$gt]")
    field, message = refusal(
        lambda: check_filters([through, FilterGroup("or", (views,)), views], limits)
    )
    assert field == "filter" and message.startswith("a filter holds at most 3 conditions")
    many = make_filter(catalog, "post", "id", "$in", ["a", "b", "c"], "filter[id][$in]")
    assert refusal(lambda: check_filters([many], limits))[0] == "filter[id][$in]"


# -- sort, paging, locale, words ----------------------------------------------------
@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ((("views", True),), ["gamma", "beta", "epsilon", "alpha", "delta"]),
        ((("views", False),), ["alpha", "epsilon", "beta", "gamma", "delta"]),  # None last
        ((("status", False), ("title", True)), ["delta", "gamma", "epsilon", "beta", "alpha"]),
        (
            (("author", False), ("publishedAt", False)),
            ["epsilon", "alpha", "gamma", "beta", "delta"],
        ),
        ((("title", False),), ["alpha", "beta", "delta", "epsilon", "gamma"]),
        ((("id", True),), ["gamma", "epsilon", "delta", "beta", "alpha"]),
    ],
)
def test_sort_orders_by_each_key_in_turn(catalog, sort, expected):
    assert ids(catalog, list_query(catalog, "post", sort=sort, audience=EDITORS)) == expected


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("-publishedAt,title", (("publishedAt", True), ("title", False))),
        ("views:desc, +title:asc", (("views", True), ("title", False))),
        ("", ()),
        (None, ()),
    ],
)
def test_sort_keys_read_the_sort_notation(text, keys):
    assert sort_keys(text) == keys


def test_a_sort_key_named_twice_is_one_pass(catalog):
    query = list_query(
        catalog, "post", sort=sort_keys("-views,views,title,-views"), audience=EDITORS
    )
    assert query.sort == (("views", True), ("title", False))


@pytest.mark.parametrize(
    ("sort", "message"),
    [
        ("nope", "unknown field 'nope'"),
        ("tags", "cannot sort by 'tags' (list)"),
        ("meta", "cannot sort by 'meta' (object)"),
        ("categories", "cannot sort by 'categories' (relation)"),
    ],
)
def test_a_sort_the_model_cannot_have_is_a_400(catalog, sort, message):
    call = lambda: list_query(catalog, "post", sort=[(sort, False)], audience=EDITORS)  # noqa: E731
    assert refusal(call) == ("sort", message)


@pytest.mark.parametrize(
    ("limit", "offset", "expected", "more"),
    [
        (2, 0, ["alpha", "beta"], True),
        (2, 3, ["epsilon", "gamma"], False),
        (None, None, ALL_POSTS, False),
        (0, 0, [], True),
        (100, 5, [], False),
    ],
)
def test_limit_and_offset_page_the_list(catalog, limit, offset, expected, more):
    query = list_query(
        catalog, "post", sort=[("title", False)], limit=limit, offset=offset, audience=EDITORS
    )
    page = run_list(catalog, "post", query)
    assert [r.id for r in page.records] == expected
    assert page.meta == {
        "total": 5,
        "limit": DEFAULT_LIMIT if limit is None else limit,
        "offset": offset or 0,
        "hasMore": more,
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("limit", 101, "must be between 0 and 100, got 101"),
        ("limit", -1, "must be between 0 and 100, got -1"),
        ("offset", -1, "must be between 0 and 2147483647, got -1"),
        ("offset", 2**31, "must be between 0 and 2147483647, got 2147483648"),
        ("limit", "5", "expected an integer, got '5'"),
        ("limit", True, "expected an integer, got 'True'"),
        ("offset", 1.0, "expected an integer, got '1.0'"),
    ],
)
def test_paging_out_of_bounds_is_a_400(catalog, name, value, message):
    call = lambda: list_query(catalog, "post", audience=EDITORS, **{name: value})  # noqa: E731
    assert refusal(call) == (name, message)


def test_locale_picks_each_records_variant_and_must_be_the_sites(catalog):
    query = list_query(
        catalog,
        "post",
        filters=[make_filter(catalog, "post", "id", "$eq", "alpha")],
        locale="fr",
        audience=EDITORS,
    )
    page = run_list(catalog, "post", query)
    assert [r.data["title"] for r in page.records] == ["Alpha en français"]
    assert page.meta["locale"] == "fr"
    call = lambda: list_query(catalog, "post", locale="de", audience=EDITORS)  # noqa: E731
    assert refusal(call) == ("locale", "unknown locale 'de'; this site has en, fr")


def test_an_audience_without_drafts_sees_only_published_records(catalog):
    readers = list_query(catalog, "post", audience=PUBLIC)
    assert sorted(ids(catalog, readers)) == ["alpha", "beta", "epsilon"]


def test_words_search_within_the_model_and_a_search_needs_words(services, catalog):
    query = list_query(catalog, "post", q="  caching  ", audience=EDITORS)
    assert query.q == "caching"
    assert [r.id for r in services.list("post", query).records] == ["gamma"]
    assert list_query(catalog, "post", q="   ", audience=EDITORS).q is None
    assert search_query(catalog, " grids ", limit=5, audience=EDITORS).q == "grids"
    blank = lambda: search_query(catalog, " ", audience=EDITORS)  # noqa: E731
    assert refusal(blank) == ("q", "a search needs q=<words>")


# -- what each record shows: fields, populate ---------------------------------------
def shown(catalog, record_id="beta", **options) -> dict:
    query = list_query(catalog, "post", audience=EDITORS, **options)
    rec = next(r for r in catalog.view("post", None, EDITORS) if r.id == record_id)
    return to_json(catalog, rec, query)


@pytest.mark.parametrize(
    ("fields", "keys"),
    [
        (("title", "views"), {"id", "type", "title", "views"}),
        ("title", {"id", "type", "title"}),
        (comma_list("title, html,updatedAt"), {"id", "type", "title", "html", "updatedAt"}),
        ((), {"id", "type"}),
    ],
)
def test_fields_keep_only_those_named(catalog, fields, keys):
    assert set(shown(catalog, fields=fields)) == keys


def test_without_fields_a_record_shows_everything(catalog):
    row = shown(catalog)
    assert {"id", "type", "locale", "title", "body", "html", "version", "createdAt"} <= set(row)
    assert row["author"] == "john" and row["categories"] == ["eng", "design"]


@pytest.mark.parametrize(
    ("populate", "expected"),
    [
        (("author",), ("author",)),
        ("author", ("author",)),
        (["categories", "author", "categories"], ("categories", "author")),
        ("*", ("author", "categories", "cover")),
        ((), ()),
    ],
)
def test_populate_names_relations_to_embed(catalog, populate, expected):
    assert list_query(catalog, "post", populate=populate, audience=EDITORS).populate == expected


def test_populated_relations_are_embedded_records(catalog):
    row = shown(catalog, populate="*", fields=["author", "categories", "cover"])
    assert row["author"]["name"] == "John Roe" and row["author"]["type"] == "person"
    assert [c["name"] for c in row["categories"]] == ["Engineering", "Design"]
    assert row["cover"] is None  # beta has no cover


@pytest.mark.parametrize(
    ("option", "value", "field", "message"),
    [
        ("fields", ["title", "nope"], "fields", "unknown field 'nope' in post"),
        (
            "populate",
            ["title"],
            "populate",
            "'title' is not a relation of post (author, categories, cover)",
        ),
        (
            "populate",
            ["author", "*"],
            "populate",
            "'*' is not a relation of post (author, categories, cover)",
        ),
    ],
)
def test_unknown_fields_and_populate_are_a_400(catalog, option, value, field, message):
    call = lambda: list_query(catalog, "post", audience=EDITORS, **{option: value})  # noqa: E731
    assert refusal(call) == (field, message)


# -- the content API and the REST parameters build the same typed queries ----------
def test_content_queries_filter_and_sort_across_models(services, catalog):
    people = content.content_filter("type", "$in", ["person", "category"])
    query = content.content_query(
        catalog, filters=[people], sort=sort_keys("-title"), audience=EDITORS
    )
    found = content.list_content(services, query)
    assert [r.id for r in found.records] == ["john", "jane", "eng", "design"]
    wrong = refusal(lambda: content.content_filter("title", "$eq", "x"))
    assert wrong == (
        "title",
        "content filters on type, id, status, createdAt, updatedAt, not 'title'",
    )
    sort = lambda: content.content_query(catalog, sort=[("views", False)], audience=EDITORS)  # noqa: E731
    assert refusal(sort) == ("sort", "unknown field 'views'")


def test_rest_parameters_build_the_typed_query(catalog):
    args = {
        "filter[views][$gt]": ["40"],
        "filters[author.name]": ["Jane Doe"],
        "sort": ["-views,title"],
        "limit": ["2"],
        "offset": ["1"],
        "fields": ["title,author"],
        "populate": ["author"],
        "locale": ["fr"],
        "q": [" caching "],
    }
    typed = list_query(
        catalog,
        "post",
        filters=[
            make_filter(catalog, "post", "views", "$gt", 40, "filter[views][$gt]"),
            make_filter(catalog, "post", "author.name", "$eq", "Jane Doe", "filters[author.name]"),
        ],
        sort=[("views", True), ("title", False)],
        limit=2,
        offset=1,
        fields=["title", "author"],
        populate=["author"],
        q="caching",
        locale="fr",
        audience=EDITORS,
    )
    assert parse_list_query(catalog, "post", args, EDITORS) == typed
    listed = parse_content_query(catalog, {"filter[type][$in]": ["post, person"]}, EDITORS)
    assert listed.filters == (
        content.content_filter("type", "$in", ["post", "person"], "filter[type][$in]"),
    )
