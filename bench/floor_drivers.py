"""The floor's database access: raw aiosqlite or asyncpg, each call one SQL statement.

These are the drivers the product runs on, used without SQLAlchemy: the fastest honest
async access (SQLAlchemy Core would add statement compilation and result processing, and
plain sqlite3 would block the event loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.engine import make_url

POOL_SIZE = 4
Row = Sequence[Any]


class FloorDatabase(Protocol):
    """The statements the floor runs; each call is exactly one SQL statement."""

    async def rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """Run one read; its rows."""

    async def write_returning(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """Run one write in its own transaction; the rows it returned."""

    def placeholders(self, count: int) -> str:
        """Parameter markers for `count` values."""

    def price(self, value: Any) -> str:
        """A price as the product's Decimal scalar prints it."""

    def now(self) -> Any:
        """The value stored in `updated_at` for a change made now."""

    async def close(self) -> None:
        """Close every connection."""


class SqliteFloor:
    """aiosqlite connections, with the product's pragmas, handed out from a queue."""

    def __init__(self, connections: Sequence[Any]) -> None:
        # One write transaction at a time: concurrent SQLite writers would otherwise meet
        # the busy handler's sleeps (milliseconds each) instead of a cheap asyncio queue.
        self._writing = asyncio.Lock()
        self._idle: asyncio.Queue[Any] = asyncio.Queue()
        for connection in connections:
            self._idle.put_nowait(connection)
        self._all = list(connections)

    @classmethod
    async def open(cls, path: str, size: int = POOL_SIZE) -> SqliteFloor:
        """Open `size` connections to the database file."""
        import aiosqlite

        connections = []
        for _ in range(size):
            connection = await aiosqlite.connect(path)
            for pragma in (
                "foreign_keys=ON",
                "journal_mode=WAL",
                "synchronous=NORMAL",
                "busy_timeout=5000",
            ):
                await connection.execute(f"PRAGMA {pragma}")
            connections.append(connection)
        return cls(connections)

    async def rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        connection = await self._idle.get()
        try:
            return list(await connection.execute_fetchall(sql, params))
        finally:
            self._idle.put_nowait(connection)

    async def write_returning(self, sql: str, params: Sequence[Any]) -> list[Row]:
        async with self._writing:
            return await self._write_returning(sql, params)

    async def _write_returning(self, sql: str, params: Sequence[Any]) -> list[Row]:
        connection = await self._idle.get()
        try:
            # sqlite3 opens the transaction implicitly before the UPDATE; commit ends it.
            found = list(await connection.execute_fetchall(sql, params))
            await connection.commit()
            return found
        finally:
            self._idle.put_nowait(connection)

    def placeholders(self, count: int) -> str:
        return ",".join("?" * count)

    def price(self, value: Any) -> str:
        # SQLite keeps NUMERIC as REAL or INTEGER; SQLAlchemy reads it back with the
        # column's scale, exactly like this.
        return f"{value:.2f}"

    def now(self) -> Any:
        # The text layout SQLAlchemy writes for DateTime on SQLite (naive UTC).
        return datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    async def close(self) -> None:
        for connection in self._all:
            await connection.close()


class PostgresFloor:
    """An asyncpg pool."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, size: int = POOL_SIZE) -> PostgresFloor:
        """Open a pool of up to `size` connections."""
        import asyncpg

        return cls(await asyncpg.create_pool(dsn, min_size=1, max_size=size))

    async def rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        return list(await self._pool.fetch(sql, *params))

    async def write_returning(self, sql: str, params: Sequence[Any]) -> list[Row]:
        async with self._pool.acquire() as connection, connection.transaction():
            return list(await connection.fetch(sql, *params))

    def placeholders(self, count: int) -> str:
        return ",".join(f"${n}" for n in range(1, count + 1))

    def price(self, value: Any) -> str:
        return str(value)

    def now(self) -> Any:
        return datetime.now(UTC)

    async def close(self) -> None:
        await self._pool.close()


async def open_database(url: str) -> FloorDatabase:
    """The floor's connections for a SQLAlchemy URL (sqlite+aiosqlite or postgresql+asyncpg)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database:
            raise ValueError("the floor needs a SQLite file, not an in-memory database")
        return await SqliteFloor.open(parsed.database)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return await PostgresFloor.open(dsn)
