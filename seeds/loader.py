"""Load the demo data: insert only the rows whose natural keys are missing, in one transaction.

Every inserted row is recorded in the audit trail as a change by "system:seeds", written
with `audit.append.append` in the same transaction: Core bulk inserts bypass the session
hooks, so the seeder records them itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Final, TypeVar

from sqlalchemy import Column, Connection, Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit.append import append
from audit.capture import bulk_insert_entries
from domain.tasks.model import MAX_PRODUCTS_PER_TASK
from persistence.models import (
    CustomerModel,
    ProductModel,
    TaskModel,
    TaskProductModel,
    UserModel,
)
from seeds import demo_data

CHUNK_SIZE: Final = 1_000
SEEDS_ACTOR: Final = "system:seeds"
T = TypeVar("T")
Entries = list[dict[str, Any]]

# Upper bounds keep the natural keys' zero-padded numbers in width (SKU-99999, user999, ...).
MAX_PRODUCTS: Final = 99_999
MAX_CUSTOMERS: Final = 99_999
MAX_USERS: Final = 999
MAX_TASKS_PER_CUSTOMER: Final = 999
MAX_LINKS_PER_TASK: Final = MAX_PRODUCTS_PER_TASK

products_table: Table = ProductModel.__table__  # type: ignore[assignment]
customers_table: Table = CustomerModel.__table__  # type: ignore[assignment]
users_table: Table = UserModel.__table__  # type: ignore[assignment]
tasks_table: Table = TaskModel.__table__  # type: ignore[assignment]
task_products_table: Table = TaskProductModel.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class SeedSizes:
    """How much demo data the database should hold."""

    customers: int = 50
    tasks_per_customer: int = 5
    products: int = 100
    users: int = 5
    links_per_task: int = 3

    def __post_init__(self) -> None:
        limits = {
            "customers": MAX_CUSTOMERS,
            "tasks_per_customer": MAX_TASKS_PER_CUSTOMER,
            "products": MAX_PRODUCTS,
            "users": MAX_USERS,
            "links_per_task": MAX_LINKS_PER_TASK,
        }
        for name, limit in limits.items():
            value = getattr(self, name)
            if not 0 <= value <= limit:
                raise ValueError(f"{name} must be between 0 and {limit}, got {value}")


@dataclass(frozen=True, slots=True)
class SeedReport:
    """How many rows one run added."""

    products: int = 0
    customers: int = 0
    users: int = 0
    tasks: int = 0
    task_products: int = 0

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"Seeded {self.products} products, {self.customers} customers, {self.users} users, "
            f"{self.tasks} tasks and {self.task_products} task-product links."
        )


async def seed_demo_data(
    engine: AsyncEngine, sizes: SeedSizes, *, now: datetime | None = None
) -> SeedReport:
    """Add whatever demo rows `sizes` asks for and the database lacks; never duplicate one.

    Tasks get their product links when they are created; existing tasks keep theirs.
    """
    now = now or datetime.now(UTC)
    entries: Entries = []
    async with engine.begin() as conn:
        product_ids, products_added = await _ensure(
            conn,
            entries,
            products_table,
            products_table.c.sku,
            {demo_data.product_sku(n): n for n in range(1, sizes.products + 1)},
            lambda n: demo_data.product_row(n, now),
        )
        customer_ids, customers_added = await _ensure(
            conn,
            entries,
            customers_table,
            customers_table.c.email,
            {demo_data.customer_email(n): n for n in range(1, sizes.customers + 1)},
            lambda n: demo_data.customer_row(n, now),
        )
        user_ids, users_added = await _ensure(
            conn,
            entries,
            users_table,
            users_table.c.email,
            {demo_data.user_email(n): n for n in range(1, sizes.users + 1)},
            lambda n: demo_data.user_row(n, now),
        )
        tasks_added, links_added = await _ensure_tasks(
            conn,
            entries,
            sizes,
            now,
            customer_ids=customer_ids,
            product_ids=list(product_ids.values()),
            assignee_ids=list(user_ids.values()),
        )
        await conn.run_sync(_record, entries)
    if entries:
        await analyze(engine)
    return SeedReport(
        products=products_added,
        customers=customers_added,
        users=users_added,
        tasks=tasks_added,
        task_products=links_added,
    )


async def analyze(engine: AsyncEngine) -> None:
    """Refresh the planner's statistics after a bulk load, as a bulk loader should.

    Without them PostgreSQL plans the first queries on a freshly loaded database as if its
    tables were tiny or empty, and may even JIT-compile them; SQLite's planner likewise
    uses `sqlite_stat1` when it exists. ANALYZE only reads, so it may run in a transaction
    of its own after the load has committed.
    """
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))


def _record(conn: Connection, entries: Entries) -> None:
    """Write the run's change records: one chained executemany INSERT."""
    append(
        conn, entries, actor_id=None, actor_label=SEEDS_ACTOR, request_id=None, operation_name=None
    )


async def _ensure(
    conn: AsyncConnection,
    entries: Entries,
    table: Table,
    key_column: Column[Any],
    wanted: dict[str, int],
    make_row: Callable[[int], dict[str, Any]],
) -> tuple[dict[int, int], int]:
    """Insert the wanted rows whose key is missing; return {demo number: id} and the count."""
    existing = await _ids_by_key(conn, table, key_column, wanted)
    missing = [number for key, number in wanted.items() if key not in existing]
    await _insert(conn, entries, table, (make_row(number) for number in missing))
    if missing:
        existing = await _ids_by_key(conn, table, key_column, wanted)
    return {number: existing[key] for key, number in wanted.items()}, len(missing)


async def _ids_by_key(
    conn: AsyncConnection, table: Table, key_column: Column[Any], wanted: dict[str, int]
) -> dict[str, int]:
    if not wanted:
        return {}
    ids: dict[str, int] = {}
    # Chunked, because SQLite and asyncpg cap the bound parameters of one statement.
    for keys in _chunks(wanted):
        rows = await conn.execute(select(key_column, table.c.id).where(key_column.in_(keys)))
        ids.update((key, id_) for key, id_ in rows)
    return ids


async def _ensure_tasks(
    conn: AsyncConnection,
    entries: Entries,
    sizes: SeedSizes,
    now: datetime,
    *,
    customer_ids: dict[int, int],
    product_ids: list[int],
    assignee_ids: list[int],
) -> tuple[int, int]:
    """Create each customer's missing demo tasks, then link the new ones to products."""
    existing = await _existing_task_titles(conn, list(customer_ids.values()))
    keys: list[tuple[int, int]] = []
    rows: list[dict[str, Any]] = []
    for customer_number, customer_id in customer_ids.items():
        for index in range(1, sizes.tasks_per_customer + 1):
            row = demo_data.task_row(
                customer_number, index, now, customer_id=customer_id, assignee_ids=assignee_ids
            )
            if (customer_id, row["title"]) not in existing:
                keys.append((customer_number, index))
                rows.append(row)
    new_task_ids = [row["id"] for row in await _insert(conn, entries, tasks_table, rows)]
    links = (
        {"task_id": task_id, "product_id": product_id}
        for (customer_number, index), task_id in zip(keys, new_task_ids, strict=True)
        for product_id in demo_data.task_product_ids(
            customer_number, index, product_ids, sizes.links_per_task
        )
    )
    links_added = len(await _insert(conn, entries, task_products_table, links))
    return len(rows), links_added


async def _existing_task_titles(
    conn: AsyncConnection, customer_ids: Sequence[int]
) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for ids in _chunks(customer_ids):
        rows = await conn.execute(
            select(tasks_table.c.customer_id, tasks_table.c.title).where(
                tasks_table.c.customer_id.in_(ids)
            )
        )
        found.update((customer_id, title) for customer_id, title in rows)
    return found


def _chunks(items: Iterable[T], size: int = CHUNK_SIZE) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


async def _insert(
    conn: AsyncConnection, entries: Entries, table: Table, rows: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Bulk-insert rows with Core executemany, a chunk at a time, adding their change
    records to `entries`; return the rows as inserted, with every column and their ids."""
    inserted: list[dict[str, Any]] = []
    for chunk in _chunks(rows):
        if "id" in table.c:
            # sort_by_parameter_order: the ids come back in the order of the rows sent.
            statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            ids = (await conn.execute(statement, chunk)).scalars()
            sent = [{**row, "id": id_} for row, id_ in zip(chunk, ids, strict=True)]
        else:
            await conn.execute(insert(table), chunk)
            sent = chunk
        full = [{column.name: row.get(column.name) for column in table.c} for row in sent]
        for entry, row in zip(bulk_insert_entries(table.name, full), full, strict=True):
            # Named by the whole primary key, as the session hooks name ORM rows ("3:7").
            entry["entity_id"] = ":".join(str(row[column.name]) for column in table.primary_key)
            entries.append(entry)
        inserted.extend(full)
    return inserted
