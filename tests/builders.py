"""Quick test data: Core bulk inserts with every required column, and global-ID helpers.

Rows go in through one `INSERT ... RETURNING` per call, so seeding hundreds of rows
costs a few milliseconds. Each row gets version 1 and explicit timestamps, one
second apart by default, so `created_at` orderings are predictable.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.tasks.model import TaskPriority, TaskStatus
from graph.relay import decode_global_id, encode_global_id
from persistence.models import (
    CustomerModel,
    ProductModel,
    TaskModel,
    TaskProductModel,
    UserModel,
)

BASE_TIME = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)

products_t: Table = ProductModel.__table__  # type: ignore[assignment]
customers_t: Table = CustomerModel.__table__  # type: ignore[assignment]
tasks_t: Table = TaskModel.__table__  # type: ignore[assignment]
links_t: Table = TaskProductModel.__table__  # type: ignore[assignment]
users_t: Table = UserModel.__table__  # type: ignore[assignment]


def at(seconds: int) -> datetime:
    """A fixed, aware UTC time `seconds` after the base time."""
    return BASE_TIME + timedelta(seconds=seconds)


def gid(type_name: str, pk: int) -> str:
    """The global ID the API gives object `pk` of `type_name`."""
    return str(encode_global_id(type_name, pk))


def pk_of(global_id: str) -> int:
    """The primary key inside a global ID."""
    return decode_global_id(global_id)[1]


def raw_id(text: str) -> str:
    """A global ID built by hand from `text` (for malformed or foreign IDs)."""
    return base64.b64encode(text.encode()).decode()


def _stamped(row: dict[str, Any], index: int, *, versioned: bool = True) -> dict[str, Any]:
    stamped = {"created_at": at(index), "updated_at": at(index), **row}
    if versioned:
        stamped.setdefault("version", 1)
    return stamped


async def insert_rows(
    engine: AsyncEngine, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert `rows` in one statement; returns their ids in the order given."""
    if not rows:
        return []
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    async with engine.begin() as conn:
        result = await conn.execute(stmt, list(rows))
        return [row[0] for row in result.all()]


async def add_users(engine: AsyncEngine, *rows: dict[str, Any]) -> list[int]:
    """Insert users; each row may override email, full_name, is_active, is_superuser."""
    full = [
        _stamped(
            {
                "email": f"user{i}@example.com",
                "full_name": f"User {i}",
                "is_active": True,
                "is_superuser": False,
                **row,
            },
            i,
            versioned=False,
        )
        for i, row in enumerate(rows)
    ]
    return await insert_rows(engine, users_t, full)


async def add_products(engine: AsyncEngine, *rows: dict[str, Any]) -> list[int]:
    """Insert products; unspecified columns get distinct, valid values."""
    full = [
        _stamped(
            {
                "sku": f"SKU-{i:04d}",
                "name": f"Product {i:04d}",
                "description": None,
                "price": Decimal("10.00"),
                "stock": 0,
                "is_active": True,
                **row,
            },
            i,
        )
        for i, row in enumerate(rows)
    ]
    return await insert_rows(engine, products_t, full)


async def add_customers(engine: AsyncEngine, *rows: dict[str, Any]) -> list[int]:
    """Insert customers; unspecified columns get distinct, valid values."""
    full = [
        _stamped(
            {
                "name": f"Customer {i:04d}",
                "email": f"customer{i}@example.com",
                "phone": None,
                "company": None,
                **row,
            },
            i,
        )
        for i, row in enumerate(rows)
    ]
    return await insert_rows(engine, customers_t, full)


async def add_tasks(engine: AsyncEngine, *rows: dict[str, Any]) -> list[int]:
    """Insert tasks; unspecified columns get valid defaults (TODO, MEDIUM, no links)."""
    full = [
        _stamped(
            {
                "title": f"Task {i:04d}",
                "description": None,
                "status": TaskStatus.TODO,
                "priority": TaskPriority.MEDIUM,
                "due_date": None,
                "customer_id": None,
                "assignee_id": None,
                **row,
            },
            i,
        )
        for i, row in enumerate(rows)
    ]
    return await insert_rows(engine, tasks_t, full)


async def link(engine: AsyncEngine, pairs: Iterable[tuple[int, int]]) -> None:
    """Link tasks to products: each pair is (task id, product id)."""
    rows = [{"task_id": task_id, "product_id": product_id} for task_id, product_id in pairs]
    if rows:
        async with engine.begin() as conn:
            await conn.execute(insert(links_t), rows)


async def links_of(engine: AsyncEngine, task_id: int) -> set[int]:
    """The product ids linked to a task, straight from `task_products`."""
    async with engine.connect() as conn:
        result = await conn.execute(
            select(links_t.c.product_id).where(links_t.c.task_id == task_id)
        )
        return {row[0] for row in result.all()}


async def column_of(engine: AsyncEngine, table: Table, pk: int, column: str) -> Any:
    """One stored value, read around the app."""
    async with engine.connect() as conn:
        result = await conn.execute(select(table.c[column]).where(table.c.id == pk))
        return result.scalar_one_or_none()


def day(offset: int) -> date:
    """A calendar date `offset` days after 2024-03-01."""
    return date(2024, 3, 1) + timedelta(days=offset)
