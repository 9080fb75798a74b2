"""The unit of work: one session, one transaction per `async with`, rollback by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cached_property
from types import TracebackType
from typing import Final, Self
from weakref import WeakKeyDictionary

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)
from sqlalchemy.orm.exc import StaleDataError

from domain.errors import Conflict
from persistence.audit_log import SqlAlchemyAuditReader
from persistence.compiled_reads import SqlAlchemyCompiledReads
from persistence.gate import SessionGate
from persistence.identity import SqlAlchemyIdentityRepository
from persistence.repositories import (
    SqlAlchemyCustomerRepository,
    SqlAlchemyProductRepository,
    SqlAlchemyTaskRepository,
    SqlAlchemyUserRepository,
)
from persistence.writers import write_turn

# Per session factory, its engine's AUTOCOMMIT twin (the same pool), made once: making one
# costs about 0.1 ms. Keyed by the factory, which the twin does not reference, so the entry
# goes with the factory.
_AUTOCOMMIT: WeakKeyDictionary[async_sessionmaker[AsyncSession], AsyncEngine | None] = (
    WeakKeyDictionary()
)


def autocommit_reads(session_factory: async_sessionmaker[AsyncSession]) -> AsyncEngine | None:
    """The AUTOCOMMIT twin of the factory's PostgreSQL engine, for reads outside a
    transaction; None elsewhere (SQLite's driver sends no BEGIN before a read anyway)."""
    try:
        return _AUTOCOMMIT[session_factory]
    except KeyError:
        bind = session_factory.kw.get("bind")
        twin = None
        if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
            twin = bind.execution_options(isolation_level="AUTOCOMMIT")
        _AUTOCOMMIT[session_factory] = twin
        return twin


# The session-info key the change capture (`audit.capture`) reads the operation name from.
OPERATION_NAME_KEY: Final = "operation_name"


class SqlAlchemyUnitOfWork:
    """Owns one session for a request; writes commit only through `commit()`.

    Reads outside `async with` share the same session; `close()` ends it. On SQLite the
    connection of those reads goes back to the pool before the write gate is awaited
    (see `persistence.writers`), so the transaction starts on the connection it writes with.

    On PostgreSQL the reads outside `async with` run on an AUTOCOMMIT connection: no BEGIN
    before them and no ROLLBACK after, two round trips fewer per request. Under READ
    COMMITTED every statement takes its own snapshot even inside a transaction, so such a
    read sees exactly what it saw before; only `async with` needs, and gets, a transaction
    (docs/adr/0009-autocommit-reads.md). Writes happen only inside `async with`.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        # A session holds no connection until its first statement, so this is cheap.
        self.session = session_factory()
        self._write_bind = self.session.bind
        self._read_bind = autocommit_reads(session_factory)
        if self._read_bind is not None:
            self.session.bind = self._read_bind
        self._gate = SessionGate()
        self._committed = False
        self._depth = 0
        # The SQLite write gate's turn, held from the outermost `async with` to its end.
        self._write_turn: AbstractAsyncContextManager[None] | None = None

    # Each repository is made on first use: a request uses one or two of them, and making
    # them all cost every request a few dozen microseconds.
    @cached_property
    def products(self) -> SqlAlchemyProductRepository:
        """Products on this unit of work's session."""
        return SqlAlchemyProductRepository(self.session, self._gate)

    @cached_property
    def customers(self) -> SqlAlchemyCustomerRepository:
        """Customers on this unit of work's session."""
        return SqlAlchemyCustomerRepository(self.session, self._gate)

    @cached_property
    def tasks(self) -> SqlAlchemyTaskRepository:
        """Tasks on this unit of work's session."""
        return SqlAlchemyTaskRepository(self.session, self._gate)

    @cached_property
    def users(self) -> SqlAlchemyUserRepository:
        """Users on this unit of work's session."""
        return SqlAlchemyUserRepository(self.session, self._gate)

    @cached_property
    def identity(self) -> SqlAlchemyIdentityRepository:
        """Credentials, tokens and roles on this unit of work's session."""
        return SqlAlchemyIdentityRepository(self.session, self._gate)

    @cached_property
    def audit(self) -> SqlAlchemyAuditReader:
        """The audit trail's reader on this unit of work's session."""
        return SqlAlchemyAuditReader(self.session, self._gate)

    @cached_property
    def compiled_reads(self) -> SqlAlchemyCompiledReads:
        """The statements of the compiled read path (graph/compiled/), on the same session."""
        return SqlAlchemyCompiledReads(self.session, self._gate)

    async def __aenter__(self) -> Self:
        self._committed = False
        # A write unit on SQLite waits its turn here rather than in SQLite's busy loop.
        self._depth += 1
        if self._depth == 1:
            if self._read_bind is not None:
                # The autocommit read connection goes back to the pool (no statement: it has
                # no transaction to end); the block's first statement begins a real one.
                try:
                    await self._release_connection()
                except BaseException:
                    self._depth -= 1
                    raise
                self.session.bind = self._write_bind
            # The read connection is given back before the wait: a queue of writers each
            # holding one would starve the gate's holder of a connection (a deadlock).
            turn = write_turn(self.session.bind, self._release_connection)
            try:
                await turn.__aenter__()
            except BaseException:
                self._depth -= 1
                raise
            self._write_turn = turn
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
            if self._depth == 0 and self._read_bind is not None:
                # Reads after the block start on an autocommit connection again.
                self.session.bind = self._read_bind
            if self._depth == 0 and self._write_turn is not None:
                turn, self._write_turn = self._write_turn, None
                await turn.__aexit__(None, None, None)
        # Constraint races that slipped past the service checks become conflicts.
        if isinstance(exc, IntegrityError):
            raise Conflict("The change conflicts with existing data.") from exc
        if isinstance(exc, StaleDataError):
            raise Conflict("The record was changed by someone else; reload and retry.") from exc

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """The session's connection for a long read (the chain walk), held exclusively."""
        async with self._gate:
            yield await self.session.connection()

    async def _release_connection(self) -> None:
        # Nothing is written yet (writes happen inside `async with`), so ending the read
        # transaction loses nothing; on SQLite it sends no statement.
        if self.session.in_transaction():
            await self.rollback()

    def name_operation(self, name: str | None) -> None:
        """Name the GraphQL operation in the change records this unit of work's commits write."""
        self.session.sync_session.info[OPERATION_NAME_KEY] = name

    async def commit(self) -> None:
        """Make the transaction's changes permanent."""
        async with self._gate:
            await self.session.commit()
        self._committed = True

    async def rollback(self) -> None:
        """Discard the transaction's changes."""
        async with self._gate:
            await self.session.rollback()

    async def close(self) -> None:
        """Release the session and its connection."""
        await self._gate.drain()
        await self.session.close()
