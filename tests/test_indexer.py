"""The index on a real repository: incremental sync, restarts, Git dates, invalid files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.helpers import ROOT, commit, git, write_files
from vellum.services import Vellum
from vellum.site.audience import EDITORS
from vellum.site.config import load_config
from vellum.store.index import _catch_up
from vellum.store.indexer import record_with_body, text_doc, text_is_current


def open_vellum(site: Path, state: Path) -> Vellum:
    return Vellum(load_config({"SITE": str(site), "STATE_DIR": str(state)}))


def test_first_sync_parses_everything_then_nothing(query_repo, tmp_path):
    v = open_vellum(query_repo, tmp_path / "state")
    first = v.sync()
    assert (first.added, first.unchanged) == (10, 0)
    second = v.sync()
    assert (second.reindexed, second.unchanged, second.removed) == (0, 10, 0)
    v.close()


def test_restart_reindexes_only_changed_files(query_repo, tmp_path):
    state = tmp_path / "state"
    v = open_vellum(query_repo, state)
    v.sync()
    v.close()
    (query_repo / "posts/beta.md").write_text(
        (query_repo / "posts/beta.md").read_text().replace("views: 100", "views: 101")
    )
    (query_repo / "posts/delta.md").unlink()
    write_files(query_repo, {"posts/zeta.md": "---\ntitle: Zeta\nslug: zeta\n---\nNew.\n"})
    os.utime(query_repo / "posts/gamma.md")  # touched, same content: not parsed again
    restarted = open_vellum(query_repo, state)
    report = restarted.sync()
    assert (report.added, report.updated, report.removed) == (1, 1, 1)
    assert report.reindexed == 2 and not report.rebuilt
    catalog = restarted.catalog()
    assert catalog.get("post", "beta", None, EDITORS).data["views"] == 101
    assert (
        catalog.get("post", "delta", None, EDITORS) is None
        and catalog.get("post", "zeta", None, EDITORS) is not None
    )
    hits, _ = restarted.store.search("new", models=["post"])
    assert [h.key for h in hits] == ["posts/zeta.md"]
    restarted.close()


def test_changing_models_rebuilds(query_repo, tmp_path):
    state = tmp_path / "state"
    v = open_vellum(query_repo, state)
    v.sync()
    v.close()
    config = query_repo / "vellum.yml"
    config.write_text(config.read_text().replace("email: {type: string}", "email: {type: text}"))
    again = open_vellum(query_repo, state)
    report = again.sync()
    assert report.rebuilt and report.added == 10
    assert again.sync().reindexed == 0
    again.close()


def test_git_dates_first_and_last_commit(query_repo, tmp_path):
    path = query_repo / "posts/beta.md"
    path.write_text(path.read_text() + "\nMore.\n")
    commit(query_repo, "Edit beta", date="2024-03-05T09:00:00+01:00")
    v = open_vellum(query_repo, tmp_path / "state")
    v.sync()
    beta = v.catalog().get("post", "beta", None, EDITORS)
    assert (beta.created, beta.updated) == ("2024-02-01T12:00:00Z", "2024-03-05T08:00:00Z")
    # Only the commits since the last sync are walked; the first date is kept.
    path.write_text(path.read_text() + "\nEven more.\n")
    commit(query_repo, "Edit beta again", date="2024-04-01T00:00:00Z")
    report = v.sync()
    assert report.updated == 1
    beta = v.catalog().get("post", "beta", None, EDITORS)
    assert (beta.created, beta.updated) == ("2024-02-01T12:00:00Z", "2024-04-01T00:00:00Z")
    alpha = v.catalog().get("post", "alpha", None, EDITORS)
    assert alpha.updated == "2024-02-01T12:00:00Z"
    v.close()


def test_front_matter_dates_win_and_uncommitted_edits_use_the_file_time(query_repo, tmp_path):
    write_files(
        query_repo,
        {
            "posts/dated.md": (
                "---\ntitle: Dated\ncreatedAt: 2020-01-01\nupdatedAt: 2020-02-02T10:00:00Z\n---\n"
            )
        },
    )
    path = query_repo / "posts/alpha.md"
    path.write_text(path.read_text() + "\nUncommitted.\n")
    v = open_vellum(query_repo, tmp_path / "state")
    v.sync()
    catalog = v.catalog()
    dated = catalog.get("post", "dated", None, EDITORS)
    assert (dated.created, dated.updated) == ("2020-01-01T00:00:00Z", "2020-02-02T10:00:00Z")
    alpha = catalog.get("post", "alpha", None, EDITORS)
    assert alpha.created == "2024-02-01T12:00:00Z"
    assert alpha.updated > "2025-01-01"  # the file's time, not the commit's
    v.close()


def test_rewritten_history_walks_all_again(query_repo, tmp_path):
    v = open_vellum(query_repo, tmp_path / "state")
    v.sync()
    git(
        query_repo,
        "commit",
        "-q",
        "--amend",
        "--reset-author",
        "-m",
        "Rewritten",
        env={
            "GIT_AUTHOR_DATE": "2023-01-01T00:00:00Z",
            "GIT_COMMITTER_DATE": "2023-01-01T00:00:00Z",
        },
    )
    v.sync()
    assert v.catalog().get("post", "alpha", None, EDITORS).created == "2023-01-01T00:00:00Z"
    v.close()


INVALID = {
    "posts/broken-yaml.md": "---\ntitle: Broken\ntags: [unclosed\n---\nBody\n",
    "people/broken.json": '{\n  "name": "Broken",\n  "email": \n}\n',
    "posts/wrong-type.md": "---\ntitle: Wrong\nviews: lots\n---\n",
    "posts/no-title.md": "---\nslug: no-title\n---\n",
    "posts/blank-title.md": "---\ntitle: ''\n---\n",
    "posts/dangling.md": "---\ntitle: Dangling\nslug: dangling\nauthor: nobody\n---\n",
    "posts/nested/alpha.md": "---\ntitle: Second alpha\n---\n",
    "posts/copy.md": "---\ntitle: Copy\nslug: beta\n---\n",
    "posts/bad-enum.md": "---\ntitle: Bad\nstatus: live\n---\n",
}


def test_invalid_files_are_left_out_and_reported(query_repo, tmp_path):
    write_files(query_repo, INVALID)
    v = open_vellum(query_repo, tmp_path / "state")
    v.sync()
    catalog = v.catalog()
    found = {p.path: p for p in catalog.problems}
    assert set(found) == set(INVALID)
    assert found["posts/broken-yaml.md"].line == 3
    assert "invalid YAML" in found["posts/broken-yaml.md"].reason
    assert found["people/broken.json"].line == 4  # where the value is missing
    assert "invalid JSON" in found["people/broken.json"].reason
    wrong = found["posts/wrong-type.md"]
    assert (wrong.field, wrong.line, wrong.reason) == (
        "views",
        3,
        "expected an integer, got a string 'lots'",
    )
    assert found["posts/no-title.md"].reason == "is required"
    assert found["posts/blank-title.md"].reason == "is required (it is empty)"
    assert found["posts/dangling.md"].reason == "relation to nothing: no person 'nobody'"
    assert found["posts/dangling.md"].line == 4
    assert "duplicate id 'alpha'" in found["posts/nested/alpha.md"].reason
    assert "already used by posts/beta.md" in found["posts/copy.md"].reason
    assert "expected one of draft, published, archived" in found["posts/bad-enum.md"].reason
    # The site goes on: every valid record is still served.
    assert catalog.count("post", EDITORS) == 5 and catalog.count("person", EDITORS) == 2
    v.close()


def test_invalid_files_in_status_endpoint(query_repo, tmp_path):
    from tests.helpers import authorised_client, build_app

    write_files(query_repo, {"posts/wrong-type.md": "---\ntitle: Wrong\nviews: lots\n---\n"})
    application = build_app(query_repo, tmp_path / "state")
    editor = authorised_client(application)  # invalid files are for readers of drafts
    data = editor.get("/api/_status").get_json()["data"]
    assert data["invalid"] == [
        {
            "path": "posts/wrong-type.md",
            "line": 3,
            "field": "views",
            "reason": "expected an integer, got a string 'lots'",
        }
    ]
    assert application.test_client().get("/api/post/wrong-type").status_code == 404
    application.extensions["vellum"].close()


READER = textwrap.dedent(
    """
    import sys, time
    from vellum.site.audience import EDITORS
    from vellum.site.config import load_config
    from vellum.services import Vellum
    v = Vellum(load_config({"SITE": sys.argv[1], "STATE_DIR": sys.argv[2], "SYNC_ON_START": False}))
    deadline = time.monotonic() + float(sys.argv[3])
    reads = 0
    while time.monotonic() < deadline:
        catalog = v.catalog()
        assert catalog.get("post", "alpha", None, EDITORS) is not None
        v.store.search("alpha", models=["post"])
        reads += 1
    print(reads, catalog.get("post", "beta", None, EDITORS).data["views"])
    """
)


def test_two_processes_keep_answering_while_the_index_is_updated(query_repo, tmp_path):
    state = tmp_path / "state"
    v = open_vellum(query_repo, state)
    v.sync()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(query_repo), str(state), "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    beta = query_repo / "posts/beta.md"
    for n in range(20):
        beta.write_text(beta.read_text().replace(f"views: {100 + n}", f"views: {101 + n}"))
        assert v.sync().updated == 1
        time.sleep(0.05)
    for reader in readers:
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err
        reads, views = out.split()
        assert int(reads) > 10
        assert int(views) == 120  # each reader saw the last update
    v.close()


def test_other_processes_catch_up_by_reading_only_what_changed(query_repo, tmp_path):
    state = tmp_path / "state"
    writer = open_vellum(query_repo, state)
    writer.sync()
    reader = open_vellum(query_repo, state)
    assert reader.catalog().get("post", "beta", None, EDITORS).data["views"] == 100
    known = reader._snapshot
    beta = query_repo / "posts/beta.md"
    beta.write_text(beta.read_text().replace("views: 100", "views: 101"))
    (query_repo / "posts/delta.md").unlink()
    writer.sync()
    with reader.store.records.searcher() as searcher:
        assert _catch_up(searcher, known) is not None  # from the change log, not a full read
    caught_up = reader.store.snapshot(known)
    full = reader.store.snapshot()
    assert caught_up is not full and caught_up.generation == full.generation
    assert caught_up.entries == full.entries and caught_up.meta == full.meta
    assert reader.catalog().get("post", "beta", None, EDITORS).data["views"] == 101
    assert reader.catalog().get("post", "delta", None, EDITORS) is None
    writer.close()
    reader.close()


def test_a_sync_that_writes_nothing_never_passes_for_the_next_generation(query_repo, tmp_path):
    state = tmp_path / "state"
    other = open_vellum(query_repo, state)
    other.sync()
    this = open_vellum(query_repo, state)
    this.catalog()
    beta, gamma = query_repo / "posts/beta.md", query_repo / "posts/gamma.md"
    beta.write_text(beta.read_text().replace("views: 100", "views: 101"))
    other.sync()
    # Behind by one generation and nothing to write: the index is read, nothing committed.
    assert this.sync(paths=["posts/beta.md"], text=False).reindexed == 0
    gamma.write_text(gamma.read_text().replace("views: 1000", "views: 1001"))
    other.sync()  # the generation after the one `this` read
    assert this.catalog().get("post", "gamma", None, EDITORS).data["views"] == 1001
    assert this.catalog().get("post", "beta", None, EDITORS).data["views"] == 101
    other.close()
    this.close()


TEXT_FILLER = textwrap.dedent(
    """
    import sys, time
    from vellum.site.audience import EDITORS
    from vellum.site.config import load_config
    from vellum.services import Vellum

    v = Vellum(load_config({"SITE": sys.argv[1], "STATE_DIR": sys.argv[2]}))
    v.sync(text=False)
    while time.time() < float(sys.argv[3]):  # start together
        time.sleep(0.001)
    print(v.sync_text(parallel=False))
    v.close()
    """
)


def text_keys(v: Vellum) -> list[str]:
    """Every document's key in the full-text index, duplicates included."""
    with v.store.text.searcher() as searcher:
        return sorted(f["key"] for f in searcher.all_stored_fields())


def test_two_processes_filling_the_text_index_add_each_record_once(query_repo, tmp_path):
    # `vellum serve` fills the full text beside the server while the live process's first
    # sync checks it too: both must not add the documents the index lacks.
    write_files(
        query_repo,
        {
            f"posts/p{n:03}.md": f"---\ntitle: Post {n}\n---\nWords {n} about git.\n"
            for n in range(300)
        },
    )
    commit(query_repo, "Three hundred posts")
    state = tmp_path / "state"
    v = open_vellum(query_repo, state)
    v.sync(text=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = str(time.time() + 3)
    fillers = [
        subprocess.Popen(
            [sys.executable, "-c", TEXT_FILLER, str(query_repo), str(state), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    written = []
    for filler in fillers:
        out, err = filler.communicate(timeout=120)
        assert filler.returncode == 0, err
        written.append(int(out))
    assert sorted(written) == [0, 310]  # one filled it; the other found nothing to do
    keys = text_keys(v)
    assert len(keys) == len(set(keys)) == 310
    assert len(v.store.search("git")[0]) == len(set(h.key for h in v.store.search("git")[0]))
    v.close()


def test_a_text_index_with_duplicates_is_repaired_by_the_next_full_sync(query_repo, tmp_path):
    v = open_vellum(query_repo, tmp_path / "state")
    v.sync()
    alpha = next(e for e in v._snapshot.entries.values() if e.key == "posts/alpha.md")
    record = record_with_body(v.store, alpha)  # the body is kept apart, by blob sha
    doc = text_doc(v.site.models["post"], alpha.key, alpha.sha, record)
    v.store.update_text([doc], [])  # what the race of an older version left: a second copy
    assert [h.key for h in v.store.search("merging")[0]] == ["posts/alpha.md"] * 2
    assert not text_is_current(v.store, v._snapshot)
    assert v.sync_text() == 1
    assert text_keys(v).count("posts/alpha.md") == 1
    assert [h.key for h in v.store.search("merging")[0]] == ["posts/alpha.md"]
    v.close()


def test_a_new_catalog_reuses_the_records_that_did_not_change(query_repo, tmp_path):
    v = open_vellum(query_repo, tmp_path / "state")
    v.sync()
    before = v.catalog()
    alpha = query_repo / "posts/alpha.md"
    alpha.write_text(alpha.read_text().replace("views: 10", "views: 11"))
    v.sync(paths=["posts/alpha.md"])
    after = v.catalog()
    assert after is not before
    assert after.get("post", "alpha", None, EDITORS).data["views"] == 11
    old = before.get("post", "alpha", None, EDITORS)
    assert old.data["views"] == 10  # the old catalog is untouched
    assert after.get("post", "beta", None, EDITORS) is before.get("post", "beta", None, EDITORS)
    assert after.get("person", "jane", None, EDITORS) is before.get("person", "jane", None, EDITORS)
    v.close()


def test_a_process_keeps_each_record_once_and_still_syncs_dates_and_edits(query_repo, tmp_path):
    v = open_vellum(query_repo, tmp_path / "state")
    v.sync()
    before = v.catalog().get("post", "beta", None, EDITORS)
    # The catalog holds the records: the snapshot keeps no second copy of their docs.
    assert all(e.raw is None for e in v._snapshot.entries.values() if e.is_record)
    beta, gamma = query_repo / "posts/beta.md", query_repo / "posts/gamma.md"
    beta.write_text(beta.read_text().replace("views: 100", "views: 101"))
    commit(query_repo, "Beta and gamma", date="2024-03-01T12:00:00Z")  # gamma: dates only
    git(query_repo, "commit", "--allow-empty", "-qm", "Nothing")
    gamma.write_text(gamma.read_text())  # same content, new stat
    report = v.sync()
    assert report.reindexed == 1
    catalog = v.catalog()
    after = catalog.get("post", "beta", None, EDITORS)
    assert after.data["views"] == 101 and after.created == before.created
    assert after.updated == "2024-03-01T12:00:00Z" != before.updated
    assert catalog.get("post", "gamma", None, EDITORS).created == before.created
    assert v.text_ready() and v.store.search("merging")[0]
    v.close()


def test_a_process_that_keeps_no_docs_syncs_text_from_the_index(query_repo, tmp_path):
    v = open_vellum(query_repo, tmp_path / "state")
    v.keep_docs = False  # the live process
    v.sync(text=False)
    assert all(e.raw is None for e in v._snapshot.entries.values() if e.is_record)
    assert v.sync_text() == 10  # the docs it writes are read back from the index
    beta = query_repo / "posts/beta.md"
    beta.write_text(beta.read_text() + "\nA quetzal appears.\n")
    v.sync(text=False)
    assert v.sync_text() == 1
    assert [h.key for h in v.store.search("quetzal")[0]] == ["posts/beta.md"]
    assert v.catalog().get("post", "beta", None, EDITORS).data["views"] == 100
    v.close()
