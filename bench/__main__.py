"""`python -m bench` (or `./scripts/bench`): measure, print the table, save latest.json."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path

import orjson

from bench import report, targets
from bench.checks import BenchFailure
from bench.rounds import MIN_ROUND_S
from bench.runner import ALL_VARIANTS, QUICK_VARIANTS, ROOT, Benchmark, Options, log

DURATION_S = 10.0
WARMUP_S = 2.0
QUICK_DURATION_S = 1.0
QUICK_WARMUP_S = 0.3
ROUNDS = 3
QUICK_ROUNDS = 1


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="./scripts/bench",
        description="Benchmark the GraphQL server against its floor and N+1 variants (issue 6).",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="main data set (default: SQLite under var/bench/); a PostgreSQL URL's"
        " database and <name>_catalogue are created on its server if missing",
    )
    parser.add_argument(
        "--duration",
        type=_seconds,
        metavar="S",
        help=f"measured seconds per variant and operation, shared out over the rounds"
        f" [{DURATION_S:g}] (at least {MIN_ROUND_S:g} s a round; wrk rounds up to whole seconds)",
    )
    parser.add_argument(
        "--warmup",
        type=_seconds,
        metavar="S",
        help=f"warm-up seconds per variant and operation, shared out over the rounds"
        f" [{WARMUP_S:g}]",
    )
    parser.add_argument(
        "--rounds",
        type=_count,
        metavar="R",
        help=f"rounds per operation, each measuring every variant once [{ROUNDS}; --quick"
        f" {QUICK_ROUNDS}]",
    )
    parser.add_argument(
        "--concurrency",
        type=_count,
        default=4,
        metavar="N",
        help="requests in flight in the closed loop [4]",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_ROUNDS} round of {QUICK_DURATION_S:g} s runs after"
        f" {QUICK_WARMUP_S:g} s warm-up, variants {', '.join(QUICK_VARIANTS)} only",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results",
        metavar="DIR",
        help="results and server logs [bench/results/]",
    )
    parser.add_argument(
        "--load-tool",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="closed-loop client: wrk when on PATH (auto), or the Python one",
    )
    parser.add_argument(
        "--variants", metavar="LIST", help=f"comma-separated subset of {', '.join(ALL_VARIANTS)}"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="drop and re-seed the data sets first"
    )
    parser.add_argument(
        "--burst-only",
        action="store_true",
        help="only the write burst on SQLite: createProduct from 4, 16 and 50 writers"
        " (a full run on SQLite ends with it)",
    )
    parser.add_argument(
        "--write-readme",
        action="store_true",
        help="rewrite the figures section of bench/README.md from this run",
    )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Options from the command line, with --quick's shorter defaults."""
    parser = build_parser()
    args = parser.parse_args(argv)
    duration = args.duration or (QUICK_DURATION_S if args.quick else DURATION_S)
    warmup = args.warmup if args.warmup is not None else QUICK_WARMUP_S if args.quick else WARMUP_S
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    variants = QUICK_VARIANTS if args.quick else ALL_VARIANTS
    if args.variants:
        chosen = tuple(name.strip() for name in args.variants.split(",") if name.strip())
        unknown = sorted(set(chosen) - set(ALL_VARIANTS))
        if unknown:
            parser.error(f"unknown variants: {', '.join(unknown)}")
        # The floor is checked first: its answers are what every other server must match.
        variants = tuple(name for name in ALL_VARIANTS if name in chosen)
    return Options(
        database_url=args.database_url,
        duration_s=duration,
        warmup_s=warmup,
        concurrency=args.concurrency,
        rounds=rounds,
        quick=args.quick,
        out=args.out.resolve(),
        load_tool=args.load_tool,
        variants=variants,
        rebuild=args.rebuild,
        write_readme=args.write_readme,
        burst_only=args.burst_only,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 1 when a server answered wrongly or a write of the burst failed."""
    options = parse_options(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    try:
        document = Benchmark(options).run()
    except BenchFailure as failure:
        log(f"FAILED: {failure}")
        return 1
    document["targets"] = [
        {
            "name": t.name,
            "goal": t.goal,
            "value": t.value,
            "per_round_range": None if t.spread is None else list(t.spread),
            "rounds": t.rounds,
            "verdict": t.verdict(),
        }
        for t in targets.targets(document)
    ]
    # A burst-only run has a file of its own, so it never replaces a full run's figures.
    latest = options.out / (report.BURST_JSON if options.burst_only else "latest.json")
    latest.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    chart = options.out / "latency_vs_page_size.png"
    print(report.terminal_report(document))
    log(f"wrote {latest}")
    cpu_chart = options.out / report.CPU_CHART
    if not options.burst_only:
        if report.write_chart(document, chart):
            log(f"wrote {chart}")
        else:
            log("matplotlib is not installed (pip install -e '.[bench]'): no chart")
        if report.write_cpu_chart(document, cpu_chart):
            log(f"wrote {cpu_chart}")
    if options.write_readme:
        # The committed record: the figures in the README, beside the chart and the JSON.
        report.FIGURES.mkdir(exist_ok=True)
        shutil.copyfile(latest, report.FIGURES / latest.name)
        for made in (chart, cpu_chart):
            if made.exists() and not options.burst_only:
                shutil.copyfile(made, report.FIGURES / made.name)
        report.write_readme(document)
        log(f"rewrote the figures of {report.README} and {report.FIGURES}")
    failed_writes = (document.get("write_burst") or {}).get("failures", 0)
    if failed_writes:
        log(f"FAILED: {failed_writes} writes of the write burst failed")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
