"""Token buckets in memory with a manual clock, and the limiter's two buckets per caller."""

from __future__ import annotations

import math

import pytest

from graph.ratelimit import BucketStore, MemoryBucketStore, RateLimiter

CAPACITY = 10.0
RATE = 1.0  # one token per second


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    """Time that stands still until advanced."""
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> MemoryBucketStore:
    """An empty in-memory store on the manual clock."""
    return MemoryBucketStore(clock=clock)


async def take(store: BucketStore, amount: float = 1, key: str = "k") -> float:
    """Take from a bucket of CAPACITY tokens refilled at RATE per second."""
    return await store.take(key, amount, CAPACITY, RATE)


# ---------------------------------------------------------------- capacity and refill


async def test_given_a_new_key_when_taking_up_to_capacity_then_all_pass_and_the_next_waits(
    store: MemoryBucketStore,
) -> None:
    assert [await take(store) for _ in range(10)] == [0.0] * 10

    assert await take(store) == pytest.approx(1.0)


async def test_given_a_spent_bucket_when_time_passes_then_tokens_come_back_at_the_rate(
    store: MemoryBucketStore, clock: ManualClock
) -> None:
    await take(store, 10)

    clock.advance(2.5)

    assert await take(store, 2) == 0.0
    assert await take(store, 1) == pytest.approx(0.5)


async def test_given_a_long_pause_when_refilled_then_never_above_capacity(
    store: MemoryBucketStore, clock: ManualClock
) -> None:
    await take(store, 10)

    clock.advance(3_600)

    assert await take(store, 10) == 0.0
    assert await take(store, 1) == pytest.approx(1.0)


async def test_given_a_refusal_when_it_is_answered_then_nothing_was_deducted(
    store: MemoryBucketStore, clock: ManualClock
) -> None:
    await take(store, 8)

    assert await take(store, 5) == pytest.approx(3.0)
    assert await take(store, 5) == pytest.approx(3.0)
    clock.advance(3.0)
    assert await take(store, 5) == 0.0


# ---------------------------------------------------------------- retry-after values


@pytest.mark.parametrize(
    ("spent", "amount", "wait"),
    [(10, 1, 1.0), (10, 4, 4.0), (9.5, 1, 0.5), (6, 7, 3.0)],
)
async def test_given_a_partly_spent_bucket_when_refused_then_the_wait_is_the_missing_tokens(
    store: MemoryBucketStore, spent: float, amount: float, wait: float
) -> None:
    await take(store, spent)

    assert await take(store, amount) == pytest.approx(wait)


async def test_given_a_slow_refill_when_refused_then_the_wait_scales_with_the_rate(
    store: MemoryBucketStore,
) -> None:
    # 3 per minute: one token every 20 seconds.
    for _ in range(3):
        assert await store.take("k", 1, 3, 3 / 60) == 0.0

    assert await store.take("k", 1, 3, 3 / 60) == pytest.approx(20.0)


# ---------------------------------------------------------------- edge amounts


async def test_given_an_amount_bigger_than_capacity_when_taken_then_never_and_nothing_spent(
    store: MemoryBucketStore,
) -> None:
    assert await take(store, CAPACITY + 1) == math.inf

    assert await take(store, CAPACITY) == 0.0


async def test_given_an_amount_of_zero_when_taken_then_it_passes_even_on_an_empty_bucket(
    store: MemoryBucketStore,
) -> None:
    await take(store, CAPACITY)

    assert await take(store, 0) == 0.0


# ---------------------------------------------------------------- keys and memory


async def test_given_two_keys_when_one_is_spent_then_the_other_is_untouched(
    store: MemoryBucketStore,
) -> None:
    await take(store, CAPACITY, key="user:1")

    assert await take(store, key="user:1") > 0
    assert await take(store, CAPACITY, key="user:2") == 0.0


async def test_given_idle_buckets_when_they_are_full_again_then_they_are_dropped(
    store: MemoryBucketStore, clock: ManualClock
) -> None:
    await take(store, 4, key="a")
    await take(store, 4, key="b")
    assert len(store) == 2

    clock.advance(4.0)
    await take(store, 1, key="c")

    assert len(store) == 1


async def test_given_a_key_cap_when_more_callers_arrive_then_the_least_recently_used_go(
    clock: ManualClock,
) -> None:
    store = MemoryBucketStore(clock=clock, max_keys=3)
    for key in ("a", "b", "c"):
        await take(store, CAPACITY, key=key)
    await take(store, 0.0, key="a")  # free: does not count as use
    assert await take(store, key="a") > 0  # a refusal does not refresh either

    await take(store, CAPACITY, key="d")

    assert len(store) == 3
    # "a" was the least recently used; it comes back full.
    assert await take(store, CAPACITY, key="a") == 0.0
    assert await take(store, key="d") > 0


# ---------------------------------------------------------------- the limiter


class BrokenStore:
    """A store whose backend is down."""

    async def take(
        self, key: str, amount: float, capacity: float, refill_per_second: float
    ) -> float:
        """Always fails, as a lost Redis connection would."""
        raise ConnectionError("redis is down")

    async def close(self) -> None:
        """Nothing to release."""


async def test_given_limits_per_minute_when_a_caller_spends_them_then_each_bucket_refuses_alone(
    store: MemoryBucketStore,
) -> None:
    limiter = RateLimiter(store, requests_per_minute=2, cost_per_minute=100)

    assert [await limiter.take_request("user:1") for _ in range(2)] == [0.0, 0.0]
    assert await limiter.take_request("user:1") == pytest.approx(30.0)
    assert await limiter.take_cost("user:1", 60) == 0.0
    assert await limiter.take_cost("user:1", 60) == pytest.approx(12.0)
    assert await limiter.take_request("ip:10.0.0.1") == 0.0


async def test_given_a_cost_above_the_minute_budget_when_the_bucket_is_full_then_it_empties_it(
    store: MemoryBucketStore,
) -> None:
    limiter = RateLimiter(store, requests_per_minute=10, cost_per_minute=100)

    assert await limiter.take_cost("user:1", 5_000) == 0.0
    assert await limiter.take_cost("user:1", 1) == pytest.approx(0.6)


async def test_given_a_failing_store_when_taking_then_the_operation_is_let_through() -> None:
    limiter = RateLimiter(BrokenStore(), requests_per_minute=1, cost_per_minute=1)

    assert await limiter.take_request("user:1") == 0.0
    assert await limiter.take_cost("user:1", 10) == 0.0
