"""The production server: gunicorn with threaded workers, each building its own app."""

from __future__ import annotations

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


def run(config: dict[str, Any]) -> None:
    """Serve until interrupted."""
    VellumServer(config).run()
