"""Auditing costs one SQL statement per write transaction, on SQLite and on PostgreSQL.

That statement reads the chain head, hashes the transaction's records and inserts them (and
on PostgreSQL moves the locked head row). Counted on the real engine: the same unit of work
runs once through an audited session and once through a plain one, and the difference must
be exactly that one statement.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, cast

import pytest
from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import audit.append
from audit.append import append
from audit.capture import audited_session_factory
from audit.verify import main as verify_main
from audit.verify import verify_database
from config.settings import Settings
from domain.products.model import ProductPatch
from domain.products.service import create_product, update_product
from persistence.models import AuditHeadModel, AuditLogModel
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from tests.builders import add_products
from tests.conftest import StatementCounter

audit_t = cast(Table, AuditLogModel.__table__)
head_t = cast(Table, AuditHeadModel.__table__)
AUDIT_TABLES = ("audit_log", "audit_anchor", "audit_head")


def mentions_audit(statement: str) -> bool:
    """Whether a statement touches an audit table."""
    return any(name in statement for name in AUDIT_TABLES)


def plain_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions like the app's, but of the plain class, so nothing is audited."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def count_update(
    factory: async_sessionmaker[AsyncSession],
    statements: StatementCounter,
    product_id: int,
    price: str,
) -> list[str]:
    """The statements of one `update_product` transaction through a fresh unit of work."""
    uow = SqlAlchemyUnitOfWork(factory)
    statements.statements.clear()
    statements.counting = True
    try:
        await update_product(uow, product_id, ProductPatch(price=Decimal(price)))
    finally:
        statements.counting = False
        await uow.close()
    return list(statements.statements)


async def add_product(factory: async_sessionmaker[AsyncSession], sku: str) -> None:
    """Create a product through its own unit of work, as a request would."""
    uow = SqlAlchemyUnitOfWork(factory)
    try:
        await create_product(uow, sku=sku, name="Chained", price=Decimal("1.00"))
    finally:
        await uow.close()


async def chain(engine: AsyncEngine) -> tuple[bool, int]:
    """Whether the chain verifies, and how many records it has."""
    async with engine.connect() as conn:
        report = await verify_database(conn)
    return report.ok, report.checked


def entry(n: int) -> dict[str, Any]:
    """A change record's entry, as capture makes them, with text that is awkward to hash."""
    return {
        "action": "UPDATE",
        "entity": "products",
        "entity_id": str(n),
        "old_values": {"name": f"née {n}"},
        "new_values": {"name": f'Ünïcode ✓ 🙂 "quoted" \\ \u0000 {n}'},
        "changed_fields": ["name"],
    }


@pytest.mark.parametrize("earlier_writes", [0, 2], ids=["first-write", "later-write"])
async def test_given_an_audited_update_when_counting_statements_then_audit_adds_exactly_one(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    statements: StatementCounter,
    earlier_writes: int,
) -> None:
    # Given a product, and (for the later write) a chain and head that already exist.
    [product_id] = await add_products(engine, {})
    for n in range(earlier_writes):
        await add_product(session_factory, f"EARLIER-{n}")

    # When the same kind of update runs unaudited, then audited.
    plain = await count_update(plain_factory(engine), statements, product_id, "11.00")
    audited = await count_update(session_factory, statements, product_id, "12.00")

    # Then the audited transaction is the data statements plus one audit statement.
    assert [s for s in plain if mentions_audit(s)] == []
    assert len([s for s in audited if mentions_audit(s)]) == 1, audited
    assert len(audited) == len(plain) + 1, audited
    assert await chain(engine) == (True, earlier_writes + 1)


async def test_given_one_unit_changing_three_rows_when_committed_then_one_audit_statement(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    statements: StatementCounter,
) -> None:
    ids = await add_products(engine, {}, {})
    uow = SqlAlchemyUnitOfWork(session_factory)

    statements.counting = True
    try:
        async with uow:
            await uow.products.update(ids[0], {"price": Decimal("1.00")})
            await uow.products.update(ids[1], {"price": Decimal("2.00")})
            await uow.products.delete(ids[1])
            await uow.commit()
    finally:
        statements.counting = False
        await uow.close()

    assert len([s for s in statements.statements if mentions_audit(s)]) == 1
    async with engine.connect() as conn:
        actions = list(await conn.execute(select(audit_t.c.action).order_by(audit_t.c.id)))
    assert [a for (a,) in actions] == ["UPDATE", "UPDATE", "DELETE"]
    assert await chain(engine) == (True, 3)


async def test_given_units_in_a_row_when_each_commits_then_each_record_follows_the_last(
    engine: AsyncEngine,
) -> None:
    factory = audited_session_factory(engine)
    for n in range(5):
        await add_product(factory, f"SEQ-{n}")

    async with engine.connect() as conn:
        rows = (await conn.execute(select(audit_t).order_by(audit_t.c.id))).mappings().all()
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    assert await chain(engine) == (True, 5)


async def test_given_a_batch_larger_than_a_chunk_when_appended_then_one_statement_per_chunk(
    engine: AsyncEngine, statements: StatementCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit.append, "CHUNK", 3)

    def write(conn: Connection) -> int:
        return append(
            conn,
            [entry(n) for n in range(7)],
            actor_id=None,
            actor_label="system:test",
            request_id=None,
            operation_name=None,
        )

    statements.counting = True
    async with engine.begin() as conn:
        written = await conn.run_sync(write)
    statements.counting = False

    assert written == 7
    assert len([s for s in statements.statements if mentions_audit(s)]) == 3
    async with engine.connect() as conn:
        ids = list(await conn.execute(select(audit_t.c.entity_id).order_by(audit_t.c.id)))
    assert [i for (i,) in ids] == [str(n) for n in range(7)], "records keep the batch order"
    assert await chain(engine) == (True, 7)


async def test_given_an_append_rolled_back_when_writing_again_then_the_chain_holds(
    engine: AsyncEngine,
) -> None:
    def write(conn: Connection, n: int) -> None:
        append(
            conn, [entry(n)], actor_id=None, actor_label=None, request_id=None, operation_name=None
        )

    async with engine.begin() as conn:
        await conn.run_sync(write, 1)
    async with engine.connect() as conn:
        await conn.run_sync(write, 2)
        await conn.rollback()  # the record and (on PostgreSQL) the head move are undone
    async with engine.begin() as conn:
        await conn.run_sync(write, 3)

    assert await chain(engine) == (True, 2)


@pytest.mark.postgres_only
async def test_given_writes_on_postgres_when_reading_the_head_then_it_is_the_newest_hash(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    for n in range(3):
        await add_product(session_factory, f"H-{n}")

    async with engine.connect() as conn:
        newest = await conn.scalar(select(audit_t.c.hash).order_by(audit_t.c.id.desc()).limit(1))
        head = (await conn.execute(select(head_t))).mappings().one()
    assert (head["id"], head["hash"]) == (1, newest)


@pytest.mark.postgres_only
async def test_given_the_newest_record_deleted_on_postgres_when_verifying_then_broken(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for n in range(3):
        await add_product(session_factory, f"D-{n}")
    async with engine.begin() as conn:
        newest = await conn.scalar(select(audit_t.c.id).order_by(audit_t.c.id.desc()).limit(1))
        await conn.execute(delete(audit_t).where(audit_t.c.id == newest))

    async with engine.connect() as conn:
        report = await verify_database(conn)
    code = await asyncio.to_thread(verify_main, ["--database-url", settings.database_url])

    # The remaining records chain, but the head names a record that is gone.
    assert (report.ok, report.checked, report.first_broken_id) == (False, 2, None)
    assert code == 1
    assert "BROKEN after the last record" in capsys.readouterr().out
