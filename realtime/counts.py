"""Counting each user's active subscriptions: per process, or across instances in Redis.

Without Redis every process counts its own (`LocalCounts`), so with N instances a user may
hold N times the limit. With `REDIS_URL`, `RedisCounts` shares the count: each instance
keeps, per user, a field `<instance id> = <its count>` in the hash `<prefix>user:<id>`,
and renews a lease `<prefix>instance:<id>` while it lives. A check sums the fields of the
instances whose lease is alive and drops the others, so a crashed instance's count
disappears with its lease (within `lease_seconds`). Every renewal also writes the
instance's exact counts, so a release that failed (Redis briefly away) heals there.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from typing import Any, Final, Protocol

import structlog

PREFIX: Final = "taskgraph:subscriptions:"
LEASE_SECONDS: Final = 30.0

log = structlog.get_logger("realtime.counts")


class SubscriptionCounts(Protocol):
    """Active subscriptions per user, against a limit."""

    async def acquire(self, user_id: int, limit: int) -> bool:
        """Count one more for `user_id` unless it already has `limit`; whether it did."""

    async def release(self, user_id: int) -> None:
        """One fewer for `user_id`."""

    async def close(self) -> None:
        """Forget this process's counts."""


class LocalCounts:
    """This process's subscriptions only."""

    def __init__(self) -> None:
        self.by_user: dict[int, int] = {}

    def held(self, user_id: int) -> int:
        """How many `user_id` holds here."""
        return self.by_user.get(user_id, 0)

    async def acquire(self, user_id: int, limit: int) -> bool:
        """Count one more unless `limit` is reached."""
        if self.held(user_id) >= limit:
            return False
        self.add(user_id)
        return True

    def add(self, user_id: int) -> None:
        """One more, without a limit."""
        self.by_user[user_id] = self.by_user.get(user_id, 0) + 1

    def remove(self, user_id: int) -> None:
        """One fewer."""
        left = self.by_user.get(user_id, 1) - 1
        if left > 0:
            self.by_user[user_id] = left
        else:
            self.by_user.pop(user_id, None)

    async def release(self, user_id: int) -> None:
        """One fewer."""
        self.remove(user_id)

    async def close(self) -> None:
        """Nothing is held outside the process."""
        self.by_user.clear()


# KEYS[1] the user's hash. ARGV: this instance, the limit, the lease key prefix, the lease
# in ms. Fields of instances without a live lease are dropped, then counted without them.
_ACQUIRE = """
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  local instance = fields[i]
  if instance == ARGV[1] or redis.call('EXISTS', ARGV[3] .. instance) == 1 then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], instance)
  end
end
if total >= tonumber(ARGV[2]) then
  return -1
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', ARGV[3] .. ARGV[1], '1', 'PX', ARGV[4])
return total + 1
"""

# KEYS[1] the user's hash. ARGV: this instance. Decrement, removing the field at zero.
_RELEASE = """
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return left
"""


class RedisCounts:
    """Counts shared by every instance on one Redis, each behind an expiring lease.

    If Redis fails, a check falls back to this process's own count (logged): the limit
    protects the service and must not take it down with Redis.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = PREFIX,
        lease_seconds: float = LEASE_SECONDS,
        instance: str | None = None,
    ) -> None:
        from redis.asyncio import Redis

        self._redis: Any = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.prefix = prefix
        self.instance = instance or uuid.uuid4().hex
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.local = LocalCounts()
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)
        self._renewal: asyncio.Task[None] | None = None
        self._stale: set[int] = set()  # users whose field must be removed at the next renewal

    def _user_key(self, user_id: int) -> str:
        return f"{self.prefix}user:{user_id}"

    @property
    def _lease_prefix(self) -> str:
        return f"{self.prefix}instance:"

    async def acquire(self, user_id: int, limit: int) -> bool:
        """Count one more across every instance unless `limit` is reached there."""
        self._renew_in_background()
        # Counted here first: a renewal meanwhile writes it (at worst one too many, until
        # the next renewal), never one too few.
        self.local.add(user_id)
        try:
            total = await self._acquire(
                keys=[self._user_key(user_id)],
                args=[self.instance, limit, self._lease_prefix, self.lease_ms],
            )
        except Exception as error:
            log.warning("subscription count store failed; counting locally", error=repr(error))
            total = self.local.held(user_id) if self.local.held(user_id) <= limit else -1
        if int(total) < 0:
            self.local.remove(user_id)
            return False
        self._stale.discard(user_id)
        return True

    async def release(self, user_id: int) -> None:
        """One fewer; a failure is corrected by the next renewal."""
        self.local.remove(user_id)
        if not self.local.held(user_id):
            self._stale.add(user_id)
        try:
            await self._release(keys=[self._user_key(user_id)], args=[self.instance])
        except Exception as error:
            log.warning("subscription count release failed", error=repr(error))

    def _renew_in_background(self) -> None:
        if self._renewal is None:
            self._renewal = asyncio.get_running_loop().create_task(
                self._renew_forever(), name="subscription-counts-lease"
            )

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                await self.renew()
            except Exception as error:  # retried at the next renewal
                log.warning("subscription count lease not renewed", error=repr(error))

    async def renew(self) -> None:
        """Extend this instance's lease and write its exact counts."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._lease_prefix + self.instance, "1", px=self.lease_ms)
        for user_id, held in self.local.by_user.items():
            key = self._user_key(user_id)
            pipe.hset(key, self.instance, held)
            pipe.pexpire(key, self.lease_ms)
        stale = [user for user in self._stale if not self.local.held(user)]
        for user_id in stale:
            pipe.hdel(self._user_key(user_id), self.instance)
        await pipe.execute()
        self._stale.difference_update(stale)

    async def close(self) -> None:
        """Stop renewing and take this instance's counts and lease away."""
        if self._renewal is not None:
            self._renewal.cancel()
            with suppress(asyncio.CancelledError):
                await self._renewal
            self._renewal = None
        users = set(self.local.by_user) | self._stale
        try:
            pipe = self._redis.pipeline(transaction=False)
            for user_id in users:
                pipe.hdel(self._user_key(user_id), self.instance)
            pipe.delete(self._lease_prefix + self.instance)
            await pipe.execute()
        except Exception as error:  # the lease expires by itself
            log.warning("subscription counts not removed", error=repr(error))
        await self.local.close()
        self._stale.clear()
        await self._redis.aclose()

    async def abandon(self) -> None:
        """Stop renewing without cleaning up, as a crash would (for tests)."""
        if self._renewal is not None:
            self._renewal.cancel()
            with suppress(asyncio.CancelledError):
                await self._renewal
            self._renewal = None
        await self._redis.aclose()


def subscription_counts(redis_url: str | None) -> SubscriptionCounts:
    """Shared through Redis when it is configured, else per process."""
    return RedisCounts(redis_url) if redis_url else LocalCounts()
