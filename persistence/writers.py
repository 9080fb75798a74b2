"""One writer at a time per SQLite database, queued in the process instead of in SQLite.

SQLite lets a single connection write at once. A second writer that finds the lock taken
sleeps and retries (the busy timeout), in steps of up to 100 ms, so a few concurrent
mutations turn into tail latencies of hundreds of milliseconds. Queueing them on an
asyncio lock first hands the database to each writer the moment the previous one is done.
PostgreSQL locks rows, not the database, and gets no gate.

Resource order: the gate first, then a pooled connection. Nobody may wait at the gate while
holding a connection: the holder (a unit of work, or the access-log writer) may still need
one, and a burst of writers parked at the gate with the whole pool checked out would leave
it none. That deadlock lasted until a timeout fired (issue 10, defect 6).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.pool import StaticPool

# Per engine, then per event loop: an asyncio lock belongs to the loop it first waits on.
_GATES: WeakKeyDictionary[Any, WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    WeakKeyDictionary()
)


def _sqlite_engine(engine: Any) -> Any:
    sync_engine = getattr(engine, "sync_engine", engine)
    if sync_engine is None or sync_engine.dialect.name != "sqlite":
        return None
    return sync_engine


def _lock(sync_engine: Any) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    by_loop = _GATES.setdefault(sync_engine, WeakKeyDictionary())
    lock = by_loop.get(loop)
    if lock is None:
        lock = by_loop[loop] = asyncio.Lock()
    return lock


def write_gate(engine: Any) -> AbstractAsyncContextManager[Any]:
    """The lock a write transaction on `engine` (sync or async) holds; a no-op off SQLite.

    Take it before checking out the connection the write uses, never while holding one.
    """
    sync_engine = _sqlite_engine(engine)
    if sync_engine is None:
        return nullcontext()
    return _lock(sync_engine)


@asynccontextmanager
async def write_turn(
    engine: Any, release_connection: Callable[[], Awaitable[None]]
) -> AsyncIterator[None]:
    """Hold `engine`'s write gate; on SQLite `release_connection()` runs before the wait.

    For a caller that may already hold a pooled connection (a request's session after it
    authenticated the caller): it gives the connection back first, so the gate's holder can
    always get one. In-memory SQLite shares one connection that never runs out, and
    releasing it would end the holder's transaction on it too, so it is kept there.
    """
    sync_engine = _sqlite_engine(engine)
    if sync_engine is None:
        yield
        return
    if not isinstance(sync_engine.pool, StaticPool):
        await release_connection()
    async with _lock(sync_engine):
        yield
