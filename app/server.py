"""The production server: gunicorn with threaded workers, each building its own app."""

from __future__ import annotations

import socket
from typing import Any

from gunicorn.app.base import BaseApplication

from app import create_app


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
            "worker_class": "gthread",
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
