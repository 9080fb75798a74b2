"""Issue 10, defect 8: draining is visible to a load balancer, and shutdown answers no 500.

A real uvicorn process (tests/e2e/servers.py) on a file SQLite database (or a PostgreSQL
database of its own when TEST_DATABASE_URL is set). Another client holds the products table
for writing, so that `createProduct` requests wait inside the server for as long as the test
decides.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ON_POSTGRES
from tests.e2e.servers import (
    ADMIN,
    PASSWORD,
    SMALL,
    Server,
    running_server,
    seeded_database,
    server_env,
)

DRAIN_SECONDS = 2.0
GRACE_SECONDS = 1  # uvicorn takes whole seconds

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}"""
CREATE = """
mutation Create($input: CreateProductInput!) { createProduct(input: $input) { product { sku } } }
"""
PRODUCTS = "{ products(first: 1) { totalCount } }"


class WriteBlocker(Protocol):
    """Another client that can hold the products table so that inserts wait."""

    async def hold(self) -> None: ...
    async def release(self) -> None: ...
    async def skus(self) -> set[str]: ...
    async def close(self) -> None: ...


class SqliteBlocker:
    """SQLite's one write lock, held by a second connection (WAL: readers carry on)."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)

    async def hold(self) -> None:
        await asyncio.to_thread(self.conn.execute, "BEGIN IMMEDIATE")

    async def release(self) -> None:
        await asyncio.to_thread(self.conn.execute, "ROLLBACK")

    async def skus(self) -> set[str]:
        rows = await asyncio.to_thread(self.conn.execute, "SELECT sku FROM products")
        return {row[0] for row in rows.fetchall()}

    async def close(self) -> None:
        self.conn.close()


class PostgresBlocker:
    """A transaction holding `products` in EXCLUSIVE mode: plain reads pass, inserts wait."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def hold(self) -> None:
        await self.conn.execute("BEGIN")
        await self.conn.execute("LOCK TABLE products IN EXCLUSIVE MODE")

    async def release(self) -> None:
        await self.conn.execute("ROLLBACK")

    async def skus(self) -> set[str]:
        return {row["sku"] for row in await self.conn.fetch("SELECT sku FROM products")}

    async def close(self) -> None:
        await self.conn.close()


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, seeded database of this test's own: a SQLite file, or PostgreSQL."""
    async with seeded_database(tmp_path, "--no-demo-users", *SMALL, prefix="test_drain") as url:
        yield url


@pytest.fixture
async def blocker(database_url: str) -> AsyncIterator[WriteBlocker]:
    """A second client of the server's database."""
    held: WriteBlocker
    if ON_POSTGRES:
        dsn = make_url(database_url).set(drivername="postgresql")
        held = PostgresBlocker(await asyncpg.connect(dsn.render_as_string(hide_password=False)))
    else:
        held = SqliteBlocker(str(make_url(database_url).database))
    yield held
    await held.close()


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[Server]:
    """A running server with a drain and a short grace; killed if the test fails."""
    env = server_env(
        database_url,
        shutdown_drain_seconds=str(DRAIN_SECONDS),
        database_lock_timeout_ms="20000",
    )
    async with running_server(env, grace_seconds=GRACE_SECONDS, graceful=False) as started:
        yield started


async def _create(api: httpx.AsyncClient, sku: str) -> httpx.Response:
    variables = {"input": {"sku": sku, "name": "Drained", "price": "1.00"}}
    return await api.post("/graphql", json={"query": CREATE, "variables": variables})


def _outcome(response: httpx.Response | BaseException) -> str:
    """'committed', 'unavailable', or what went wrong."""
    if isinstance(response, BaseException):
        return repr(response)
    if response.status_code == 200 and response.json().get("data"):
        return "committed"
    if response.status_code == 503:
        codes = [error["extensions"]["code"] for error in response.json()["errors"]]
        if codes == ["SERVICE_UNAVAILABLE"]:
            return "unavailable"
    return f"{response.status_code}: {response.text[:200]}"


async def _login(base_url: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as anonymous:
        variables = {"email": ADMIN, "password": PASSWORD}
        login = await anonymous.post("/graphql", json={"query": LOGIN, "variables": variables})
    return {"Authorization": f"Bearer {login.json()['data']['login']['accessToken']}"}


async def test_given_slow_requests_when_sigterm_arrives_then_readiness_503_while_serving_and_no_500(
    server: Server, blocker: WriteBlocker
) -> None:
    loop = asyncio.get_running_loop()
    api = httpx.AsyncClient(
        base_url=server.base_url, headers=await _login(server.base_url), timeout=15
    )
    # The load balancer's health check: its own connection, polling readiness.
    watcher = httpx.AsyncClient(base_url=server.base_url, timeout=1)
    readiness: list[tuple[float, int]] = []

    async def watch(since: float) -> None:
        while True:
            try:
                response = await watcher.get("/readyz")
            except httpx.TransportError:
                return  # the listener closed: the graceful stop began
            readiness.append((loop.time() - since, response.status_code))
            await asyncio.sleep(0.05)

    try:
        # Given a mutation waiting for the table inside the server
        await blocker.hold()
        finishing = asyncio.create_task(_create(api, "DRAIN-DONE"))
        await asyncio.sleep(0.5)

        # When SIGTERM arrives
        server.process.send_signal(signal.SIGTERM)
        signalled = loop.time()
        await asyncio.sleep(0.1)

        # Then readiness says 503 while requests are still served...
        assert (await watcher.get("/readyz")).status_code == 503
        watching = asyncio.create_task(watch(signalled))
        assert (await api.post("/graphql", json={"query": PRODUCTS})).status_code == 200
        # ...the waiting mutation commits and answers...
        await blocker.release()
        assert _outcome(await finishing) == "committed", server.log
        # ...and mutations that start during the drain wait past the grace, and are cut off.
        await blocker.hold()
        assert (await api.post("/graphql", json={"query": PRODUCTS})).status_code == 200
        # On SQLite that query's access record now waits inside SQLite, holding the server's
        # write gate, so the mutations queue at the gate: a statement cancelled inside
        # aiosqlite would keep the write lock until its cursor is garbage-collected.
        await asyncio.sleep(0.3)
        cut_off = [asyncio.create_task(_create(api, f"DRAIN-CUT-{n}")) for n in range(3)]
        await server.logged("timeout graceful shutdown exceeded")
        await blocker.release()
        answers = await asyncio.gather(*cut_off, return_exceptions=True)
        log = await server.exited()
        await asyncio.wait_for(watching, 5)
    finally:
        await api.aclose()
        await watcher.aclose()

    assert [_outcome(answer) for answer in answers] == ["unavailable"] * 3, log
    # Readiness answered 503 from the signal until the listener closed, after the drain.
    assert all(status == 503 for _, status in readiness), readiness
    assert readiness[-1][0] >= DRAIN_SECONDS - 0.5, readiness
    # The committed mutation landed, the cut-off ones rolled back.
    skus = await blocker.skus()
    assert "DRAIN-DONE" in skus
    assert not {sku for sku in skus if sku.startswith("DRAIN-CUT")}
    # uvicorn re-raises the signal after a clean shutdown, so supervisors see SIGTERM.
    assert server.process.returncode in (0, -signal.SIGTERM), log
    assert "Application shutdown complete" in log
    assert "Exception in ASGI application" not in log
    assert "Traceback" not in log


@pytest.mark.postgres_only
async def test_given_a_commit_under_way_when_the_grace_ends_then_it_answers_its_result(
    server: Server, blocker: WriteBlocker
) -> None:
    assert isinstance(blocker, PostgresBlocker)
    headers = await _login(server.base_url)
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=15) as api:
        # Given a mutation past its INSERT, committing: its audit row waits for the table
        await blocker.conn.execute("BEGIN")
        await blocker.conn.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
        committing = asyncio.create_task(_create(api, "DRAIN-COMMITTING"))
        await asyncio.sleep(0.5)

        # When SIGTERM arrives and the grace ends while it still waits
        server.process.send_signal(signal.SIGTERM)
        await server.logged("timeout graceful shutdown exceeded")
        await blocker.conn.execute("ROLLBACK")
        answer = await committing
        log = await server.exited()

    # Then its commit finished and its client got the result: no 500, no false 503
    assert _outcome(answer) == "committed", log
    assert "DRAIN-COMMITTING" in await blocker.skus()
    assert server.process.returncode in (0, -signal.SIGTERM), log
    assert "Traceback" not in log
