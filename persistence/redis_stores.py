"""The Redis adapters: rate-limit buckets and the automatic persisted queries' cache.

Both are shared by every instance that uses the same Redis and prefix; `graph/wiring.py`
builds them when REDIS_URL is set (in memory otherwise). They implement the ports
`graph.ratelimit.BucketStore` and `graph.persisted.stores.DocumentStore`.
"""

from __future__ import annotations

import math
from typing import Final

import structlog
from redis.asyncio import Redis

log = structlog.get_logger("graph.persisted")

BUCKET_PREFIX: Final = "taskgraph:ratelimit:"
DOCUMENT_PREFIX: Final = "taskgraph:apq:"
DOCUMENT_TTL_SECONDS: Final = 24 * 3600


def _stateless_answer(amount: float, capacity: float) -> float | None:
    # Outside (0, capacity] the answer needs no state: free, or never enough tokens.
    # (`graph.ratelimit.MemoryBucketStore` keeps the same contract.)
    if amount <= 0:
        return 0.0
    if amount > capacity:
        return math.inf
    return None


# One round trip, atomic: refill from the elapsed time, then take or report the wait.
# The clock is the Redis server's, so every instance agrees on it. The key expires when
# the bucket would be full again, which is the same as having no key.
_TAKE_SCRIPT = """
local amount = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = capacity
if state[1] and state[2] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(capacity, tonumber(state[1]) + elapsed * rate)
end
if tokens < amount then
  return tostring((amount - tokens) / rate)
end
tokens = tokens - amount
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) / rate * 1000)))
return '0'
"""


class RedisBucketStore:
    """Buckets in Redis hashes, shared by every instance that uses the same prefix."""

    def __init__(self, url: str, *, prefix: str = BUCKET_PREFIX) -> None:
        # Short timeouts: a slow Redis must not hold every request up for long.
        self._redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._script = self._redis.register_script(_TAKE_SCRIPT)

    async def take(
        self, key: str, amount: float, capacity: float, refill_per_second: float
    ) -> float:
        """0.0 when `amount` tokens were taken; else the seconds until they are there."""
        known = _stateless_answer(amount, capacity)
        if known is not None:
            return known
        answer = await self._script(
            keys=[self._prefix + key], args=[amount, capacity, refill_per_second]
        )
        return float(answer)

    async def close(self) -> None:
        """Release the connection pool."""
        await self._redis.aclose()


class RedisDocumentStore:
    """Documents in Redis strings that expire, shared by every instance with the prefix.

    Redis trouble never fails a request: a failed read is a miss (the client sends the
    document again) and a failed write is skipped, each with a warning.
    """

    def __init__(
        self, url: str, *, prefix: str = DOCUMENT_PREFIX, ttl_seconds: int = DOCUMENT_TTL_SECONDS
    ) -> None:
        # Short timeouts, as for the rate limiter: a slow Redis must not hold requests up.
        self._redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._ttl_seconds = ttl_seconds

    async def get(self, sha256: str) -> str | None:
        """The document, or None when unknown, expired or Redis failed."""
        try:
            value = await self._redis.get(self._prefix + sha256)
        except Exception:
            log.warning("persisted query store failed; treating it as a miss", exc_info=True)
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else value

    async def put(self, sha256: str, document: str) -> None:
        """Store it for a day."""
        try:
            await self._redis.set(self._prefix + sha256, document, ex=self._ttl_seconds)
        except Exception:
            log.warning("persisted query store failed; the document was not kept", exc_info=True)

    async def close(self) -> None:
        """Release the connection pool."""
        await self._redis.aclose()
