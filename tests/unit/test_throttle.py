"""Login throttling per email and per IP, on the in-memory counter with a manual clock.

The login service begins an attempt before it checks the password, and marks it passed when
the password was right; an attempt never marked passed is a failure.
"""

from __future__ import annotations

import asyncio

import pytest

from auth.throttle import (
    Attempt,
    FailureCounter,
    LoginThrottle,
    MemoryFailureCounter,
    ThrottlePolicy,
)
from domain.errors import ErrorCode, TooManyRequests

WINDOW = 900
EMAIL = "alice@example.com"
IP = "203.0.113.7"


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


class RecordingCounter:
    """The memory counter, remembering every key it was asked about."""

    def __init__(self, inner: MemoryFailureCounter) -> None:
        self.inner = inner
        self.keys: set[str] = set()

    async def reset(self, key: str) -> None:
        """Delegates, recording the key."""
        self.keys.add(key)
        await self.inner.reset(key)

    async def attempt(self, key: str, window_seconds: int, limit: int) -> tuple[str | None, float]:
        """Delegates, recording the key."""
        self.keys.add(key)
        return await self.inner.attempt(key, window_seconds, limit)

    async def forget(self, key: str, attempt_id: str) -> None:
        """Delegates, recording the key."""
        self.keys.add(key)
        await self.inner.forget(key, attempt_id)

    async def close(self) -> None:
        """Delegates."""
        await self.inner.close()


@pytest.fixture
def clock() -> ManualClock:
    """Time under the test's control."""
    return ManualClock()


@pytest.fixture
def counter(clock: ManualClock) -> RecordingCounter:
    """An in-memory counter on the manual clock, recording its keys."""
    return RecordingCounter(MemoryFailureCounter(clock=clock))


@pytest.fixture
def throttle(counter: RecordingCounter) -> LoginThrottle:
    """The default policy: 5 per email, 20 per IP, in 15 minutes."""
    return LoginThrottle(counter, ThrottlePolicy())


async def fail(
    throttle: LoginThrottle, times: int, *, email: str = EMAIL, ip: str | None = IP
) -> None:
    """Make `times` login attempts that fail: begun, never passed."""
    for _ in range(times):
        await throttle.begin(email, ip)


async def succeed(throttle: LoginThrottle, email: str, ip: str | None = None) -> Attempt:
    """Make one login attempt that succeeds."""
    attempt = await throttle.begin(email, ip)
    await throttle.passed(attempt)
    return attempt


def retry_after(caught: pytest.ExceptionInfo[TooManyRequests]) -> int:
    """The retry hint of a refusal."""
    seconds = caught.value.details["retryAfter"]
    assert isinstance(seconds, int)
    return seconds


def test_the_default_policy_is_5_per_email_and_20_per_ip_in_15_minutes() -> None:
    assert ThrottlePolicy() == ThrottlePolicy(max_per_email=5, max_per_ip=20, window_seconds=WINDOW)


# ---------------------------------------------------------------- per email


async def test_given_4_failures_for_an_email_when_checked_then_allowed(
    throttle: LoginThrottle,
) -> None:
    await fail(throttle, 4)

    await throttle.begin(EMAIL, IP)


async def test_given_5_failures_for_an_email_when_checked_then_refused_with_the_remaining_window(
    throttle: LoginThrottle, clock: ManualClock
) -> None:
    for _ in range(5):
        await fail(throttle, 1)
        clock.advance(10)
    # The oldest failure is 50 s old, so it leaves the window in 850 s.

    with pytest.raises(TooManyRequests) as caught:
        await throttle.begin(EMAIL, IP)

    assert caught.value.code is ErrorCode.TOO_MANY_REQUESTS
    assert retry_after(caught) == WINDOW - 50
    assert str(WINDOW - 50) in caught.value.message


async def test_given_a_block_about_to_end_when_checked_then_retry_after_is_at_least_1(
    throttle: LoginThrottle, clock: ManualClock
) -> None:
    await fail(throttle, 5)
    clock.advance(WINDOW - 0.25)

    with pytest.raises(TooManyRequests) as caught:
        await throttle.begin(EMAIL, IP)

    assert retry_after(caught) == 1


async def test_given_a_blocked_email_when_the_window_passes_then_allowed_again(
    throttle: LoginThrottle, clock: ManualClock
) -> None:
    await fail(throttle, 5)
    with pytest.raises(TooManyRequests) as caught:
        await throttle.begin(EMAIL, IP)

    clock.advance(retry_after(caught))

    await throttle.begin(EMAIL, IP)


async def test_given_failures_spread_over_time_when_the_oldest_leaves_then_one_more_is_allowed(
    throttle: LoginThrottle, clock: ManualClock
) -> None:
    await fail(throttle, 1)
    clock.advance(100)
    await fail(throttle, 4)
    with pytest.raises(TooManyRequests):
        await throttle.begin(EMAIL, IP)

    clock.advance(WINDOW - 100)  # only the first failure has left the sliding window
    await throttle.begin(EMAIL, IP)

    with pytest.raises(TooManyRequests):
        await throttle.begin(EMAIL, IP)


async def test_given_a_blocked_email_when_another_email_logs_in_from_elsewhere_then_allowed(
    throttle: LoginThrottle,
) -> None:
    await fail(throttle, 5)

    await throttle.begin("bob@example.com", "198.51.100.1")


async def test_given_a_blocked_email_when_tried_from_a_new_ip_then_still_refused(
    throttle: LoginThrottle,
) -> None:
    await fail(throttle, 5)

    with pytest.raises(TooManyRequests):
        await throttle.begin(EMAIL, "198.51.100.1")
    with pytest.raises(TooManyRequests):
        await throttle.begin(EMAIL, None)


# ---------------------------------------------------------------- per IP


async def test_given_20_failures_from_one_ip_across_emails_when_checked_then_the_ip_is_blocked(
    throttle: LoginThrottle,
) -> None:
    for number in range(20):
        await fail(throttle, 1, email=f"user{number}@example.com")

    with pytest.raises(TooManyRequests) as caught:
        await throttle.begin("fresh@example.com", IP)

    assert retry_after(caught) == WINDOW
    await throttle.begin("fresh@example.com", "198.51.100.1")


async def test_given_19_failures_from_one_ip_when_checked_then_allowed(
    throttle: LoginThrottle,
) -> None:
    for number in range(19):
        await fail(throttle, 1, email=f"user{number}@example.com")

    await throttle.begin("fresh@example.com", IP)


async def test_given_no_ip_when_failures_are_recorded_then_only_the_email_counts(
    throttle: LoginThrottle, counter: RecordingCounter
) -> None:
    await fail(throttle, 4, ip=None)

    await throttle.begin(EMAIL, None)
    assert not any(key.startswith("ip:") for key in counter.keys)


# ---------------------------------------------------------------- success


async def test_given_failures_when_a_login_succeeds_then_the_email_resets_but_not_the_ip(
    throttle: LoginThrottle,
) -> None:
    for number in range(16):
        await fail(throttle, 1, email=f"user{number}@example.com")
    await fail(throttle, 4)

    await succeed(throttle, EMAIL)

    await throttle.begin(EMAIL, "198.51.100.1")  # the email's count is back to zero
    with pytest.raises(TooManyRequests):
        await throttle.begin(EMAIL, IP)  # the IP's 20 failures stay


async def test_given_a_success_when_failures_follow_then_5_more_are_needed_to_block(
    throttle: LoginThrottle,
) -> None:
    await fail(throttle, 4, ip=None)
    await succeed(throttle, EMAIL)

    await fail(throttle, 5, ip=None)

    with pytest.raises(TooManyRequests):
        await throttle.begin(EMAIL, None)


# ---------------------------------------------------------------- email keys


@pytest.mark.parametrize(
    "spelling", ["Alice@Example.COM", "  alice@example.com\t", " ALICE@EXAMPLE.COM "]
)
async def test_given_spellings_of_one_email_when_failures_are_counted_then_they_share_a_counter(
    throttle: LoginThrottle, clock: ManualClock, spelling: str
) -> None:
    await fail(throttle, 3, email=EMAIL, ip=None)
    await fail(throttle, 2, email=spelling, ip=None)

    with pytest.raises(TooManyRequests):
        await throttle.begin(EMAIL, None)
    with pytest.raises(TooManyRequests):
        await throttle.begin(spelling, None)

    clock.advance(WINDOW)
    await fail(throttle, 4, email=EMAIL, ip=None)
    await succeed(throttle, spelling)  # clears the count it shares with EMAIL
    await fail(throttle, 5, email=EMAIL, ip=None)  # refused at once had it not


async def test_given_an_email_when_counted_then_no_counter_key_contains_the_address(
    throttle: LoginThrottle, counter: RecordingCounter
) -> None:
    email = "Secret.Person@Example.com"

    await fail(throttle, 1, email=email)
    await succeed(throttle, email)

    email_keys = {key for key in counter.keys if not key.startswith("ip:")}
    assert email_keys, counter.keys
    for key in email_keys:
        assert "secret.person" not in key.lower()
        assert "example.com" not in key.lower()
        assert "@" not in key
    assert f"ip:{IP}" in counter.keys


def _conforms(counter: RecordingCounter, memory: MemoryFailureCounter) -> list[FailureCounter]:
    """Never called: mypy proves here that both counters satisfy the port."""
    return [counter, memory]


async def test_given_parallel_attempts_when_begun_then_only_the_limit_gets_through() -> None:
    throttle = LoginThrottle(MemoryFailureCounter(), ThrottlePolicy(max_per_email=5))

    results = await asyncio.gather(
        *(throttle.begin("ann@example.com", "10.0.0.1") for _ in range(20)),
        return_exceptions=True,
    )

    assert sum(not isinstance(r, BaseException) for r in results) == 5
    assert all(isinstance(r, TooManyRequests) for r in results if isinstance(r, BaseException))


async def test_given_a_passed_attempt_when_counted_then_the_ip_budget_is_given_back() -> None:
    counter = MemoryFailureCounter()
    throttle = LoginThrottle(counter, ThrottlePolicy(max_per_email=5, max_per_ip=2))

    for _ in range(3):
        await succeed(throttle, "ann@example.com", "10.0.0.1")

    # The IP's whole budget is left: two attempts that fail, then a refusal.
    await fail(throttle, 2, email="ann@example.com", ip="10.0.0.1")
    with pytest.raises(TooManyRequests):
        await throttle.begin("ann@example.com", "10.0.0.1")
