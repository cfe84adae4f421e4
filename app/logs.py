"""How Vellum's processes log: lines like gunicorn's, or one JSON object per line for log
shippers (`vellum serve --log-format json`); either way with the request's id, so that a
line in any process can be matched to the answer the client got (its X-Request-Id).
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from flask import g, has_request_context
from gunicorn.glogging import Logger as GunicornLogger

FORMATS = ("text", "json")
TEXT_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s%(request_tag)s"


class RequestId(logging.Filter):
    """Adds `request_id` (None outside a request) and `request_tag` (" [id]" or "")."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = getattr(g, "request_id", None) if has_request_context() else None
        record.request_id = getattr(record, "request_id", None) or found
        record.request_tag = f" [{record.request_id}]" if record.request_id else ""
        return True


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, RFC 3339), level, pid, logger, message,
    request_id, and the traceback of an error."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def handler(log_format: str) -> logging.Handler:
    """A stderr handler in the given format, adding request ids."""
    found = logging.StreamHandler()
    found.addFilter(RequestId())
    found.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return found


def configure(log_format: str, name: str = "vellum") -> None:
    """Vellum's own log lines (failed sign-ins, repaired permissions, errors) in one format,
    at INFO, not passed on to the root logger (which would print them twice)."""
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler(log_format)]
    logger.setLevel(logging.INFO)
    logger.propagate = False


class ServerLogs(GunicornLogger):
    """gunicorn's error and access logs in the format of Vellum's own: in JSON, an access
    line is an object with the request's fields, not a formatted string."""

    json = False

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if self.json:
            for logger in (self.error_log, self.access_log):
                for found in logger.handlers:
                    found.setFormatter(JsonLines())
                    found.addFilter(RequestId())

    def access(self, resp, req, environ, request_time) -> None:
        if not self.json:
            super().access(resp, req, environ, request_time)
            return
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        atoms = self.atoms(resp, req, environ, request_time)
        fields = {
            "remote": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "query": atoms["q"] or None,
            "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
            "bytes": None if atoms["B"] in (None, "-") else int(atoms["B"]),
            "ms": round(request_time.total_seconds() * 1000, 1),
            "user_agent": atoms["a"],
        }
        request_id = next((v for k, v in resp.headers if k.lower() == "x-request-id"), None)
        record = {"fields": fields, "request_id": request_id}
        self.access_log.info("%s %s %s", atoms["m"], atoms["U"], atoms["s"], extra=record)


def server_logs(log_format: str) -> type[ServerLogs]:
    """gunicorn's logger class (it takes a class, not an instance) for a format."""
    return type("ServerLogs", (ServerLogs,), {"json": log_format == "json"})
