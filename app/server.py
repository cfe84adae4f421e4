"""The production server: gunicorn with gevent workers, each building its own app, and the
processes `vellum serve` runs beside it (the full-text indexer and the live process).

A gevent worker answers each connection on a greenlet: an open event stream costs a few
tens of KB, not a thread, so one process holds a thousand. Its monkey-patching makes the
blocking calls Vellum makes cooperative (sockets, subprocesses for git, sleeps in lock
waits); SQLite and Whoosh calls are short and run on the loop; moving the catalog on to a new
index generation may not be (a full build takes seconds at 100,000 records), and runs on
gevent's thread pool (`off_the_loop`).

`prepare` does what must happen before the first answer; `serve` starts the helpers, runs
gunicorn, and stops every process it started however the server ends.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from flask import Flask
from gevent import monkey
from gevent.monkey import MonkeyPatchWarning
from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.ggevent import GeventWorker

from vellum import create_app, logs
from vellum.api import metrics
from vellum.api.envelope import HTTP_CODES
from vellum.api.events import DEFAULT_STREAMS, end_streams
from vellum.auth import key_use
from vellum.errors import SiteError, StateNotReady, VellumError
from vellum.export.loop import ExportLoop
from vellum.export.run import Exporter
from vellum.live.leader import run_live
from vellum.services import Vellum
from vellum.settings_check import settings_problems
from vellum.store import journal, outbox
from vellum.store.indexer import SyncReport

# Connections a worker serves at once besides its event streams (keep-alive clients too).
CONNECTIONS = 1000
ACCESS_LOG_FORMAT = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'
)


class JsonErrorWorker(GeventWorker):
    """gunicorn's gevent worker, but the errors gunicorn answers itself, before the app
    sees the request (a request line over 4094 bytes, a malformed or oversized header),
    come in Vellum's JSON envelope instead of an HTML page; and a worker told to stop ends
    its event streams (each with the id to resume from) instead of waiting on them."""

    def init_process(self) -> None:
        util.write_error = write_json_error  # this worker process's error pages
        super().init_process()

    def patch(self) -> None:
        with warnings.catch_warnings():
            # Its warning is about names bound before the patch: rebound just below.
            warnings.simplefilter("ignore", MonkeyPatchWarning)
            super().patch()
        rebind_patched_names()

    def notify(self) -> None:
        super().notify()  # called about every second, also while stopping
        app = getattr(self, "wsgi", None)
        if not self.alive and isinstance(app, Flask):
            end_streams(app)


def rebind_patched_names() -> None:
    """gevent patches modules (subprocess.Popen becomes cooperative), but a library that
    did `from subprocess import Popen` before the patch keeps the original, which no longer
    works (GitPython's git commands). Point such names at the patched objects too (functions
    and classes only: a flag such as True is shared by every module that holds it)."""
    patched = {}
    for module_name in _PATCHED:
        module = sys.modules.get(module_name)
        for name in dir(module) if module is not None else ():
            now, original = getattr(module, name), monkey.get_original(module_name, name)
            if original is not now and callable(original):
                patched[id(original)] = (original, now)
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.split(".")[0] in _LEFT_ALONE:
            continue
        if not module_name.startswith("vellum") and "-packages" not in str(
            getattr(module, "__file__", "")
        ):
            continue  # the standard library's own modules are patched where it matters
        for name, value in list(vars(module).items()):
            found = patched.get(id(value))
            if found is not None and found[0] is value:
                setattr(module, name, found[1])


# The modules gevent's patch_all replaces objects of.
_PATCHED = ("socket", "ssl", "os", "time", "select", "selectors", "threading", "queue")
_PATCHED += ("subprocess", "signal", "_thread")
_LEFT_ALONE = {"gevent", "greenlet", "gunicorn", "zope"}


def write_json_error(sock, status: int, reason: str, message: str) -> None:
    """gunicorn's util.write_error, answering {"error": {"code", "message", "details"}}."""
    code = HTTP_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    text = "Internal error" if status >= 500 and not message else message or reason
    envelope = {"error": {"code": code, "message": text, "details": []}}
    body = json.dumps(envelope).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class VellumServer(BaseApplication):
    """Runs create_app in every worker after the fork, so no handle crosses a fork."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.vellum_config = config
        super().__init__()

    def load_config(self) -> None:
        c = self.vellum_config
        host = c["HOST"]
        bind = f"[{host}]:{c['PORT']}" if ":" in host else f"{host}:{c['PORT']}"
        for key, value in {
            "bind": bind,
            "workers": c["WORKERS"],
            "worker_class": JsonErrorWorker,
            "worker_connections": (c["STREAMS"] or DEFAULT_STREAMS) + CONNECTIONS,
            "accesslog": "-",
            # gunicorn's own line, then the request's id (the X-Request-Id answered).
            "access_log_format": ACCESS_LOG_FORMAT,
            "logger_class": logs.server_logs(c["LOG_FORMAT"]),
            "timeout": 60,
            # A connection's first request (and a keep-alive client's next) may take this
            # long to arrive, or to be read: a worker taking a burst of new connections
            # reads each in turn, so gunicorn's 2 s dropped some. Idle ones cost a greenlet.
            "keepalive": 5,
            "graceful_timeout": 10,
            # Two sites served side by side must not fight over one control socket.
            "control_socket_disable": True,
            # A worker gone (restarted, killed) leaves no open streams counted.
            "child_exit": lambda _server, worker: metrics.process_ended(worker.pid),
            # A worker that stops writes the key usage it still holds (vellum.auth.key_use).
            "worker_exit": lambda _server, worker: write_key_use(worker),
        }.items():
            self.cfg.set(key, value)

    def load(self):
        logs.configure(self.vellum_config["LOG_FORMAT"])
        app = create_app({**self.vellum_config, "SYNC_ON_START": False})
        app.extensions["vellum"].offload = off_the_loop
        return app


def write_key_use(worker) -> None:
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        key_use.flush(app.extensions["vellum"].state)


def off_the_loop(work: Callable[..., Any], *args) -> Any:
    """Move the catalog on (read the index, update or build) on a thread of gevent's pool:
    the worker's loop goes on serving its requests and streams meanwhile.

    The work reads files and computes; it waits on no greenlet and writes nothing the
    loop reads until it is done.
    """
    return gevent.get_hub().threadpool.apply(work, args)


def check_address(host: str, port: int) -> None:
    """ValueError when host:port cannot be listened on (taken, say): checked before
    `vellum serve` starts anything, so a server that cannot start leaves nothing behind."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ValueError(
            f"Cannot listen on {host}:{port}: {reason} (is another server running there?"
            " Choose another with --port or VELLUM_PORT)"
        ) from exc


@dataclass(frozen=True)
class Prepared:
    """A site ready to serve: the settings to serve it with and what its sync did."""

    config: dict[str, Any]
    title: str
    report: SyncReport


def prepare(config: dict[str, Any]) -> Prepared:
    """Everything before the first answer, in order: the settings are right, the address is
    free, a write killed half way is finished or undone (never indexed or served), the index
    is current, and the commits made once the server answers are news. Raises SiteError or
    ValueError with the reason; nothing is left running either way.

    The work runs in a forked child: the master, which the workers are forked from, keeps
    no heap of the index it read (their memory would start with a copy of it). Then what
    the master holds (the imported modules) is frozen out of the cyclic GC, so a
    collection in a worker never writes to, and so copies, the pages they share.
    """
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe(duplex=False)
    child = context.Process(target=_prepare_in_child, args=(config, theirs))
    child.start()
    theirs.close()
    try:
        outcome = ours.recv()
    except EOFError:  # the child died before it could answer
        outcome = None
    finally:
        ours.close()
        child.join()
    if outcome is None:
        raise SiteError(f"preparing the site failed (exit code {child.exitcode})")
    if isinstance(outcome, BaseException):
        raise outcome
    gc.collect()
    gc.freeze()
    return outcome


def _prepare_in_child(config: dict[str, Any], pipe) -> None:
    try:
        prepared = _prepare(config)
        prepared.report.snapshot = None  # the index as read: the parent has no use for it
        pipe.send(prepared)
    except ValueError as exc:
        pipe.send(ValueError(str(exc)))
    except (SiteError, StateNotReady) as exc:  # its message as is (not a ConfigError's)
        pipe.send(SiteError(str(exc)))
    except BaseException as exc:
        pipe.send(SiteError(f"preparing the site failed: {type(exc).__name__}: {exc}"))
        raise
    finally:
        pipe.close()


def _prepare(config: dict[str, Any]) -> Prepared:
    vellum = Vellum(config)
    try:
        wrong = settings_problems(vellum.site)
        if wrong:  # a server that starts on a wrong setting fails later, less clearly
            lines = "\n".join(f"  {p}" for p in wrong)
            raise SiteError(f"vellum.yml has settings to fix first:\n{lines}")
        check_address(config["HOST"], config["PORT"])
        journal.recover_at_start(vellum)
        report = vellum.sync(text=False)
        outbox.take_cursor(vellum)
        vellum.repo.accept_pushes()  # writers may `git push` to this checked-out branch
        served = {**config, "SITE": str(vellum.site.root), "STATE_DIR": str(vellum.state_dir)}
        return Prepared(served, vellum.site.title, report)
    finally:
        vellum.close()


def serve(config: dict[str, Any], announce: Callable[[str], None] = print) -> None:
    """Serve until interrupted, with the helper processes beside the workers; a server that
    stops, or fails to start, stops everything it started."""
    allow_open_files()
    # Every worker counts requests in its own file there; /metrics sums them.
    metrics.use_directory(Path(config["STATE_DIR"]) / "metrics")
    helpers = start_helpers(config)
    try:
        announce(f"Serving on http://{config['HOST']}:{config['PORT']}/api")
        VellumServer(config).run()
    finally:
        stop(helpers)


def allow_open_files() -> None:
    """Raise this process's (and so its workers') open-file limit to the hard limit: each
    open event stream is a socket, and a shell's usual 1024 is too few for a thousand."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def start_helpers(config: dict[str, Any]) -> list[subprocess.Popen | Forked]:
    """The processes beside the server: the full-text indexer and the live process."""
    command = [sys.executable, "-m", "vellum.cli.main", "--site", config["SITE"]]
    # Full-text search fills in beside the server so lists and gets answer at once.
    log_env = {**os.environ, "VELLUM_LOG_FORMAT": config["LOG_FORMAT"]}
    indexer = subprocess.Popen([*command, "index", "--text-only"], env=log_env)
    # One watcher and one webhook dispatcher per site (vellum.live.leader); it stops by
    # itself when this process is gone, however that happens.
    return [indexer, fork_live(config)]


class Forked:
    """A child forked from this process, stopped and waited for as a subprocess.Popen is."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped already (gunicorn's master reaps any child)
                self.returncode = 0
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)


def fork_live(config: dict[str, Any]) -> Forked:
    """The live process, forked from the master before gunicorn starts (it runs one thread
    then and holds no handle): it shares the master's imported modules instead of
    importing its own copy, and opens the site itself."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _live(config, parent)
        except Exception:
            logging.getLogger("vellum").exception("live: stopped by an error")
        finally:
            os._exit(code)
    return Forked(pid)


def _live(config: dict[str, Any], parent: int) -> int:
    """What `vellum live --parent PID` runs: the watcher and dispatcher (and the export,
    when one is asked for) until stopped."""
    logging.basicConfig(level=logging.INFO, handlers=[logs.handler(config["LOG_FORMAT"])])
    logs.configure(config["LOG_FORMAT"])
    stopping = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    try:
        vellum = Vellum(config)
    except VellumError as exc:
        logging.getLogger("vellum").error("live: %s", exc.message)
        return 1
    vellum.keep_docs = False  # it serves no reads: no catalog, so no docs to keep
    # The indexer beside it fills the full-text index: two fills at once, one serial,
    # would hold its lock past the other's patience.
    vellum.text_elsewhere = True
    try:
        loops = export_loops(vellum)
        run_live(vellum, stopping, alive=lambda: os.getppid() == parent, extra=loops)
    finally:
        vellum.close()
    return 0


def export_loops(vellum: Vellum) -> list[ExportLoop]:
    """The export `vellum serve --export DIR` (or vellum.yml's `export:`) keeps current."""
    folder = vellum.config.get("EXPORT") or vellum.site.setting("export")
    if not folder:
        return []
    path = Path(folder) if Path(folder).is_absolute() else vellum.site.root / folder
    app = create_app({**vellum.config, "SYNC_ON_START": False, "TEXT_INDEX": "background"})
    return [ExportLoop(Exporter(app, path))]


def stop(processes: list[subprocess.Popen | Forked], grace: float = 10.0) -> None:
    """Ask each process to stop, then kill those still running after `grace` seconds."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
