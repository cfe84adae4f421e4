"""The results table: metric | Vellum | target | ok, as aligned Markdown pipes."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One metric: its value as shown, its target (None for information only), and its value."""

    metric: str
    shown: str
    limit: float | None = None
    value: float | None = None
    unit: str = ""

    @property
    def target(self) -> str:
        return "info" if self.limit is None else f"<= {self.limit:g} {self.unit}".strip()

    @property
    def ok(self) -> str:
        if self.limit is None or self.value is None:
            return ""
        return "yes" if self.value <= self.limit else "NO"


def seconds(metric: str, value: float, limit: float | None = None) -> Row:
    return Row(metric, f"{value:.2f} s", limit, value, "s")


def millis(metric: str, value: float, limit: float | None = None) -> Row:
    return Row(metric, f"{value:.1f} ms", limit, value, "ms")


def rows(vellum: dict, peer: dict) -> list[Row]:
    """Every row of the table, from the two subprocesses' results."""
    full = vellum["records_s"] + vellum["text_s"]
    lat = vellum["latency"]
    live = vellum["live"]
    return [
        seconds("full build", full, 8),
        seconds("lists/gets ready (records phase)", vellum["records_s"]),
        seconds("full-text phase", vellum["text_s"]),
        seconds("peer: sqlite-utils + FTS5 build", peer["seconds"]),
        Row("full build vs peer", f"{full / peer['seconds']:.1f}x the peer"),
        seconds("restart (median of 3)", statistics.median(vellum["restart_s"]), 1.5),
        seconds("one changed file (median of 3)", statistics.median(vellum["change_s"]), 1),
        millis("list p50", lat["list"]["p50"], 10),
        millis("list p95", lat["list"]["p95"]),
        millis("list p50, a new filter each time", lat["fresh"]["p50"], 10),
        millis("list p95, a new filter each time", lat["fresh"]["p95"]),
        millis("get p50", lat["get"]["p50"], 3),
        millis("get p95", lat["get"]["p95"]),
        millis("search p50", lat["search"]["p50"], 20),
        millis("search p95", lat["search"]["p95"]),
        millis("GraphQL blogPosts (author, categories) p50", lat["graphql"]["p50"]),
        millis("REST list with populate p50", lat["rest_populate"]["p50"]),
        Row(
            "GraphQL p50 / REST populate p50",
            f"{lat['graphql']['p50'] / lat['rest_populate']['p50']:.2f}x",
            1.5,
            lat["graphql"]["p50"] / lat["rest_populate"]["p50"],
            "x",
        ),
        Row("peak memory", f"{vellum['peak_mb']:.0f} MB", 300, vellum["peak_mb"], "MB"),
        millis("save -> API shows it, p50", statistics.median(live["save_s"]) * 1000, 200),
        millis("commit -> webhook received, p50", statistics.median(live["commit_s"]) * 1000, 400),
        seconds("checkout of 1,000 files -> index consistent", live["checkout_s"], 5),
    ]


def table(items: list[Row]) -> str:
    """Aligned Markdown table."""
    header = ("metric", "Vellum", "target", "ok")
    cells = [header] + [(r.metric, r.shown, r.target, r.ok) for r in items]
    widths = [max(len(row[i]) for row in cells) for i in range(4)]

    def line(row) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in cells[1:])])
