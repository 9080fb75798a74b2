"""What a request asks of the database: its SQL statements, and the pool's state.

Statements are counted with one engine listener into a per-request tally held in a context
variable: loaders run in tasks that copy the context, so they add to the same tally. A
tally is closed when its response has been sent, so later work of a task that inherited
it (the access-log writer's) is not counted against the request.
"""

from __future__ import annotations

import contextvars
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from observability import metrics


class StatementTally:
    """The statements of one request, counted while it is open."""

    __slots__ = ("count", "is_open")

    def __init__(self) -> None:
        self.count = 0
        self.is_open = True


_tally: contextvars.ContextVar[StatementTally | None] = contextvars.ContextVar(
    "sql_statement_tally", default=None
)


def start_tally() -> StatementTally:
    """A new open tally for the request running in this context."""
    tally = StatementTally()
    _tally.set(tally)
    return tally


def _count_statement(*_args: Any) -> None:
    tally = _tally.get()
    if tally is not None and tally.is_open:
        tally.count += 1


def count_statements(engine: AsyncEngine) -> None:
    """Count every statement `engine` runs into the tally of the request that runs it."""
    if not event.contains(engine.sync_engine, "before_cursor_execute", _count_statement):
        event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)


class PoolSampler:
    """Reads the pool's checked-out connections and waiting callers into the gauges."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.pool = engine.sync_engine.pool

    def sample(self) -> None:
        """Set both pool gauges from the pool as it is now (a few attribute reads)."""
        checkedout = getattr(self.pool, "checkedout", None)
        metrics.POOL_IN_USE.set(checkedout() if callable(checkedout) else 0)
        metrics.POOL_WAITING.set(self.waiting())

    def waiting(self) -> int:
        """Callers blocked in the pool's queue; SQLAlchemy keeps no count, asyncio's queue does."""
        queue = getattr(getattr(self.pool, "_pool", None), "_queue", None)
        getters = getattr(queue, "_getters", None)
        return len(getters) if getters is not None else 0
