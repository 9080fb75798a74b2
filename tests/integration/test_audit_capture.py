"""Change capture on a real database: the unit of work's transaction owns its records,
and the seeder's bulk loads are recorded as changes by "system:seeds"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest
from sqlalchemy import Connection, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from audit.capture import REDACTED, append, bulk_insert_entries, set_actor
from audit.chain import json_value
from audit.verify import verify_database
from auth.passwords import PasswordHasher
from domain.products.model import NewProduct
from persistence.models import (
    AuditLogModel,
    CustomerModel,
    ProductModel,
    TaskModel,
    TaskProductModel,
    UserModel,
)
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from seeds import AccountSeed, SeedSizes, seed_accounts, seed_demo_data

audit_t = cast(Table, AuditLogModel.__table__)
SMALL = SeedSizes(customers=3, tasks_per_customer=2, products=4, users=2, links_per_task=2)
SEEDED = (ProductModel, CustomerModel, UserModel, TaskModel, TaskProductModel)


def widget(sku: str = "W-1") -> NewProduct:
    """A valid new product."""
    return NewProduct(
        sku=sku, name="Widget", description=None, price=Decimal("19.90"), stock=3, is_active=True
    )


async def add_then_fail(uow: SqlAlchemyUnitOfWork, sku: str) -> None:
    """Add a product in the real unit of work, flush it, then fail before the commit."""
    async with uow:
        await uow.products.add(widget(sku))  # flushed: the INSERT ran, its entry is pending
        raise RuntimeError("after the flush")


async def records(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every change record, oldest first."""
    async with engine.connect() as conn:
        result = await conn.execute(select(audit_t).order_by(audit_t.c.id))
        return [dict(row) for row in result.mappings()]


async def chain_ok(engine: AsyncEngine) -> bool:
    """Whether the whole chain verifies."""
    async with engine.connect() as conn:
        return (await verify_database(conn)).ok


async def product_count(engine: AsyncEngine) -> int:
    """How many products exist."""
    async with engine.connect() as conn:
        return len((await conn.execute(select(ProductModel.id))).all())


async def test_given_a_failure_after_the_flush_when_the_unit_ends_then_neither_row_nor_record(
    engine: AsyncEngine, uow: SqlAlchemyUnitOfWork
) -> None:
    with pytest.raises(RuntimeError, match="after the flush"):
        await add_then_fail(uow, "W-1")

    assert await product_count(engine) == 0
    assert await records(engine) == []


async def test_given_a_rolled_back_unit_when_the_session_commits_later_then_only_new_records(
    engine: AsyncEngine, uow: SqlAlchemyUnitOfWork
) -> None:
    with pytest.raises(RuntimeError):
        await add_then_fail(uow, "GONE-1")

    async with uow:
        kept = await uow.products.add(widget("KEPT-1"))
        await uow.commit()

    found = await records(engine)
    assert [(r["action"], r["entity_id"]) for r in found] == [("INSERT", str(kept.id))]
    assert found[0]["new_values"]["sku"] == "KEPT-1"


async def test_given_an_actor_when_a_unit_commits_then_its_records_name_it_with_exact_values(
    engine: AsyncEngine, uow: SqlAlchemyUnitOfWork
) -> None:
    set_actor(uow.session, actor_label="system:script", request_id="req-42", operation_name="Job")

    async with uow:
        product = await uow.products.add(widget())
        await uow.commit()

    [record] = await records(engine)
    assert record["actor_id"] is None
    assert (record["actor_label"], record["request_id"]) == ("system:script", "req-42")
    assert record["operation_name"] == "Job"
    assert record["new_values"]["price"] == "19.90"
    assert record["new_values"]["id"] == product.id
    assert record["old_values"] is None
    assert record["changed_fields"] == [
        "created_at", "id", "is_active", "name", "price", "sku", "stock",
    ]  # fmt: skip
    assert await chain_ok(engine)


async def test_given_an_update_that_changes_no_value_when_committed_then_no_record(
    engine: AsyncEngine, uow: SqlAlchemyUnitOfWork
) -> None:
    async with uow:
        product = await uow.products.add(widget())
        await uow.commit()

    async with uow:
        # Only bookkeeping moves (updated_at and version): that is not a change to record.
        await uow.products.update(product.id, {"price": Decimal("19.9")})
        await uow.commit()

    assert [r["action"] for r in await records(engine)] == ["INSERT"]


async def test_given_no_entries_when_appending_then_nothing_is_written(
    engine: AsyncEngine,
) -> None:
    def write(conn: Connection) -> int:
        return append(
            conn, [], actor_id=None, actor_label=None, request_id=None, operation_name=None
        )

    async with engine.begin() as conn:
        written = await conn.run_sync(write)

    assert written == 0
    assert await records(engine) == []


def test_given_a_user_row_when_making_bulk_entries_then_the_password_hash_is_redacted() -> None:
    [entry] = bulk_insert_entries(
        "users", [{"id": 7, "email": "a@b.c", "password_hash": "$argon2id$secret", "x": None}]
    )

    assert entry["entity_id"] == "7"
    assert entry["new_values"]["password_hash"] == REDACTED
    assert entry["changed_fields"] == ["email", "id", "password_hash"]


# ------------------------------------------------------------------------------- seeds


async def seeded_rows(engine: AsyncEngine) -> dict[tuple[str, str], dict[str, Any]]:
    """Every row of the seeded tables as JSON values, by (table, primary key)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    async with engine.connect() as conn:
        for model in SEEDED:
            table = cast(Table, model.__table__)
            for row in (await conn.execute(select(table))).mappings():
                key = ":".join(str(row[column.name]) for column in table.primary_key)
                found[(table.name, key)] = {k: json_value(v) for k, v in row.items()}
    return found


async def test_given_a_seeded_database_when_reading_the_trail_then_every_row_has_its_record(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    unit = SqlAlchemyUnitOfWork(session_factory)
    try:
        seed = AccountSeed("admin@example.com", "seed-superuser-password", "seed-demo-password")
        await seed_accounts(unit, seed, hasher=PasswordHasher())
    finally:
        await unit.close()
    await seed_demo_data(engine, SMALL)

    found = await records(engine)
    rows = await seeded_rows(engine)
    names = {model.__tablename__ for model in SEEDED}
    inserts = {(r["entity"], r["entity_id"]): r for r in found if r["entity"] in names}
    assert {r["actor_label"] for r in found} == {"system:seeds"}
    assert {r["actor_id"] for r in found} == {None}
    assert {r["action"] for r in found} == {"INSERT"}
    assert set(inserts) == set(rows), "one record per seeded row, no more"
    for key, row in rows.items():
        expected = dict(row)
        if "password_hash" in expected and expected["password_hash"] is not None:
            expected["password_hash"] = REDACTED
        assert inserts[key]["new_values"] == expected, key
    assert {"roles", "role_grants", "user_roles"} <= {r["entity"] for r in found}
    assert "$argon2" not in repr(found)
    assert await chain_ok(engine)


async def test_given_a_seeded_database_when_seeding_again_then_no_new_records(
    engine: AsyncEngine,
) -> None:
    await seed_demo_data(engine, SMALL)
    first = await records(engine)

    await seed_demo_data(engine, SMALL)

    assert await records(engine) == first
    assert len(first) == 4 + 3 + 2 + 6 + 12
    assert await chain_ok(engine)
