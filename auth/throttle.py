"""Login throttling: failures counted per email and per client IP in a sliding window.

The counters sit behind `FailureCounter`: in memory for one process, in Redis when
several instances must share them.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from domain.errors import TooManyRequests


class FailureCounter(Protocol):
    """Counts attempts per key inside a sliding window."""

    async def reset(self, key: str) -> None:
        """Forget the key's failures (after a successful login)."""
        ...

    async def attempt(self, key: str, window_seconds: int, limit: int) -> tuple[str | None, float]:
        """Atomically: refuse when `limit` attempts are in the window (returning the seconds
        to wait), else count this one (returning its id, to forget it if it succeeds)."""
        ...

    async def forget(self, key: str, attempt_id: str) -> None:
        """Uncount one attempt (it succeeded)."""
        ...

    async def close(self) -> None:
        """Release what the counter holds (a connection pool); called once, at shutdown."""
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

    async def reset(self, key: str) -> None:
        """Forget the key's failures."""
        self._events.pop(key, None)

    async def attempt(self, key: str, window_seconds: int, limit: int) -> tuple[str | None, float]:
        """Check and count in one step: nothing awaits in between, so no request slips past."""
        events = self._window(key, window_seconds)
        if len(events) >= limit:
            return None, events[0] + window_seconds - self._clock()
        stamp = self._clock()
        events.append(stamp)
        return repr(stamp), 0.0

    async def forget(self, key: str, attempt_id: str) -> None:
        """Uncount one attempt (it succeeded)."""
        events = self._events.get(key)
        if events is None:
            return
        for stamp in events:
            if repr(stamp) == attempt_id:
                events.remove(stamp)
                return

    async def close(self) -> None:
        """Nothing to release."""


_ATTEMPT_LUA = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tostring(oldest[2])}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(window))
return {1, '0'}
"""


class RedisFailureCounter:
    """Counters in Redis sorted sets, shared by every instance."""

    def __init__(self, url: str, *, prefix: str = "taskgraph:login:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._prefix = prefix
        self._attempt_script = self._redis.register_script(_ATTEMPT_LUA)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def reset(self, key: str) -> None:
        """Forget the key's failures."""
        await self._redis.delete(self._key(key))

    async def attempt(self, key: str, window_seconds: int, limit: int) -> tuple[str | None, float]:
        """Prune, count and add in one Lua call, so concurrent attempts cannot all pass."""
        now = time.time()
        member = f"{now:.6f}:{uuid.uuid4().hex}"
        result = await self._attempt_script(
            keys=[self._key(key)], args=[now, window_seconds, limit, member]
        )
        allowed, oldest = int(result[0]), float(result[1])
        if not allowed:
            return None, oldest + window_seconds - now
        return member, 0.0

    async def forget(self, key: str, attempt_id: str) -> None:
        """Uncount one attempt (it succeeded)."""
        await self._redis.zrem(self._key(key), attempt_id)

    async def close(self) -> None:
        """Release the connection pool."""
        await self._redis.aclose()


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt already counted against each limit (key, id), until it succeeds."""

    email: str
    counted: tuple[tuple[str, str], ...]


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

    async def begin(self, email: str, ip: str | None) -> Attempt:
        """Count an attempt BEFORE the password is checked, atomically per key, so parallel
        guesses cannot all pass the limit; raise `TooManyRequests` when a limit is reached."""
        window = self._policy.window_seconds
        limits = [(_email_key(email), self._policy.max_per_email)]
        if ip:
            limits.append(("ip:" + ip, self._policy.max_per_ip))
        taken: list[tuple[str, str]] = []
        for key, limit in limits:
            attempt_id, retry_after = await self._counter.attempt(key, window, limit)
            if attempt_id is None:
                for done_key, done_id in taken:
                    await self._counter.forget(done_key, done_id)
                seconds = max(1, math.ceil(retry_after))
                raise TooManyRequests(
                    f"Too many failed attempts; retry in {seconds} seconds.",
                    details={"retryAfter": seconds},
                )
            taken.append((key, attempt_id))
        return Attempt(email=email, counted=tuple(taken))

    async def close(self) -> None:
        """Release the counter's connections (at shutdown)."""
        await self._counter.close()

    async def passed(self, attempt: Attempt) -> None:
        """The attempt succeeded: clear the email's failures and uncount it from the IP."""
        await self._counter.reset(_email_key(attempt.email))
        for key, attempt_id in attempt.counted[1:]:
            await self._counter.forget(key, attempt_id)
