"""One writer at a time per SQLite database, queued in the process instead of in SQLite.

SQLite lets a single connection write at once. A second writer that finds the lock taken
sleeps and retries (the busy timeout), in steps of up to 100 ms, so a few concurrent
mutations turn into tail latencies of hundreds of milliseconds. Queueing them on an
asyncio lock first hands the database to each writer the moment the previous one is done.
PostgreSQL locks rows, not the database, and gets no gate.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any
from weakref import WeakKeyDictionary

# Per engine, then per event loop: an asyncio lock belongs to the loop it first waits on.
_GATES: WeakKeyDictionary[Any, WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    WeakKeyDictionary()
)


def write_gate(engine: Any) -> AbstractAsyncContextManager[Any]:
    """The lock a write transaction on `engine` (sync or async) holds; a no-op off SQLite."""
    sync_engine = getattr(engine, "sync_engine", engine)
    if sync_engine is None or sync_engine.dialect.name != "sqlite":
        return nullcontext()
    loop = asyncio.get_running_loop()
    by_loop = _GATES.setdefault(sync_engine, WeakKeyDictionary())
    lock = by_loop.get(loop)
    if lock is None:
        lock = by_loop[loop] = asyncio.Lock()
    return lock
