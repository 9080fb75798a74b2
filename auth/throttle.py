"""Login throttling: failures counted per email and per client IP in a sliding window.

The counters sit behind `FailureCounter`: in memory for one process, in Redis when
several instances must share them.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from domain.errors import DomainError, ErrorCode


class TooManyRequests(DomainError):
    """Too many attempts; `details["retryAfter"]` says how many seconds to wait."""

    code = ErrorCode.TOO_MANY_REQUESTS


class FailureCounter(Protocol):
    """Counts failures per key inside a window."""

    async def failures(self, key: str, window_seconds: int) -> tuple[int, float]:
        """How many failures are in the window, and seconds until the oldest leaves it."""
        ...

    async def record_failure(self, key: str, window_seconds: int) -> None:
        """Count one failure now."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the key's failures (after a successful login)."""
        ...


class MemoryFailureCounter:
    """Per-process counters; fine for one instance, lost on restart."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def _window(self, key: str, window_seconds: int) -> deque[float]:
        events = self._events.setdefault(key, deque())
        horizon = self._clock() - window_seconds
        while events and events[0] <= horizon:
            events.popleft()
        return events

    async def failures(self, key: str, window_seconds: int) -> tuple[int, float]:
        """How many failures are in the window, and seconds until the oldest leaves it."""
        events = self._window(key, window_seconds)
        if not events:
            return 0, 0.0
        return len(events), events[0] + window_seconds - self._clock()

    async def record_failure(self, key: str, window_seconds: int) -> None:
        """Count one failure now."""
        self._window(key, window_seconds).append(self._clock())

    async def reset(self, key: str) -> None:
        """Forget the key's failures."""
        self._events.pop(key, None)


class RedisFailureCounter:
    """Counters in Redis sorted sets, shared by every instance."""

    def __init__(self, url: str, *, prefix: str = "taskgraph:login:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def failures(self, key: str, window_seconds: int) -> tuple[int, float]:
        """How many failures are in the window, and seconds until the oldest leaves it."""
        now = time.time()
        name = self._key(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, "-inf", now - window_seconds)
            pipe.zcard(name)
            pipe.zrange(name, 0, 0, withscores=True)
            _, count, oldest = await pipe.execute()
        if not count:
            return 0, 0.0
        return int(count), float(oldest[0][1]) + window_seconds - now

    async def record_failure(self, key: str, window_seconds: int) -> None:
        """Count one failure now."""
        now = time.time()
        name = self._key(key)
        member = f"{now:.6f}:{time.perf_counter_ns()}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(name, {member: now})
            pipe.expire(name, window_seconds)
            await pipe.execute()

    async def reset(self, key: str) -> None:
        """Forget the key's failures."""
        await self._redis.delete(self._key(key))

    async def close(self) -> None:
        """Release the connection pool."""
        await self._redis.aclose()


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Limits per email and per IP in one window."""

    max_per_email: int = 5
    max_per_ip: int = 20
    window_seconds: int = 900


def _email_key(email: str) -> str:
    # Hashed, so the counter store never holds the addresses people tried.
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


class LoginThrottle:
    """Refuses logins for an email or IP that failed too often in the window."""

    def __init__(self, counter: FailureCounter, policy: ThrottlePolicy) -> None:
        self._counter = counter
        self._policy = policy

    async def check(self, email: str, ip: str | None) -> None:
        """Raise `TooManyRequests` with a retry-after hint when a limit is reached."""
        window = self._policy.window_seconds
        limits = [(_email_key(email), self._policy.max_per_email)]
        if ip:
            limits.append(("ip:" + ip, self._policy.max_per_ip))
        for key, limit in limits:
            count, retry_after = await self._counter.failures(key, window)
            if count >= limit:
                seconds = max(1, math.ceil(retry_after))
                raise TooManyRequests(
                    f"Too many failed logins; retry in {seconds} seconds.",
                    details={"retryAfter": seconds},
                )

    async def failed(self, email: str, ip: str | None) -> None:
        """Count a failed attempt against the email and the IP."""
        await self._counter.record_failure(_email_key(email), self._policy.window_seconds)
        if ip:
            await self._counter.record_failure("ip:" + ip, self._policy.window_seconds)

    async def succeeded(self, email: str) -> None:
        """A good login clears the email's failures (the IP's stay)."""
        await self._counter.reset(_email_key(email))
