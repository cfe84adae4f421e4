"""Our own PostgreSQL connections in a gevent worker: a query waits on its greenlet only."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT

# psycopg imported before the patch, as the server's master imports it before a worker
# patches; then one greenlet sleeps in the database while another counts its ticks.
SCRIPT = """
import sys
from vellum.store import pg
from gevent import monkey
monkey.patch_all()
import gevent

ticks = []

def tick():
    for _ in range(20):
        ticks.append(1)
        gevent.sleep(0.02)

with pg.connect(sys.argv[1], "test") as conn:
    ticker = gevent.spawn(tick)
    conn.execute("SELECT pg_sleep(0.6)")
    print(len(ticks))
    ticker.join()
"""


def test_a_query_in_a_gevent_worker_lets_the_other_greenlets_run(postgres_url):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, postgres_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) >= 10  # ticked while the query waited
