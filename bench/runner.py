"""The whole benchmark: data sets, then each server in turn, its checks, runs and scaling."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import data
from bench import operations as ops
from bench.checks import login, verify_mutation, verify_reads
from bench.environment import library_versions, machine, tool_version
from bench.measure import LoadSettings, measure, open_loop_tail
from bench.processes import ServerProcess
from bench.servers import APP_VARIANTS, FACTORIES
from bench.wrk import find_wrk

ROOT = Path(__file__).resolve().parent.parent
ALL_VARIANTS = tuple(FACTORIES)
QUICK_VARIANTS = ("floor", "ours", "naive")
SCALING_VARIANTS = ("floor", "ours", "naive")
CATALOGUE_VARIANTS = ("floor", "ours")
TAIL_LOAD_SHARE = 0.70
# The N+1 baseline needs seconds for a large page under load: the product's 10 s operation
# limit would cut it off, so it gets the most the setting allows. No other setting differs.
VARIANT_ENVIRONMENT = {"naive": {"GRAPHQL_TIMEOUT_SECONDS": "300"}}


@dataclass(frozen=True, slots=True)
class Options:
    """Everything a run was asked to do."""

    database_url: str | None
    duration_s: float
    warmup_s: float
    concurrency: int
    quick: bool
    out: Path
    load_tool: str
    variants: tuple[str, ...]
    rebuild: bool
    write_readme: bool


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the results."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def resolve_load_tool(choice: str) -> tuple[str, str | None]:
    """`wrk` when asked for or (with auto) on PATH, else the Python generator."""
    wrk = find_wrk()
    if choice == "wrk" and wrk is None:
        raise SystemExit("bench: --load-tool wrk, but wrk is not on PATH")
    if choice == "python" or wrk is None:
        return "python", None
    return "wrk", wrk


class Benchmark:
    """Runs every server of one invocation and collects the figures."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.tool, self.wrk_path = resolve_load_tool(options.load_tool)
        self.logs = options.out / "logs"
        self.load = LoadSettings(
            tool=self.tool,
            wrk_path=self.wrk_path,
            concurrency=options.concurrency,
            duration_s=options.duration_s,
            warmup_s=options.warmup_s,
            scripts_dir=self.logs,
        )
        self.runs: list[dict[str, Any]] = []
        self.tails: list[dict[str, Any]] = []
        self.checks: list[dict[str, Any]] = []
        self.peak_rss: dict[str, float | None] = {}
        self.references: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        """Prepare the data, run every selected server; the results document."""
        self.logs.mkdir(parents=True, exist_ok=True)
        main, catalogue = data.data_sets(self.options.database_url, ROOT)
        owned = self.options.database_url is None
        prepared = {}
        for data_set in (main, catalogue):
            log(f"data set {data_set.name}: {data_set.url}")
            prepared[data_set.name] = data.prepare(
                data_set, ROOT, rebuild=self.options.rebuild, owned=owned
            )
            log(f"data set {data_set.name}: {prepared[data_set.name]}")
        customer_ids = data.lookup_customer_ids(main.url)
        task_ids = data.mutation_task_ids(main.url)
        if not customer_ids or not task_ids:
            raise RuntimeError("the main data set has no customers or tasks to use")
        for variant in self.options.variants:
            self._serve(variant, main, customer_ids, task_ids)
        for variant in CATALOGUE_VARIANTS:
            if variant in self.options.variants:
                self._serve_catalogue(variant, catalogue)
        return self._document(main, catalogue, prepared)

    def _start(self, variant: str, data_set: data.DataSet) -> ServerProcess:
        server = ServerProcess(
            variant=variant,
            factory=FACTORIES[variant],
            database_url=data_set.url,
            log_path=self.logs / f"{data_set.name}-{variant}.log",
            app_dir=ROOT,
            extra_env=VARIANT_ENVIRONMENT.get(variant, {}),
        )
        log(f"starting {variant} on {data_set.name} (port {server.port})")
        server.start()
        return server

    def _headers(self, server: ServerProcess) -> Callable[[], dict[str, str]]:
        if server.variant not in APP_VARIANTS:
            return dict
        return lambda: login(server, data.MANAGER_EMAIL, data.MANAGER_PASSWORD)

    def _serve(
        self, variant: str, main: data.DataSet, customer_ids: list[int], task_ids: list[int]
    ) -> None:
        reads = [ops.flat_workload(), ops.nested_workload(), ops.customer_workload(customer_ids)]
        scaling = [ops.nested_workload(size) for size in ops.PAGE_SIZES if size != 50]
        if variant not in SCALING_VARIANTS:
            scaling = []
        with self._start(variant, main) as server:
            headers = self._headers(server)
            sizes = verify_reads(server, reads + scaling, headers(), self.references)
            first_task = data.task_statuses(main.url, task_ids[:1])[0]
            sizes[ops.M1] = verify_mutation(server, first_task, headers())
            compared = variant == "floor" or bool(self.references)
            self.checks.append(
                {"data_set": main.name, "variant": variant, "compared_with_floor": compared}
            )
            if variant == "floor":
                log("floor: answers recorded as the reference")
            elif compared:
                log(f"{variant}: answers match the floor's")
            else:
                log(f"{variant}: answers NOT compared (the floor is not in this run)")

            def update() -> ops.Workload:
                return ops.update_workload(data.task_statuses(main.url, task_ids))

            plans: list[Callable[[], ops.Workload]] = [
                *(lambda w=w: w for w in reads),
                update,
                *(lambda w=w: w for w in scaling),
            ]
            for plan in plans:
                self._record(server, plan, headers, main.name, sizes)
                if variant == "ours" and self.runs[-1]["key"] == ops.Q2:
                    self._tail(server, headers)
            self.peak_rss[variant] = self.runs[-1]["peak_rss_mib"]

    def _record(
        self,
        server: ServerProcess,
        plan: Callable[[], ops.Workload],
        headers: Callable[[], dict[str, str]],
        data_set: str,
        sizes: dict[str, int],
    ) -> None:
        result = measure(server, plan, headers, self.load)
        result["data_set"] = data_set
        result["response_bytes"] = sizes.get(result["key"])
        self.runs.append(result)
        log(
            f"{server.variant} {result['key']}: {result['requests_per_s']:.1f} req/s,"
            f" p50 {result['latency_ms']['p50_ms']:.2f} ms"
        )

    def _tail(self, server: ServerProcess, headers: Callable[[], dict[str, str]]) -> None:
        closed = self.runs[-1]["requests_per_s"]
        rate = closed * TAIL_LOAD_SHARE
        log(f"ours Q2 open loop at {rate:.1f} req/s ({TAIL_LOAD_SHARE:.0%} of {closed:.1f})")
        tail = open_loop_tail(
            server,
            ops.nested_workload(),
            headers(),
            rate_per_s=rate,
            duration_s=self.options.duration_s,
            connections=max(16, self.options.concurrency * 4),
        )
        tail["closed_loop_rate_per_s"] = closed
        self.tails.append(tail)

    def _serve_catalogue(self, variant: str, catalogue: data.DataSet) -> None:
        with self._start(variant, catalogue) as server:
            headers = self._headers(server)
            flat = ops.flat_workload()
            references = self.references.setdefault("catalogue", {})
            sizes = verify_reads(server, [flat], headers(), references)
            self._record(server, lambda: flat, headers, catalogue.name, sizes)

    def _document(
        self, main: data.DataSet, catalogue: data.DataSet, prepared: dict[str, str]
    ) -> dict[str, Any]:
        options = asdict(self.options)
        options["out"] = str(self.options.out)
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "options": options,
            "load_tool": {"name": self.tool, "version": tool_version(self.wrk_path)},
            "versions": library_versions(),
            "machine": machine(),
            "data_sets": {
                ds.name: {
                    "url": ds.url,
                    "expected_counts": ds.expected_counts(),
                    "prepared": prepared[ds.name],
                }
                for ds in (main, catalogue)
            },
            "checks": self.checks,
            "runs": self.runs,
            "tail": self.tails,
            "peak_rss_mib": self.peak_rss,
        }
