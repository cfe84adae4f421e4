"""The shared counts behind rate limits: exact across processes and threads."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor

from vellum.auth.tally import Tally


def _add_many(path, times: int) -> None:
    tally = Tally(path)
    for _ in range(times):
        tally.add("ip:10.0.0.1", 1, 60)
    tally.close()


def test_counts_from_several_processes_and_threads_add_up_exactly(tmp_path):
    path = tmp_path / "tally.bin"
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_add_many, args=(path, 300)) for _ in range(3)]
    for worker in workers:
        worker.start()
    tally = Tally(path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: tally.add("ip:10.0.0.1", 1, 60), range(200)))
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert tally.get("ip:10.0.0.1")[0] == 1100
    assert tally.get("ip:10.0.0.2")[0] == 0
    tally.close()


def test_a_window_ends_and_starts_again(tmp_path):
    tally = Tally(tmp_path / "tally.bin")
    assert tally.add("k", 5, 0.2)[0] == 5
    assert tally.add("k", 1, 0.2)[0] == 6
    time.sleep(0.3)
    assert tally.get("k")[0] == 0
    assert tally.add("k", 1, 0.2)[0] == 1
    tally.close()


def test_counts_in_progress_go_back_to_zero_and_free_their_slot(tmp_path):
    tally = Tally(tmp_path / "tally.bin")
    assert tally.add("conn:k", 1, 3600, renew=True)[0] == 1
    assert tally.add("conn:k", 1, 3600, renew=True)[0] == 2
    assert tally.add("conn:k", -1, 3600, renew=True)[0] == 1
    assert tally.add("conn:k", -1, 3600, renew=True)[0] == 0
    assert tally.add("conn:k", -1, 3600, renew=True)[0] == 0  # never below zero
    assert tally.get("conn:k")[0] == 0
    tally.close()


def test_many_callers_each_keep_their_own_count(tmp_path):
    tally = Tally(tmp_path / "tally.bin")
    for n in range(5000):
        tally.add(f"ip:{n}", n % 7 + 1, 60)
    assert all(tally.get(f"ip:{n}")[0] == n % 7 + 1 for n in range(5000))
    tally.close()


def test_a_health_check_can_reach_the_counts(tmp_path):
    tally = Tally(tmp_path / "tally.bin")
    assert tally.check() is True
    tally.close()
