"""One request's session is used by one statement at a time, and a statement once started
always finishes.

GraphQL cancels sibling resolvers when a non-null root field fails. Cancelling a coroutine
in the middle of a database call makes SQLAlchemy throw the connection away (on in-memory
SQLite, the whole database). Reads therefore run in shielded tasks: the cancelled resolver
stops waiting, the statement completes, and `drain()` waits for it before the session closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")


class SessionGate:
    """A lock for one session, plus shielded execution of single statements."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._inflight: set[asyncio.Task[object]] = set()

    async def __aenter__(self) -> None:
        await self._lock.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()

    async def run(self, statement: Callable[[], Awaitable[T]]) -> T:
        """Run `statement()` under the lock; if the caller is cancelled, it still completes."""

        async def locked() -> T:
            async with self._lock:
                return await statement()

        task: asyncio.Task[T] = asyncio.ensure_future(locked())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def drain(self) -> None:
        """Wait for statements whose callers were cancelled."""
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
