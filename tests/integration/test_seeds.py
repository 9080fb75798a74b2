"""The demo seeder fills the database once, grows it without duplicates, and is repeatable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from persistence.models import (
    Base,
    CustomerModel,
    ProductModel,
    TaskModel,
    TaskProductModel,
    UserModel,
)
from seeds import SeedReport, SeedSizes, seed_demo_data
from seeds.__main__ import main

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SMALL = SeedSizes(customers=4, tasks_per_customer=3, products=10, users=2, links_per_task=2)

products: Table = ProductModel.__table__  # type: ignore[assignment]
customers: Table = CustomerModel.__table__  # type: ignore[assignment]
users: Table = UserModel.__table__  # type: ignore[assignment]
tasks: Table = TaskModel.__table__  # type: ignore[assignment]
task_products: Table = TaskProductModel.__table__  # type: ignore[assignment]


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """How many rows each table holds."""
    async with engine.connect() as conn:
        return {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (products, customers, users, tasks, task_products)
        }


def expected_counts(sizes: SeedSizes) -> dict[str, int]:
    """The row counts a seed of `sizes` must produce on an empty database."""
    task_count = sizes.customers * sizes.tasks_per_customer
    return {
        "products": sizes.products,
        "customers": sizes.customers,
        "users": sizes.users,
        "tasks": task_count,
        "task_products": task_count * min(sizes.links_per_task, sizes.products),
    }


async def snapshot(engine: AsyncEngine) -> dict[str, Any]:
    """Every demo value by natural key, without surrogate ids (they differ between runs)."""
    async with engine.connect() as conn:
        product_rows = (await conn.execute(select(products).order_by(products.c.sku))).all()
        customer_rows = (await conn.execute(select(customers).order_by(customers.c.email))).all()
        user_rows = (await conn.execute(select(users).order_by(users.c.email))).all()
        task_rows = (
            await conn.execute(
                select(tasks, customers.c.email.label("customer"), users.c.email.label("assignee"))
                .join(customers, tasks.c.customer_id == customers.c.id)
                .outerjoin(users, tasks.c.assignee_id == users.c.id)
                .order_by(tasks.c.title)
            )
        ).all()
        link_rows = (
            await conn.execute(
                select(tasks.c.title, products.c.sku)
                .join(task_products, task_products.c.task_id == tasks.c.id)
                .join(products, task_products.c.product_id == products.c.id)
                .order_by(tasks.c.title, products.c.sku)
            )
        ).all()
    drop = {"id", "customer_id", "assignee_id"}
    return {
        "products": [_without(row, drop) for row in product_rows],
        "customers": [_without(row, drop) for row in customer_rows],
        "users": [_without(row, drop) for row in user_rows],
        "tasks": [_without(row, drop) for row in task_rows],
        "links": [tuple(row) for row in link_rows],
    }


def _without(row: Any, keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in row._mapping.items() if key not in keys}


async def empty_all_tables(engine: AsyncEngine) -> None:
    """Delete every row, children first."""
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


async def test_given_empty_database_when_seeding_then_each_table_holds_the_requested_rows(
    engine: AsyncEngine,
) -> None:
    report = await seed_demo_data(engine, SMALL, now=NOW)

    assert await row_counts(engine) == expected_counts(SMALL)
    assert report == SeedReport(products=10, customers=4, users=2, tasks=12, task_products=24)
    assert report.summary() == (
        "Seeded 10 products, 4 customers, 2 users, 12 tasks and 24 task-product links."
    )


async def test_given_seeded_database_when_seeding_again_then_nothing_is_duplicated(
    engine: AsyncEngine,
) -> None:
    await seed_demo_data(engine, SMALL, now=NOW)
    before = await snapshot(engine)

    report = await seed_demo_data(engine, SMALL, now=NOW)

    assert report == SeedReport()
    assert await row_counts(engine) == expected_counts(SMALL)
    assert await snapshot(engine) == before


async def test_given_smaller_seed_when_seeding_larger_sizes_then_only_missing_rows_are_added(
    engine: AsyncEngine,
) -> None:
    await seed_demo_data(engine, SMALL, now=NOW)
    async with engine.connect() as conn:
        first_ids = {tuple(row) for row in await conn.execute(select(tasks.c.id, tasks.c.title))}
    larger = SeedSizes(customers=6, tasks_per_customer=5, products=12, users=3, links_per_task=2)

    report = await seed_demo_data(engine, larger, now=NOW)

    assert report == SeedReport(
        products=2, customers=2, users=1, tasks=6 * 5 - 4 * 3, task_products=(30 - 12) * 2
    )
    assert await row_counts(engine) == expected_counts(larger)
    async with engine.connect() as conn:
        after_ids = {tuple(row) for row in await conn.execute(select(tasks.c.id, tasks.c.title))}
    assert first_ids <= after_ids, "tasks from the first run must keep their ids and titles"


async def test_given_growth_in_steps_when_compared_with_one_run_then_the_data_is_the_same(
    engine: AsyncEngine,
) -> None:
    target = SeedSizes(customers=5, tasks_per_customer=4, products=8, users=3, links_per_task=2)
    await seed_demo_data(engine, target, now=NOW)
    one_run = await snapshot(engine)
    await empty_all_tables(engine)

    # Links and assignees are drawn from the products and users present, so those stay fixed.
    first_step = SeedSizes(customers=2, tasks_per_customer=2, products=8, users=3, links_per_task=2)
    await seed_demo_data(engine, first_step, now=NOW)
    await seed_demo_data(engine, target, now=NOW)

    assert await snapshot(engine) == one_run


async def test_given_fixed_clock_when_seeding_twice_from_empty_then_the_data_is_identical(
    engine: AsyncEngine,
) -> None:
    await seed_demo_data(engine, SMALL, now=NOW)
    first = await snapshot(engine)
    await empty_all_tables(engine)

    await seed_demo_data(engine, SMALL, now=NOW)

    assert await snapshot(engine) == first


@pytest.mark.parametrize(("links_per_task", "expected_links"), [(0, 0), (4, 4), (7, 5)])
async def test_given_links_per_task_when_seeding_then_each_task_has_that_many_products(
    engine: AsyncEngine, links_per_task: int, expected_links: int
) -> None:
    sizes = SeedSizes(
        customers=3, tasks_per_customer=4, products=5, users=1, links_per_task=links_per_task
    )

    await seed_demo_data(engine, sizes, now=NOW)

    async with engine.connect() as conn:
        result = await conn.execute(
            select(tasks.c.id, func.count(task_products.c.product_id))
            .outerjoin(task_products, task_products.c.task_id == tasks.c.id)
            .group_by(tasks.c.id)
        )
        # A Result has .keys(), so dict() would read it as a mapping: materialise the rows.
        per_task: dict[int, int] = dict(result.all())
    assert len(per_task) == 12
    assert set(per_task.values()) == {expected_links}


async def test_given_demo_data_when_inspecting_then_it_looks_realistic(
    engine: AsyncEngine,
) -> None:
    sizes = SeedSizes(customers=20, tasks_per_customer=5, products=30, users=4)

    await seed_demo_data(engine, sizes, now=NOW)

    async with engine.connect() as conn:
        prices = (await conn.execute(select(products.c.price))).scalars().all()
        task_rows = (await conn.execute(select(tasks))).all()
        skus = (await conn.execute(select(products.c.sku).order_by(products.c.sku))).scalars()
        emails = (await conn.execute(select(customers.c.email))).scalars().all()
    assert all(
        isinstance(price, Decimal) and price == price.quantize(Decimal("0.01")) for price in prices
    )
    assert all(Decimal("0") < price < Decimal("10000") for price in prices)
    assert len(set(prices)) > 20
    assert any(row.due_date is None for row in task_rows)
    assert any(row.due_date is not None for row in task_rows)
    assert len({row.status for row in task_rows}) >= 3
    assert len({row.priority for row in task_rows}) >= 3
    assert any(row.assignee_id is not None for row in task_rows)
    assert all(row.version == 1 and row.created_at <= row.updated_at <= NOW for row in task_rows)
    assert list(skus)[:2] == ["SKU-00001", "SKU-00002"]
    assert "customer00020@example.com" in emails


async def test_given_customer_with_a_demo_email_when_seeding_then_it_is_kept_not_duplicated(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(customers),
            [
                {
                    "name": "Real Customer",
                    "email": "customer00001@example.com",
                    "version": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )

    report = await seed_demo_data(engine, SMALL, now=NOW)

    assert report.customers == SMALL.customers - 1
    async with engine.connect() as conn:
        names = (
            (
                await conn.execute(
                    select(customers.c.name).where(customers.c.email == "customer00001@example.com")
                )
            )
            .scalars()
            .all()
        )
    assert names == ["Real Customer"]
    assert await row_counts(engine) == expected_counts(SMALL)


@pytest.mark.parametrize(
    "field", ["customers", "tasks_per_customer", "products", "users", "links_per_task"]
)
def test_given_out_of_range_size_when_building_sizes_then_it_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SeedSizes(**{field: -1})


@pytest.fixture
async def empty_database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables: a temporary SQLite file, or a new PostgreSQL database."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'seeds.db'}"
        return
    name = f"seed_{uuid.uuid4().hex[:12]}"
    await _admin(database_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_given_cli_with_migrate_when_run_twice_then_schema_and_data_exist_once(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--migrate", "--database-url", empty_database_url, "--customers", "3",
        "--tasks-per-customer", "2", "--products", "4", "--users", "2", "--links-per-task", "3",
    ]  # fmt: skip

    # In a thread: main() starts its own event loop, and so does Alembic's env.py.
    first_code = await asyncio.to_thread(main, args)
    second_code = await asyncio.to_thread(main, args)

    assert (first_code, second_code) == (0, 0)
    assert capsys.readouterr().out.splitlines() == [
        "Seeded 4 products, 3 customers, 2 users, 6 tasks and 18 task-product links.",
        "Seeded 0 products, 0 customers, 0 users, 0 tasks and 0 task-product links.",
    ]
    engine = create_async_engine(empty_database_url, poolclass=NullPool)
    try:
        counts = await row_counts(engine)
    finally:
        await engine.dispose()
    assert counts == {"products": 4, "customers": 3, "users": 2, "tasks": 6, "task_products": 18}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--customers", "-1"], "between 0 and 99999"),
        (["--products", "100000"], "between 0 and 99999"),
        (["--links-per-task", "many"], "not a whole number"),
        (["--users", "1000"], "between 0 and 999"),
    ],
)
def test_given_invalid_option_when_parsing_then_cli_exits_with_usage_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
