"""The benchmark's pure parts: statistics, JSON comparison, /proc parsing, statement kinds,
the wrk script and its output, the operations' bodies, the rounds (their order, medians and
paired ratios) and the target verdicts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from graphql import parse

from bench import burst, procfs, report, rounds, targets
from bench import operations as ops
from bench.__main__ import parse_options
from bench.checks import BenchFailure, check_same
from bench.data import data_sets
from bench.loadgen import Target
from bench.runner import ALL_VARIANTS, MEASURING_ORDER
from bench.statements import StatementCounter, by_category, classify
from bench.stats import canonical, first_difference, latency_summary, percentile
from bench.wrk import RESULT_PREFIX, lua_script, lua_string, parse_output
from domain.products.model import SKU_PATTERN
from graph.relay import decode_global_id, encode_global_id


def test_given_sorted_values_when_taking_percentiles_then_ranks_interpolate_linearly() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 90) == pytest.approx(4.6)
    assert percentile([7.0], 99) == 7.0


def test_given_no_values_or_a_bad_rank_when_taking_a_percentile_then_it_refuses() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="within 0-100"):
        percentile([1.0], 101)


def test_given_latencies_in_seconds_when_summarised_then_milliseconds_come_out() -> None:
    summary = latency_summary([0.003, 0.001, 0.002])
    assert summary["p50_ms"] == pytest.approx(2.0)
    assert summary["max_ms"] == pytest.approx(3.0)
    assert summary["mean_ms"] == pytest.approx(2.0)
    assert math.isnan(latency_summary([])["p99_ms"])


def test_given_the_same_data_in_another_key_order_then_the_canonical_forms_are_equal() -> None:
    left = {"b": [1, {"y": 2, "x": 1}], "a": "z"}
    right = {"a": "z", "b": [1, {"x": 1, "y": 2}]}
    assert canonical(left) == canonical(right)
    assert first_difference(left, right) is None


def test_given_differing_data_then_the_first_difference_names_its_path() -> None:
    expected = {"products": {"edges": [{"node": {"price": "19.90"}}]}}
    actual = {"products": {"edges": [{"node": {"price": "19.9"}}]}}
    assert first_difference(expected, actual) == (
        '$.products.edges[0].node.price: "19.9", expected "19.90"'
    )
    assert "missing" in str(first_difference({"a": 1}, {}))
    assert "2 items, expected 1" in str(first_difference([1], [1, 2]))
    # 1 and 1.0 are equal in Python but not the same JSON.
    assert first_difference({"v": 1}, {"v": 1.0}) is not None


def test_given_a_stat_line_whose_name_has_spaces_and_parens_then_fields_are_read() -> None:
    line = "4242 (uvicorn (x) y) S 17 4242 4242 0 -1 4194560 1 0 0 0 250 50 3 4 20 0 5 0 1 2 3"
    ppid, times = procfs.parse_stat(line, ticks=100)
    assert ppid == 17
    assert times.user_s == pytest.approx(2.5)
    assert times.system_s == pytest.approx(0.5)
    assert (times - procfs.CpuTimes(0.5, 0.25)).total_s == pytest.approx(2.25)


def _fake_process(proc: Path, pid: int, ppid: int, utime: int, stime: int, hwm: int) -> None:
    folder = proc / str(pid)
    folder.mkdir()
    fields = f"S {ppid} 1 1 0 -1 0 0 0 0 0 {utime} {stime} 0 0 20 0 1 0 1 2 3"
    (folder / "stat").write_text(f"{pid} (python) {fields}\n")
    (folder / "status").write_text(f"Name:\tpython\nVmHWM:\t  {hwm} kB\nVmRSS:\t 10 kB\n")


def test_given_a_process_with_a_child_then_cpu_and_peak_memory_include_the_child(
    tmp_path: Path,
) -> None:
    _fake_process(tmp_path, 100, 1, utime=300, stime=100, hwm=2048)
    _fake_process(tmp_path, 101, 100, utime=100, stime=0, hwm=1024)
    _fake_process(tmp_path, 200, 1, utime=999, stime=999, hwm=9999)
    (tmp_path / "self").mkdir()
    assert procfs.children_of(100, tmp_path) == [101]
    times = procfs.cpu_times(100, tmp_path)
    assert times.total_s == pytest.approx(5.0 * 100 / procfs.CLOCK_TICKS)
    assert procfs.peak_rss_kib(100, tmp_path) == 3072
    assert procfs.parse_status_kib("Name: x\n", "VmHWM") is None


def test_given_statements_then_each_is_filed_by_purpose_and_verb() -> None:
    assert classify("SELECT products.id FROM products ORDER BY id") == "data:read"
    assert classify("UPDATE tasks SET status=? WHERE id = ?") == "data:write"
    assert classify("SELECT users.id, user_roles.role_id FROM users JOIN ...") == "auth:read"
    assert classify("INSERT INTO audit_log (entity) VALUES (?)") == "audit:write"
    assert classify("INSERT INTO access_log (path) VALUES (?), (?)") == "access_log:write"
    assert classify("SAVEPOINT sa_1") == "data:other"
    assert classify("WITH t AS (SELECT 1) SELECT * FROM tasks, t") == "data:read"
    assert classify("WITH RECURSIVE h AS (...) INSERT INTO audit_log SELECT 1") == "audit:write"
    counter = StatementCounter()
    counter.requests = 2
    for kind in ("data:read", "data:read", "auth:read"):
        counter.record(kind)
    taken = counter.take()
    assert taken == {"requests": 2, "statements": {"data:read": 2, "auth:read": 1}, "in_flight": 0}
    assert counter.take()["statements"] == {}
    assert by_category(taken["statements"]) == {"data": 2, "auth": 1, "audit": 0, "access_log": 0}


def test_given_text_with_closing_brackets_then_the_lua_literal_fences_around_it() -> None:
    assert lua_string("plain") == "[[plain]]"
    assert lua_string("a]]b") == "[=[a]]b]=]"
    assert lua_string("a]]b]=]c") == "[==[a]]b]=]c]==]"


def test_given_bodies_and_headers_then_the_script_carries_them_and_reports_json() -> None:
    script = lua_script([b'{"query":"{ a }"}', b'{"query":"{ b }"}'], {"Authorization": "x"})
    assert '[[{"query":"{ a }"}]]' in script
    assert "[ [[Authorization]] ] = [[x]]" in script
    assert RESULT_PREFIX in script
    assert "%(" not in script


def test_given_wrk_output_then_counts_latencies_and_errors_are_read() -> None:
    line = (
        '{"requests":200,"duration_us":2000000,"bytes":1,"connect_errors":0,"read_errors":0,'
        '"write_errors":0,"status_errors":1,"timeouts":0,"graphql_errors":2,"http_errors":1,'
        '"p50_us":1500,"p95_us":3000,"p99_us":4000,"mean_us":1600.5,"max_us":9000,'
        '"first_failure":"HTTP 500: boom"}'
    )
    result = parse_output(f"Running 2s test\n{RESULT_PREFIX}{line}\n")
    assert result.requests_per_s == pytest.approx(100.0)
    assert result.errors == 3
    assert result.latency_ms["p99_ms"] == pytest.approx(4.0)
    assert result.first_failure == "HTTP 500: boom"
    with pytest.raises(RuntimeError, match="no result line"):
        parse_output("Running 2s test\n")


def test_given_ids_then_they_match_the_products_relay_encoding() -> None:
    assert ops.global_id("Customer", 42) == encode_global_id("Customer", 42)
    assert ops.decode_global_id(ops.global_id("Task", 7)) == decode_global_id(
        encode_global_id("Task", 7)
    )


def test_given_current_statuses_then_m1_flips_each_task_and_flips_it_back() -> None:
    workload = ops.update_workload([(1, "TODO"), (2, "IN_PROGRESS")])
    sent = [orjson.loads(body)["variables"] for body in workload.bodies]
    assert sent == [
        {"id": ops.global_id("Task", 1), "status": "IN_PROGRESS"},
        {"id": ops.global_id("Task", 2), "status": "TODO"},
        {"id": ops.global_id("Task", 1), "status": "TODO"},
        {"id": ops.global_id("Task", 2), "status": "IN_PROGRESS"},
    ]
    assert ops.nested_workload(100).key == "Q2@100"
    assert ops.nested_workload().key == "Q2"
    assert "customers(first: 10)" in ops.nested_query(10)


def test_given_the_documents_then_each_parses_as_graphql() -> None:
    documents = [
        ops.FLAT_QUERY,
        ops.CUSTOMER_QUERY,
        ops.UPDATE_MUTATION,
        ops.LOGIN_MUTATION,
        ops.CREATE_MUTATION,
    ]
    for document in [*documents, *(ops.nested_query(size) for size in ops.PAGE_SIZES)]:
        assert parse(document).definitions


def test_given_a_remote_host_then_the_load_generator_refuses_it() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Target("10.0.0.1", 80)
    assert Target("127.0.0.1", 80).port == 80


def test_given_quick_then_runs_are_short_and_fewer_variants_run() -> None:
    quick = parse_options(["--quick"])
    assert (quick.duration_s, quick.warmup_s, quick.rounds) == (1.0, 0.3, 1)
    assert quick.variants == ("floor", "ours", "naive")
    full = parse_options(["--duration", "5", "--variants", "ours,floor"])
    assert (full.duration_s, full.warmup_s, full.variants) == (5.0, 2.0, ("floor", "ours"))
    assert full.rounds == 3
    assert parse_options(["--quick", "--rounds", "2"]).rounds == 2
    with pytest.raises(SystemExit):
        parse_options(["--rounds", "0"])


def _run(variant: str, key: str, rate: float, **per: float) -> dict[str, Any]:
    return {
        "variant": variant,
        "key": key,
        "data_set": "main",
        "requests_per_s": rate,
        "latency_ms": {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0},
        "cpu_ms_per_request": 1.0,
        "statements_per_request": per,
        "statement_kinds_per_request": {},
    }


def test_given_runs_then_targets_pass_miss_or_lack_a_variant() -> None:
    document = {
        "runs": [
            _run("floor", "Q2", 1000.0),
            _run("ours", "Q2", 150.0, data=3.0, auth=1.0),
            _run("naive", "Q2", 10.0),
            _run("limits-off", "Q2", 160.0),
        ],
        "tail": [{"p99_over_p50": 2.5}],
    }
    verdicts = {t.name: t.verdict() for t in targets.targets(document)}
    assert verdicts["Q2 throughput ÷ floor"] == "PASS"
    assert verdicts["Q2 ours ÷ naive"] == "PASS"
    assert verdicts["Q2 limits overhead"] == "MISS"
    assert verdicts["Q2 full features ÷ all off"] == "n/a"
    assert verdicts["Q2 data statements"] == "PASS"
    assert verdicts["Q2 p99 ÷ p50 at 70% load (open loop)"] == "PASS"


def test_given_a_readme_with_markers_then_only_the_figures_between_them_change() -> None:
    readme = f"intro\n{report.START_MARKER}\nold\n{report.END_MARKER}\noutro\n"
    replaced = report.replace_figures(readme, "new figures")
    assert replaced == f"intro\n{report.START_MARKER}\nnew figures\n{report.END_MARKER}\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        report.replace_figures("no markers", "x")


def test_given_a_floor_answer_then_another_servers_different_answer_fails_loudly() -> None:
    references: dict[str, Any] = {}
    check_same(references, "Q1#0", "floor", {"a": [1, 2]}, is_reference=True)
    check_same(references, "Q1#0", "ours", {"a": [1, 2]}, is_reference=False)
    with pytest.raises(BenchFailure, match=r"ours answers Q1#0 differently.*\$\.a\[1\]"):
        check_same(references, "Q1#0", "ours", {"a": [1, 3]}, is_reference=False)


def test_given_a_url_then_both_data_sets_are_placed_beside_it(tmp_path: Path) -> None:
    main, catalogue = data_sets(None, tmp_path)
    assert main.url.endswith("/var/bench/bench.db")
    assert catalogue.url.endswith("/var/bench/bench_catalogue.db")
    assert main.expected_counts() == {
        "products": 300, "customers": 1000, "tasks": 10_000, "task_products": 30_000,
    }  # fmt: skip
    assert catalogue.expected_counts()["products"] == 30_000
    _, on_postgres = data_sets("postgresql+asyncpg://postgres@127.0.0.1:5432/bench", tmp_path)
    assert on_postgres.url == "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_catalogue"
    assert "--links-per-task" in main.seeder_arguments()
    relative, _ = data_sets("sqlite+aiosqlite:///./var/x.db", tmp_path)
    assert relative.url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/var/x.db"
    with pytest.raises(ValueError, match="files"):
        data_sets("sqlite+aiosqlite://", tmp_path)


def test_given_a_duration_when_shared_over_rounds_then_a_round_keeps_a_minimum() -> None:
    assert rounds.round_duration(10.0, 3) == pytest.approx(10 / 3)
    assert rounds.round_duration(3.0, 3) == rounds.MIN_ROUND_S
    # A run shorter than the minimum (--quick) is not stretched.
    assert rounds.round_duration(1.0, 3) == 1.0
    assert rounds.round_duration(1.0, 1) == 1.0


def test_given_rounds_then_the_order_reverses_every_other_round_and_once_runs_first() -> None:
    assert rounds.schedule(["a", "b", "c"], 3) == [
        ("a", "b", "c"),
        ("c", "b", "a"),
        ("a", "b", "c"),
    ]
    # Counting on from an earlier operation's rounds keeps the alternation going.
    assert rounds.schedule(["a", "b"], 2, start=3) == [("b", "a"), ("a", "b")]
    assert rounds.schedule(["a", "b", "c"], 3, once={"c"}) == [
        ("a", "b", "c"), ("b", "a"), ("a", "b"),
    ]  # fmt: skip
    assert rounds.schedule(["a"], 1) == [("a",)]


def test_given_the_variants_then_each_has_its_place_in_a_round() -> None:
    assert sorted(MEASURING_ORDER) == sorted(ALL_VARIANTS)


def _measured(
    variant: str, key: str, index: int, rate: float, *, cpu: float = 1.0, p50: float = 1.0
) -> dict[str, Any]:
    """What `bench.measure.measure` returns for one round, plus what the runner adds."""
    return {
        "variant": variant,
        "operation": key.split("@")[0],
        "key": key,
        "page_size": None,
        "data_set": "main",
        "concurrency": 4,
        "tool": "wrk",
        "duration_s": 2.0,
        "requests": int(rate * 2),
        "requests_per_s": rate,
        "latency_ms": {"p50_ms": p50, "p95_ms": 2 * p50, "p99_ms": 3 * p50},
        "errors": 0,
        "server_requests": int(rate * 2),
        "cpu_ms_per_request": cpu,
        "cpu_user_ms_per_request": cpu / 2,
        "statements_over_run": {"data:read": int(rate * 2), "access_log:write": 1},
        "statements_per_request_over_run": {},
        "probe_requests": 3,
        "statements_per_request": {"data": 1.0 + index, "auth": 1.0},
        "statement_kinds_per_request": {"data:read": 1.0 + index},
        "peak_rss_mib": 100.0 + index,
        "response_bytes": 10,
        "round": index,
        "position": 0,
    }


def _rounds_of(variant: str, key: str, *rates: float) -> list[dict[str, Any]]:
    return [_measured(variant, key, index, rate) for index, rate in enumerate(rates)]


def test_given_rounds_then_a_ratio_is_the_median_of_the_per_round_ratios() -> None:
    # The machine ran slow in the last round: both sides fell alike.
    [ours, floor] = rounds.aggregate(
        [*_rounds_of("ours", "Q2", 10, 20, 30), *_rounds_of("floor", "Q2", 100, 100, 600)],
        ["floor", "ours"],
    )[::-1]
    assert rounds.paired_ratios(ours, floor) == pytest.approx([0.1, 0.2, 0.05])
    ratio = rounds.paired(ours, floor)
    assert ratio == rounds.Ratio(median=0.1, low=0.05, high=0.2, rounds=3)
    # Not the ratio of the medians, which mixes rounds measured at different moments.
    assert ours["requests_per_s"] / floor["requests_per_s"] == pytest.approx(0.2)
    assert ratio.map(lambda r: (r - 1) * 100).low == pytest.approx(-95.0)


def test_given_a_variant_measured_once_then_it_pairs_only_with_that_round() -> None:
    [ours, naive] = rounds.aggregate(
        [*_rounds_of("ours", "Q2", 12, 20, 30), *_rounds_of("naive", "Q2", 1)], ["ours", "naive"]
    )
    assert rounds.paired(ours, naive) == rounds.Ratio(12.0, 12.0, 12.0, 1)
    assert rounds.paired(ours, None) is None
    # A document saved before rounds holds one figure per run: it pairs as round 0.
    old = {"variant": "floor", "key": "Q2", "requests_per_s": 120.0}
    assert rounds.paired(ours, old) == rounds.Ratio(0.1, 0.1, 0.1, 1)


def test_given_rounds_then_figures_are_medians_counts_sums_and_statements_pooled() -> None:
    measured = [
        _measured("ours", "Q1", 2, 30.0, cpu=9.0, p50=7.0),
        _measured("ours", "Q1", 0, 10.0, cpu=1.0, p50=5.0),
        _measured("ours", "Q1", 1, 20.0, cpu=2.0, p50=6.0),
        _measured("floor", "Q1", 0, 500.0),
        _measured("floor", "Q2", 0, 50.0),
    ]
    runs = rounds.aggregate(measured, ["floor", "ours"])
    assert [(r["key"], r["variant"]) for r in runs] == [
        ("Q1", "floor"),
        ("Q1", "ours"),
        ("Q2", "floor"),
    ]
    ours = runs[1]
    assert ours["rounds_measured"] == 3
    assert ours["requests_per_s"] == 20.0
    assert ours["requests_per_s_range"] == [10.0, 30.0]
    assert ours["cpu_ms_per_request"] == 2.0
    assert ours["latency_ms"] == {"p50_ms": 6.0, "p95_ms": 12.0, "p99_ms": 18.0}
    assert (ours["requests"], ours["server_requests"], ours["probe_requests"]) == (120, 120, 9)
    assert ours["statements_over_run"] == {"access_log:write": 3, "data:read": 120}
    assert ours["statements_per_request_over_run"]["data"] == pytest.approx(1.0)
    assert ours["statements_per_request"] == {"auth": 1.0, "data": 2.0}
    assert ours["peak_rss_mib"] == 102.0
    assert [r["round"] for r in ours["rounds"]] == [0, 1, 2]
    assert [r["requests_per_s"] for r in ours["rounds"]] == [10.0, 20.0, 30.0]
    assert "variant" not in ours["rounds"][0]


def test_given_rounds_then_targets_carry_the_per_round_spread() -> None:
    document = {
        "runs": rounds.aggregate(
            [
                *_rounds_of("floor", "Q2", 100, 200, 100),
                *_rounds_of("ours", "Q2", 11, 18, 12),
                *_rounds_of("limits-off", "Q2", 11.2, 19.8, 11.4),
            ],
            ["floor", "ours", "limits-off"],
        ),
        "tail": [],
    }
    found = {t.name: t for t in targets.targets(document)}
    throughput = found["Q2 throughput ÷ floor"]
    assert throughput.value == pytest.approx(0.11)
    assert throughput.spread == pytest.approx((0.09, 0.12))
    assert throughput.shown_spread() == "0.09 to 0.12 (3 rounds)"
    assert throughput.verdict() == "PASS"
    overhead = found["Q2 limits overhead"]
    # Per round 1.8%, 10% and -5%; the ratio of the medians (11.4 ÷ 12) would say -5%.
    assert overhead.value == pytest.approx(20 / 11)
    assert overhead.spread == pytest.approx((-5.0, 10.0))
    assert overhead.verdict() == "PASS"
    assert found["Q1 data statements"].shown_spread() == "-"
    header, pairs = report.pair_rows(document["runs"])
    assert header == ["data set", "op", "ours ÷ floor", "ours ÷ limits-off"]
    assert pairs == [["main", "Q2", "0.11 (0.09 to 0.12)", "0.982 (0.909 to 1.05)"]]
    assert "0.09 to 0.12 (3 rounds)" in report.terminal_report(document)


def test_given_a_burst_workload_then_every_body_creates_a_product_with_a_new_valid_sku() -> None:
    workload = burst.writes_workload(2.0)
    skus = [orjson.loads(body)["variables"]["input"]["sku"] for body in workload.bodies]
    # Enough bodies that a run never cycles back to a SKU it already created.
    assert len(skus) >= 2.0 * burst.MOST_WRITES_PER_S
    assert len(set(skus)) == len(skus)
    assert all(SKU_PATTERN.match(sku.upper()) for sku in skus)
    # A second run gets SKUs of its own: the burst's data set keeps the products it adds.
    assert not set(skus) & {
        orjson.loads(body)["variables"]["input"]["sku"]
        for body in burst.writes_workload(0.1).bodies
    }
    assert workload.key == ops.W1


def _burst_measured(writers: int, index: int, rate: float, failures: int = 0) -> dict[str, Any]:
    """What `bench.burst.run_writers` returns for one crowd size in one round."""
    return {
        "writers": writers,
        "round": index,
        "position": 0,
        "duration_s": 3.0,
        "writes": int(rate * 3),
        "writes_per_s": rate,
        "failures": failures,
        "first_failure": "HTTP 200: TIMEOUT" if failures else None,
        "latency_ms": {"p50_ms": 10.0 * writers, "p99_ms": 20.0 * writers},
    }


def test_given_burst_rounds_then_ratios_are_medians_of_per_round_ratios_and_failures_sum() -> None:
    # The machine ran slow in round 1: the 4 and 16 writers of that round fell alike.
    measured = [
        *(_burst_measured(4, i, rate) for i, rate in enumerate((100.0, 50.0, 110.0))),
        *(_burst_measured(16, i, rate) for i, rate in enumerate((90.0, 45.0, 55.0))),
        *(_burst_measured(50, i, rate, 1) for i, rate in enumerate((1.0, 2.0, 1.1))),
    ]
    summary = burst.summarise(measured)
    levels = {level["writers"]: level for level in summary["levels"]}
    assert levels[16]["writes_per_s"] == 55.0
    assert levels[16]["writes_per_s_range"] == [45.0, 90.0]
    assert levels[50]["failures"] == 3
    assert levels[50]["first_failure"] == "HTTP 200: TIMEOUT"
    assert summary["failures"] == 3
    # Per round 0.9, 0.9 and 0.5: the median is 0.9; the ratio of the medians would be 0.55.
    assert burst.ratio(summary, 16) == rounds.Ratio(0.9, 0.5, 0.9, 3)
    assert burst.ratio(summary, 4) is None
    found = {t.name: t for t in targets.burst_targets(summary)}
    assert found["Write burst 16 ÷ 4 writers (SQLite)"].verdict() == "PASS"
    assert found["Write burst 50 ÷ 4 writers (SQLite)"].verdict() == "MISS"
    assert found["Write burst failed writes"].verdict() == "MISS"
    assert [row[-1] for row in burst.rows(summary)] == [
        "-",
        "0.9 (0.5 to 0.9)",
        "0.01 (0.01 to 0.04)",
    ]


def test_given_no_write_burst_then_its_targets_lack_a_measurement() -> None:
    verdicts = {t.name: t.verdict() for t in targets.targets({"runs": [], "tail": []})}
    assert verdicts["Write burst 50 ÷ 4 writers (SQLite)"] == "n/a"
    assert verdicts["Write burst failed writes"] == "n/a"


def test_given_a_burst_only_document_then_only_the_burst_section_is_rewritten(
    tmp_path: Path,
) -> None:
    summary = burst.summarise([_burst_measured(4, 0, 100.0), _burst_measured(50, 0, 90.0)])
    document = {
        "date": "2026-12-03T00:00:00+00:00",
        "machine": {"nproc": 2, "cpu_model": "CPU", "kernel": "6"},
        "options": {"quick": False},
        "runs": [],
        "tail": [],
        "write_burst": {
            "database": "sqlite+aiosqlite",
            "rounds": 1,
            "round_duration_s": 3.0,
            "warmup_s": 2.0,
            **summary,
        },
    }
    readme = tmp_path / "README.md"
    readme.write_text(
        f"{report.START_MARKER}\nold figures\n{report.END_MARKER}\n"
        f"{burst.START_MARKER}\nold burst\n{burst.END_MARKER}\n"
    )
    report.write_readme(document, readme)
    text = readme.read_text()
    assert "old figures" in text
    assert "old burst" not in text
    assert "| 50 | 1 | 90.0 |" in text
    assert "| Write burst 50 ÷ 4 writers (SQLite) | ≥ 0.7 | 0.9 | 1 round | PASS |" in text
    # The terminal shows the burst's targets alone, not a column of n/a for the rest.
    shown = report.terminal_report(document)
    assert "Write burst failed writes" in shown
    assert "Q2 throughput" not in shown
    with pytest.raises(ValueError, match="markers"):
        burst.replace_section("no markers", "x")


def test_given_burst_only_then_the_option_is_set() -> None:
    assert parse_options(["--burst-only"]).burst_only
    assert not parse_options([]).burst_only
