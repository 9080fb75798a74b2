"""The targets of issue 6 (and issue 10's write burst), judged on a results document.

Every throughput ratio is the median of the per-round ratios (both sides measured in the
same round, seconds apart), with the spread of those per-round ratios beside it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from bench import burst
from bench import operations as ops
from bench.rounds import Ratio, paired

Runs = Sequence[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Target:
    """One target of issue 6 and what the run measured for it."""

    name: str
    goal: str
    value: float | None
    passed: bool | None
    # The lowest and highest per-round value, and how many rounds paired up (ratios only).
    spread: tuple[float, float] | None = None
    rounds: int | None = None

    def verdict(self) -> str:
        """PASS, MISS or n/a (when the run lacked a variant it needs)."""
        return "n/a" if self.passed is None else "PASS" if self.passed else "MISS"

    def shown(self) -> str:
        """The measured value, readable."""
        return "-" if self.value is None else f"{self.value:.3g}"

    def shown_spread(self) -> str:
        """The per-round range, e.g. `0.098 to 0.112 (3 rounds)`; `-` when no ratio."""
        if self.spread is None or self.rounds is None:
            return "-"
        if self.rounds < 2:
            return "1 round"
        low, high = self.spread
        return f"{low:.3g} to {high:.3g} ({self.rounds} rounds)"


def find(runs: Runs, variant: str, key: str, data_set: str = "main") -> dict[str, Any] | None:
    """The run of `variant` on `key` (e.g. Q2, Q2@100) in `data_set`, if measured."""
    for run in runs:
        if (run["variant"], run["key"], run.get("data_set", "main")) == (variant, key, data_set):
            return run
    return None


def _ratio(runs: Runs, top: str, bottom: str, key: str) -> Ratio | None:
    """Throughput `top` ÷ `bottom` on `key`, paired round by round."""
    return paired(find(runs, top, key), find(runs, bottom, key))


def _statements(runs: Runs, variant: str, key: str, *names: str) -> float | None:
    run = find(runs, variant, key)
    if run is None:
        return None
    return float(sum(run["statements_per_request"].get(name, 0.0) for name in names))


def _kinds(runs: Runs, variant: str, key: str, *kinds: str) -> float | None:
    run = find(runs, variant, key)
    if run is None:
        return None
    return float(sum(run["statement_kinds_per_request"].get(kind, 0.0) for kind in kinds))


def _check(
    name: str, goal: str, value: float | Ratio | None, ok: Callable[[float], bool]
) -> Target:
    if isinstance(value, Ratio):
        spread = (value.low, value.high)
        return Target(name, goal, value.median, ok(value.median), spread, value.rounds)
    return Target(name, goal, value, None if value is None else ok(value))


# Ours ÷ another variant, paired by round: (name, goal, the other variant, operation, least).
THROUGHPUT_TARGETS: tuple[tuple[str, str, str, str, float], ...] = (
    ("Q2 throughput ÷ floor", "≥ 0.10", "floor", ops.Q2, 0.10),
    ("Q1 throughput ÷ floor", "≥ 0.20", "floor", ops.Q1, 0.20),
    ("M1 throughput ÷ floor", "≥ 0.30", "floor", ops.M1, 0.30),
    ("Q2 ours ÷ naive", "≥ 12x", "naive", ops.Q2, 12.0),
    ("Q2 full features ÷ all off", "≥ 0.90", "features-off", ops.Q2, 0.90),
)


def targets(document: dict[str, Any]) -> list[Target]:
    """Every target of the issue, judged on the document's runs."""
    runs = document["runs"]
    tail = document.get("tail") or []
    limits_ratio = _ratio(runs, "limits-off", "ours", ops.Q2)
    m1_writes = _kinds(runs, "ours", ops.M1, "data:write", "audit:write")
    m1_all = _statements(runs, "ours", ops.M1, "data", "audit")
    # Statement counts are taken over a whole run, so a request in flight at either end
    # can move them by a hair; the allowance keeps that from deciding a verdict.
    slack = 0.05
    checks = [
        _check(name, goal, _ratio(runs, "ours", other, key), partial(operator.le, least))
        for name, goal, other, key, least in THROUGHPUT_TARGETS
    ]
    checks += [
        _check(
            "Q2 limits overhead",
            "< 5%",
            None if limits_ratio is None else limits_ratio.map(lambda r: (r - 1) * 100),
            lambda v: v < 5,
        ),
        _check(
            "Q2 p99 ÷ p50 at 70% load (open loop)",
            "≤ 3",
            tail[0]["p99_over_p50"] if tail else None,
            lambda v: v <= 3,
        ),
        _check(
            "Q1 data statements",
            "≤ 2",
            _statements(runs, "ours", ops.Q1, "data"),
            lambda v: v <= 2 + slack,
        ),
        _check(
            "Q2 data statements",
            "≤ 3",
            _statements(runs, "ours", ops.Q2, "data"),
            lambda v: v <= 3 + slack,
        ),
        _check(
            "Q2 auth statements",
            "≤ 1",
            _statements(runs, "ours", ops.Q2, "auth"),
            lambda v: v <= 1 + slack,
        ),
        _check(
            "M1 data + audit statements",
            "≤ writes + audit inserts" + ("" if m1_writes is None else f" ({m1_writes:.2f})"),
            m1_all,
            lambda v: m1_writes is not None and v <= m1_writes + slack,
        ),
    ]
    for size in ops.PAGE_SIZES:
        key = ops.nested_workload(size).key
        checks.append(
            _check(
                f"Q2@{size} data statements (flat in page size)",
                "≤ 3",
                _statements(runs, "ours", key, "data"),
                lambda v: v <= 3 + slack,
            )
        )
    return checks + peer_targets(runs) + burst_targets(document.get("write_burst"))


# Issue 12's operations, judged against PostGraphile when it ran.
PEER_KEYS = (ops.Q1, "Q2@10", ops.Q2, "Q2@100", ops.Q3)
PEER = "postgraphile"
TOTAL_CPU = "total_cpu_ms_per_request"


def peer_targets(runs: Runs) -> list[Target]:
    """Issue 12: ours no costlier than PostGraphile (CPU per request, server plus database
    backends) and at least as fast on every read; none when PostGraphile did not run."""
    if not any(run["variant"] == PEER for run in runs):
        return []
    checks = []
    for key in PEER_KEYS:
        ours, other = find(runs, "ours", key), find(runs, PEER, key)
        checks += [
            _check(
                f"{key} CPU/req ours ÷ PostGraphile",
                "≤ 1",
                paired(ours, other, TOTAL_CPU),
                lambda v: v <= 1,
            ),
            _check(
                f"{key} throughput ours ÷ PostGraphile",
                "≥ 1",
                paired(ours, other),
                lambda v: v >= 1,
            ),
        ]
    return checks


def burst_targets(write_burst: dict[str, Any] | None) -> list[Target]:
    """The write burst's targets (issue 10): throughput kept, and no failed write."""
    least = burst.LEAST_RATIO
    checks = [
        _check(
            f"Write burst {writers} ÷ {burst.BASELINE} writers (SQLite)",
            f"≥ {least:g}",
            burst.ratio(write_burst, writers),
            partial(operator.le, least),
        )
        for writers in burst.WRITERS
        if writers != burst.BASELINE
    ]
    failures = None if write_burst is None else float(write_burst["failures"])
    checks.append(_check("Write burst failed writes", "= 0", failures, lambda v: v == 0))
    return checks
