"""The CPU time of a server's PostgreSQL backends: finding its connections in /proc,
and attributing each backend's growth over a measured window."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bench import backends, procfs, rounds
from bench.backends import Backend
from bench.procfs import CpuTimes, TcpSocket
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL

NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 9735 1
   1: 0100007F:D431 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 5001 1
   2: 0100007F:D432 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 5002 1
   3: 0100007F:D433 0100007F:1538 06 00000000:00000000 00:00000000 00000000     0        0 5003 1
   4: 0100007F:D434 0100007F:18EB 01 00000000:00000000 00:00000000 00000000     0        0 5004 1
"""


def test_given_a_socket_table_when_parsing_then_ports_state_and_inode_are_read() -> None:
    sockets = procfs.parse_net_tcp(NET_TCP)

    assert sockets[0] == TcpSocket(local_port=5432, remote_port=0, state="0A", inode=9735)
    assert sockets[1] == TcpSocket(local_port=0xD431, remote_port=5432, state="01", inode=5001)
    assert len(sockets) == 5


def test_given_sockets_when_choosing_then_only_the_process_connections_to_the_port_count() -> None:
    sockets = procfs.parse_net_tcp(NET_TCP)
    # 5003 is in TIME_WAIT (06), 5004 goes to another port, 5002 belongs to someone else.
    inodes = {5001, 5003, 5004, 9735}

    assert procfs.client_ports(sockets, inodes, 5432) == {0xD431}


@pytest.mark.parametrize(
    ("link", "inode"),
    [("socket:[5001]", 5001), ("pipe:[12]", None), ("/dev/null", None), ("anon_inode:[x]", None)],
)
def test_given_a_descriptor_link_when_reading_then_only_sockets_give_an_inode(
    link: str, inode: int | None
) -> None:
    assert procfs.socket_inode(link) == inode


def _process(proc: Path, pid: int, ppid: int, links: list[str]) -> None:
    folder = proc / str(pid)
    (folder / "fd").mkdir(parents=True)
    (folder / "stat").write_text(f"{pid} (python3 x) S {ppid} 1 1 0 -1 0 0 0 0 0 700 300 0 0\n")
    for number, link in enumerate(links):
        os.symlink(link, folder / "fd" / str(number))


def test_given_a_process_tree_when_finding_database_ports_then_children_count_too(
    tmp_path: Path,
) -> None:
    _process(tmp_path, 100, 1, ["/dev/null", "socket:[5001]"])
    _process(tmp_path, 101, 100, ["socket:[5004]"])
    _process(tmp_path, 200, 1, ["socket:[5002]"])
    (tmp_path / "100" / "net").mkdir()
    (tmp_path / "100" / "net" / "tcp").write_text(NET_TCP)
    lines = NET_TCP.splitlines()
    child_line = lines[5].replace("0100007F:18EB", "0100007F:1538")
    (tmp_path / "100" / "net" / "tcp6").write_text("\n".join([lines[0], child_line]))

    assert procfs.database_client_ports(100, 5432, tmp_path) == {0xD431, 0xD434}
    assert procfs.process_cpu(100, tmp_path) == CpuTimes(7.0, 3.0)
    assert procfs.process_cpu(999, tmp_path) is None


def test_given_two_samples_when_attributing_then_growth_and_new_backends_are_summed() -> None:
    kept, replaced = Backend(10, "2026-12-03 10:00"), Backend(11, "2026-12-03 10:00")
    reused_pid = Backend(11, "2026-12-03 10:05")  # pid 11 again, a new connection
    before = {kept: CpuTimes(1.0, 0.5), replaced: CpuTimes(9.0, 9.0)}
    after = {kept: CpuTimes(1.5, 0.75), reused_pid: CpuTimes(0.25, 0.125)}

    total = backends.attribute(before, after)

    assert total == CpuTimes(0.75, 0.375)
    assert backends.attribute(None, after) is None
    assert backends.attribute(before, None) is None
    assert backends.attribute({}, {}) == CpuTimes(0.0, 0.0)


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/bench", 5432),
        ("postgresql+asyncpg://postgres@127.0.0.1:6543/bench", 6543),
        ("postgresql+asyncpg://postgres@localhost/bench", 5432),
        ("sqlite+aiosqlite:///var/bench/bench.db", None),
    ],
)
def test_given_a_database_url_when_asking_its_port_then_only_postgresql_has_one(
    url: str, port: int | None
) -> None:
    assert backends.database_port(url) == port


def test_given_sqlite_when_making_a_monitor_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        backends.BackendMonitor("sqlite+aiosqlite:///var/bench/bench.db")


def _measurement(round_index: int, backend_cpu: float | None) -> dict[str, Any]:
    return {
        "variant": "ours",
        "operation": "Q1",
        "key": "Q1",
        "page_size": 100,
        "data_set": "main",
        "concurrency": 4,
        "tool": "wrk",
        "round": round_index,
        "duration_s": 2.0,
        "requests": 100,
        "errors": 0,
        "server_requests": 100,
        "requests_per_s": 50.0,
        "latency_ms": {"p50_ms": 1.0},
        "cpu_ms_per_request": 2.0,
        "cpu_user_ms_per_request": 1.5,
        "backend_cpu_ms_per_request": backend_cpu,
        "total_cpu_ms_per_request": 2.0 + (backend_cpu or 0.0),
        "statements_over_run": {},
        "probe_requests": 1,
        "statements_per_request": {},
        "statement_kinds_per_request": {},
    }


def test_given_rounds_with_and_without_database_cpu_when_combining_then_medians_skip_none() -> None:
    on_postgres = rounds.combine([_measurement(0, 1.0), _measurement(1, 3.0)])
    on_sqlite = rounds.combine([_measurement(0, None), _measurement(1, None)])

    assert on_postgres["backend_cpu_ms_per_request"] == 2.0
    assert on_postgres["total_cpu_ms_per_request"] == 4.0
    assert on_sqlite["backend_cpu_ms_per_request"] is None
    assert on_sqlite["total_cpu_ms_per_request"] == 2.0
    assert rounds.paired(on_postgres, on_sqlite, "total_cpu_ms_per_request") is not None
    assert rounds.paired(on_postgres, on_sqlite, "backend_cpu_ms_per_request") is None


CLIENT = """
import asyncio, sys
import asyncpg

async def main():
    connection = await asyncpg.connect(sys.argv[1])
    print(await connection.fetchval("SELECT pg_backend_pid()"), flush=True)
    sys.stdin.readline()
    await connection.fetchval("SELECT count(*) FROM generate_series(1, 3000000)")
    print("done", flush=True)
    sys.stdin.readline()
    await connection.close()

asyncio.run(main())
"""


@pytest.mark.postgres_only
@pytest.mark.skipif(not ON_POSTGRES, reason="needs TEST_DATABASE_URL pointing to PostgreSQL")
def test_given_a_process_with_a_connection_when_sampling_then_its_backend_and_cpu_are_found() -> (
    None
):
    dsn = make_url(TEST_DATABASE_URL).set(drivername="postgresql")
    client = subprocess.Popen(  # noqa: S603 - our own arguments
        [sys.executable, "-c", CLIENT, dsn.render_as_string(hide_password=False)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    monitor = backends.BackendMonitor(TEST_DATABASE_URL)
    try:
        assert client.stdout is not None
        assert client.stdin is not None
        backend_pid = int(client.stdout.readline())
        before = monitor.sample(client.pid)
        client.stdin.write("go\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "done"
        after = monitor.sample(client.pid)

        assert before is not None
        assert after is not None
        # Only the client's backend: not the monitor's own connection, nor any other.
        assert [backend.pid for backend in after] == [backend_pid]
        spent = backends.attribute(before, after)
        assert spent is not None
        assert spent.total_s > 0
    finally:
        monitor.close()
        if client.stdin is not None:
            client.stdin.close()
        client.wait(10)
