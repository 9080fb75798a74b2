"""Automatic persisted queries in Redis: shared by every instance, expiring, and never a
reason for a request to fail.

Runs only when TEST_REDIS_URL is set, e.g. `TEST_REDIS_URL=redis://127.0.0.1:6379/14`.
Each test writes under its own key prefix (or its own documents) and deletes its keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from graph.persisted.stores import document_hash
from persistence.redis_stores import DOCUMENT_PREFIX, DOCUMENT_TTL_SECONDS, RedisDocumentStore
from tests.e2e.test_persisted_queries import persisted

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
if not REDIS_URL:
    pytest.skip(
        "needs TEST_REDIS_URL pointing to a Redis database, e.g. redis://127.0.0.1:6379/14",
        allow_module_level=True,
    )


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A plain client to inspect the keys."""
    client = Redis.from_url(REDIS_URL)
    await client.ping()
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix of this test's own, emptied afterwards."""
    name = f"test:{uuid.uuid4().hex}:"
    yield name
    keys = [key async for key in redis.scan_iter(match=f"{name}*")]
    if keys:
        await redis.delete(*keys)


async def test_given_two_instances_when_one_keeps_a_document_then_the_other_reads_it(
    prefix: str, redis: Redis
) -> None:
    writer, reader = (
        RedisDocumentStore(REDIS_URL, prefix=prefix),
        RedisDocumentStore(REDIS_URL, prefix=prefix),
    )
    try:
        await writer.put("a" * 64, "{ __typename }")

        assert await reader.get("a" * 64) == "{ __typename }"
        assert await reader.get("b" * 64) is None
        assert 0 < await redis.ttl(f"{prefix}{'a' * 64}") <= DOCUMENT_TTL_SECONDS
    finally:
        await writer.close()
        await reader.close()


async def test_given_two_apps_on_one_redis_when_one_keeps_a_document_then_the_other_knows_its_hash(
    settings: Settings, engine: AsyncEngine, redis: Redis
) -> None:
    # A document no other run has sent: the apps use the default prefix.
    document = f"query Shared{uuid.uuid4().hex} {{ __typename }}"
    shared = settings.model_copy(update={"redis_url": REDIS_URL})
    first, second = create_app(shared, engine=engine), create_app(shared, engine=engine)
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a") as a,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b") as b,
        ):
            unknown = await b.post("/graphql", json={"extensions": persisted(document)})
            body = {"query": document, "extensions": persisted(document)}
            await a.post("/graphql", json=body)
            known = await b.post("/graphql", json={"extensions": persisted(document)})

        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert known.json()["data"] == {"__typename": "Query"}
        assert await redis.get(DOCUMENT_PREFIX + document_hash(document)) == document.encode()
    finally:
        await redis.delete(DOCUMENT_PREFIX + document_hash(document))
        for app in (first, second):
            await app.state.services.limiter.close()
            await app.state.persisted.close()
