"""One measured run against a running server, and the correctness checks that come first."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import backends, loadgen, procfs
from bench import operations as ops
from bench.checks import BenchFailure, graphql
from bench.processes import HOST, ServerProcess
from bench.statements import by_category
from bench.stats import latency_summary
from bench.wrk import run_wrk

# Let the access-log writer commit the records of the last requests before counting stops.
SETTLE_S = 0.15
# A run counts only when each connection completed at least this many requests.
MIN_REQUESTS_PER_CONNECTION = 2
# Requests sent one at a time after each run to count its statements exactly.
PROBE_REQUESTS = 3


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """How every closed-loop run is driven."""

    tool: str
    wrk_path: str | None
    concurrency: int
    duration_s: float
    warmup_s: float
    scripts_dir: Path


def _python_run(
    server: ServerProcess,
    bodies: Sequence[bytes],
    headers: dict[str, str],
    concurrency: int,
    duration_s: float,
    min_requests: int = 0,
) -> loadgen.LoadResult:
    target = loadgen.Target(HOST, server.port)
    requests = [loadgen.encode_request(target, body, headers) for body in bodies]
    return loadgen.run(
        loadgen.closed_loop(
            target,
            requests,
            concurrency=concurrency,
            duration_s=duration_s,
            min_requests=min_requests,
        )
    )


@dataclass(frozen=True, slots=True)
class ClientFigures:
    """What the client saw of one closed-loop run."""

    tool: str
    requests: int
    elapsed_s: float
    errors: int
    latency_ms: dict[str, float]
    first_failure: str | None


def _wrk_run(
    server: ServerProcess, chosen: ops.Workload, headers: dict[str, str], load: LoadSettings
) -> ClientFigures:
    assert load.wrk_path is not None
    done = run_wrk(
        load.wrk_path,
        f"{server.base_url}/graphql",
        chosen.bodies,
        headers,
        concurrency=load.concurrency,
        duration_s=load.duration_s,
        script_path=load.scripts_dir / f"{server.variant}-{chosen.key}.lua",
    )
    return ClientFigures(
        "wrk", done.requests, done.duration_s, done.errors, done.latency_ms, done.first_failure
    )


def _loadgen_run(
    server: ServerProcess,
    chosen: ops.Workload,
    headers: dict[str, str],
    load: LoadSettings,
    tool: str = "python",
) -> ClientFigures:
    ran = _python_run(
        server,
        chosen.bodies,
        headers,
        load.concurrency,
        load.duration_s,
        MIN_REQUESTS_PER_CONNECTION * load.concurrency,
    )
    return ClientFigures(
        tool,
        ran.requests,
        ran.elapsed_s,
        ran.errors,
        latency_summary(ran.latencies_s),
        ran.first_failure,
    )


def _start_window(server: ServerProcess) -> procfs.CpuTimes:
    """Wait until the server is idle, reset its counters; its CPU time at the start."""
    server.wait_idle()
    time.sleep(SETTLE_S)
    server.take_statements()
    return server.cpu()


def _end_window(server: ServerProcess) -> tuple[int, dict[str, int]]:
    """Wait until the server answered everything and wrote its access records; counts."""
    server.wait_idle()
    time.sleep(SETTLE_S)
    return server.take_statements()


def probe_statements(
    server: ServerProcess, workload: ops.Workload, headers: dict[str, str]
) -> tuple[int, dict[str, int]]:
    """Exact statement counts of a few requests sent one by one, each answered in full."""
    _start_window(server)
    for body in workload.bodies[:PROBE_REQUESTS]:
        graphql(server, body, headers)
    return _end_window(server)


def _per_request(counts: dict[str, int], requests: int) -> dict[str, float]:
    return {name: count / requests for name, count in by_category(counts).items()}


def measure(
    server: ServerProcess,
    workload: Callable[[], ops.Workload],
    headers: Callable[[], dict[str, str]],
    load: LoadSettings,
) -> dict[str, Any]:
    """Warm up, one closed-loop run, then a statement probe; failing on any error answer.

    `workload` and `headers` are called afresh before each part: M1's bodies depend on
    the tasks' current statuses, and a fresh login keeps the token young.
    """
    if load.warmup_s > 0:
        warm = workload()
        result = _python_run(server, warm.bodies, headers(), load.concurrency, load.warmup_s)
        if result.errors:
            raise BenchFailure(f"{server.variant} {warm.key} warm-up: {result.first_failure}")
    cpu_before = _start_window(server)
    backends_before = server.backend_cpu()
    chosen, run_headers = workload(), headers()
    if load.tool == "wrk":
        client = _wrk_run(server, chosen, run_headers, load)
        if client.requests < MIN_REQUESTS_PER_CONNECTION * load.concurrency and not client.errors:
            # wrk drops what is in flight at its deadline: too few answers tell nothing.
            # The Python client goes on until enough have completed.
            cpu_before = _start_window(server)
            backends_before = server.backend_cpu()
            chosen = workload()
            client = _loadgen_run(server, chosen, run_headers, load, "python (wrk: too few)")
    else:
        client = _loadgen_run(server, chosen, run_headers, load)
    received, counts = _end_window(server)
    cpu = server.cpu() - cpu_before
    database = backends.attribute(backends_before, server.backend_cpu())
    if client.errors:
        raise BenchFailure(
            f"{server.variant} {chosen.key}: {client.errors} failed requests;"
            f" {client.first_failure}"
        )
    if not client.requests or not received:
        raise BenchFailure(f"{server.variant} {chosen.key}: no request completed")
    probed, probe_counts = probe_statements(server, workload(), headers())
    return {
        "variant": server.variant,
        "operation": chosen.operation,
        "key": chosen.key,
        "page_size": chosen.page_size,
        "tool": client.tool,
        "concurrency": load.concurrency,
        "duration_s": round(client.elapsed_s, 3),
        "requests": client.requests,
        "requests_per_s": client.requests / client.elapsed_s,
        "latency_ms": client.latency_ms,
        "errors": client.errors,
        # Over the requests the server received: those cut off at wrk's deadline cost too.
        "server_requests": received,
        "cpu_ms_per_request": cpu.total_s * 1000 / received,
        "cpu_user_ms_per_request": cpu.user_s * 1000 / received,
        # The PostgreSQL backends of the server's connections (None on SQLite), and both.
        "backend_cpu_ms_per_request": (
            None if database is None else database.total_s * 1000 / received
        ),
        "total_cpu_ms_per_request": (cpu.total_s + (database.total_s if database else 0.0))
        * 1000
        / received,
        "statements_over_run": counts,
        "statements_per_request_over_run": _per_request(counts, received),
        "probe_requests": probed,
        "statements_per_request": _per_request(probe_counts, probed),
        "statement_kinds_per_request": {k: n / probed for k, n in sorted(probe_counts.items())},
        "peak_rss_mib": _mib(server.peak_rss_kib()),
    }


def open_loop_tail(
    server: ServerProcess,
    workload: ops.Workload,
    headers: dict[str, str],
    *,
    rate_per_s: float,
    duration_s: float,
    connections: int,
) -> dict[str, Any]:
    """An open-loop run at a fixed arrival rate; its latency spread."""
    target = loadgen.Target(HOST, server.port)
    requests = [loadgen.encode_request(target, body, headers) for body in workload.bodies]
    result = loadgen.run(
        loadgen.open_loop(
            target,
            requests,
            rate_per_s=rate_per_s,
            duration_s=duration_s,
            connections=connections,
        )
    )
    if result.errors:
        raise BenchFailure(f"{server.variant} open loop: {result.first_failure}")
    latency = latency_summary(result.latencies_s)
    return {
        "variant": server.variant,
        "key": workload.key,
        "target_rate_per_s": rate_per_s,
        "achieved_rate_per_s": result.requests_per_s,
        "requests": result.requests,
        "connections": connections,
        "duration_s": round(result.elapsed_s, 3),
        "latency_ms": latency,
        "p99_over_p50": latency["p99_ms"] / latency["p50_ms"],
    }


def _mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024
