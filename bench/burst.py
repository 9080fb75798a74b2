"""The write burst on SQLite (issue 10): createProduct from 4, 16 and 50 writers at once.

SQLite takes one writer at a time, so more writers cannot add throughput; what a burst
must not do is lose it. The server is the production app (`ours`) on a SQLite file of its
own, rebuilt for every run (it gains a product per write). Each round measures the three
crowd sizes one after the other, reversed every other round, and each "N ÷ 4 writers"
ratio is the median of the per-round ratios (bench/rounds.py). A failed write is counted,
not fatal, so a collapse shows in the figures; the run still exits with status 1.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import data, loadgen
from bench import operations as ops
from bench.processes import HOST, ServerProcess
from bench.rounds import Ratio, median, paired_ratios, schedule
from bench.stats import latency_summary

WRITERS = (4, 16, 50)
BASELINE = 4
# The goal: a burst keeps at least this share of the baseline's writes per second.
LEAST_RATIO = 0.7
# Bodies are made for at most this many writes a second, so no run sends a SKU twice.
MOST_WRITES_PER_S = 2_000
START_MARKER = "<!-- bench:burst:start -->"
END_MARKER = "<!-- bench:burst:end -->"


def data_set(root: Path) -> data.DataSet:
    """An empty catalogue with the demo accounts, in var/bench/burst.db."""
    return data.DataSet("burst", 0, 0, 0, 0, data.default_sqlite_url(root, "burst"))


def writes_workload(duration_s: float) -> ops.Workload:
    """Enough createProduct bodies for `duration_s`, with SKUs no earlier run used."""
    count = max(1_000, int(duration_s * MOST_WRITES_PER_S))
    return ops.create_workload(f"W{uuid.uuid4().hex[:10]}", count)


def run_writers(
    server: ServerProcess, headers: dict[str, str], writers: int, duration_s: float
) -> dict[str, Any]:
    """`writers` clients creating products for `duration_s`; writes/s and failures."""
    target = loadgen.Target(HOST, server.port)
    workload = writes_workload(duration_s)
    requests = [loadgen.encode_request(target, body, headers) for body in workload.bodies]
    result = loadgen.run(
        loadgen.closed_loop(
            target,
            requests,
            concurrency=writers,
            duration_s=duration_s,
            max_requests=len(requests),
        )
    )
    server.wait_idle()
    writes = result.requests - result.http_errors - result.graphql_errors
    return {
        "writers": writers,
        "duration_s": round(result.elapsed_s, 3),
        "writes": writes,
        "writes_per_s": writes / result.elapsed_s if result.elapsed_s else 0.0,
        "failures": result.errors,
        "first_failure": result.first_failure,
        "latency_ms": latency_summary(result.latencies_s) if result.latencies_s else {},
    }


def measure_burst(
    server: ServerProcess,
    headers: Callable[[], dict[str, str]],
    *,
    rounds: int,
    duration_s: float,
    warmup_s: float,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Every crowd size once per round, after one warm-up at the baseline."""
    if warmup_s > 0:
        run_writers(server, headers(), BASELINE, warmup_s)
    measurements = []
    for index, order in enumerate(schedule([str(n) for n in WRITERS], rounds)):
        for position, writers in enumerate(int(n) for n in order):
            measured = run_writers(server, headers(), writers, duration_s)
            measured.update(round=index, position=position)
            measurements.append(measured)
            log(
                f"write burst round {index + 1}/{rounds}, {writers} writers:"
                f" {measured['writes_per_s']:.1f} writes/s, {measured['failures']} failed"
            )
    return measurements


def summarise(measurements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per crowd size: median writes/s over the rounds and failures summed; per larger
    crowd: its writes/s ÷ the baseline's, the median of the per-round ratios."""
    sizes = sorted({m["writers"] for m in measurements})
    levels = []
    for writers in sizes:
        chosen = sorted((m for m in measurements if m["writers"] == writers), key=_round)
        rates = [m["writes_per_s"] for m in chosen]
        latencies = [m["latency_ms"] for m in chosen if m["latency_ms"]]
        levels.append(
            {
                "writers": writers,
                "writes_per_s": median(rates),
                "writes_per_s_range": [min(rates), max(rates)],
                "writes": sum(m["writes"] for m in chosen),
                "failures": sum(m["failures"] for m in chosen),
                "first_failure": next((m["first_failure"] for m in chosen if m["failures"]), None),
                "p50_ms": median(x["p50_ms"] for x in latencies) if latencies else None,
                "p99_ms": median(x["p99_ms"] for x in latencies) if latencies else None,
                "rounds": chosen,
            }
        )
    by_size = {level["writers"]: level for level in levels}
    ratios = {}
    if BASELINE in by_size:
        for writers in sizes:
            per_round = paired_ratios(by_size[writers], by_size[BASELINE], "writes_per_s")
            if writers != BASELINE and per_round:
                ratios[str(writers)] = {
                    "median": median(per_round),
                    "low": min(per_round),
                    "high": max(per_round),
                    "rounds": len(per_round),
                }
    return {
        "baseline_writers": BASELINE,
        "levels": levels,
        "ratios": ratios,
        "failures": sum(level["failures"] for level in levels),
    }


def _round(measurement: dict[str, Any]) -> int:
    return int(measurement["round"])


def ratio(burst: dict[str, Any] | None, writers: int) -> Ratio | None:
    """Writes/s of `writers` ÷ the baseline's, paired by round; None when not measured."""
    found = (burst or {}).get("ratios", {}).get(str(writers))
    if found is None:
        return None
    return Ratio(found["median"], found["low"], found["high"], found["rounds"])


COLUMNS = ("writers", "rounds", "writes/s", "writes/s range", "p50 ms", "p99 ms", "failed", "÷ 4")


def rows(burst: dict[str, Any]) -> list[list[str]]:
    """One row per crowd size."""
    body = []
    for level in burst["levels"]:
        low, high = level["writes_per_s_range"]
        shown = ratio(burst, level["writers"])
        body.append(
            [
                str(level["writers"]),
                str(len(level["rounds"])),
                f"{level['writes_per_s']:,.1f}",
                f"{low:,.1f} to {high:,.1f}",
                "-" if level["p50_ms"] is None else f"{level['p50_ms']:,.0f}",
                "-" if level["p99_ms"] is None else f"{level['p99_ms']:,.0f}",
                str(level["failures"]),
                "-"
                if shown is None
                else f"{shown.median:.3g} ({shown.low:.3g} to {shown.high:.3g})",
            ]
        )
    return body


def replace_section(readme: str, section: str) -> str:
    """The README with the text between the burst markers replaced by `section`."""
    start, end = readme.find(START_MARKER), readme.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"the README lacks the {START_MARKER} ... {END_MARKER} markers")
    return readme[: start + len(START_MARKER)] + "\n" + section + "\n" + readme[end:]
