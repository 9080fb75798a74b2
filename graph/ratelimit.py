"""Per-caller rate limits: two token buckets per user, or per client IP when anonymous.

- The requests bucket holds `rate_limit_requests_per_minute` tokens and refills at that
  rate; every GraphQL operation takes one before it is parsed, so a batch of N takes N.
- The cost bucket holds `rate_limit_cost_per_minute` and refills likewise; an operation
  takes its cost (graph/limits.py) after validation and before any resolver runs.

A refused operation is not executed. It gets a TOO_MANY_REQUESTS error with `retryAfter`,
and the HTTP response becomes 429 with a `Retry-After` header. The buckets live in memory
(one process) or, when REDIS_URL is set, in Redis so that every instance shares them.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from domain.errors import ErrorCode
from graph.limits import priced

if TYPE_CHECKING:
    from graph.context import Context

log = structlog.get_logger("graph.ratelimit")

TOO_MANY_OPERATIONS = "Too many operations in the last minute; retry in {seconds} seconds."
COST_BUDGET_SPENT = (
    "The query cost allowed per minute is spent; retry in {seconds} seconds,"
    " or ask for smaller pages."
)


class BucketStore(Protocol):
    """Token buckets by key; refilled continuously, never above their capacity."""

    async def take(
        self, key: str, amount: float, capacity: float, refill_per_second: float
    ) -> float:
        """0.0 when `amount` tokens were taken; else the seconds until they are there."""
        ...

    async def close(self) -> None:
        """Release connections, if any."""
        ...


def _stateless_answer(amount: float, capacity: float) -> float | None:
    # Outside (0, capacity] the answer needs no state: free, or never enough tokens.
    if amount <= 0:
        return 0.0
    if amount > capacity:
        return math.inf
    return None


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_at: float
    full_at: float


class MemoryBucketStore:
    """Buckets of one process, at most `max_keys` of them (least recently used go first)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    async def take(
        self, key: str, amount: float, capacity: float, refill_per_second: float
    ) -> float:
        """0.0 when `amount` tokens were taken; else the seconds until they are there."""
        known = _stateless_answer(amount, capacity)
        if known is not None:
            return known
        now = self._clock()
        self._drop_full(now)
        bucket = self._buckets.get(key)
        tokens = capacity
        if bucket is not None:
            elapsed = max(0.0, now - bucket.updated_at)
            tokens = min(capacity, bucket.tokens + elapsed * refill_per_second)
        if tokens < amount:
            return (amount - tokens) / refill_per_second
        tokens -= amount
        self._buckets[key] = _Bucket(tokens, now, now + (capacity - tokens) / refill_per_second)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return 0.0

    def _drop_full(self, now: float) -> None:
        # A full bucket is the same as no bucket. Checking the two least recently used on
        # each take reclaims idle callers without ever scanning the whole table.
        for key in list(islice(self._buckets, 2)):
            if self._buckets[key].full_at <= now:
                del self._buckets[key]

    async def close(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimiter:
    """The two buckets of each caller, sized by the per-minute settings."""

    def __init__(
        self, store: BucketStore, *, requests_per_minute: int, cost_per_minute: int
    ) -> None:
        self.store = store
        self.requests_per_minute = requests_per_minute
        self.cost_per_minute = cost_per_minute

    async def take_request(self, caller: str) -> float:
        """One operation: 0.0 when allowed, else the seconds to wait."""
        per_minute = self.requests_per_minute
        return await self._take("requests:" + caller, 1, per_minute)

    async def take_cost(self, caller: str, cost: int) -> float:
        """An operation's cost: 0.0 when allowed, else the seconds to wait."""
        # An operation dearer than a whole minute's budget would never fit; it may run
        # on a full bucket and empty it instead.
        amount = min(cost, self.cost_per_minute)
        return await self._take("cost:" + caller, amount, self.cost_per_minute)

    async def _take(self, key: str, amount: float, per_minute: int) -> float:
        try:
            return await self.store.take(key, amount, per_minute, per_minute / 60)
        except Exception:
            # The limiter protects the service; it must not take it down with Redis.
            log.warning("rate limit store failed; letting the operation through", exc_info=True)
            return 0.0

    async def close(self) -> None:
        """Release the store's connections."""
        await self.store.close()


def caller_key(context: Context) -> str:
    """`user:<id>` for an authenticated caller, else `ip:<client ip>`."""
    if context.principal is not None:
        return f"user:{context.principal.user_id}"
    return f"ip:{context.client_ip or 'unknown'}"


def _refuse(context: Context, wait: float, message: str) -> GraphQLError:
    seconds = max(1, math.ceil(wait))
    response = context.response
    if response is not None:
        # In a batch several operations may be refused: the longest wait wins.
        previous = int(response.headers.get("Retry-After", "0"))
        response.status_code = 429
        response.headers["Retry-After"] = str(max(previous, seconds))
    return GraphQLError(
        message.format(seconds=seconds),
        extensions={
            "code": ErrorCode.TOO_MANY_REQUESTS.value,
            "retryAfter": seconds,
            "requestId": context.request_id,
        },
    )


class RateLimit(SchemaExtension):
    """Takes each operation's request token and cost from the caller's buckets."""

    def __init__(self, list_estimate: int) -> None:
        self.list_estimate = list_estimate

    def _limiter(self) -> tuple[RateLimiter, Context] | None:
        context: Any = self.execution_context.context
        limiter = getattr(getattr(context, "services", None), "limiter", None)
        # A schema executed outside the app (no services in its context) is not limited.
        return (limiter, context) if isinstance(limiter, RateLimiter) else None

    async def on_operation(self) -> AsyncIterator[None]:
        """One request token, before the document is even parsed."""
        found = self._limiter()
        if found is not None:
            limiter, context = found
            wait = await limiter.take_request(caller_key(context))
            if wait:
                error = _refuse(context, wait, TOO_MANY_OPERATIONS)
                if getattr(context, "streaming", False):
                    # A stream (a WebSocket subscription) cannot fail here: the refusal
                    # becomes its result, which its guard turns into its only error.
                    self.execution_context.result = GraphQLExecutionResult(
                        data=None, errors=[error]
                    )
                else:
                    # Raised before parsing, this becomes the operation's only error.
                    raise error
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        """The operation's cost, after validation and before any resolver runs."""
        ctx = self.execution_context
        found = self._limiter()
        # A result already set means an earlier check (the cost limit) refused it.
        if found is not None and ctx.result is None and ctx.graphql_document is not None:
            limiter, context = found
            cost = priced(ctx, self.list_estimate)
            wait = await limiter.take_cost(caller_key(context), cost)
            if wait:
                error = _refuse(context, wait, COST_BUDGET_SPENT)
                # A result set before execution makes Strawberry skip the resolvers.
                ctx.result = GraphQLExecutionResult(data=None, errors=[error])
        yield
