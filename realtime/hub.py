"""The per-process hub: one reader of the change log, fanned out to every subscriber.

A notification (or the catch-up timer) wakes the hub; it reads the records after its
position once, in id order (which is commit order, see docs/REALTIME.md), and hands each
subscriber the records of the entities it follows. Subscribers filter further themselves
(RBAC, arguments). Nothing is read per subscriber, so idle subscribers cost only memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager, nullcontext, suppress
from typing import Any, Final, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from domain.audit import ChangeBounds, ChangeRecord
from domain.errors import ServiceUnavailable, SlowConsumer
from persistence.audit_log import change_bounds, changes_after
from persistence.writers import write_turn

BATCH_SIZE: Final = 500

log = structlog.get_logger("realtime.hub")


class Scope(Protocol):
    """Resources shared by every subscriber of one batch (the loaders of its nested fields)."""

    def acquire(self) -> None:
        """One more subscriber holds the batch."""

    def release(self) -> None:
        """One subscriber is done with the batch."""


class SubscriberClosed(Exception):
    """The subscriber was ended from outside: too slow, revoked, or the hub stopped."""


class Subscriber:
    """One subscription's bounded inbox of record batches."""

    __slots__ = ("_capacity", "_error", "_inbox", "_size", "_waiter", "entities")

    def __init__(self, entities: frozenset[str] | None, capacity: int) -> None:
        # The tables it follows (`tasks`, `task_products`); None follows every entity.
        self.entities = entities
        self._capacity = capacity
        # Made at the first batch: an empty deque already holds a 64-slot block.
        self._inbox: deque[tuple[list[ChangeRecord], Scope | None]] | None = None
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None

    def offer(self, records: list[ChangeRecord], scope: Scope | None) -> None:
        """Queue a batch; a subscriber whose inbox would pass its capacity is ended instead."""
        if self._error is not None:
            return
        if self._size + len(records) > self._capacity:
            self.fail(
                SlowConsumer(
                    f"More than {self._capacity} events waited for this subscriber; resume "
                    "from the last cursor received.",
                    details={"queueSize": self._capacity},
                )
            )
            return
        if scope is not None:
            scope.acquire()
        if self._inbox is None:
            self._inbox = deque()
        self._inbox.append((records, scope))
        self._size += len(records)
        self._wake()

    def fail(self, error: BaseException) -> None:
        """End the subscription: its next `next()` raises `error`; queued batches are dropped."""
        if self._error is None:
            self._error = error
        while self._inbox:
            _records, scope = self._inbox.popleft()
            if scope is not None:
                scope.release()
        self._inbox = None
        self._size = 0
        self._wake()

    @property
    def error(self) -> BaseException | None:
        """Why the subscriber was ended, if it was."""
        return self._error

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> tuple[list[ChangeRecord], Scope | None]:
        """The next batch; the caller releases its scope when done with it."""
        while not self._inbox:
            if self._error is not None:
                raise self._error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._error is not None:
            raise self._error
        assert self._inbox is not None  # the loop above waited for a batch
        records, scope = self._inbox.popleft()
        self._size -= len(records)
        return records, scope


class ChangeHub:
    """Reads new change records once per batch and hands them to the subscribers."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        catch_up_seconds: float,
        batch_size: int = BATCH_SIZE,
        scope_factory: Callable[[], Scope] | None = None,
    ) -> None:
        self.engine = engine
        self.catch_up_seconds = catch_up_seconds
        self.batch_size = batch_size
        self.scope_factory = scope_factory
        # Every record up to here has been handed out (or predates the hub).
        self.position = 0
        self.listeners: list[Callable[[list[ChangeRecord]], None]] = []
        self._followers: dict[frozenset[str] | None, set[Subscriber]] = {}
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._started = False

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are registered."""
        return sum(len(group) for group in self._followers.values())

    async def start(self) -> None:
        """Start after the newest record; the catch-up loop runs until `stop()`."""
        if self._started:
            return
        self._started = True
        self.position = (await self.bounds()).newest
        self._task = asyncio.create_task(self._run(), name="realtime-hub")

    async def stop(self) -> None:
        """Stop reading and end every subscriber."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for group in list(self._followers.values()):
            for subscriber in list(group):
                subscriber.fail(ServiceUnavailable("The server is shutting down; reconnect."))
        self._followers.clear()

    def wake(self, last_id: int | None = None) -> None:
        """Something was committed (up to `last_id`, if known): read the log soon."""
        if last_id is None or last_id > self.position:
            self._wanted.set()

    def subscribe(self, subscriber: Subscriber) -> int:
        """Register `subscriber`; it gets every record after the returned position."""
        self._followers.setdefault(subscriber.entities, set()).add(subscriber)
        return self.position

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget `subscriber` (idempotent) and release what it still holds."""
        group = self._followers.get(subscriber.entities)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del self._followers[subscriber.entities]
        if subscriber.error is None:
            subscriber.fail(SubscriberClosed("The subscription ended."))

    def _reading(self) -> AbstractAsyncContextManager[Any]:
        # In-memory SQLite shares one connection with every session: reading while a write
        # transaction is open on it would see its uncommitted records. Writers hold the gate.
        if isinstance(self.engine.sync_engine.pool, StaticPool):
            return write_turn(self.engine, _nothing)
        return nullcontext()

    async def bounds(self) -> ChangeBounds:
        """The archive horizon and the newest record id."""
        async with self._reading(), self.engine.connect() as connection:
            return await change_bounds(connection)

    async def read(
        self,
        after_id: int,
        *,
        limit: int,
        entities: Collection[str] | None = None,
        up_to: int | None = None,
    ) -> list[ChangeRecord]:
        """Records after `after_id` (up to `up_to`) of `entities`, oldest first."""
        async with self._reading(), self.engine.connect() as connection:
            return await changes_after(
                connection, after_id, limit=limit, entities=entities, up_to=up_to
            )

    async def _run(self) -> None:
        while True:
            # On timeout, the catch-up: a notification may have been lost.
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), self.catch_up_seconds)
            self._wanted.clear()
            try:
                await self.pump()
            except Exception as error:  # the next wake or timer retries
                log.warning("change log not readable", error=repr(error))

    async def pump(self) -> None:
        """Read and hand out everything after the position."""
        while True:
            records = await self.read(self.position, limit=self.batch_size)
            if not records:
                return
            self._dispatch(records)
            if len(records) < self.batch_size:
                return

    def _dispatch(self, records: list[ChangeRecord]) -> None:
        # Synchronous from here to the position update: a subscriber registering meanwhile
        # sees either none of this batch (and gets it) or all of it (and replays it).
        scope = self.scope_factory() if self.scope_factory is not None else None
        if scope is not None:
            scope.acquire()  # held by the hub until every subscriber has its share
        try:
            for key, group in self._followers.items():
                # One share per set of tables, handed to each of its subscribers by reference.
                share = records if key is None else [r for r in records if r.entity in key]
                if share:
                    for subscriber in list(group):
                        subscriber.offer(share, scope)
        finally:
            self.position = records[-1].id
            if scope is not None:
                scope.release()
        for listener in self.listeners:
            try:
                listener(records)
            except Exception:  # one listener must not stop the fan-out
                log.exception("change listener failed")


async def _nothing() -> None:
    return None
