"""SQLite writers queue in the process: one write unit of work at a time per database."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from persistence.unit_of_work import SqlAlchemyUnitOfWork
from persistence.writers import write_gate


async def test_given_sqlite_when_two_units_write_then_the_second_waits_for_the_first(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    order: list[str] = []
    first_inside = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with SqlAlchemyUnitOfWork(session_factory) as uow:
            order.append("first in")
            first_inside.set()
            await release_first.wait()
            order.append("first out")
            await uow.rollback()

    async def second() -> None:
        await first_inside.wait()
        async with SqlAlchemyUnitOfWork(session_factory):
            order.append("second in")

    # Given the first unit holding the gate, when the second asks for it
    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_inside.wait()
    await asyncio.sleep(0.05)
    release_first.set()
    await asyncio.gather(*tasks)

    # Then on SQLite the second enters only after the first left; PostgreSQL has no gate.
    if engine.dialect.name == "sqlite":
        assert order == ["first in", "first out", "second in"]
    else:
        assert order == ["first in", "second in", "first out"]


async def test_given_nested_units_when_entered_then_the_gate_is_taken_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    # A unit of work entered again inside itself must not wait for its own gate.
    uow = SqlAlchemyUnitOfWork(session_factory)
    async with uow, asyncio.timeout(2), uow:
        pass
    # And the gate is free afterwards.
    async with asyncio.timeout(2), SqlAlchemyUnitOfWork(session_factory):
        pass


async def test_given_an_engine_when_asking_for_its_gate_then_sqlite_shares_one_lock(
    engine: AsyncEngine,
) -> None:
    gate = write_gate(engine)
    if engine.dialect.name == "sqlite":
        assert isinstance(gate, asyncio.Lock)
        assert write_gate(engine.sync_engine) is gate
    else:
        assert isinstance(gate, nullcontext)
