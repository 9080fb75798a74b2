"""Subscription counts and commit notifications shared through a real Redis.

Runs only when TEST_REDIS_URL is set, e.g. `TEST_REDIS_URL=redis://127.0.0.1:6379/14`.
Each test uses a key prefix of its own and deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from realtime.counts import RedisCounts

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
if not REDIS_URL:
    pytest.skip(
        "needs TEST_REDIS_URL pointing to a Redis database, e.g. redis://127.0.0.1:6379/14",
        allow_module_level=True,
    )

USER = 7


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def instances(prefix: str) -> AsyncIterator[Callable[..., RedisCounts]]:
    """Makes counters as separate instances would hold them; closed afterwards."""
    made: list[RedisCounts] = []

    def make(lease_seconds: float = 30.0) -> RedisCounts:
        made.append(RedisCounts(REDIS_URL, prefix=prefix, lease_seconds=lease_seconds))
        return made[-1]

    yield make
    for counts in made:
        await counts.close()


async def test_given_two_instances_when_a_user_subscribes_on_both_then_one_limit_counts_both(
    instances: Callable[..., RedisCounts],
) -> None:
    a, b = instances(), instances()
    assert await a.acquire(USER, 3)
    assert await b.acquire(USER, 3)
    assert await a.acquire(USER, 3)
    assert not await b.acquire(USER, 3)  # 3 held across the two
    assert not await a.acquire(USER, 3)
    assert await a.acquire(USER + 1, 3)  # another user has a count of their own
    await b.release(USER)
    assert await a.acquire(USER, 3)
    assert a.local.by_user == {USER: 3, USER + 1: 1}
    assert b.local.by_user == {}


async def test_given_an_instance_that_crashed_when_its_lease_ends_then_its_count_is_gone(
    instances: Callable[..., RedisCounts],
) -> None:
    crashed, survivor = instances(lease_seconds=0.5), instances(lease_seconds=0.5)
    assert await crashed.acquire(USER, 2)
    assert await crashed.acquire(USER, 2)
    await crashed.abandon()  # no release, no more renewals
    assert not await survivor.acquire(USER, 2)
    await asyncio.sleep(0.7)
    assert await survivor.acquire(USER, 2)
    assert await survivor.acquire(USER, 2)
    assert not await survivor.acquire(USER, 2)


async def test_given_a_live_instance_when_its_lease_is_renewed_then_its_count_stays(
    instances: Callable[..., RedisCounts],
) -> None:
    a, b = instances(lease_seconds=0.6), instances(lease_seconds=0.6)
    assert await a.acquire(USER, 1)
    await asyncio.sleep(1.2)  # two leases long: only the renewals keep it
    assert not await b.acquire(USER, 1)


async def test_given_a_release_lost_when_the_lease_is_renewed_then_the_count_is_corrected(
    instances: Callable[..., RedisCounts], prefix: str
) -> None:
    a, b = instances(), instances()
    assert await a.acquire(USER, 1)
    a.local.remove(USER)  # the subscription ended but its release never reached Redis
    a._stale.add(USER)
    assert not await b.acquire(USER, 1)
    await a.renew()
    assert await b.acquire(USER, 1)


async def test_given_an_instance_that_stops_then_its_counts_are_removed(
    instances: Callable[..., RedisCounts],
) -> None:
    a, b = instances(), instances()
    assert await a.acquire(USER, 1)
    await a.close()
    assert await b.acquire(USER, 1)
