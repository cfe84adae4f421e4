"""Run as a process of its own, gevent-patched as a server worker is: a full catalog build
while greenlets keep a beat and read the catalog; prints what they saw as JSON.

Usage: python -m tests.loop_probe SITE STATE_DIR. It builds a catalog, prints "ready",
and waits for a line on stdin (another process changes every record meanwhile) before
it builds the next one, in full.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402

from vellum.server import off_the_loop, rebind_patched_names  # noqa: E402
from vellum.services import Vellum  # noqa: E402
from vellum.site.config import load_config  # noqa: E402


def main(site: str, state: str) -> dict:
    rebind_patched_names()
    vellum = Vellum(load_config({"SITE": site, "STATE_DIR": state}))
    vellum.offload = off_the_loop
    before = vellum.catalog().generation
    print("ready", flush=True)
    sys.stdin.readline()
    beats: list[float] = []
    read: list[tuple[float, int]] = []

    def beat() -> None:  # an event stream's keep-alive, say
        while True:
            beats.append(time.monotonic())
            gevent.sleep(0.001)

    def reader() -> None:  # a request answered meanwhile
        while True:
            read.append((time.monotonic(), vellum.catalog().generation))
            gevent.sleep(0.001)

    # They first run when this greenlet waits: on the build, if it runs off the loop.
    greenlets = [gevent.spawn(beat), gevent.spawn(reader)]
    started = time.monotonic()
    after = vellum.catalog(latest=True).generation
    ended = time.monotonic()
    gevent.killall(greenlets)
    vellum.close()
    return {
        "generations": [before, after],
        "beats during": sum(started < t < ended for t in beats),
        "read during": sorted({g for t, g in read if started < t < ended}),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
