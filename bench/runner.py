"""The whole benchmark: data sets, every server at once, their checks, then rounds of runs.

All the servers of a data set run side by side, idle but for the one being measured. Each
operation is measured in rounds, every round measuring each variant once, so the noise of
the shared machine falls on both sides of every ratio alike (bench/rounds.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import burst, data, peer
from bench import operations as ops
from bench.backends import BackendMonitor
from bench.checks import login, verify_mutation, verify_reads
from bench.environment import library_versions, machine, tool_version
from bench.measure import LoadSettings, measure, open_loop_tail
from bench.processes import ServerProcess
from bench.rounds import aggregate, median, paired, round_duration, schedule
from bench.servers import APP_VARIANTS, FACTORIES
from bench.wrk import find_wrk

ROOT = Path(__file__).resolve().parent.parent
# The app variants and the floor (bench/servers.py), then the peers run by other runtimes.
PEER_VARIANTS = (peer.NAME,)
ALL_VARIANTS = (*FACTORIES, *PEER_VARIANTS)
QUICK_VARIANTS = ("floor", "ours", "naive")
SCALING_VARIANTS = ("floor", "ours", "naive", peer.NAME)
CATALOGUE_VARIANTS = ("floor", "ours")
CATALOGUE_ROUNDS = 2
# The order of a round (reversed every other round). Ours sits between the two variants it
# is compared with most finely, next but one to the floor; naive, the slowest and far from
# its threshold, at one end. PostGraphile, the peer ours is measured against, right after it.
MEASURING_ORDER = ("floor", "features-off", "ours", peer.NAME, "limits-off", "naive")
# A nested page takes naive seconds per request: it is measured once per page size, for the
# whole duration, in the first round only.
ONCE_PER_OPERATION = {"naive": (ops.Q2,)}
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
    rounds: int
    quick: bool
    out: Path
    load_tool: str
    variants: tuple[str, ...]
    rebuild: bool
    write_readme: bool
    burst_only: bool = False


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


@dataclass(frozen=True, slots=True)
class Plan:
    """One measured operation: its key, the variants that run it and its bodies' source.

    `workload` is called afresh before each part of each measurement: M1's bodies depend
    on the tasks' statuses at that moment.
    """

    key: str
    operation: str
    workload: Callable[[], ops.Workload]
    variants: tuple[str, ...]


def fixed(workload: ops.Workload, variants: tuple[str, ...]) -> Plan:
    """A plan whose bodies never change."""
    return Plan(workload.key, workload.operation, lambda: workload, variants)


class Benchmark:
    """Runs every server of one invocation and collects the figures."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.tool, self.wrk_path = resolve_load_tool(options.load_tool)
        self.logs = options.out / "logs"
        # A measurement made once, not per round, gets the whole duration and warm-up.
        self.load = LoadSettings(
            tool=self.tool,
            wrk_path=self.wrk_path,
            concurrency=options.concurrency,
            duration_s=options.duration_s,
            warmup_s=options.warmup_s,
            scripts_dir=self.logs,
        )
        # The servers are warm from the checks and the rounds before: a short warm-up will do.
        self.round_load = replace(
            self.load,
            duration_s=round_duration(options.duration_s, options.rounds),
            warmup_s=options.warmup_s / options.rounds,
        )
        self.measurements: list[dict[str, Any]] = []
        self.tails: list[dict[str, Any]] = []
        self.checks: list[dict[str, Any]] = []
        self.peak_rss: dict[str, float | None] = {}
        self.references: dict[str, Any] = {}
        self.write_burst: dict[str, Any] | None = None
        # Ours' answers, which the peer's renamed answers must equal (as must the floor's).
        self.ours_answers: dict[str, Any] = {}
        self.peer: dict[str, Any] | None = None
        self.monitors: list[BackendMonitor] = []
        self.rounds_done = 0
        self.started = time.monotonic()

    def run(self) -> dict[str, Any]:
        """Prepare the data, run every selected server; the results document."""
        self.logs.mkdir(parents=True, exist_ok=True)
        main, catalogue = data.data_sets(self.options.database_url, ROOT)
        prepared: dict[str, str] = {}
        if not self.options.burst_only:
            self._prepare_peer(main.url)
            try:
                self._run_reads_and_m1(main, catalogue, prepared)
            finally:
                for monitor in self.monitors:
                    monitor.close()
        if "ours" in self.options.variants and (
            self.options.burst_only or main.url.startswith("sqlite")
        ):
            self._serve_burst()
        return self._document(main, catalogue, prepared)

    def _prepare_peer(self, database_url: str) -> None:
        """Install PostGraphile when it is asked for and can run; else drop it, saying why."""
        if peer.NAME not in self.options.variants:
            return
        reason = peer.unavailable(database_url)
        if reason is None:
            folder = peer.install(ROOT, log)
            self.peer = {
                "name": peer.NAME,
                "folder": str(folder),
                "versions": peer.versions(folder),
                "authentication": "none",
            }
            return
        log(f"{peer.NAME} skipped: {reason}")
        self.peer = {"name": peer.NAME, "skipped": reason}
        kept = tuple(v for v in self.options.variants if v != peer.NAME)
        self.options = replace(self.options, variants=kept)

    def _run_reads_and_m1(
        self, main: data.DataSet, catalogue: data.DataSet, prepared: dict[str, str]
    ) -> None:
        owned = self.options.database_url is None
        for data_set in (main, catalogue):
            log(f"data set {data_set.name}: {data_set.url}")
            prepared[data_set.name] = data.prepare(
                data_set, ROOT, rebuild=self.options.rebuild, owned=owned
            )
            log(f"data set {data_set.name}: {prepared[data_set.name]}")
            if data.is_postgres(data_set.url):
                # The seeder analyses what it loads; a data set reused from before may not be.
                data.analyze(data_set.url)
                log(f"data set {data_set.name}: ANALYZE done")
        customer_ids = data.lookup_customer_ids(main.url)
        task_ids = data.mutation_task_ids(main.url)
        if not customer_ids or not task_ids:
            raise RuntimeError("the main data set has no customers or tasks to use")
        self.started = time.monotonic()
        self._serve_main(main, customer_ids, task_ids)
        on_catalogue = tuple(v for v in CATALOGUE_VARIANTS if v in self.options.variants)
        if on_catalogue:
            self._serve_catalogue(on_catalogue, catalogue)

    def _serve_burst(self) -> None:
        """The write burst on a fresh SQLite file of its own (bench/burst.py)."""
        burst_set = burst.data_set(ROOT)
        log(f"data set {burst_set.name}: {burst_set.url}")
        log(f"data set {burst_set.name}: {data.prepare(burst_set, ROOT, rebuild=True, owned=True)}")
        with ExitStack() as stack:
            server = self._start_all(("ours",), burst_set, stack)["ours"]
            measurements = burst.measure_burst(
                server,
                self._headers(server),
                rounds=self.options.rounds,
                duration_s=self.round_load.duration_s,
                warmup_s=self.options.warmup_s,
                log=log,
            )
        self.write_burst = {
            "database": burst_set.url.split("://")[0],
            "rounds": self.options.rounds,
            "round_duration_s": self.round_load.duration_s,
            "warmup_s": self.options.warmup_s,
            **burst.summarise(measurements),
        }
        for name, found in self.write_burst["ratios"].items():
            log(f"write burst: {name} ÷ {burst.BASELINE} writers {found['median']:.3g}")

    def _start_all(
        self, variants: tuple[str, ...], data_set: data.DataSet, stack: ExitStack
    ) -> dict[str, ServerProcess]:
        """Start a server per variant, each on its own port; `stack` stops them all."""
        servers = {}
        monitor = None
        if data.is_postgres(data_set.url):
            monitor = BackendMonitor(data_set.url)
            self.monitors.append(monitor)
        for variant in variants:
            process = peer.PostGraphileProcess if variant == peer.NAME else ServerProcess
            server = process(
                variant=variant,
                factory=FACTORIES.get(variant, variant),
                database_url=data_set.url,
                log_path=self.logs / f"{data_set.name}-{variant}.log",
                app_dir=peer.install_dir(ROOT) if variant == peer.NAME else ROOT,
                extra_env=VARIANT_ENVIRONMENT.get(variant, {}),
                backends=monitor,
            )
            log(f"starting {variant} on {data_set.name} (port {server.port})")
            stack.enter_context(server)
            server.start()
            servers[variant] = server
        return servers

    def _headers(self, server: ServerProcess) -> Callable[[], dict[str, str]]:
        if server.variant not in APP_VARIANTS:
            return dict
        return lambda: login(server, data.MANAGER_EMAIL, data.MANAGER_PASSWORD)

    def _serve_main(self, main: data.DataSet, customer_ids: list[int], task_ids: list[int]) -> None:
        variants = self.options.variants
        scaled = tuple(v for v in variants if v in SCALING_VARIANTS)
        reads = [ops.flat_workload(), ops.nested_workload(), ops.customer_workload(customer_ids)]
        scaling = [ops.nested_workload(size) for size in ops.PAGE_SIZES if size != 50]

        def update() -> ops.Workload:
            return ops.update_workload(data.task_statuses(main.url, task_ids))

        writers = tuple(v for v in variants if v not in PEER_VARIANTS)
        plans = [
            *(fixed(w, variants) for w in reads),
            Plan(ops.M1, ops.M1, update, writers),
            *(fixed(w, scaled) for w in scaling),
        ]
        with ExitStack() as stack:
            servers = self._start_all(variants, main, stack)
            sizes = {}
            # The floor comes first: its answers are the reference of every other check.
            for variant, server in servers.items():
                checked = reads + (scaling if variant in scaled else [])
                sizes[variant] = self._verify(server, checked, main, task_ids)
            for plan in plans:
                self._rounds(servers, plan, main.name, sizes, self.options.rounds)
                if plan.key == ops.Q2 and "ours" in servers:
                    self._tail(servers["ours"], main.name)
            self.peak_rss = {v: _mib(s.peak_rss_kib()) for v, s in servers.items()}

    def _verify(
        self,
        server: ServerProcess,
        reads: list[ops.Workload],
        main: data.DataSet,
        task_ids: list[int],
    ) -> dict[str, int]:
        """Check the server's answers against the floor's; the response sizes."""
        variant, headers = server.variant, self._headers(server)
        if variant in PEER_VARIANTS:
            return self._verify_peer(server, reads)
        record = self.ours_answers if variant == "ours" else None
        sizes = verify_reads(server, reads, headers(), self.references, record=record)
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
        return sizes

    def _verify_peer(self, server: ServerProcess, reads: list[ops.Workload]) -> dict[str, int]:
        """The peer's renamed answers against ours and the floor's (reads only)."""
        references = {
            name: answers
            for name, answers in (("ours", self.ours_answers), ("floor", self.references))
            if answers
        }
        sizes = peer.verify_reads(server, reads, references)
        self.checks.append(
            {
                "data_set": "main",
                "variant": server.variant,
                "compared_with_floor": "floor" in references,
                "compared_with_ours": "ours" in references,
            }
        )
        if references:
            log(f"{server.variant}: answers match {' and '.join(references)} after renaming")
        else:
            log(f"{server.variant}: answers NOT compared (neither ours nor the floor ran)")
        return sizes

    def _rounds(
        self,
        servers: dict[str, ServerProcess],
        plan: Plan,
        data_set: str,
        sizes: dict[str, dict[str, int]],
        rounds: int,
    ) -> None:
        """Measure `plan` on each of its variants once per round, strictly one at a time."""
        order = [v for v in MEASURING_ORDER if v in plan.variants and v in servers]
        once = {v for v in order if plan.operation in ONCE_PER_OPERATION.get(v, ())}
        orders = schedule(order, rounds, once=once, start=self.rounds_done)
        self.rounds_done += rounds
        for index, variants in enumerate(orders):
            for position, variant in enumerate(variants):
                server = servers[variant]
                load = self.load if variant in once else self.round_load
                started_at = time.monotonic() - self.started
                workload = plan.workload
                if variant in PEER_VARIANTS:
                    workload = _translated(plan.workload)
                result = measure(server, workload, self._headers(server), load)
                result.update(
                    data_set=data_set,
                    response_bytes=sizes[variant].get(result["key"]),
                    round=index,
                    position=position,
                    started_at_s=round(started_at, 1),
                    measured_once=variant in once,
                )
                self.measurements.append(result)
                log(
                    f"{variant} {result['key']} round {index + 1}/{rounds}:"
                    f" {result['requests_per_s']:.1f} req/s,"
                    f" p50 {result['latency_ms']['p50_ms']:.2f} ms"
                )
        self._log_pairs(plan.key, data_set)

    def _log_pairs(self, key: str, data_set: str) -> None:
        runs = {
            run["variant"]: run
            for run in aggregate(
                [m for m in self.measurements if (m["key"], m["data_set"]) == (key, data_set)],
                MEASURING_ORDER,
            )
        }
        if "ours" not in runs:
            return
        for variant, run in runs.items():
            ratio = paired(runs["ours"], run)
            if variant == "ours" or ratio is None:
                continue
            spread = f" (per round {ratio.low:.3g} to {ratio.high:.3g})" if ratio.rounds > 1 else ""
            log(f"{data_set} {key}: ours ÷ {variant} {ratio.median:.3g}{spread}")

    def _tail(self, server: ServerProcess, data_set: str) -> None:
        closed = median(
            m["requests_per_s"]
            for m in self.measurements
            if (m["variant"], m["key"], m["data_set"]) == ("ours", ops.Q2, data_set)
        )
        rate = closed * TAIL_LOAD_SHARE
        log(f"ours Q2 open loop at {rate:.1f} req/s ({TAIL_LOAD_SHARE:.0%} of {closed:.1f})")
        tail = open_loop_tail(
            server,
            ops.nested_workload(),
            self._headers(server)(),
            rate_per_s=rate,
            duration_s=self.options.duration_s,
            connections=max(16, self.options.concurrency * 4),
        )
        tail["closed_loop_rate_per_s"] = closed
        self.tails.append(tail)
        server.wait_idle()

    def _serve_catalogue(self, variants: tuple[str, ...], catalogue: data.DataSet) -> None:
        flat = ops.flat_workload()
        references = self.references.setdefault("catalogue", {})
        rounds = min(self.options.rounds, CATALOGUE_ROUNDS)
        with ExitStack() as stack:
            servers = self._start_all(variants, catalogue, stack)
            sizes = {
                variant: verify_reads(server, [flat], self._headers(server)(), references)
                for variant, server in servers.items()
            }
            self._rounds(servers, fixed(flat, variants), catalogue.name, sizes, rounds)

    def method(self) -> dict[str, Any]:
        """How the runs were laid out: rounds, their length and order, the single runs."""
        return {
            "rounds": self.options.rounds,
            "catalogue_rounds": min(self.options.rounds, CATALOGUE_ROUNDS),
            "round_duration_s": self.round_load.duration_s,
            "round_warmup_s": self.round_load.warmup_s,
            "measuring_order": [v for v in MEASURING_ORDER if v in self.options.variants],
            "order_reversed_every_other_round": True,
            "measured_once": {
                variant: list(operations)
                for variant, operations in ONCE_PER_OPERATION.items()
                if variant in self.options.variants
            },
        }

    def _document(
        self, main: data.DataSet, catalogue: data.DataSet, prepared: dict[str, str]
    ) -> dict[str, Any]:
        options = asdict(self.options)
        options["out"] = str(self.options.out)
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "options": options,
            "method": self.method(),
            "load_tool": {"name": self.tool, "version": tool_version(self.wrk_path)},
            "versions": library_versions(),
            "machine": machine(),
            "data_sets": {
                ds.name: {
                    "url": ds.url,
                    "expected_counts": ds.expected_counts(),
                    "prepared": prepared.get(ds.name, "not used"),
                }
                for ds in (main, catalogue)
            },
            "checks": self.checks,
            "runs": aggregate(self.measurements, self.options.variants),
            "tail": self.tails,
            "peak_rss_mib": self.peak_rss,
            "write_burst": self.write_burst,
            "peer": self.peer,
        }


def _translated(workload: Callable[[], ops.Workload]) -> Callable[[], ops.Workload]:
    """The peer's twin of a plan's workload, built afresh each time like the plan's."""
    return lambda: peer.translate(workload())


def _mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024
