"""Login throttling on a real Redis, shared by several counter instances (several servers).

Runs only when TEST_REDIS_URL is set, e.g. `TEST_REDIS_URL=redis://127.0.0.1:6379/15`.
Each test writes under its own key prefix and deletes it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from auth.throttle import LoginThrottle, RedisFailureCounter, ThrottlePolicy
from domain.errors import TooManyRequests

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
if not REDIS_URL:
    pytest.skip(
        "needs TEST_REDIS_URL pointing to a Redis database, e.g. redis://127.0.0.1:6379/15",
        allow_module_level=True,
    )

# Long enough that a slow run never sees a failure expire mid-test.
WINDOW = 30
# Short enough to wait out; used only by the tests about expiry.
SHORT_WINDOW = 2
EMAIL = "alice@example.com"
IP = "203.0.113.7"

CounterFactory = Callable[[], RedisFailureCounter]


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own."""
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    """A plain client to inspect the keys; deletes the test's keys afterwards."""
    client = Redis.from_url(REDIS_URL)
    await client.ping()
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def new_counter(prefix: str, redis: Redis) -> AsyncIterator[CounterFactory]:
    """Makes counters on the test's prefix, as separate server instances would; closes them."""
    counters: list[RedisFailureCounter] = []

    def make() -> RedisFailureCounter:
        counter = RedisFailureCounter(REDIS_URL, prefix=prefix)
        counters.append(counter)
        return counter

    yield make
    for counter in counters:
        await counter.close()


def throttle_on(counter: RedisFailureCounter, window: int = WINDOW) -> LoginThrottle:
    """The default limits (5 per email, 20 per IP) in a short window."""
    return LoginThrottle(counter, ThrottlePolicy(window_seconds=window))


async def fail(
    throttle: LoginThrottle, times: int, *, email: str = EMAIL, ip: str | None = IP
) -> None:
    """Make `times` login attempts that fail: begun, never passed."""
    for _ in range(times):
        await throttle.begin(email, ip)


async def succeed(throttle: LoginThrottle, email: str, ip: str | None = None) -> None:
    """Make one login attempt that succeeds."""
    await throttle.passed(await throttle.begin(email, ip))


async def prefixed_keys(redis: Redis, prefix: str) -> list[str]:
    """The test's keys in Redis, decoded."""
    return [key.decode() async for key in redis.scan_iter(match=f"{prefix}*")]


# ---------------------------------------------------------------- one instance


async def test_given_4_failures_when_the_5th_is_counted_then_blocked_until_the_window_passes(
    new_counter: CounterFactory,
) -> None:
    throttle = throttle_on(new_counter(), SHORT_WINDOW)
    await fail(throttle, 4)

    await throttle.begin(EMAIL, IP)
    with pytest.raises(TooManyRequests) as caught:
        await throttle.begin(EMAIL, IP)

    seconds = caught.value.details["retryAfter"]
    assert isinstance(seconds, int)
    assert 1 <= seconds <= SHORT_WINDOW
    await asyncio.sleep(SHORT_WINDOW + 0.2)
    await throttle.begin(EMAIL, IP)


async def test_given_attempts_up_to_the_limit_when_one_more_comes_then_refused_with_time_left(
    new_counter: CounterFactory,
) -> None:
    counter = new_counter()
    first, wait = await counter.attempt("k", WINDOW, 2)
    assert first is not None
    assert wait == 0.0
    assert (await counter.attempt("k", WINDOW, 2))[0] is not None

    refused, time_left = await counter.attempt("k", WINDOW, 2)

    assert refused is None
    assert WINDOW - 5 < time_left <= WINDOW


async def test_given_failures_in_quick_succession_when_counted_then_none_collapse(
    new_counter: CounterFactory,
) -> None:
    # Sorted-set members must be unique even when recorded within the same microsecond.
    counter = new_counter()

    await asyncio.gather(*(counter.attempt("burst", WINDOW, 100) for _ in range(10)))

    assert (await counter.attempt("burst", WINDOW, 10))[0] is None
    assert (await counter.attempt("burst", WINDOW, 11))[0] is not None


async def test_given_a_failure_when_recorded_then_its_key_expires_with_the_window(
    new_counter: CounterFactory, redis: Redis, prefix: str
) -> None:
    counter = new_counter()

    await counter.attempt("k", SHORT_WINDOW, 5)

    assert 0 < await redis.ttl(f"{prefix}k") <= SHORT_WINDOW
    await asyncio.sleep(SHORT_WINDOW + 0.2)
    assert await redis.exists(f"{prefix}k") == 0


async def test_given_20_failures_from_one_ip_across_emails_when_checked_then_the_ip_is_blocked(
    new_counter: CounterFactory,
) -> None:
    throttle = throttle_on(new_counter())
    for number in range(20):
        await fail(throttle, 1, email=f"user{number}@example.com")

    with pytest.raises(TooManyRequests):
        await throttle.begin("fresh@example.com", IP)
    await throttle.begin("fresh@example.com", "198.51.100.1")


async def test_given_failures_when_a_login_succeeds_then_the_email_resets_but_not_the_ip(
    new_counter: CounterFactory,
) -> None:
    throttle = throttle_on(new_counter())
    for number in range(16):
        await fail(throttle, 1, email=f"user{number}@example.com")
    await fail(throttle, 4)

    await succeed(throttle, EMAIL)

    await throttle.begin(EMAIL, "198.51.100.1")
    with pytest.raises(TooManyRequests):
        await throttle.begin(EMAIL, IP)


async def test_given_an_email_when_counted_then_no_redis_key_contains_the_address(
    new_counter: CounterFactory, redis: Redis, prefix: str
) -> None:
    throttle = throttle_on(new_counter())

    await fail(throttle, 1, email=" Secret.Person@Example.com ")

    keys = await prefixed_keys(redis, prefix)
    assert len(keys) == 2, keys  # one for the email, one for the IP
    assert all("secret.person" not in key.lower() and "@" not in key for key in keys)
    assert f"{prefix}ip:{IP}" in keys


# ---------------------------------------------------------------- two instances


async def test_given_two_instances_when_each_counts_failures_then_both_see_the_sum(
    new_counter: CounterFactory,
) -> None:
    first, second = throttle_on(new_counter()), throttle_on(new_counter())

    await fail(first, 3)
    await fail(second, 2)

    for instance in (first, second):
        with pytest.raises(TooManyRequests):
            await instance.begin(EMAIL, IP)


async def test_given_two_instances_when_spellings_of_one_email_fail_then_they_share_a_count(
    new_counter: CounterFactory,
) -> None:
    first, second = throttle_on(new_counter()), throttle_on(new_counter())

    await fail(first, 3, email="Alice@Example.COM", ip=None)
    await fail(second, 2, email="  alice@example.com ", ip=None)

    with pytest.raises(TooManyRequests):
        await first.begin(EMAIL, None)


async def test_given_an_ip_failing_on_two_instances_when_checked_then_blocked_on_both(
    new_counter: CounterFactory,
) -> None:
    first, second = throttle_on(new_counter()), throttle_on(new_counter())

    for number in range(20):
        instance = first if number % 2 else second
        await fail(instance, 1, email=f"user{number}@example.com")

    for instance in (first, second):
        with pytest.raises(TooManyRequests):
            await instance.begin("fresh@example.com", IP)


async def test_given_failures_when_a_login_succeeds_on_another_instance_then_both_forget_them(
    new_counter: CounterFactory,
) -> None:
    first, second = throttle_on(new_counter()), throttle_on(new_counter())
    await fail(first, 4, ip=None)

    await succeed(second, EMAIL)

    await fail(first, 5, ip=None)  # refused at once had the success not cleared the count
    with pytest.raises(TooManyRequests):
        await first.begin(EMAIL, None)
