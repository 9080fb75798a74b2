"""Apollo Client's GraphQLWsLink (the `graphql-ws` package from npm) against the server:
connect with a bearer token, subscribe, receive the events of mutations made over HTTP.

Needs node and `npm ci` in tests/e2e/apollo (scripts/check and CI do it); skipped without.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GraphQLClient
from tests.e2e.servers import serve
from tests.e2e.test_subscriptions import CREATE_TASK

APOLLO = Path(__file__).with_name("apollo")


@pytest.fixture
async def live(app: Any) -> AsyncIterator[str]:
    """The app served by uvicorn; yields the WebSocket URL of /graphql."""
    async with serve(app) as base:
        yield base.replace("http://", "ws://") + "/graphql"


@pytest.fixture
def node() -> str:
    """The node binary, with the npm packages installed."""
    binary = shutil.which("node")
    if binary is None or not (APOLLO / "node_modules" / "@apollo" / "client").exists():
        pytest.skip("node and `npm ci` in tests/e2e/apollo are needed")
    return binary


async def test_given_apollo_graphql_ws_link_when_tasks_are_created_then_it_receives_both(
    node: str, live: str, gql: GraphQLClient
) -> None:
    process = await asyncio.create_subprocess_exec(
        node,
        str(APOLLO / "subscribe.mjs"),
        live,
        gql.token or "",
        "2",
        cwd=APOLLO,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        first = json.loads(await asyncio.wait_for(process.stdout.readline(), 20))
        assert first == {"connected": True}
        await asyncio.sleep(0.5)  # the subscribe message reaches the server
        await gql.ok(CREATE_TASK, {"input": {"title": "one"}})
        await gql.ok(CREATE_TASK, {"input": {"title": "two"}})
        lines = [
            json.loads(await asyncio.wait_for(process.stdout.readline(), 10)) for _ in range(2)
        ]
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert [line["taskChanged"]["task"]["title"] for line in lines] == ["one", "two"]
    assert [line["taskChanged"]["action"] for line in lines] == ["CREATED", "CREATED"]
