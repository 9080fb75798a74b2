"""The unit of work: one session, one transaction per `async with`, rollback by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Self

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from audit.queries import AuditReader
from domain.errors import Conflict
from persistence.gate import SessionGate
from persistence.identity import SqlAlchemyIdentityRepository
from persistence.repositories import (
    SqlAlchemyCustomerRepository,
    SqlAlchemyProductRepository,
    SqlAlchemyTaskRepository,
    SqlAlchemyUserRepository,
)
from persistence.writers import write_turn


class SqlAlchemyUnitOfWork:
    """Owns one session for a request; writes commit only through `commit()`.

    Reads outside `async with` share the same session; `close()` ends it. On SQLite the
    connection of those reads goes back to the pool before the write gate is awaited
    (see `persistence.writers`), so the transaction starts on the connection it writes with.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        # A session holds no connection until its first statement, so this is cheap.
        self.session = session_factory()
        self._lock = SessionGate()
        self._committed = False
        self._depth = 0
        self._gate: AbstractAsyncContextManager[None] | None = None
        self.products = SqlAlchemyProductRepository(self.session, self._lock)
        self.customers = SqlAlchemyCustomerRepository(self.session, self._lock)
        self.tasks = SqlAlchemyTaskRepository(self.session, self._lock)
        self.users = SqlAlchemyUserRepository(self.session, self._lock)
        self.identity = SqlAlchemyIdentityRepository(self.session, self._lock)
        self.audit = AuditReader(self.session, self._lock)

    async def __aenter__(self) -> Self:
        self._committed = False
        # A write unit on SQLite waits its turn here rather than in SQLite's busy loop.
        self._depth += 1
        if self._depth == 1:
            # The read connection is given back before the wait: a queue of writers each
            # holding one would starve the gate's holder of a connection (a deadlock).
            gate = write_turn(self.session.bind, self._release_connection)
            try:
                await gate.__aenter__()
            except BaseException:
                self._depth -= 1
                raise
            self._gate = gate
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                await self.rollback()
        finally:
            self._depth -= 1
            if self._depth == 0 and self._gate is not None:
                gate, self._gate = self._gate, None
                await gate.__aexit__(None, None, None)
        # Constraint races that slipped past the service checks become conflicts.
        if isinstance(exc, IntegrityError):
            raise Conflict("The change conflicts with existing data.") from exc
        if isinstance(exc, StaleDataError):
            raise Conflict("The record was changed by someone else; reload and retry.") from exc

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """The session's connection for a long read (the chain walk), held exclusively."""
        async with self._lock:
            yield await self.session.connection()

    async def _release_connection(self) -> None:
        # Nothing is written yet (writes happen inside `async with`), so ending the read
        # transaction loses nothing; on SQLite it sends no statement.
        if self.session.in_transaction():
            await self.rollback()

    async def commit(self) -> None:
        """Make the transaction's changes permanent."""
        async with self._lock:
            await self.session.commit()
        self._committed = True

    async def rollback(self) -> None:
        """Discard the transaction's changes."""
        async with self._lock:
            await self.session.rollback()

    async def close(self) -> None:
        """Release the session and its connection."""
        await self._lock.drain()
        await self.session.close()
