"""Measuring in rounds: the order of the variants in each round, and the figures over rounds.

The machine is shared and its speed drifts by up to 2x from one minute to the next. So
every operation is measured in rounds, each round measuring every variant once, one after
the other, and a ratio between two variants is taken within each round first: both sides of
it ran seconds apart, on the same machine weather. The figure reported is the median of those
per-round ratios, never a ratio of medians taken at different times.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.statements import by_category

# A round shorter than this says little; a shorter run only when the whole run is shorter.
MIN_ROUND_S = 2.0
# The figures of one measurement that identify it; the rest is kept per round.
IDENTITY = ("variant", "operation", "key", "page_size", "data_set", "concurrency")
LATENCIES = ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")
MEDIAN_FIGURES = (
    "requests_per_s",
    "cpu_ms_per_request",
    "cpu_user_ms_per_request",
    "backend_cpu_ms_per_request",
    "total_cpu_ms_per_request",
)


def round_duration(total_s: float, rounds: int, minimum_s: float = MIN_ROUND_S) -> float:
    """Measured seconds of one round: `total_s` shared out, but no less than `minimum_s`
    (unless `total_s` itself is shorter)."""
    return max(min(total_s, minimum_s), total_s / rounds)


def schedule(
    variants: Sequence[str], rounds: int, *, once: Collection[str] = (), start: int = 0
) -> list[tuple[str, ...]]:
    """The variants each round measures, in order: as given, reversed every other round.

    Rounds are counted from `start`, so a caller going on with the next operation keeps the
    alternation going. The `once` variants are measured in the first round only.
    """
    orders = []
    for index in range(rounds):
        chosen = [v for v in variants if index == 0 or v not in once]
        orders.append(tuple(reversed(chosen) if (start + index) % 2 else chosen))
    return orders


def median(values: Iterable[float]) -> float:
    """The median; the mean of the middle two for an even count."""
    return float(statistics.median(values))


def rounds_of(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-round figures of an aggregated run (a run saved before rounds is one round)."""
    return list(run.get("rounds") or [{**run, "round": 0}])


def paired_ratios(
    top: dict[str, Any], bottom: dict[str, Any], figure: str = "requests_per_s"
) -> list[float]:
    """`top` ÷ `bottom` of `figure` in every round that measured both, in round order."""
    below = {r["round"]: float(r[figure]) for r in rounds_of(bottom) if r.get(figure) is not None}
    pairs = [(r["round"], float(r[figure])) for r in rounds_of(top) if r.get(figure) is not None]
    return [value / below[index] for index, value in sorted(pairs) if below.get(index)]


@dataclass(frozen=True, slots=True)
class Ratio:
    """The median of per-round ratios and their spread."""

    median: float
    low: float
    high: float
    rounds: int

    def map(self, change: Callable[[float], float]) -> Ratio:
        """The same ratio through an increasing function, e.g. into a percentage."""
        return Ratio(change(self.median), change(self.low), change(self.high), self.rounds)


def paired(
    top: dict[str, Any] | None,
    bottom: dict[str, Any] | None,
    figure: str = "requests_per_s",
) -> Ratio | None:
    """`figure` (throughput unless said) of `top` ÷ `bottom`, paired round by round; None
    without a common round."""
    if top is None or bottom is None:
        return None
    ratios = paired_ratios(top, bottom, figure)
    if not ratios:
        return None
    return Ratio(median(ratios), min(ratios), max(ratios), len(ratios))


def _summed_kinds(measurements: Sequence[dict[str, Any]], name: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for measurement in measurements:
        for kind, count in measurement[name].items():
            total[kind] = total.get(kind, 0) + count
    return dict(sorted(total.items()))


def _pooled(measurements: Sequence[dict[str, Any]], name: str) -> dict[str, float]:
    """Per-request statement figures over every probe request of every round."""
    probes = sum(m["probe_requests"] for m in measurements)
    names = sorted({key for m in measurements for key in m[name]})
    return {
        key: sum(m[name].get(key, 0.0) * m["probe_requests"] for m in measurements) / probes
        for key in names
    }


def combine(measurements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One (data set, variant, operation) over its rounds.

    Throughput, latencies and CPU per request are the medians over the rounds; counts are
    summed; statements per request are pooled over every request probed; the figures of
    each round stay under `rounds`.
    """
    first = measurements[0]
    over_run = _summed_kinds(measurements, "statements_over_run")
    received = sum(m["server_requests"] for m in measurements)
    rates = [m["requests_per_s"] for m in measurements]
    tools = list(dict.fromkeys(m["tool"] for m in measurements))
    combined: dict[str, Any] = {name: first[name] for name in IDENTITY if name in first}
    combined.update(
        {
            "tool": " + ".join(tools),
            "rounds_measured": len(measurements),
            **{name: _median_known(m.get(name) for m in measurements) for name in MEDIAN_FIGURES},
            "requests_per_s_range": [min(rates), max(rates)],
            "latency_ms": {
                name: median(m["latency_ms"][name] for m in measurements)
                for name in LATENCIES
                if all(name in m["latency_ms"] for m in measurements)
            },
            "duration_s": round(sum(m["duration_s"] for m in measurements), 3),
            "requests": sum(m["requests"] for m in measurements),
            "errors": sum(m["errors"] for m in measurements),
            "server_requests": received,
            "statements_over_run": over_run,
            "statements_per_request_over_run": {
                name: count / received for name, count in by_category(over_run).items()
            },
            "probe_requests": sum(m["probe_requests"] for m in measurements),
            "statements_per_request": _pooled(measurements, "statements_per_request"),
            "statement_kinds_per_request": _pooled(measurements, "statement_kinds_per_request"),
            "response_bytes": first.get("response_bytes"),
            "peak_rss_mib": _largest(m.get("peak_rss_mib") for m in measurements),
            "rounds": [
                {k: v for k, v in m.items() if k not in IDENTITY}
                for m in sorted(measurements, key=lambda m: m["round"])
            ],
        }
    )
    return combined


def _median_known(values: Iterable[float | None]) -> float | None:
    """The median of the known values; None when none is known (say, database CPU on
    SQLite, or a run saved before the figure existed)."""
    known = [value for value in values if value is not None]
    return median(known) if known else None


def _largest(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None


def aggregate(
    measurements: Sequence[dict[str, Any]], variant_order: Sequence[str]
) -> list[dict[str, Any]]:
    """One combined run per (data set, operation key, variant): data sets and keys in the
    order they were first measured, variants in `variant_order`."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for m in measurements:
        groups.setdefault((m["data_set"], m["key"], m["variant"]), []).append(m)
    data_sets = list(dict.fromkeys(m["data_set"] for m in measurements))
    keys = list(dict.fromkeys(m["key"] for m in measurements))
    rank = {variant: index for index, variant in enumerate(variant_order)}

    def order(group: tuple[str, str, str]) -> tuple[int, int, int]:
        data_set, key, variant = group
        return data_sets.index(data_set), keys.index(key), rank.get(variant, len(rank))

    return [combine(groups[group]) for group in sorted(groups, key=order)]
