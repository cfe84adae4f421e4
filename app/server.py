"""The production server: gunicorn with threaded workers, each building its own app."""

from __future__ import annotations

import json
import socket
from typing import Any

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from vellum import create_app
from vellum.api.envelope import HTTP_CODES


class JsonErrorWorker(ThreadWorker):
    """gunicorn's threaded worker, but the errors gunicorn answers itself, before the app
    sees the request (a request line over 4094 bytes, a malformed or oversized header),
    come in Vellum's JSON envelope instead of an HTML page."""

    def init_process(self) -> None:
        util.write_error = write_json_error  # this worker process's error pages
        super().init_process()


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
            "threads": c["THREADS"],
            "worker_class": JsonErrorWorker,
            "accesslog": "-",
            "timeout": 60,
            "graceful_timeout": 10,
            # Two sites served side by side must not fight over one control socket.
            "control_socket_disable": True,
        }.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app({**self.vellum_config, "SYNC_ON_START": False})


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


def run(config: dict[str, Any]) -> None:
    """Serve until interrupted."""
    VellumServer(config).run()
