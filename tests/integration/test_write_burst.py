"""A burst of writers on a small pool: every write lands, none waits for a timeout.

On SQLite, writers queue at the in-process write gate (`persistence.writers`). A writer
that waited there while holding a pooled connection (the one its request authenticated
with) could leave the gate's holder without one: with more writers than connections the
whole pool sat at the gate and the holder waited until a timeout. A pool of two connections
and 50 writers shows it at once. PostgreSQL has no gate; the same burst must pass there too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.capture import audited_session_factory
from config.settings import Settings
from domain.products.model import NewProduct
from graph.app import create_app
from persistence.database import create_engine
from persistence.models import AccessLogModel, Base, ProductModel
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import ON_POSTGRES, GraphQLClient, add_login_user, token_for

WRITERS = 50
# The deadlock lasted until the pool timeout fired, whatever its length, so SQLite keeps the
# default. PostgreSQL has no gate: each request holds a connection from start to end, so 50
# of them queue for the two by design, and on a loaded machine that takes seconds.
POOL = {
    "database_pool_size": 2,
    "database_max_overflow": 0,
    "database_pool_timeout_seconds": 30 if ON_POSTGRES else 5,
}
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }"


@pytest.fixture
async def small_pool(
    settings: Settings, engine: AsyncEngine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    """An engine with two pooled connections: the run's PostgreSQL database, or a SQLite file.

    In-memory SQLite shares a single connection and has no pool to run dry, hence a file.
    """
    if ON_POSTGRES:
        small = create_engine(settings.model_copy(update=POOL))
    else:
        path = tmp_path_factory.mktemp("burst") / "burst.db"
        url = f"sqlite+aiosqlite:///{path}"
        small = create_engine(settings.model_copy(update={**POOL, "database_url": url}))
        async with small.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    yield small
    await small.dispose()


async def count(engine: AsyncEngine, model: type[Base]) -> int:
    """How many rows `model`'s table holds."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


def new_product() -> NewProduct:
    """A product with a SKU of its own."""
    return NewProduct(
        sku=f"B-{uuid.uuid4().hex[:12]}",
        name="Burst",
        description=None,
        price=Decimal("1.00"),
        stock=0,
        is_active=True,
    )


async def test_given_writers_that_read_first_and_some_that_do_not_when_all_write_then_all_commit(
    small_pool: AsyncEngine,
) -> None:
    # Given 2 connections, writers that hold one from a read before they write (like an
    # authenticated mutation), and writers that read nothing first (like `login`) among them
    factory = audited_session_factory(small_pool)

    async def writer(*, reads_first: bool) -> None:
        uow = SqlAlchemyUnitOfWork(factory)
        try:
            if reads_first:
                await uow.products.sku_taken("none")
            async with uow:
                await uow.products.add(new_product())
                await uow.commit()
        finally:
            await uow.close()

    # When they all write at once
    async with asyncio.timeout(30):
        outcomes = await asyncio.gather(
            *(writer(reads_first=index % 2 == 0) for index in range(WRITERS)),
            return_exceptions=True,
        )

    # Then none waited for a connection in vain
    assert [o for o in outcomes if o is not None] == []
    assert await count(small_pool, ProductModel) == WRITERS


async def test_given_a_small_pool_when_50_clients_create_products_at_once_then_none_fails(
    small_pool: AsyncEngine, settings: Settings, password_hash: str
) -> None:
    # Given the real app on two connections and a caller allowed to write
    app = create_app(settings.model_copy(update=POOL), engine=small_pool)
    user_id = await add_login_user(
        small_pool, email="burst@test.example", password_hash=password_hash, is_superuser=True
    )
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        gql = GraphQLClient(http, token_for(app, user_id))

        async def create() -> dict[str, object]:
            variables = {"input": {"sku": f"B-{uuid.uuid4().hex[:12]}", "name": "B", "price": "1"}}
            return await gql(CREATE, variables)

        # When 50 clients create a product at the same moment
        async with asyncio.timeout(60):
            results = await asyncio.gather(*(create() for _ in range(WRITERS)))

    # Then every write answered without error (no TIMEOUT, no SERVICE_UNAVAILABLE), and
    # every product and every access record (written after each response) was committed
    assert [r["errors"] for r in results if "errors" in r] == []
    assert await count(small_pool, ProductModel) == WRITERS
    assert await count(small_pool, AccessLogModel) == WRITERS
