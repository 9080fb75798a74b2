"""`uvicorn --workers 2` on one machine: writes from both workers, one set of metrics.

On PostgreSQL (when TEST_DATABASE_URL points to it) and on a SQLite file. On SQLite each
worker has its own in-process writer gate; SQLite's file lock and busy timeout then order
the two workers' writers, which the concurrent writes here go through.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.servers import ADMIN, PASSWORD, ROOT, SMALL, Api, seeded_database, server_env
from tests.e2e.servers import servers as start_servers

WRITES = 30
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}"""
CREATE = """
mutation WorkerCreate($input: CreateProductInput!) {
  createProduct(input: $input) { product { sku } }
}"""
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres_only)]


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A seeded database of the test's own: a SQLite file, or PostgreSQL."""
    on_postgres = request.param == "postgresql"
    async with seeded_database(tmp_path, *SMALL, prefix="workers", on_postgres=on_postgres) as url:
        yield url


def _total(metrics_text: str, family: str, **labels: str) -> float:
    """The sum of a family's samples whose labels include `labels`."""
    return sum(
        sample.value
        for parsed in text_string_to_metric_families(metrics_text)
        if parsed.name == family
        for sample in parsed.samples
        if sample.name == f"{family}_total" and labels.items() <= sample.labels.items()
    )


async def test_given_two_workers_when_writes_race_then_all_commit_the_chain_holds_metrics_sum(
    database_url: str, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = server_env(database_url, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    async with start_servers(env, 1, "--workers", "2") as (server,):
        api = Api(server.base_url, "10.9.9.9")
        token = (await api.ok(LOGIN, {"email": ADMIN, "password": PASSWORD}))["login"]
        api = api.as_token(token["accessToken"])

        bodies = await asyncio.gather(
            *(
                api(CREATE, {"input": {"sku": f"W-{n}", "name": "Worker", "price": "1.00"}})
                for n in range(WRITES)
            )
        )
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            scrapes = [(await http.get("/metrics")).text for _ in range(6)]

    assert all("errors" not in body for body in bodies), bodies
    # Every scrape, whichever worker answers it, sums both workers' counts.
    totals = {_total(text, "graphql_operations", name="WorkerCreate") for text in scrapes}
    assert totals == {WRITES}
    pids = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}
    assert len(pids) >= 2, pids
    assert await _chain_verifies(database_url)


async def _chain_verifies(database_url: str) -> bool:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "audit.verify"),
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.communicate(), 60)
    return process.returncode == 0
