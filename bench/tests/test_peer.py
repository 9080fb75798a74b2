"""PostGraphile as the benchmark's peer: its twin documents, the renaming of its answers,
the comparison with ours, when it is skipped, and the side-by-side figures."""

from __future__ import annotations

import base64
import shutil
from typing import Any

import orjson
import pytest
from graphql import parse

from bench import operations as ops
from bench import peer, report, targets
from bench.__main__ import parse_options
from bench.checks import BenchFailure
from bench.runner import ALL_VARIANTS, MEASURING_ORDER, SCALING_VARIANTS, Benchmark

# What PostGraphile 4.14.1 answered for customer 1 (its nodeId taken from a real answer).
CUSTOMER_1 = "WyJjdXN0b21lcnMiLDFd"


def test_given_a_row_when_naming_it_then_ids_match_postgraphile_and_convert_both_ways() -> None:
    assert peer.node_id("customers", 1) == CUSTOMER_1
    assert peer.our_id(CUSTOMER_1) == ops.global_id("Customer", 1)
    assert peer.peer_id(ops.global_id("Task", 42)) == peer.node_id("tasks", 42)
    assert peer.our_id(peer.node_id("products", 7)) == ops.global_id("Product", 7)


@pytest.mark.parametrize(
    "bad",
    [
        "not base64 at all!",
        base64.b64encode(b'["users", 1]').decode(),
        base64.b64encode(b'["customers", "1"]').decode(),
        base64.b64encode(b"{}").decode(),
    ],
)
def test_given_a_foreign_id_when_converting_then_it_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="node ID"):
        peer.our_id(bad)


def test_given_a_user_id_when_asking_the_peer_id_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="no PostGraphile table"):
        peer.peer_id(ops.global_id("User", 1))


def _payload(body: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(body)
    return loaded


def test_given_each_read_when_translating_then_its_twin_asks_the_same_rows_in_key_order() -> None:
    flat = _payload(peer.translate_body(ops.flat_workload().bodies[0]))
    assert "products(first: 100, orderBy: PRIMARY_KEY_ASC)" in flat["query"]
    for size in ops.PAGE_SIZES:
        nested = _payload(peer.translate_body(ops.nested_workload(size).bodies[0]))
        assert f"customers(first: {size}, orderBy: PRIMARY_KEY_ASC)" in nested["query"]
        assert "tasks(first: 10, orderBy: PRIMARY_KEY_ASC)" in nested["query"]
        assert "taskProducts(orderBy: PRODUCT_ID_ASC)" in nested["query"]
    customer = _payload(peer.translate_body(ops.customer_workload([1]).bodies[0]))
    assert "node(nodeId: $id)" in customer["query"]
    assert customer["variables"] == {"id": CUSTOMER_1}
    for document in peer.DOCUMENTS.values():
        parse(document)  # every twin is valid GraphQL


def test_given_a_workload_when_translating_then_key_size_and_body_order_are_kept() -> None:
    workload = ops.customer_workload([5, 3, 9])
    twin = peer.translate(workload)
    assert (twin.key, twin.page_size, len(twin.bodies)) == (workload.key, None, 3)
    ids = [_payload(body)["variables"]["id"] for body in twin.bodies]
    assert ids == [peer.node_id("customers", pk) for pk in (5, 3, 9)]


def test_given_the_mutation_or_an_unknown_document_when_translating_then_it_is_refused() -> None:
    update = ops.body(ops.UPDATE_MUTATION, {"id": ops.global_id("Task", 1), "status": "TODO"})
    with pytest.raises(ValueError, match="no PostGraphile twin"):
        peer.translate_body(update)


def _peer_customer(pk: int, products: list[int]) -> dict[str, Any]:
    return {
        "id": peer.node_id("customers", pk),
        "name": f"C{pk}",
        "email": f"c{pk}@example.com",
        "tasks": {
            "edges": [
                {
                    "node": {
                        "id": peer.node_id("tasks", pk * 10),
                        "title": "T",
                        "status": "TODO",
                        "products": {
                            "nodes": [
                                {
                                    "product": {
                                        "id": peer.node_id("products", p),
                                        "name": f"P{p}",
                                        "price": "1.50",
                                    }
                                }
                                for p in products
                            ]
                        },
                    }
                }
            ]
        },
    }


def _our_customer(pk: int, products: list[int]) -> dict[str, Any]:
    return {
        "id": ops.global_id("Customer", pk),
        "name": f"C{pk}",
        "email": f"c{pk}@example.com",
        "tasks": {
            "edges": [
                {
                    "node": {
                        "id": ops.global_id("Task", pk * 10),
                        "title": "T",
                        "status": "TODO",
                        "products": [
                            {"id": ops.global_id("Product", p), "name": f"P{p}", "price": "1.50"}
                            for p in products
                        ],
                    }
                }
            ]
        },
    }


def test_given_a_postgraphile_answer_when_renaming_then_it_is_ours_exactly() -> None:
    answer = {"customers": {"edges": [{"node": _peer_customer(1, [3, 8])}]}}
    expected = {"customers": {"edges": [{"node": _our_customer(1, [3, 8])}]}}
    assert peer.rename(answer) == expected
    flat = {"products": {"edges": [{"node": {"id": peer.node_id("products", 2), "sku": "S"}}]}}
    assert peer.rename(flat) == {
        "products": {"edges": [{"node": {"id": ops.global_id("Product", 2), "sku": "S"}}]}
    }
    assert peer.rename({"node": None}) == {"node": None}


class FakePeer:
    """Answers every POST with a fixed body, like a server process would."""

    variant = peer.NAME

    def __init__(self, data: Any) -> None:
        self.answer = orjson.dumps({"data": data})
        self.bodies: list[bytes] = []

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        self.bodies.append(body)
        return 200, self.answer


def test_given_the_same_rows_when_verifying_the_peer_then_it_passes_and_sends_the_twin() -> None:
    workload = ops.nested_workload(10)
    fake = FakePeer({"customers": {"edges": [{"node": _peer_customer(1, [3, 8])}]}})
    ours = {"Q2@10#0": {"customers": {"edges": [{"node": _our_customer(1, [3, 8])}]}}}

    sizes = peer.verify_reads(fake, [workload], {"ours": ours})  # type: ignore[arg-type]

    assert sizes == {"Q2@10": len(fake.answer)}
    assert _payload(fake.bodies[0])["query"] == peer.nested_query(10)


@pytest.mark.parametrize(
    ("theirs", "why"),
    [
        ([8, 3], "same rows in another order"),
        ([3], "a row missing"),
    ],
)
def test_given_different_rows_when_verifying_the_peer_then_it_fails(
    theirs: list[int], why: str
) -> None:
    fake = FakePeer({"customers": {"edges": [{"node": _peer_customer(1, theirs)}]}})
    ours = {"Q2@10#0": {"customers": {"edges": [{"node": _our_customer(1, [3, 8])}]}}}

    with pytest.raises(BenchFailure, match="compared with ours, after renaming"):
        peer.verify_reads(fake, [ops.nested_workload(10)], {"ours": ours})  # type: ignore[arg-type]


def test_given_sqlite_or_no_node_when_asking_then_postgraphile_is_unavailable() -> None:
    sqlite = "sqlite+aiosqlite:///var/bench/bench.db"
    postgres = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"
    assert "PostgreSQL" in (peer.unavailable(sqlite) or "")
    assert "not on PATH" in (peer.unavailable(postgres, which=lambda _name: None) or "")


@pytest.mark.parametrize(
    ("output", "major"), [("v20.20.2\n", 20), ("v18.0.0", 18), ("", None), ("vx", None)]
)
def test_given_node_version_output_when_parsing_then_the_major_version_is_read(
    output: str, major: int | None
) -> None:
    assert peer.node_major(output) == major


def test_given_a_sqlalchemy_url_when_converting_then_node_postgres_can_read_it() -> None:
    url = "postgresql+asyncpg://bench:s3cret@127.0.0.1:5433/bench"
    assert peer.libpq_url(url) == "postgresql://bench:s3cret@127.0.0.1:5433/bench"


def test_given_the_variants_when_listing_then_postgraphile_is_a_peer_next_to_ours() -> None:
    assert peer.NAME in ALL_VARIANTS
    assert peer.NAME in SCALING_VARIANTS
    position = MEASURING_ORDER.index("ours")
    assert MEASURING_ORDER[position + 1] == peer.NAME


def test_given_the_pinned_packages_when_reading_the_lock_then_versions_are_exact() -> None:
    manifest = orjson.loads((peer.PACKAGE_DIR / "package.json").read_bytes())
    lock = orjson.loads((peer.PACKAGE_DIR / "package-lock.json").read_bytes())
    assert manifest["dependencies"]["postgraphile"] == "4.14.1"
    for name, version in manifest["dependencies"].items():
        assert version[0].isdigit(), f"{name} is not pinned: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def _run(variant: str, key: str, rounds: list[tuple[float, float]]) -> dict[str, Any]:
    """An aggregated run: (req/s, total CPU ms/req) per round, medians on top."""
    rates = sorted(rate for rate, _ in rounds)
    cpus = sorted(cpu for _, cpu in rounds)
    return {
        "variant": variant,
        "key": key,
        "data_set": "main",
        "requests_per_s": rates[len(rates) // 2],
        "total_cpu_ms_per_request": cpus[len(cpus) // 2],
        "rounds": [
            {"round": index, "requests_per_s": rate, "total_cpu_ms_per_request": cpu}
            for index, (rate, cpu) in enumerate(rounds)
        ],
    }


def _side_by_side() -> list[dict[str, Any]]:
    runs = []
    for key, size in (("Q2@10", 10), ("Q2", 50), ("Q2@100", 100)):
        runs += [
            _run("floor", key, [(100.0, 1.0 + 0.2 * size)]),
            _run("ours", key, [(50.0, 5.0 + 0.5 * size)]),
            _run(peer.NAME, key, [(60.0, 2.0 + 0.4 * size)]),
        ]
    runs += [
        _run("ours", "Q1", [(100.0, 2.0), (80.0, 3.0)]),
        _run(peer.NAME, "Q1", [(200.0, 4.0), (40.0, 1.0)]),
    ]
    return runs


def test_given_side_by_side_runs_when_tabling_then_ratios_are_paired_per_round() -> None:
    rows = {row[0]: row for row in report.peer_rows(_side_by_side())}

    assert list(rows) == ["Q1", "Q2@10", "Q2", "Q2@100"]
    # Q1: CPU ratios per round 2/4 and 3/1, throughput 100/200 and 80/40.
    assert rows["Q1"][4] == "1.75 (0.5 to 3)"
    assert rows["Q1"][8] == "1.25 (0.5 to 2)"
    assert rows["Q1"][1] == "-"  # no floor measured on Q1
    assert rows["Q2"][2:5] == ["22.00", "30.00", "1.36"]


def test_given_no_postgraphile_when_tabling_then_there_is_no_side_by_side_table() -> None:
    runs = [r for r in _side_by_side() if r["variant"] != peer.NAME]
    assert report.peer_rows(runs) == []
    assert targets.peer_targets(runs) == []


def test_given_points_on_a_line_when_fitting_then_slope_and_fixed_cost_are_found() -> None:
    assert report.linear_fit([(10, 6.0), (50, 26.0), (100, 51.0)]) == pytest.approx((0.5, 1.0))
    assert report.linear_fit([(10, 6.0)]) is None
    assert report.scaling_rows(_side_by_side()) == [
        ["floor", "0.200", "1.00"],
        [peer.NAME, "0.400", "2.00"],
        ["ours", "0.500", "5.00"],
    ]


def test_given_side_by_side_runs_when_judging_then_ours_must_match_postgraphile() -> None:
    judged = {t.name: t for t in targets.peer_targets(_side_by_side())}

    assert judged["Q2 CPU/req ours ÷ PostGraphile"].verdict() == "MISS"
    assert judged["Q2 throughput ours ÷ PostGraphile"].value == pytest.approx(50 / 60)
    assert judged["Q1 throughput ours ÷ PostGraphile"].verdict() == "PASS"  # median 1.25
    assert judged["Q3 CPU/req ours ÷ PostGraphile"].verdict() == "n/a"


def test_given_side_by_side_runs_when_charting_then_a_png_is_written(tmp_path: Any) -> None:
    pytest.importorskip("matplotlib")
    chart = tmp_path / "cpu.png"
    assert report.write_cpu_chart({"runs": _side_by_side()}, chart)
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert not report.write_cpu_chart({"runs": []}, tmp_path / "none.png")
    without_peer = [r for r in _side_by_side() if r["variant"] != peer.NAME]
    assert not report.write_cpu_chart({"runs": without_peer}, tmp_path / "sqlite.png")


def test_given_sqlite_when_preparing_the_peer_then_it_is_skipped_with_a_note(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    options = parse_options(["--out", str(tmp_path), "--variants", "floor,ours,postgraphile"])
    benchmark = Benchmark(options)

    benchmark._prepare_peer("sqlite+aiosqlite:///var/bench/bench.db")

    assert benchmark.options.variants == ("floor", "ours")
    assert benchmark.peer is not None
    assert "PostgreSQL" in benchmark.peer["skipped"]
    assert "[bench] postgraphile skipped: it serves PostgreSQL only" in capsys.readouterr().err


def _package(folder: Any, lock: str) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text('{"dependencies": {}}')
    (folder / "package-lock.json").write_text(lock)
    (folder / "server.js").write_text("// server")
    return folder


def test_given_a_changed_lock_when_installing_then_npm_ci_runs_once_per_lock(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []

    def fake_npm(command: list[str], *, cwd: Any, env: Any) -> str:
        commands.append(command)
        (cwd / "node_modules").mkdir(exist_ok=True)
        return ""

    monkeypatch.setattr(peer, "run_checked", fake_npm)
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    source = _package(tmp_path / "source", '{"lockfileVersion": 3}')
    notes: list[str] = []

    target = peer.install(tmp_path, notes.append, source)
    peer.install(tmp_path, notes.append, source)
    _package(source, '{"lockfileVersion": 3, "changed": true}')
    peer.install(tmp_path, notes.append, source)

    assert target == tmp_path / "var" / "bench" / peer.NAME
    assert [c[1] for c in commands] == ["ci", "ci"]
    assert "already installed" in notes[1]
    assert (target / "server.js").read_text() == "// server"
