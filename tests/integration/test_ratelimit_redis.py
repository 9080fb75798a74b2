"""Token buckets on a real Redis, shared by several store instances (several servers).

Runs only when TEST_REDIS_URL is set, e.g. `TEST_REDIS_URL=redis://127.0.0.1:6379/15`.
Each test writes under its own key prefix (or client IP) and deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from persistence.redis_stores import BUCKET_PREFIX, RedisBucketStore
from tests.conftest import GraphQLClient

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
if not REDIS_URL:
    pytest.skip(
        "needs TEST_REDIS_URL pointing to a Redis database, e.g. redis://127.0.0.1:6379/15",
        allow_module_level=True,
    )

# Slow enough that nothing refills noticeably during a test: one token per 60 seconds.
CAPACITY = 5
SLOW = 1 / 60

StoreFactory = Callable[[], RedisBucketStore]


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own."""
    return f"test:{uuid.uuid4().hex}:"


async def delete_matching(client: Redis, pattern: str) -> None:
    """Delete every key that matches `pattern`."""
    keys = [key async for key in client.scan_iter(match=pattern)]
    if keys:
        await client.delete(*keys)


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    """A plain client to inspect the keys; deletes the test's keys afterwards."""
    client = Redis.from_url(REDIS_URL)
    await client.ping()
    try:
        yield client
    finally:
        await delete_matching(client, f"{prefix}*")
        await client.aclose()


@pytest.fixture
async def new_store(prefix: str, redis: Redis) -> AsyncIterator[StoreFactory]:
    """Makes stores on the test's prefix, as separate server instances would; closes them."""
    stores: list[RedisBucketStore] = []

    def make() -> RedisBucketStore:
        store = RedisBucketStore(REDIS_URL, prefix=prefix)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


# ---------------------------------------------------------------- one instance


async def test_given_a_new_key_when_taking_up_to_capacity_then_all_pass_and_the_next_waits(
    new_store: StoreFactory,
) -> None:
    store = new_store()

    answers = [await store.take("k", 1, CAPACITY, SLOW) for _ in range(CAPACITY)]
    wait = await store.take("k", 1, CAPACITY, SLOW)

    assert answers == [0.0] * CAPACITY
    assert 59 < wait <= 60


async def test_given_a_spent_bucket_when_time_passes_then_tokens_come_back_at_the_rate(
    new_store: StoreFactory,
) -> None:
    store = new_store()
    fast = 10.0  # tokens per second
    assert await store.take("k", 2, 2, fast) == 0.0
    assert await store.take("k", 1, 2, fast) > 0

    await asyncio.sleep(0.25)

    assert await store.take("k", 2, 2, fast) == 0.0


async def test_given_an_amount_above_capacity_when_taken_then_never_and_no_key_is_written(
    new_store: StoreFactory, redis: Redis, prefix: str
) -> None:
    store = new_store()

    assert await store.take("k", CAPACITY + 1, CAPACITY, SLOW) == math.inf
    assert await redis.exists(f"{prefix}k") == 0


async def test_given_a_take_when_written_then_the_key_expires_when_the_bucket_is_full_again(
    new_store: StoreFactory, redis: Redis, prefix: str
) -> None:
    store = new_store()

    await store.take("slow", 2, CAPACITY, SLOW)
    await store.take("fast", 1, 2, 10.0)

    # 2 tokens at one per minute refill in 120 seconds; 1 token at ten per second in 0.1.
    assert 119_000 < await redis.pttl(f"{prefix}slow") <= 120_000
    assert 0 < await redis.pttl(f"{prefix}fast") <= 100
    await asyncio.sleep(0.2)
    assert await redis.exists(f"{prefix}fast") == 0


async def test_given_20_concurrent_takes_when_capacity_is_5_then_exactly_5_pass(
    new_store: StoreFactory,
) -> None:
    store = new_store()

    answers = await asyncio.gather(*(store.take("burst", 1, CAPACITY, SLOW) for _ in range(20)))

    assert answers.count(0.0) == CAPACITY
    assert all(answer > 0 for answer in answers if answer != 0.0)


# ---------------------------------------------------------------- two instances


async def test_given_two_instances_when_each_takes_then_they_share_one_bucket(
    new_store: StoreFactory,
) -> None:
    first, second = new_store(), new_store()

    for number in range(CAPACITY):
        assert await (first if number % 2 else second).take("k", 1, CAPACITY, SLOW) == 0.0

    assert await first.take("k", 1, CAPACITY, SLOW) > 0
    assert await second.take("k", 1, CAPACITY, SLOW) > 0
    assert await second.take("other", 1, CAPACITY, SLOW) == 0.0


async def test_given_two_instances_racing_when_capacity_is_5_then_exactly_5_pass_in_all(
    new_store: StoreFactory,
) -> None:
    first, second = new_store(), new_store()

    answers = await asyncio.gather(
        *((first if n % 2 else second).take("race", 1, CAPACITY, SLOW) for n in range(20))
    )

    assert answers.count(0.0) == CAPACITY


# ---------------------------------------------------------------- two apps over HTTP


@pytest.fixture
async def client_ip() -> AsyncIterator[str]:
    """A client IP of this test's own; its rate-limit keys go afterwards."""
    ip = "10." + ".".join(str(b) for b in secrets.token_bytes(3))
    client = Redis.from_url(REDIS_URL)
    try:
        yield ip
    finally:
        await delete_matching(client, f"{BUCKET_PREFIX}*:ip:{ip}")
        await client.aclose()


async def post_from(app: Any, ip: str) -> dict[str, Any]:
    """One anonymous `{ __typename }` from `ip`; the whole JSON body."""
    transport = httpx.ASGITransport(app=app, client=(ip, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await GraphQLClient(http)("{ __typename }")


async def test_given_two_apps_on_one_redis_when_requests_split_then_the_limit_is_shared(
    settings: Settings, engine: AsyncEngine, client_ip: str
) -> None:
    shared = settings.model_copy(
        update={"redis_url": REDIS_URL, "rate_limit_requests_per_minute": 3}
    )
    instances = [create_app(shared, engine=engine), create_app(shared, engine=engine)]
    try:
        passed = [await post_from(instances[n % 2], client_ip) for n in range(3)]
        refused = [await post_from(app, client_ip) for app in instances]
    finally:
        for app in instances:
            await app.state.services.limiter.close()

    assert all("errors" not in body for body in passed)
    assert [body["errors"][0]["extensions"]["code"] for body in refused] == [
        "TOO_MANY_REQUESTS",
        "TOO_MANY_REQUESTS",
    ]
