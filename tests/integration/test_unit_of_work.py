"""The unit of work on a real database: commit, rollback and mapped concurrency errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from domain.customers.model import NewCustomer
from domain.errors import Conflict
from domain.products.model import NewProduct
from domain.tasks.model import NewTask, TaskPriority, TaskStatus
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from tests.builders import add_customers, add_products, add_tasks, column_of, products_t, tasks_t


def new_product(sku: str) -> NewProduct:
    """A valid product to add."""
    return NewProduct(
        sku=sku, name="Thing", description=None, price=Decimal("1.00"), stock=0, is_active=True
    )


def new_task(title: str = "Work", customer_id: int | None = None) -> NewTask:
    """A valid task to add."""
    return NewTask(
        title=title,
        description=None,
        status=TaskStatus.TODO,
        priority=TaskPriority.MEDIUM,
        due_date=None,
        customer_id=customer_id,
        assignee_id=None,
        product_ids=(),
    )


async def product_count(engine: AsyncEngine) -> int:
    """How many products are stored, seen from another connection."""
    async with engine.connect() as conn:
        stmt = select(func.count()).select_from(products_t)
        return int((await conn.execute(stmt)).scalar_one())


async def add_and_commit(uow: SqlAlchemyUnitOfWork, add: Callable[[], Awaitable[object]]) -> None:
    """One unit of work that adds a row and commits."""
    async with uow:
        await add()
        await uow.commit()


class Boom(Exception):
    """A failure inside a unit of work."""


async def test_given_an_add_when_the_block_raises_then_the_row_is_absent(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    async def add_then_fail() -> None:
        async with uow:
            await uow.products.add(new_product("GONE-1"))
            raise Boom

    with pytest.raises(Boom):
        await add_then_fail()

    assert await product_count(engine) == 0
    assert await uow.products.sku_taken("GONE-1") is False


async def test_given_an_add_when_the_block_ends_without_commit_then_the_row_is_absent(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    async with uow:
        await uow.products.add(new_product("GONE-2"))

    assert await product_count(engine) == 0


async def test_given_an_add_when_committed_then_another_session_sees_it(
    uow: SqlAlchemyUnitOfWork,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with uow:
        added = await uow.products.add(new_product("KEPT-1"))
        await uow.commit()

    other = SqlAlchemyUnitOfWork(session_factory)
    try:
        found = await other.products.get(added.id)
    finally:
        await other.close()
    assert found is not None
    assert (found.sku, found.version) == ("KEPT-1", 1)
    assert await product_count(engine) == 1


async def test_given_an_earlier_commit_when_a_later_block_does_not_commit_then_only_it_is_undone(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    async with uow:
        await uow.products.add(new_product("FIRST-1"))
        await uow.commit()

    async with uow:
        await uow.products.add(new_product("SECOND-1"))

    assert await product_count(engine) == 1
    assert await uow.products.sku_taken("FIRST-1") is True
    assert await uow.products.sku_taken("SECOND-1") is False


async def test_given_a_version_changed_elsewhere_when_updating_then_conflict_and_row_kept(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    (task_id,) = await add_tasks(engine, {"title": "Before"})

    async def read_then_write() -> None:
        async with uow:
            read = await uow.tasks.get(task_id)
            assert read is not None
            assert read.version == 1
            # Another transaction updates the row between our read and our write.
            async with engine.begin() as conn:
                await conn.execute(
                    update(tasks_t)
                    .where(tasks_t.c.id == task_id)
                    .values(title="Theirs", version=tasks_t.c.version + 1)
                )
            await uow.tasks.update(task_id, {"title": "Ours"})
            await uow.commit()

    with pytest.raises(Conflict) as raised:
        await read_then_write()

    assert isinstance(raised.value.__cause__, StaleDataError)
    assert await column_of(engine, tasks_t, task_id, "title") == "Theirs"
    assert await column_of(engine, tasks_t, task_id, "version") == 2


async def test_given_an_unchanged_version_when_updating_then_the_version_is_bumped(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    # Guards the test above: without the concurrent change the same update succeeds.
    (task_id,) = await add_tasks(engine, {"title": "Before"})

    async with uow:
        assert await uow.tasks.get(task_id) is not None
        updated = await uow.tasks.update(task_id, {"title": "Ours"})
        await uow.commit()

    assert updated.version == 2
    assert await column_of(engine, tasks_t, task_id, "title") == "Ours"
    assert await column_of(engine, tasks_t, task_id, "version") == 2


async def test_given_a_duplicate_sku_that_bypasses_the_check_when_flushed_then_conflict(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    await add_products(engine, {"sku": "TAKEN-1"})

    with pytest.raises(Conflict) as raised:
        await add_and_commit(uow, lambda: uow.products.add(new_product("TAKEN-1")))

    assert isinstance(raised.value.__cause__, IntegrityError)
    assert await product_count(engine) == 1


async def test_given_a_duplicate_email_when_flushed_then_conflict(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    await add_customers(engine, {"email": "dup@example.com"})

    twin = NewCustomer(name="Twin", email="dup@example.com", phone=None, company=None)

    with pytest.raises(Conflict):
        await add_and_commit(uow, lambda: uow.customers.add(twin))


async def test_given_a_missing_customer_reference_when_flushed_then_conflict(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    with pytest.raises(Conflict):
        await add_and_commit(uow, lambda: uow.tasks.add(new_task(customer_id=999_999)))


async def test_given_a_failed_flush_when_the_unit_of_work_is_reused_then_it_works_again(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    await add_products(engine, {"sku": "TAKEN-2"})
    with pytest.raises(Conflict):
        await add_and_commit(uow, lambda: uow.products.add(new_product("TAKEN-2")))

    async with uow:
        added = await uow.products.add(new_product("FREE-2"))
        await uow.commit()

    assert await column_of(engine, products_t, added.id, "sku") == "FREE-2"
    assert await product_count(engine) == 2


async def test_given_a_domain_error_inside_when_raised_then_it_passes_through_unchanged(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    original = Conflict("domain said no")

    async def add_then_refuse() -> None:
        async with uow:
            await uow.products.add(new_product("NOPE-1"))
            raise original

    with pytest.raises(Conflict) as raised:
        await add_then_refuse()

    assert raised.value is original
    assert await product_count(engine) == 0
