"""Tamper evidence: a direct edit, delete or insert in audit_log breaks the hash chain, and
both `verifyAuditChain` and `python -m audit.verify` name the first broken record.

The run's schema comes from `create_all`, without the PostgreSQL append-only trigger, so
a direct edit works here as it would for someone who bypassed the trigger (a superuser,
or a database restored without it); tests/integration/test_archive.py covers the trigger.
On SQLite the command needs a database file, so these tests use one of their own there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.capture import append, audited_session_factory
from audit.chain import link_hash
from audit.verify import main as verify_main
from audit.verify import verify_database
from config.settings import Settings
from domain.products.service import create_product
from graph.app import create_app
from persistence.database import create_engine
from persistence.models import AuditLogModel, Base
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from tests.builders import gid
from tests.conftest import GraphQLClient, add_login_user, token_for

audit_t = cast(Table, AuditLogModel.__table__)
VERIFY = "query Verify { verifyAuditChain { ok checked firstBrokenId } }"


@dataclass
class Store:
    """A database the command line can reach too, with an app on it."""

    engine: AsyncEngine
    url: str
    gql: GraphQLClient


@pytest.fixture
async def store(
    engine: AsyncEngine, settings: Settings, password_hash: str, tmp_path: Path
) -> AsyncIterator[Store]:
    """The run's PostgreSQL database, or a SQLite file (in-memory is out of the CLI's reach)."""
    own: AsyncEngine | None = None
    if settings.database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'chain.db'}"
        settings = settings.model_copy(update={"database_url": url})
        own = engine = create_engine(settings)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    app = create_app(settings, engine=engine)
    root = await add_login_user(
        engine, email="root@chain.test", password_hash=password_hash, is_superuser=True
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Store(engine, settings.database_url, GraphQLClient(http, token_for(app, root)))
    if own is not None:
        await own.dispose()


async def write_records(engine: AsyncEngine, count: int) -> list[int]:
    """`count` chained change records, one transaction each; returns their ids."""
    for n in range(count):

        def write(conn: Connection, n: int = n) -> None:
            entry = {
                "action": "UPDATE",
                "entity": "products",
                "entity_id": "1",
                "old_values": {"price": f"{n}.00"},
                "new_values": {"price": f"{n + 1}.00"},
                "changed_fields": ["price"],
            }
            append(
                conn, [entry], actor_id=1, actor_label=None, request_id=None, operation_name=None
            )

        async with engine.begin() as conn:
            await conn.run_sync(write)
    async with engine.connect() as conn:
        return list((await conn.execute(select(audit_t.c.id).order_by(audit_t.c.id))).scalars())


async def record(engine: AsyncEngine, record_id: int) -> dict[str, Any]:
    """One stored change record."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(audit_t).where(audit_t.c.id == record_id))).one()
    return dict(row._mapping)


async def edit(engine: AsyncEngine, ids: list[int]) -> int:
    """Change a middle record's values in place; the edited record breaks."""
    async with engine.begin() as conn:
        await conn.execute(
            update(audit_t).where(audit_t.c.id == ids[2]).values(new_values={"price": "0.01"})
        )
    return ids[2]


async def remove(engine: AsyncEngine, ids: list[int]) -> int:
    """Delete a middle record; its successor no longer follows."""
    async with engine.begin() as conn:
        await conn.execute(delete(audit_t).where(audit_t.c.id == ids[2]))
    return ids[3]


async def forge(engine: AsyncEngine, ids: list[int]) -> int:
    """Insert a well-formed record claiming to follow the first one; it breaks."""
    first = await record(engine, ids[0])
    forged = {key: value for key, value in first.items() if key not in ("id", "hash")}
    forged.update(id=ids[-1] + 10, actor_id=99, new_values={"price": "9999.00"})
    forged["hash"] = link_hash(first["hash"], forged)
    forged["prev_hash"] = first["hash"]
    async with engine.begin() as conn:
        await conn.execute(insert(audit_t).values(forged))
    return int(forged["id"])


Tamper = Callable[[AsyncEngine, list[int]], Coroutine[Any, Any, int]]


@pytest.mark.parametrize("tamper", [edit, remove, forge], ids=lambda f: f.__name__)
async def test_given_a_direct_database_change_when_verifying_then_the_first_broken_is_named(
    store: Store, tamper: Tamper
) -> None:
    ids = await write_records(store.engine, 5)
    broken = await tamper(store.engine, ids)

    report = (await store.gql.ok(VERIFY))["verifyAuditChain"]
    code = await asyncio.to_thread(verify_main, ["--database-url", store.url])

    assert report["ok"] is False
    assert report["firstBrokenId"] == gid("AuditLog", broken)
    assert code == 1


async def test_given_an_untouched_chain_when_verifying_then_ok_everywhere(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    await write_records(store.engine, 5)

    report = (await store.gql.ok(VERIFY))["verifyAuditChain"]
    code = await asyncio.to_thread(verify_main, ["--database-url", store.url])

    assert report == {"ok": True, "checked": 5, "firstBrokenId": None}
    assert code == 0
    assert "audit chain ok; 5 record(s) checked" in capsys.readouterr().out


async def test_given_a_record_edited_and_rehashed_when_verifying_then_its_successor_breaks(
    store: Store,
) -> None:
    ids = await write_records(store.engine, 4)
    target = await record(store.engine, ids[1])
    target["new_values"] = {"price": "0.01"}
    # A careful forger recomputes the edited record's own hash; the next link still breaks.
    async with store.engine.begin() as conn:
        await conn.execute(
            update(audit_t)
            .where(audit_t.c.id == ids[1])
            .values(new_values=target["new_values"], hash=link_hash(target["prev_hash"], target))
        )

    report = (await store.gql.ok(VERIFY))["verifyAuditChain"]

    assert (report["ok"], report["firstBrokenId"]) == (False, gid("AuditLog", ids[2]))


@pytest.mark.postgres_only
async def test_given_twenty_concurrent_writers_when_verifying_then_the_chain_did_not_fork(
    engine: AsyncEngine,
) -> None:
    factory = audited_session_factory(engine)

    async def create(n: int) -> None:
        uow = SqlAlchemyUnitOfWork(factory)
        try:
            await create_product(uow, sku=f"CC-{n:02d}", name=f"Concurrent {n}", price=Decimal(n))
        finally:
            await uow.close()

    await asyncio.gather(*(create(n) for n in range(20)))

    async with engine.connect() as conn:
        report = await verify_database(conn)
        prev_hashes = list((await conn.execute(select(audit_t.c.prev_hash))).scalars())
    assert (report.ok, report.checked) == (True, 20)
    assert len(set(prev_hashes)) == 20, "no two records follow the same predecessor"
