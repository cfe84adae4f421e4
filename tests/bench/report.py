"""The results table: metric | Vellum | peer | ratio | target | ok, as aligned Markdown pipes.
The ratio is always Vellum's figure over the peer's."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One metric: its value as shown, its target (None for information only), and its value;
    the peer's figure and the ratio where there is one; a target is a ceiling unless
    `at_least`."""

    metric: str
    shown: str
    limit: float | None = None
    value: float | None = None
    unit: str = ""
    peer: str = ""
    ratio: str = ""
    at_least: bool = False

    @property
    def target(self) -> str:
        if self.limit is None:
            return "info"
        return f"{'>=' if self.at_least else '<='} {self.limit:g} {self.unit}".strip()

    @property
    def ok(self) -> str:
        if self.limit is None or self.value is None:
            return ""
        met = self.value >= self.limit if self.at_least else self.value <= self.limit
        return "yes" if met else "NO"


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
        *export_rows(vellum["export"]),
    ]


def export_rows(export: dict) -> list[Row]:
    """The static export: in full, after one commit, and as the whole command."""
    return [
        seconds(f"vellum export, full ({export['files']} files)", export["full_s"]),
        seconds(
            "export after one commit (median of 3)", statistics.median(export["after_commit_s"]), 1
        ),
        seconds(
            "commit -> export current, indexing included (median of 3)",
            statistics.median(export["with_index_s"]),
        ),
        seconds("vellum export command after one commit", export["command_s"]),
    ]


def by_size(records: int, at_10k: float, at_100k: float) -> float:
    """A target named at 10k and at 100k records, for N records: the 10k one up to 10k,
    the 100k one from 100k, straight between."""
    share = min(max((records - 10_000) / 90_000, 0.0), 1.0)
    return at_10k + share * (at_100k - at_10k)


def ratio(ours: float, theirs: float) -> tuple[str, float]:
    """Vellum's figure over the peer's, as shown and as a value."""
    value = ours / theirs if theirs else float("inf")
    return f"{value:.2f}x", value


def rate(metric: str, ours: dict, theirs: dict, floor: float | None) -> Row:
    """Requests per second under wrk, beside the peer's, with the target on the ratio."""
    shown, value = ratio(ours["rate"], theirs["rate"])
    return Row(
        metric,
        f"{ours['rate']:.0f}/s",
        floor,
        value,
        "x",
        peer=f"{theirs['rate']:.0f}/s",
        ratio=shown,
        at_least=True,
    )


def served_rows(served: dict, peer: dict, records: int) -> list[Row]:
    """The rows measured over HTTP: a real `vellum serve` beside a real Datasette."""
    ours, theirs = served["vellum"], served["datasette"]
    build = peer["seconds"]
    load = f"wrk -t2 -c16 -d{served['seconds']}s"
    fresh_list, fresh_text = served["fresh"]["first_list_s"], served["fresh"]["full_text_s"]
    memory = served["memory_mb"]
    mem_shown, _ = ratio(memory["vellum"], memory["datasette"])
    return [
        _vs_build("serve, new state: first list answer", fresh_list, build, 1),
        _vs_build("serve, new state: full text answering", fresh_text, build, 3),
        seconds(
            f"serve restart: first answer (median of {len(served['restart_s'])})",
            statistics.median(served["restart_s"]),
            by_size(records, 1, 3),
        ),
        rate(f"HTTP lists, req/s ({load})", ours["lists"], theirs["lists"], 50),
        _latency("HTTP list p50", ours["lists"]["p50_ms"], theirs["lists"]["p50_ms"], None),
        _latency("HTTP list p99", ours["lists"]["p99_ms"], theirs["lists"]["p99_ms"], 25),
        rate("HTTP gets, req/s", ours["gets"], theirs["gets"], 8),
        rate("HTTP search (20 hits, snippets), req/s", ours["search"], theirs["search"], 2),
        Row(
            f"memory: PSS of vellum serve ({memory['processes']} processes)",
            f"{memory['vellum']:.0f} MB",
            by_size(records, 250, 1024),
            memory["vellum"],
            "MB",
            peer=f"{memory['datasette']:.0f} MB",
            ratio=mem_shown,
        ),
        *stream_rows(served["streams"], ours["lists"]["rate"]),
    ]


def _vs_build(metric: str, value: float, build: float, at_most: float) -> Row:
    """A time beside the peer's build time, the target on the ratio."""
    shown, times = ratio(value, build)
    return Row(metric, f"{value:.2f} s", at_most, times, "x", f"build {build:.2f} s", shown)


def _latency(metric: str, ours: float, theirs: float, limit: float | None) -> Row:
    shown, _ = ratio(ours, theirs)
    return Row(metric, f"{ours:.1f} ms", limit, ours, "ms", f"{theirs:.1f} ms", shown)


def stream_rows(streams: dict, lists_rate: float) -> list[Row]:
    """Streams open at once, a commit's event reaching each, the memory each holds, and
    lists meanwhile (beside lists just before the streams opened)."""
    answered = ", ".join(f"{n} got {status}" for status, n in sorted(streams["statuses"].items()))
    delays = [d * 1000 for d in streams["delays_s"]]
    held = streams["statuses"].get("200", 0)
    worst = float("inf") if streams["missing"] or not delays else max(delays)
    missed = f", {streams['missing']} never" if streams["missing"] else ""
    worst_shown = f"{worst:.1f} ms" if delays or streams["missing"] else "none open"
    without = streams.get("lists_rate_without", lists_rate)
    shown, share = ratio(streams["lists_rate"], without)
    p99 = statistics.quantiles(delays, n=100, method="inclusive")[98] if len(delays) > 1 else 0
    grown_kb = (streams["pss_open_mb"] - streams["pss_before_mb"]) * 1024
    per_stream = grown_kb / held if held else float("inf")
    return [
        Row(
            f"event streams open at once ({streams['asked']} asked: {answered})",
            str(held),
            1000,
            held,
            at_least=True,
        ),
        Row(
            "commit -> event on every open stream, p50",
            f"{statistics.median(delays):.1f} ms" if delays else "none received",
        ),
        Row("commit -> event on every open stream, p99", f"{p99:.1f} ms" if delays else "-"),
        Row(f"commit -> event on every open stream, max{missed}", worst_shown, 1000, worst, "ms"),
        Row(
            f"memory per open stream (PSS of every process: {streams['pss_before_mb']:.0f}"
            f" -> {streams['pss_open_mb']:.0f} MB)",
            f"{per_stream:.1f} KB",
            100,
            per_stream,
            "KB",
        ),
        Row("HTTP lists, req/s, no streams open (just before)", f"{without:.0f}/s"),
        Row(
            "HTTP lists, req/s, streams open (ratio: to without)",
            f"{streams['lists_rate']:.0f}/s",
            0.5,
            share,
            "x",
            ratio=shown,
            at_least=True,
        ),
    ]


def table(items: list[Row]) -> str:
    """Aligned Markdown table."""
    header = ("metric", "Vellum", "peer", "ratio", "target", "ok")
    cells = [header] + [(r.metric, r.shown, r.peer, r.ratio, r.target, r.ok) for r in items]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in cells[1:])])
