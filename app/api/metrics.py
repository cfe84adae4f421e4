"""Prometheus metrics at `GET /metrics`: requests by route and status, latency, the index,
webhook deliveries, open event streams and a replica's lag.

Request metrics are counted in every worker process and summed at scrape time
(prometheus_client's multiprocess mode, its files in the state folder, set up by `vellum
serve` before the workers start); what the state store knows (deliveries, the index
generation, lag) is read when scraped, so it is the same whichever worker answers.
Reading needs the `admin` scope, or `VELLUM_METRICS_TOKEN` as a bearer token (what a
Prometheus scrape config sends), and spends no rate-limit budget.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import os
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.mmap_dict import MmapedDict

from vellum.auth import access, limits
from vellum.context import current_vellum
from vellum.live.lease import lease_status
from vellum.live.remote import remote_lag

metrics = Blueprint("metrics", __name__)
_MAKING = threading.Lock()
DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
# Latency buckets for answers that are mostly cached bytes, up to slow searches and writes.
# The count files one worker writes: counters, histograms, live gauges.
KINDS = ("counter", "histogram", "gauge_livesum")
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def use_directory(folder: Path) -> None:
    """Count in files under `folder` from now on (emptied first: counts from an earlier run
    would be summed in), for processes forked after this call."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    os.environ[DIRECTORY] = str(folder)
    values.ValueClass = values.MultiProcessValue()  # what the variable selects at import


def process_ended(pid: int) -> None:
    """A worker is gone: its live gauges (open streams) no longer count."""
    if os.environ.get(DIRECTORY):
        multiprocess.mark_process_dead(pid)


def _meters() -> SimpleNamespace:
    """Made on first use, in the worker, so each counts in its own file; once, however
    many threads answer their first requests at the same moment."""
    with _MAKING:
        return _make_meters()


@functools.cache
def _make_meters() -> SimpleNamespace:
    if os.environ.get(DIRECTORY):
        _own_files(Path(os.environ[DIRECTORY]))
    return SimpleNamespace(
        requests=Counter(
            "vellum_http_requests_total",
            "Answers by route, method and status",
            ["route", "method", "status"],
        ),
        latency=Histogram(
            "vellum_http_request_seconds",
            "Time to answer, by route",
            ["route", "method"],
            buckets=BUCKETS,
        ),
        streams=Gauge(
            "vellum_event_streams_open", "Event streams open now", multiprocess_mode="livesum"
        ),
    )


def _own_files(folder: Path) -> None:
    """This process's count files, made owner-only (0600) like everything in the state
    folder: prometheus_client would create them with the umask's mode. Each is made whole
    under a temporary name first, so a scrape never reads a half-made file."""
    for kind in KINDS:
        final = folder / f"{kind}_{os.getpid()}.db"
        if final.exists():
            continue
        making = final.with_suffix(".making")
        os.close(os.open(making, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
        MmapedDict(str(making)).close()
        os.replace(making, final)


def stream_opened() -> None:
    _meters().streams.inc()


def stream_closed() -> None:
    _meters().streams.dec()


def init_app(app: Flask) -> None:
    app.register_blueprint(metrics)
    limits.exempt(app, metrics)
    app.before_request(_start)
    app.after_request(_count)


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    started = getattr(g, "metrics_started", None)
    if started is None or request.endpoint == "metrics.scrape" or access.in_process():
        return response  # the static export's renders are not traffic
    # The rule, not the path: `/api/<model>/<record_id>` is one series, not one per record.
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    meters = _meters()
    meters.requests.labels(route, request.method, str(response.status_code)).inc()
    meters.latency.labels(route, request.method).observe(time.perf_counter() - started)
    return response


@metrics.get("/metrics")
def scrape() -> Response:
    if not _scraper_token():
        access.check("admin")
    _meters()  # so that the series exist before the first request is counted
    if os.environ.get(DIRECTORY):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    site = CollectorRegistry()
    site.register(SiteCollector())
    body = generate_latest(registry) + generate_latest(site)
    response = Response(body, content_type=CONTENT_TYPE_LATEST)
    response.cache_control.no_store = True
    return response


def _scraper_token() -> bool:
    expected = current_vellum().config.get("METRICS_TOKEN")
    sent = access.presented_token()
    return bool(expected and sent) and hmac.compare_digest(sent.encode(), expected.encode())


class SiteCollector:
    """What the site's stores say when scraped: the same from whichever worker answers."""

    def collect(self):
        vellum = current_vellum()
        yield from _index(vellum)
        yield from _deliveries(vellum.state.connection())
        if vellum.config.get("REMOTE"):
            lag = _nan(remote_lag(vellum.state))
            yield _gauge("vellum_remote_lag_seconds", "Seconds since the last good fetch", lag)
        yield from _lease(lease_status(vellum.state.url, vellum.state_dir))


def _index(vellum):
    catalog = vellum.catalog()
    yield _gauge("vellum_index_generation", "Records index generation", catalog.generation or 0)
    yield _gauge("vellum_index_records", "Record files served", len(catalog.by_key))
    ready = int(vellum.text_ready())
    yield _gauge("vellum_text_index_ready", "1 when full text covers every record", ready)


FAILED_ATTEMPTS = (
    "SELECT COUNT(*) FROM delivery_attempts"
    " WHERE error IS NOT NULL OR status_code NOT BETWEEN 200 AND 299"
)


def _deliveries(db):
    """The webhook backlog (pending deliveries) and the age of its oldest event, and the
    failed attempts the delivery log still holds."""
    by_state = GaugeMetricFamily(
        "vellum_webhook_deliveries", "Webhook deliveries by state", labels=["state"]
    )
    counted = dict(db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall())
    for state in ("pending", "delivered", "dead"):
        by_state.add_metric([state], counted.get(state, 0))
    yield by_state
    oldest = db.execute(
        "SELECT MIN(e.created_at) FROM deliveries d JOIN events e ON e.seq = d.seq"
        " WHERE d.state = 'pending'"
    ).fetchone()[0]
    waited = _age(oldest) if oldest else 0.0
    yield _gauge("vellum_webhook_backlog_seconds", "Age of the oldest undelivered event", waited)
    failed = db.execute(FAILED_ATTEMPTS).fetchone()[0]
    yield _gauge("vellum_webhook_failed_attempts", "Failed attempts in the delivery log", failed)
    last = db.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
    yield _gauge("vellum_events_last_seq", "Sequence number of the newest event", last)


def _lease(status: dict):
    """Who holds the site lease (one series, labelled with its host and pid), how many
    machines wait for it, and whether this machine holds it or waits."""
    holder = GaugeMetricFamily(
        "vellum_site_lease_holder",
        "1 for the process holding the site lease (commits to events, webhooks, pruning)",
        labels=["kind", "host", "pid"],
    )
    if status["holder"]:
        holder.add_metric(
            [status["kind"], status["holder"]["host"], str(status["holder"]["pid"])], 1
        )
    yield holder
    waiting = len(status["waiting"])
    yield _gauge("vellum_site_lease_waiting", "Machines whose live process waits for it", waiting)
    here = {"holder": 1, "waiting": 0}.get(status["here"], float("nan"))
    yield _gauge("vellum_site_lease_held_here", "1 held here, 0 waiting here, NaN neither", here)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _nan(value: float | None) -> float:
    """Prometheus writes 'unknown' as NaN."""
    return float("nan") if value is None else value


def _age(stamp: str) -> float:
    """Seconds since an RFC 3339 time the state store wrote."""
    then = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return max(0.0, (dt.datetime.now(dt.UTC) - then).total_seconds())
