"""Field types: how values from files become typed values, and what is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from vellum.site.models import Field, FieldError, coerce, coerce_record, infer_type


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        (Field("t", "string"), "Hello", "Hello"),
        (Field("t", "string"), 2024, "2024"),
        (Field("t", "text"), "Long\ntext", "Long\ntext"),
        (Field("t", "markdown"), "*hi*", "*hi*"),
        (Field("n", "integer"), 42, 42),
        (Field("n", "integer"), 3.0, 3),
        (Field("n", "number"), 2.5, 2.5),
        (Field("n", "number"), 7, 7),
        (Field("b", "boolean"), False, False),
        (Field("d", "date"), dt.date(2024, 5, 6), "2024-05-06"),
        (Field("d", "date"), "2024-05-06", "2024-05-06"),
        (Field("d", "datetime"), "2024-05-06T10:00:00+02:00", "2024-05-06T08:00:00Z"),
        (Field("d", "datetime"), dt.datetime(2024, 5, 6, 10, 0), "2024-05-06T10:00:00Z"),
        (Field("d", "datetime"), dt.date(2024, 5, 6), "2024-05-06T00:00:00Z"),
        (Field("d", "datetime"), "2024-05-06T10:00:00.250Z", "2024-05-06T10:00:00.250000Z"),
        (Field("e", "enum", values=("a", "b")), "b", "b"),
        (Field("l", "list", of="integer"), [1, 2], [1, 2]),
        (Field("l", "list"), ["a", dt.date(2024, 1, 2)], ["a", "2024-01-02"]),
        (Field("o", "object"), {"a": {"b": dt.date(2024, 1, 2)}}, {"a": {"b": "2024-01-02"}}),
        (Field("r", "relation", to="author"), "jane", "jane"),
        (Field("r", "relation", to="tag", many=True), ["a", 7], ["a", "7"]),
        (Field("m", "media"), "images/a.png", "images/a.png"),
    ],
)
def test_coerce_accepts(field, raw, expected):
    assert coerce(field, raw) == expected


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        (Field("t", "string"), ["x"], "expected a string, got a list"),
        (Field("t", "string"), True, "expected a string, got a boolean"),
        (Field("n", "integer"), "lots", "expected an integer, got a string 'lots'"),
        (Field("n", "integer"), True, "expected an integer, got a boolean"),
        (Field("n", "integer"), 2.5, "expected an integer, got a number 2.5"),
        (Field("n", "number"), "1", "expected a number, got a string '1'"),
        (Field("b", "boolean"), "yes", "expected true or false, got 'yes'"),
        (Field("d", "date"), "May 6", "expected a date (YYYY-MM-DD), got 'May 6'"),
        (Field("d", "datetime"), "soon", "expected a datetime (ISO 8601), got 'soon'"),
        (Field("e", "enum", values=("a", "b")), "c", "expected one of a, b, got 'c'"),
        (Field("l", "list", of="integer"), [1, "x"], "list item: expected an integer"),
        (Field("l", "list"), "a,b", "expected a list, got a string"),
        (Field("o", "object"), [1], "expected an object, got a list"),
        (Field("r", "relation", to="author"), ["a"], "expected a author id, got ['a']"),
        (Field("r", "relation", to="tag", many=True), "a", "expected a list of tag ids"),
        (Field("m", "media"), 5, "expected a media path, got an integer"),
    ],
)
def test_coerce_refuses(field, raw, message):
    with pytest.raises(FieldError) as info:
        coerce(field, raw)
    assert str(info.value).startswith(message)


def test_required_default_and_undeclared_keys():
    fields = {
        "title": Field("title", "string", required=True),
        "status": Field("status", "enum", values=("draft", "live"), default="draft"),
        "tags": Field("tags", "list", of="string"),
    }
    data, errors = coerce_record(fields, {"extra": dt.date(2024, 1, 1), "createdAt": "x"})
    assert errors == [("title", "is required")]
    assert data == {"title": None, "status": "draft", "tags": [], "extra": "2024-01-01"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, None], "integer"),
        ([1, 2.5], "number"),
        ([True], "boolean"),
        (["2024-01-01"], "date"),
        (["2024-01-01T10:00:00Z"], "datetime"),
        (["short"], "string"),
        (["x" * 300], "text"),
        ([["a"]], "list"),
        ([{"a": 1}], "object"),
        ([1, "a"], "object"),
        ([], "string"),
    ],
)
def test_infer_type(values, expected):
    assert infer_type(values) == expected
