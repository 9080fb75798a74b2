"""One request's session is used by one statement at a time, and a statement once started
always finishes.

GraphQL cancels sibling resolvers when a non-null root field fails. Cancelling a coroutine
in the middle of a database call makes SQLAlchemy throw the connection away (on in-memory
SQLite, the whole database). Reads therefore run in shielded tasks: the cancelled resolver
stops waiting, the statement completes, and `drain()` waits for it before the session closes.

Every statement of a request passes the gate, so this is also where an exhausted pool, a
server-side timeout or a lost database leaves as a domain error (`persistence.failures`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.failures import unavailable

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
        failure = unavailable(exc) if isinstance(exc, Exception) else None
        if failure is not None:
            raise failure from exc

    async def run(self, statement: Callable[[], Awaitable[T]]) -> T:
        """Run `statement()` under the lock; if the caller is cancelled, it still completes."""

        async def locked() -> T:
            async with self:
                return await statement()

        task: asyncio.Task[T] = asyncio.ensure_future(locked())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def drain(self) -> None:
        """Wait for statements whose callers were cancelled."""
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)


class GatedAdapter:
    """Base of the adapters that run statements on a request's session through its gate."""

    def __init__(self, session: AsyncSession, gate: SessionGate) -> None:
        self._session = session
        self._gate = gate

    async def _rows(self, stmt: Executable) -> Sequence[Any]:
        """Every row `stmt` returns, read through the gate."""

        async def fetch() -> Sequence[Any]:
            return (await self._session.execute(stmt)).all()

        return await self._gate.run(fetch)
