"""Latency statistics and the canonical JSON comparison of two servers' answers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

PERCENTILES = (50.0, 95.0, 99.0)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0-100) of ascending values, interpolated linearly between ranks."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile must be within 0-100, got {p}")
    rank = (len(sorted_values) - 1) * p / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(sorted_values[low])
    weight = rank - low
    return float(sorted_values[low] * (1.0 - weight) + sorted_values[high] * weight)


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99, mean and max in milliseconds of latencies given in seconds."""
    if not latencies_s:
        return {
            "p50_ms": math.nan,
            "p95_ms": math.nan,
            "p99_ms": math.nan,
            "mean_ms": math.nan,
            "max_ms": math.nan,
        }
    ordered = sorted(latencies_s)
    summary = {f"p{p:g}_ms": percentile(ordered, p) * 1000.0 for p in PERCENTILES}
    summary["mean_ms"] = sum(ordered) / len(ordered) * 1000.0
    summary["max_ms"] = ordered[-1] * 1000.0
    return summary


def canonical(data: Any) -> bytes:
    """`data` as JSON with sorted keys, so equal content compares equal byte for byte."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def first_difference(expected: Any, actual: Any, path: str = "$") -> str | None:
    """Where two JSON values first differ, as a readable path and both values; None if equal."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                return f"{path}.{key}: missing (expected {_short(expected[key])})"
            if key not in expected:
                return f"{path}.{key}: unexpected {_short(actual[key])}"
            found = first_difference(expected[key], actual[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (left, right) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(left, right, f"{path}[{index}]")
            if found:
                return found
        if len(expected) != len(actual):
            return f"{path}: {len(actual)} items, expected {len(expected)}"
        return None
    if expected != actual or type(expected) is not type(actual):
        return f"{path}: {_short(actual)}, expected {_short(expected)}"
    return None


def _short(value: Any, limit: int = 80) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"
