"""`products_by_task` on a real database: the UNION ALL of links and product rows reads
each product once, and must answer exactly what a plain join answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.products.model import Product
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from tests.builders import add_products, add_tasks, at, link, links_t, products_t
from tests.conftest import StatementCounter

UNKNOWN = 999_999


async def joined(engine: AsyncEngine, task_ids: Sequence[int]) -> dict[int, list[Product]]:
    """Each task's products by a straightforward join, ordered by product id."""
    columns = [products_t.c[f.name] for f in fields(Product)]
    stmt = (
        select(links_t.c.task_id, *columns)
        .join(products_t, products_t.c.id == links_t.c.product_id)
        .where(links_t.c.task_id.in_(task_ids))
        .order_by(links_t.c.task_id, products_t.c.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    found: dict[int, list[Product]] = {task_id: [] for task_id in task_ids}
    for task_id, *values in rows:
        found[task_id].append(Product(*values))
    return found


async def test_given_shared_products_when_read_per_task_then_each_task_gets_its_own_in_id_order(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine, statements: StatementCounter
) -> None:
    # Given products with every kind of value, shared between tasks and linked out of order
    p = await add_products(
        engine,
        {"sku": "A-1", "description": "It's 'quoted' and ünïcode", "price": Decimal("0.01")},
        {"sku": "B-2", "price": Decimal("12345.67"), "stock": 2_000_000, "is_active": False},
        {"sku": "C-3", "description": None, "price": Decimal("10.10"), "version": 7},
        {"sku": "D-4", "created_at": at(86_400), "updated_at": at(90_000)},
    )
    t = await add_tasks(engine, *({} for _ in range(5)))
    await link(
        engine,
        [
            (t[0], p[2]),
            (t[0], p[0]),
            (t[0], p[1]),
            (t[1], p[0]),
            (t[3], p[1]),
            (t[4], p[3]),
            (t[4], p[1]),
            (t[4], p[0]),
            (t[4], p[2]),
        ],
    )  # t[2] has no products
    asked = [t[3], t[0], UNKNOWN, t[2], t[1], t[4], t[0]]

    # When read in one call, with an unknown task and a repeated one among the ids
    statements.counting = True
    found = await uow.tasks.products_by_task(asked)
    statements.counting = False

    # Then it is exactly the plain join, in one statement
    assert found == await joined(engine, asked)
    assert statements.count == 1, statements.statements
    # and, spelled out: shared products appear once per task, ordered by id, and tasks
    # without products, like unknown tasks, map to an empty list.
    assert {task: [product.sku for product in products] for task, products in found.items()} == {
        t[0]: ["A-1", "B-2", "C-3"],
        t[1]: ["A-1"],
        t[2]: [],
        t[3]: ["B-2"],
        t[4]: ["A-1", "B-2", "C-3", "D-4"],
        UNKNOWN: [],
    }
    by_sku = {product.sku: product for products in found.values() for product in products}
    assert by_sku["A-1"].price == Decimal("0.01")
    assert by_sku["A-1"].description == "It's 'quoted' and ünïcode"
    assert (by_sku["B-2"].price, by_sku["B-2"].stock) == (Decimal("12345.67"), 2_000_000)
    assert by_sku["B-2"].is_active is False
    assert (by_sku["C-3"].description, by_sku["C-3"].version) == (None, 7)
    assert by_sku["D-4"].created_at == at(86_400)
    assert by_sku["D-4"].updated_at.tzinfo is not None


async def test_given_many_tasks_sharing_few_products_when_read_then_it_matches_the_join(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    # Given 300 tasks over 40 products, 0 to 4 links each
    p = await add_products(engine, *({} for _ in range(40)))
    t = await add_tasks(engine, *({} for _ in range(300)))
    await link(
        engine, ((task, p[(n * 7 + k * 11) % 40]) for n, task in enumerate(t) for k in range(n % 5))
    )

    found = await uow.tasks.products_by_task(t)

    assert found == await joined(engine, t)
    assert sum(len(products) for products in found.values()) == sum(n % 5 for n in range(300))


async def test_given_only_unknown_or_no_task_ids_when_read_then_the_answer_is_empty(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    (product,) = await add_products(engine, {})
    (task,) = await add_tasks(engine, {})
    await link(engine, [(task, product)])

    assert await uow.tasks.products_by_task([UNKNOWN, UNKNOWN + 1]) == {
        UNKNOWN: [],
        UNKNOWN + 1: [],
    }
    assert await uow.tasks.products_by_task([]) == {}
