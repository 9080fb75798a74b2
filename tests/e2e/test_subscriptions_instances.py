"""Two instances on one PostgreSQL database: notifications cross between them (LISTEN/
NOTIFY, or Redis pub/sub with `SUBSCRIPTION_BROKER=redis`), cursors resume on either, a
logout on one ends subscriptions on the other, and with Redis the per-user limit counts
both instances.

The Redis tests run only when TEST_REDIS_URL is set, e.g. redis://127.0.0.1:6379/13."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from persistence.database import create_engine
from tests.conftest import GraphQLClient, token_for
from tests.e2e.servers import serve
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


REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL")


@asynccontextmanager
async def two_instances(settings: Settings) -> AsyncIterator[tuple[Instance, Instance]]:
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


@pytest.fixture
async def instances(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[tuple[Instance, Instance]]:
    """Two instances on PostgreSQL NOTIFY."""
    async with two_instances(settings) as pair:
        yield pair


@pytest.fixture
async def redis_instances(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[tuple[Instance, Instance]]:
    """Two instances sharing Redis: its pub/sub carries the notifications, it counts the
    per-user limit (2 here)."""
    shared = settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            "subscription_broker": "redis",
            "subscription_max_per_user": 2,
            # The catch-up timer must not be what delivers within the test's second.
            "subscription_catch_up_seconds": 60,
        }
    )
    async with two_instances(shared) as pair:
        yield pair


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


@needs_redis
async def test_given_redis_pub_sub_when_a_mutates_then_a_subscriber_on_b_gets_it_within_a_second(
    redis_instances: tuple[Instance, Instance], superuser_id: int
) -> None:
    a, b = redis_instances
    assert type(b.app.state.realtime.listener).__name__ == "RedisBroker"
    token = token_for(a.app, superuser_id)
    feed = await subscribed(b.ws, token)
    try:
        started = time.perf_counter()
        await a.client(token).ok(CREATE_TASK, {"input": {"title": "over Redis"}})
        (event,) = await feed.wait_for(1, timeout=1.0)
        elapsed = time.perf_counter() - started
    finally:
        await feed.close()
    assert event["taskChanged"]["task"]["title"] == "over Redis"
    assert elapsed < 1.0


@needs_redis
async def test_given_redis_pub_sub_when_a_token_logs_out_on_a_then_its_subscription_on_b_ends(
    redis_instances: tuple[Instance, Instance], superuser_id: int
) -> None:
    from websockets.asyncio.client import connect

    a, b = redis_instances
    token = token_for(a.app, superuser_id)
    async with connect(b.ws, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        socket = Raw(ws)
        assert (await socket.init(token))["type"] == "connection_ack"
        await socket.subscribe("1", TASK_CHANGED)
        await asyncio.sleep(0.3)
        await a.client(token).ok("mutation { logout }")
        message = await socket.receive(timeout=2)
    assert error_codes(message) == ["UNAUTHENTICATED"]


@needs_redis
async def test_given_redis_when_a_user_holds_the_limit_across_instances_then_one_more_is_refused(
    redis_instances: tuple[Instance, Instance], superuser_id: int
) -> None:
    from websockets.asyncio.client import connect

    a, b = redis_instances
    token = token_for(a.app, superuser_id)
    query = "subscription { productChanged { action } }"
    async with (
        connect(a.ws, subprotocols=["graphql-transport-ws"]) as on_a,  # type: ignore[list-item]
        connect(b.ws, subprotocols=["graphql-transport-ws"]) as on_b,  # type: ignore[list-item]
    ):
        first, second = Raw(on_a), Raw(on_b)
        assert (await first.init(token))["type"] == "connection_ack"
        assert (await second.init(token))["type"] == "connection_ack"
        await first.subscribe("1", query)
        await second.subscribe("1", query)
        await asyncio.sleep(0.3)
        await first.subscribe("2", query)  # the third of the user's: refused on A
        refused = await first.receive()
        await second.send({"id": "1", "type": "complete"})  # one ends on B
        await asyncio.sleep(0.3)
        await first.subscribe("3", query)  # fits again
        await asyncio.sleep(0.3)
        held = {
            "a": dict(a.app.state.realtime.connections.counts.local.by_user),
            "b": dict(b.app.state.realtime.connections.counts.local.by_user),
        }
    assert refused["id"] == "2"
    assert error_codes(refused) == ["TOO_MANY_REQUESTS"]
    assert refused["payload"]["errors"][0]["extensions"]["scope"] == "user"
    assert held == {"a": {superuser_id: 2}, "b": {}}
