"""Rendered answers kept per process: never shown to the wrong audience, never stale."""

from __future__ import annotations

from tests.helpers import write_files
from vellum.api.answers import Answer, Answers


def ids(response) -> list[str]:
    return [r["id"] for r in response.get_json()["data"]]


def test_an_answer_made_for_an_editor_is_never_given_to_a_reader(app, client, anonymous):
    assert "gamma" in ids(client.get("/api/post?sort=title"))  # a draft, made and kept
    assert "gamma" not in ids(anonymous.get("/api/post?sort=title"))
    assert client.get("/api/post/gamma").status_code == 200
    assert anonymous.get("/api/post/gamma").status_code == 404
    assert "gamma" in ids(client.get("/api/post?sort=title"))


def test_the_order_of_parameters_gives_the_same_answer(client):
    first = client.get("/api/post?sort=title&limit=2")
    second = client.get("/api/post?limit=2&sort=title")
    assert first.get_data() == second.get_data() and ids(first) == ["alpha", "beta"]
    assert first.headers["ETag"] == second.headers["ETag"]
    again = client.get(
        "/api/post?limit=2&sort=title", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304 and again.get_data() == b""


def test_a_change_to_the_index_is_answered_at_once(app, client, query_repo):
    before = client.get("/api/post/alpha?fields=title").get_json()["data"]["title"]
    listed = client.get("/api/post?sort=title&fields=title").get_json()["data"][0]["title"]
    assert before == listed == "Alpha"
    alpha = (query_repo / "posts/alpha.md").read_text().replace("title: Alpha", "title: Aleph")
    write_files(query_repo, {"posts/alpha.md": alpha})
    app.extensions["vellum"].sync()
    assert client.get("/api/post/alpha?fields=title").get_json()["data"]["title"] == "Aleph"
    assert client.get("/api/post?sort=title&fields=title").get_json()["data"][0]["title"] == "Aleph"


def test_answers_are_bounded_least_recently_used_first_out():
    class Catalog:
        generation, site = 1, object()

    answers, catalog, made = Answers(max_entries=2, max_bytes=10**6), Catalog(), []

    def make(key):
        def run():
            made.append(key)
            return Answer(key.encode(), key, weak=True)

        return run

    for key in ("a", "b", "a", "c", "a", "b"):
        assert answers.get(catalog, key, make(key)).body == key.encode()
    assert made == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came
    catalog.generation = 2  # a new generation of the index: nothing kept is reused
    answers.get(catalog, "a", make("a"))
    assert made[-1] == "a" and len(answers) == 1


def test_answers_are_bounded_in_bytes():
    class Catalog:
        generation, site = 1, object()

    answers = Answers(max_entries=100, max_bytes=16 * 100)
    for n in range(10):
        answers.get(Catalog, n, lambda: Answer(bytes(60), "e", weak=True))
    assert len(answers) == 10
    for n in range(10, 40):
        answers.get(Catalog, n, lambda: Answer(bytes(100), "e", weak=True))
    assert len(answers) == 16  # 1,600 bytes hold sixteen answers of 100
    answers.get(Catalog, "huge", lambda: Answer(bytes(200), "e", weak=True))
    assert len(answers) == 16  # one answer over a sixteenth of the room is not kept
