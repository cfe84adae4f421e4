"""Bandwidth and connection limits: bytes answered per caller per period, and requests a
caller has in flight at once (an open event stream is one until it closes).

Both spend from the same shared counts as the request budget. Bandwidth is checked before
a request (a caller past it is refused) and spent after it, by the answer's length, so the
answer that crosses the line is still sent whole. A connection is taken before the view
runs and given back when its answer is made (a streamed answer's when the stream closes).
"""

from __future__ import annotations

import functools
import math
import re
import time
from dataclasses import dataclass

from flask import Response, g
from limits import parse

from vellum.auth import access
from vellum.auth.counts import Counts
from vellum.errors import Detail, RateLimited, ValidationError

IN_FLIGHT_SECONDS = 3600  # a process killed mid-request leaves its count this long at most
_BANDWIDTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b|bytes?)?\s*(?:per\s|/)\s*(.+)$", re.I)
_UNITS = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


@dataclass(frozen=True)
class Bandwidth:
    """Bytes per period, as written ('100 MB per 15 minutes')."""

    text: str
    bytes: int
    seconds: int


def check_bandwidth(value: str | None, field: str) -> Bandwidth | None:
    """'100 MB per 15 minutes', '1 GiB per day', '500000 per hour' (bytes); None: no limit."""
    if value is None:
        return None
    match = _BANDWIDTH.match(str(value))
    try:
        if not match:
            raise ValueError(f"couldn't read {value!r}")
        amount = float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()]
        seconds = parse(f"1 per {match.group(3)}").get_expiry()
    except ValueError as exc:
        reason = f"expected e.g. '100 MB per 15 minutes': {exc}"
        raise ValidationError("Invalid bandwidth limit", [Detail(field, reason)]) from exc
    if amount < 1:
        raise ValidationError("Invalid bandwidth limit", [Detail(field, "must be at least 1 B")])
    return Bandwidth(str(value), int(amount), seconds)


def _bandwidth_key(key: str, width: Bandwidth) -> str:
    return f"bytes:{key}:{width.bytes}/{width.seconds}"


def before(counts: Counts, key: str, connections: int, width: Bandwidth | None) -> None:
    """Refuse a caller past its bandwidth, then take one of its connections."""
    if width is not None:
        used, ends = counts.get(_bandwidth_key(key, width))
        g.bandwidth = (key, width, used, ends)
        if used >= width.bytes:
            access.retry_after(max(math.ceil(ends - time.time()), 1))
            raise RateLimited(f"Bandwidth limit exceeded: {width.text}")
    held, _ = counts.add(f"conn:{key}", 1, IN_FLIGHT_SECONDS, renew=True)
    if held > connections:
        give_back(counts, key)
        access.retry_after(1)
        raise RateLimited(
            f"Too many requests at once: {connections} may be in flight"
            " (event streams count until they close)"
        )
    g.connection = (key, connections)


def after(counts: Counts, response: Response) -> None:
    """Spend the answer's bytes and say what is left; give the connection back once the
    answer is sent (a stream's when it closes)."""
    measured = g.get("bandwidth")
    if measured is not None:
        key, width, used, ends = measured
        size = 0 if response.is_streamed else (response.content_length or 0)
        if size:
            used, ends = counts.add(_bandwidth_key(key, width), size, width.seconds)
        response.headers["X-Bandwidth-Limit"] = str(width.bytes)
        response.headers["X-Bandwidth-Remaining"] = str(max(width.bytes - used, 0))
        response.headers["X-Bandwidth-Reset"] = str(math.ceil(ends))
    held = g.get("connection")
    if held is not None:
        response.headers["X-Connection-Limit"] = str(held[1])
        if response.is_streamed:  # in flight until the stream closes, not the view returns
            g.pop("connection")
            response.call_on_close(functools.partial(give_back, counts, held[0]))


def teardown(counts: Counts) -> None:
    """A request answered whole (or not at all) gives its connection back here."""
    held = g.pop("connection", None)
    if held is not None:
        give_back(counts, held[0])


def give_back(counts: Counts, key: str) -> None:
    """One fewer request of this caller in flight."""
    counts.add(f"conn:{key}", -1, IN_FLIGHT_SECONDS, renew=True)
