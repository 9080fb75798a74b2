"""Turn a results document into the table, the target verdicts, the chart and the README.

`python -m bench.report [latest.json]` rewrites the figures section of bench/README.md
from a saved run without measuring again.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from bench import burst, peer
from bench import operations as ops
from bench.rounds import Ratio, paired
from bench.targets import Runs, burst_targets, find, targets

README = Path(__file__).resolve().parent / "README.md"
# Where --write-readme keeps the committed copies of the run's JSON and chart.
FIGURES = Path(__file__).parent / "figures"
CHART = "latency_vs_page_size.png"
CPU_CHART = "cpu_vs_answer_size.png"
# What a `--burst-only` run saves, beside (never over) a full run's latest.json.
BURST_JSON = "write_burst.json"
START_MARKER = "<!-- bench:figures:start -->"
END_MARKER = "<!-- bench:figures:end -->"


def _number(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


COLUMNS = (
    "data set",
    "op",
    "variant",
    "rounds",
    "req/s",
    "req/s range",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "CPU ms/req",
    "DB CPU ms/req",
    "data",
    "auth",
    "audit",
    "access log",
    "access@load",
    "bytes",
    "peak RSS MiB",
)


def _range(run: dict[str, Any]) -> str:
    if run.get("rounds_measured", 1) < 2:
        return "-"
    low, high = run["requests_per_s_range"]
    return f"{_number(low)} to {_number(high)}"


def _ratio_cell(ratio: Ratio | None) -> str:
    if ratio is None:
        return "-"
    if ratio.rounds < 2:
        return f"{ratio.median:.3g}"
    return f"{ratio.median:.3g} ({ratio.low:.3g} to {ratio.high:.3g})"


def rows(runs: Runs) -> list[list[str]]:
    """One table row per (data set, operation, variant): medians over its rounds."""
    table = []
    for run in runs:
        per = run["statements_per_request"]
        under_load = run.get("statements_per_request_over_run", {})
        latency = run["latency_ms"]
        table.append(
            [
                run.get("data_set", "main"),
                run["key"],
                run["variant"],
                str(run.get("rounds_measured", 1)),
                _number(run["requests_per_s"]),
                _range(run),
                _number(latency["p50_ms"], 2),
                _number(latency["p95_ms"], 2),
                _number(latency["p99_ms"], 2),
                _number(run["cpu_ms_per_request"], 2),
                _number(run.get("backend_cpu_ms_per_request"), 2),
                _number(per.get("data"), 2),
                _number(per.get("auth"), 2),
                _number(per.get("audit"), 2),
                _number(per.get("access_log"), 2),
                _number(under_load.get("access_log"), 2),
                _number(run.get("response_bytes"), 0),
                _number(run.get("peak_rss_mib"), 0),
            ]
        )
    return table


def text_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A plain aligned table for the terminal."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body, strict=True)]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(lines)


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _target_rows(document: dict[str, Any]) -> list[list[str]]:
    # A burst-only run measured nothing else: its other targets would all read n/a.
    judged = targets(document) if document["runs"] else burst_targets(document["write_burst"])
    return [[t.name, t.goal, t.shown(), t.shown_spread(), t.verdict()] for t in judged]


TARGET_COLUMNS = ("target", "goal", "measured", "per-round range", "verdict")


def pair_rows(runs: Runs, reference: str = "ours") -> tuple[list[str], list[list[str]]]:
    """Throughput of `reference` ÷ each other variant per operation, paired by round: the
    median of the per-round ratios and their range. The header and the rows."""
    others = list(dict.fromkeys(r["variant"] for r in runs if r["variant"] != reference))
    header = ["data set", "op", *(f"{reference} ÷ {other}" for other in others)]
    body = []
    for run in runs:
        if run["variant"] != reference:
            continue
        data_set = run.get("data_set", "main")
        cells = [_ratio_cell(paired(run, find(runs, v, run["key"], data_set))) for v in others]
        body.append([data_set, run["key"], *cells])
    return header, body


# The operations of the side-by-side table with PostGraphile (issue 12), in its order.
PEER_KEYS = (ops.Q1, "Q2@10", ops.Q2, "Q2@100", ops.Q3)
PEER_COLUMNS = (
    "op",
    "floor CPU ms/req",
    "PostGraphile CPU ms/req",
    "ours CPU ms/req",
    "ours ÷ PostGraphile CPU",
    "floor req/s",
    "PostGraphile req/s",
    "ours req/s",
    "ours ÷ PostGraphile req/s",
)
PEER_NOTE = (
    "Side by side with PostGraphile (no authentication) in the same rounds. CPU ms/req is"
    " the server process plus its PostgreSQL backends (medians over the rounds); both"
    " 'ours ÷ PostGraphile' columns are medians of per-round ratios, with their range."
)
TOTAL_CPU = "total_cpu_ms_per_request"


def _cpu(run: dict[str, Any] | None) -> float | None:
    return None if run is None else run.get(TOTAL_CPU)


def peer_rows(runs: Runs) -> list[list[str]]:
    """Floor, PostGraphile and ours per operation: CPU per request (server plus database
    backends) and throughput, with ours ÷ PostGraphile paired by round. Empty without
    PostGraphile."""
    body = []
    for key in PEER_KEYS:
        floor, other, ours = (find(runs, v, key) for v in ("floor", peer.NAME, "ours"))
        if other is None:
            continue
        body.append(
            [
                key,
                _number(_cpu(floor), 2),
                _number(_cpu(other), 2),
                _number(_cpu(ours), 2),
                _ratio_cell(paired(ours, other, TOTAL_CPU)),
                _number(None if floor is None else floor["requests_per_s"]),
                _number(other["requests_per_s"]),
                _number(None if ours is None else ours["requests_per_s"]),
                _ratio_cell(paired(ours, other)),
            ]
        )
    return body


def peer_versions(document: dict[str, Any]) -> str:
    """What the peer ran on, in a sentence (empty when the run does not say)."""
    versions = (document.get("peer") or {}).get("versions") or {}
    if not versions:
        return ""
    packages = ", ".join(f"{name} {version}" for name, version in versions.items())
    return f"PostGraphile's packages: {packages}."


def linear_fit(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares slope and intercept of `points`; None with fewer than two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return slope, mean_y - slope * mean_x


def answer_size_points(runs: Runs, variant: str) -> list[tuple[float, float]]:
    """(customers on the Q2 page, CPU ms per request, server plus backends) of `variant`."""
    return [
        (float(size), float(cpu))
        for size in ops.PAGE_SIZES
        if (cpu := _cpu(find(runs, variant, ops.nested_workload(size).key))) is not None
    ]


SCALING_COLUMNS = ("variant", "CPU ms per extra customer", "fixed CPU ms (0 customers)")
SCALING_NOTE = (
    "Q2's CPU per request (server plus backends) against the customers on the page: the"
    " least-squares line through 10, 50 and 100 customers, its slope and where it meets 0."
)


def scaling_rows(runs: Runs) -> list[list[str]]:
    """The fitted cost per customer and fixed cost of floor, PostGraphile and ours."""
    body = []
    for variant in ("floor", peer.NAME, "ours"):
        fit = linear_fit(answer_size_points(runs, variant))
        if fit is not None:
            body.append([variant, f"{fit[0]:.3f}", f"{fit[1]:.2f}"])
    return body


PAIRS_NOTE = (
    "Paired throughput ratios: the median of the per-round ratios, both sides measured in"
    " the same round, and their range over the rounds in brackets."
)


def _tail_rows(document: dict[str, Any]) -> list[list[str]]:
    return [
        [
            t["key"],
            _number(t["closed_loop_rate_per_s"]),
            _number(t["target_rate_per_s"]),
            _number(t["achieved_rate_per_s"]),
            _number(t["latency_ms"]["p50_ms"], 2),
            _number(t["latency_ms"]["p99_ms"], 2),
            _number(t["p99_over_p50"], 2),
        ]
        for t in document.get("tail") or []
    ]


TAIL_COLUMNS = (
    "op",
    "closed-loop req/s",
    "offered req/s",
    "achieved req/s",
    "p50 ms",
    "p99 ms",
    "p99 ÷ p50",
)


def terminal_report(document: dict[str, Any]) -> str:
    """Everything for stdout: the runs, the open-loop tail and the targets."""
    parts: list[str] = []
    if document["runs"]:
        parts += [
            "Statements per request, counted exactly on requests sent one by one after each"
            " run; 'access log' is the record the server writes after answering, 'access@load'"
            " the same counted over the loaded run (the writer batches records under load)."
            " req/s, latencies and CPU are medians over the rounds.",
            text_table(COLUMNS, rows(document["runs"])),
        ]
    header, pairs = pair_rows(document["runs"])
    if pairs and len(header) > 2:
        parts += ["", PAIRS_NOTE, text_table(header, pairs)]
    peers = peer_rows(document["runs"])
    if peers:
        parts += ["", PEER_NOTE, text_table(PEER_COLUMNS, peers)]
        scaling = scaling_rows(document["runs"])
        if scaling:
            parts += ["", SCALING_NOTE, text_table(SCALING_COLUMNS, scaling)]
    if document.get("tail"):
        parts += [
            "",
            "Open loop (fixed arrival rate):",
            text_table(TAIL_COLUMNS, _tail_rows(document)),
        ]
    if document.get("write_burst"):
        parts += [
            "",
            f"Write burst on SQLite (createProduct; {BURST_NOTE}):",
            text_table(burst.COLUMNS, burst.rows(document["write_burst"])),
        ]
    parts += [
        "",
        "Targets:",
        text_table(TARGET_COLUMNS, _target_rows(document)),
    ]
    return "\n".join(parts)


def _layout(document: dict[str, Any]) -> str:
    """How the runs were laid out, in a sentence."""
    o, method = document["options"], document.get("method")
    if not method:
        return f"{o['duration_s']:g} s per run after {o['warmup_s']:g} s warm-up"
    rounded = " (wrk rounds up to whole seconds)" if document["load_tool"]["name"] == "wrk" else ""
    run = f"for {method['round_duration_s']:.3g} s after {method['round_warmup_s']:.2g} s warm-up"
    if method["rounds"] == 1:
        return f"1 round: every variant measured once per operation {run}{rounded}"
    once = "".join(
        f"; {variant} once on every {' and '.join(operations)} page size, in the first round,"
        f" for {o['duration_s']:g} s after {o['warmup_s']:g} s warm-up"
        for variant, operations in method["measured_once"].items()
    )
    catalogue = method["catalogue_rounds"]
    return (
        f"{method['rounds']} rounds per operation, each measuring every variant once {run}"
        f"{rounded}, in the order {', '.join(method['measuring_order'])}, reversed every other"
        f" round{once}; the catalogue in {catalogue} round{'s' if catalogue != 1 else ''}"
    )


def _about(document: dict[str, Any]) -> str:
    m, v, o = document["machine"], document["versions"], document["options"]
    tool = document["load_tool"]
    libraries = ", ".join(f"{name} {version}" for name, version in v.items() if version)
    return (
        f"Measured {document['date']} on {m['nproc']} x {m['cpu_model']}, {m['memory_gib']} GiB,"
        f" Linux {m['kernel']}; load by {tool['name']}"
        f"{' (' + tool['version'] + ')' if tool.get('version') else ''},"
        f" concurrency {o['concurrency']}; {_layout(document)}"
        f"{' (--quick)' if o['quick'] else ''}."
        f" Database: `{document['data_sets']['main']['url'].split('://')[0]}`.\n\n{libraries}."
    )


def markdown_report(document: dict[str, Any]) -> str:
    """The figures section of bench/README.md."""
    parts = [
        _about(document),
        "",
        "req/s, latencies and CPU per request are medians over the rounds; statements per"
        " request are counted exactly on requests sent one by one after each round.",
        "",
        markdown_table(COLUMNS, rows(document["runs"])),
    ]
    header, pairs = pair_rows(document["runs"])
    if pairs and len(header) > 2:
        parts += ["", PAIRS_NOTE, "", markdown_table(header, pairs)]
    if (FIGURES / CHART).exists():
        parts += ["", f"![Q2 p50 latency against page size](figures/{CHART})"]
    peers = peer_rows(document["runs"])
    if peers:
        parts += ["", f"{PEER_NOTE} {peer_versions(document)}", ""]
        parts += [markdown_table(PEER_COLUMNS, peers)]
        scaling = scaling_rows(document["runs"])
        if scaling:
            parts += ["", SCALING_NOTE, "", markdown_table(SCALING_COLUMNS, scaling)]
        if (FIGURES / CPU_CHART).exists():
            parts += ["", f"![CPU per request against answer size](figures/{CPU_CHART})"]
    if document.get("tail"):
        parts += ["", markdown_table(TAIL_COLUMNS, _tail_rows(document))]
    parts += ["", markdown_table(TARGET_COLUMNS, _target_rows(document))]
    return "\n".join(parts)


BURST_NOTE = (
    "writes/s and latencies are medians over the rounds, failed writes summed, and '÷ 4' the"
    " median of the per-round ratios to 4 writers with their range"
)


def burst_markdown(document: dict[str, Any]) -> str:
    """The write burst's figures section of bench/README.md."""
    found, m = document["write_burst"], document["machine"]
    return "\n".join(
        [
            f"Measured {document['date']} on {m['nproc']} x {m['cpu_model']}, Linux"
            f" {m['kernel']}; `{found['database']}`, {found['rounds']} rounds of"
            f" {found['round_duration_s']:.3g} s per crowd size after one"
            f" {found['warmup_s']:g} s warm-up at 4 writers"
            f"{' (--quick)' if document['options']['quick'] else ''}; {BURST_NOTE}.",
            "",
            markdown_table(burst.COLUMNS, burst.rows(found)),
            "",
            markdown_table(TARGET_COLUMNS, _target_rows({"runs": [], "write_burst": found})),
        ]
    )


def replace_figures(readme: str, figures: str) -> str:
    """The README with the text between the markers replaced by `figures`."""
    start, end = readme.find(START_MARKER), readme.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"the README lacks the {START_MARKER} ... {END_MARKER} markers")
    return readme[: start + len(START_MARKER)] + "\n" + figures + "\n" + readme[end:]


def write_readme(document: dict[str, Any], path: Path = README) -> None:
    """Rewrite the figures sections of the README that the results document has figures for:
    the main one when it has runs, the write burst's when it has one."""
    readme = path.read_text()
    if document["runs"]:
        readme = replace_figures(readme, markdown_report(document))
    if document.get("write_burst"):
        readme = burst.replace_section(readme, burst_markdown(document))
    path.write_text(readme)


def write_chart(document: dict[str, Any], path: Path) -> bool:
    """Q2 p50 latency against page size for ours, floor and naive; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for variant in ("ours", "floor", "naive"):
        points = [
            (size, run["latency_ms"]["p50_ms"])
            for size in ops.PAGE_SIZES
            if (run := find(document["runs"], variant, ops.nested_workload(size).key))
        ]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=variant)
    axes.set_xlabel("customers per page (each with 10 tasks x 3 products)")
    axes.set_ylabel("p50 latency (ms, median over the rounds; log scale)")
    axes.set_yscale("log")
    axes.set_xticks(list(ops.PAGE_SIZES))
    axes.set_title("Q2 nested query: latency against page size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def write_cpu_chart(document: dict[str, Any], path: Path) -> bool:
    """Q2's CPU per request (server plus backends) against the customers on the page, for
    floor, PostGraphile and ours; False without matplotlib or when PostGraphile did not
    run (so a SQLite run never replaces the committed chart of a PostgreSQL one)."""
    lines = {
        variant: points
        for variant in ("floor", peer.NAME, "ours")
        if (points := answer_size_points(document["runs"], variant))
    }
    if peer.NAME not in lines:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for variant, points in lines.items():
        axes.plot(*zip(*points, strict=True), marker="o", label=variant)
    axes.set_xlabel("customers on the Q2 page (each with 10 tasks x 3 products)")
    axes.set_ylabel("CPU ms per request, server + PostgreSQL backends")
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.set_xticks([0, *ops.PAGE_SIZES])
    axes.set_title("Q2: CPU per request against answer size")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite bench/README.md's figures from a saved results file."""
    args = list(sys.argv[1:] if argv is None else argv)
    source = Path(args[0]) if args else README.parent / "results" / "latest.json"
    write_readme(orjson.loads(source.read_bytes()))
    print(f"bench: wrote the figures of {source} into {README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
