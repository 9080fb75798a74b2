"""Two instances on one PostgreSQL database: notifications cross between them (LISTEN/
NOTIFY), cursors resume on either, and a logout on one ends subscriptions on the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from persistence.database import create_engine
from tests.conftest import GraphQLClient, token_for
from tests.e2e.live import serve
from tests.e2e.test_subscriptions import (
    CREATE_TASK,
    TASK_CHANGED,
    UPDATE_TASK,
    Raw,
    error_codes,
    subscribed,
)

pytestmark = pytest.mark.postgres_only


class Instance:
    """One app with its own engine, served by uvicorn."""

    def __init__(self, app: Any, base: str, http: httpx.AsyncClient) -> None:
        self.app = app
        self.ws = base.replace("http://", "ws://") + "/graphql"
        self.http = http

    def client(self, token: str) -> GraphQLClient:
        """GraphQL over HTTP to this instance."""
        return GraphQLClient(self.http, token)


@pytest.fixture
async def instances(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[tuple[Instance, Instance]]:
    """Instances A and B: separate processes in all but the event loop (no shared state)."""
    async with AsyncExitStack() as stack:
        found = []
        for _ in range(2):
            own_engine = create_engine(settings)
            stack.push_async_callback(own_engine.dispose)
            app = create_app(settings, engine=own_engine)
            base = await stack.enter_async_context(serve(app))
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=base))
            found.append(Instance(app, base, http))
        yield found[0], found[1]


async def test_given_a_subscriber_on_b_when_a_mutates_then_it_arrives_within_a_second(
    instances: tuple[Instance, Instance], superuser_id: int
) -> None:
    a, b = instances
    token = token_for(a.app, superuser_id)
    feed = await subscribed(b.ws, token)
    try:
        started = time.perf_counter()
        await a.client(token).ok(CREATE_TASK, {"input": {"title": "from A"}})
        (event,) = await feed.wait_for(1, timeout=1.0)
        elapsed = time.perf_counter() - started
    finally:
        await feed.close()
    assert event["taskChanged"]["task"]["title"] == "from A"
    assert elapsed < 1.0


async def test_given_b_lost_when_a_makes_50_changes_then_resuming_on_a_gives_exactly_those_50(
    instances: tuple[Instance, Instance], superuser_id: int
) -> None:
    a, b = instances
    token = token_for(a.app, superuser_id)
    on_a = a.client(token)
    feed = await subscribed(b.ws, token)
    created = await on_a.ok(CREATE_TASK, {"input": {"title": "t0"}})
    task_id = created["createTask"]["task"]["id"]
    (last_seen,) = await feed.wait_for(1)
    await feed.close()  # B's socket is gone

    for n in range(1, 51):
        await on_a.ok(UPDATE_TASK, {"id": task_id, "input": {"title": f"t{n}"}})
    resumed = await subscribed(a.ws, token, after=last_seen["taskChanged"]["cursor"])
    try:
        events = [e["taskChanged"] for e in await resumed.wait_for(50)]
        await asyncio.sleep(0.5)
    finally:
        await resumed.close()
    assert [e["task"]["title"] for e in events] == [f"t{n}" for n in range(1, 51)]
    assert len(resumed.events) == 50
    assert len({e["cursor"] for e in events}) == 50


async def test_given_a_subscription_on_b_when_its_token_logs_out_on_a_then_it_ends_unauthenticated(
    instances: tuple[Instance, Instance], superuser_id: int
) -> None:
    from websockets.asyncio.client import connect

    a, b = instances
    token = token_for(a.app, superuser_id)
    async with connect(b.ws, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        socket = Raw(ws)
        assert (await socket.init(token))["type"] == "connection_ack"
        await socket.subscribe("1", TASK_CHANGED)
        await asyncio.sleep(0.3)
        await a.client(token).ok("mutation { logout }")
        message = await socket.receive(timeout=2)
    assert error_codes(message) == ["UNAUTHENTICATED"]
