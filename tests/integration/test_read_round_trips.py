"""PostgreSQL round trips per request (docs/adr/0009-autocommit-reads.md).

A read request costs one round trip per SQL statement and nothing else: no BEGIN, no
ROLLBACK and no pre-ping. A write still runs in one real transaction (BEGIN ... COMMIT).
A connection the server killed while it sat in the pool is replaced at checkout, so the
next request does not fail.

Round trips are counted on the driver: every asyncpg call that sends a message and waits for
the answer (statements, prepares, the BEGIN/COMMIT/ROLLBACK of a transaction, the ping).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from asyncpg.prepared_stmt import PreparedStatement
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from domain.products.model import ProductFilter
from graph.app import create_app
from persistence.database import create_engine
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from tests.builders import add_products, gid
from tests.conftest import GraphQLClient, token_for

pytestmark = pytest.mark.postgres_only

Q1 = "{ products(first: 100) { edges { node { id sku name price } } } }"
RENAME = (
    "mutation($id: ID!, $name: String!) { updateProduct(id: $id, input: {name: $name}) "
    "{ product { id name } } }"
)


@dataclass
class RoundTrips:
    """What the driver sent while `counting` was on: SQL text or the kind of call."""

    sent: list[str] = field(default_factory=list)
    counting: bool = False

    def note(self, what: str) -> None:
        if self.counting:
            self.sent.append(what.strip())


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> RoundTrips:
    """Every asyncpg call that makes a round trip, recorded while counting."""
    trips = RoundTrips()

    def wrap(owner: type, name: str, label: Callable[..., str]) -> None:
        original = getattr(owner, name)

        async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            trips.note(label(self, *args))
            return await original(self, *args, **kwargs)

        monkeypatch.setattr(owner, name, counted)

    connection = asyncpg.connection.Connection
    wrap(connection, "execute", lambda _c, query, *_a: query)  # BEGIN / COMMIT / ROLLBACK
    wrap(connection, "fetchrow", lambda _c, query, *_a: f"ping {query}")
    wrap(connection, "prepare", lambda _c, query, *_a: f"prepare {query}")
    wrap(connection, "executemany", lambda _c, query, *_a: query)
    wrap(PreparedStatement, "fetch", lambda stmt, *_a: stmt.get_query())
    wrap(PreparedStatement, "fetchrow", lambda stmt, *_a: stmt.get_query())
    wrap(PreparedStatement, "executemany", lambda stmt, *_a: stmt.get_query())
    return trips


@pytest.fixture
async def app_client(
    settings: Settings, superuser_id: int
) -> AsyncIterator[tuple[GraphQLClient, AsyncEngine]]:
    """The real app on an engine of its own (so its pool can be killed), without the access
    log (written in batches, on its own connection); a superuser client."""
    own = create_engine(settings)
    app = create_app(settings, engine=own, access_log=None)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(own.dispose)
        transport = httpx.ASGITransport(app=app)
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://testserver")
        )
        yield GraphQLClient(http, token_for(app, superuser_id)), own


async def counted(
    trips: RoundTrips, engine: AsyncEngine, request: Callable[[], Awaitable[Any]]
) -> tuple[list[str], list[str]]:
    """The round trips and the SQL statements (as SQLAlchemy ran them) of one request."""
    statements: list[str] = []

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.strip())

    event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    trips.sent.clear()
    trips.counting = True
    try:
        await request()
    finally:
        trips.counting = False
        event.remove(engine.sync_engine, "before_cursor_execute", on_statement)
    return list(trips.sent), statements


async def test_given_a_warm_pool_when_q1_is_read_then_one_round_trip_per_statement(
    app_client: tuple[GraphQLClient, AsyncEngine], engine: AsyncEngine, round_trips: RoundTrips
) -> None:
    gql, own = app_client
    await add_products(engine, {}, {})
    await gql.ok(Q1)  # prepares the statements on the pooled connection

    sent, statements = await counted(round_trips, own, lambda: gql.ok(Q1))

    # Authentication's principal load and the page: no BEGIN, ROLLBACK or ping around them.
    assert len(statements) == 2
    assert sent == statements


async def test_given_a_mutation_when_run_then_its_writes_share_one_transaction(
    app_client: tuple[GraphQLClient, AsyncEngine], engine: AsyncEngine, round_trips: RoundTrips
) -> None:
    gql, own = app_client
    (pk,) = await add_products(engine, {})
    await gql.ok(RENAME, {"id": gid("Product", pk), "name": "First"})

    sent, statements = await counted(
        round_trips, own, lambda: gql.ok(RENAME, {"id": gid("Product", pk), "name": "Second"})
    )

    # The principal is read before the transaction; everything else runs inside it.
    assert sent[0] == statements[0]
    assert sent[1].startswith("BEGIN")
    assert sent[2:-1] == statements[1:]
    assert sent[-1] == "COMMIT;"
    assert any(s.startswith("UPDATE products") for s in statements)
    assert any("INSERT INTO audit" in s for s in statements)


async def terminate_backends(engine: AsyncEngine, pids: set[int]) -> None:
    """Kill these backends from another connection and wait until the server let them go."""
    async with engine.connect() as admin:
        await admin.execute(
            text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"),
            {"pids": sorted(pids)},
        )
        for _ in range(100):
            alive = await admin.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                {"pids": sorted(pids)},
            )
            if alive.scalar_one() == 0:
                break
            await asyncio.sleep(0.02)
    # Give the event loop a turn to read the closed sockets, as an idle server would.
    await asyncio.sleep(0.05)


async def pooled_pids(own: AsyncEngine, count: int) -> set[int]:
    """Check out `count` connections at once and return their backend pids to the pool."""
    async with AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(own.connect()) for _ in range(count)]
        pids = set()
        for conn in connections:
            raw = await conn.get_raw_connection()
            pids.add(raw.driver_connection.get_server_pid())  # type: ignore[union-attr]
    return pids


@pytest.mark.parametrize("query", [Q1, RENAME], ids=["read", "write"])
async def test_given_the_server_killed_the_pooled_connections_when_a_request_comes_then_it_succeeds(
    app_client: tuple[GraphQLClient, AsyncEngine], engine: AsyncEngine, query: str
) -> None:
    gql, own = app_client
    (pk,) = await add_products(engine, {})
    variables = {"id": gid("Product", pk), "name": "First"} if query is RENAME else None
    await gql.ok(query, variables)
    pids = await pooled_pids(own, 3)

    await terminate_backends(engine, pids)

    if variables:
        variables["name"] = "Second"
    assert await gql.ok(query, variables)
    assert (await pooled_pids(own, 3)).isdisjoint(pids)


# ---------------------------------------------------------------- the unit of work itself


async def test_given_reads_around_a_write_block_when_run_then_only_the_block_is_a_transaction(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine, round_trips: RoundTrips
) -> None:
    (pk,) = await add_products(engine, {})
    round_trips.counting = True

    assert await uow.products.count(ProductFilter()) == 1
    async with uow:
        await uow.products.get_for_update(pk)
        await uow.products.update(pk, {"name": "Changed"})
        await uow.commit()
    assert await uow.products.count(ProductFilter()) == 1
    await uow.close()

    round_trips.counting = False
    # Statements are prepared once per connection; what matters is what runs around them.
    verbs = [
        sent.split(None, 1)[0].upper()
        for sent in round_trips.sent
        if not sent.startswith("prepare ")
    ]
    assert verbs.count("BEGIN") == 1
    assert verbs.count("ROLLBACK;") == 0
    begin, commit = verbs.index("BEGIN"), verbs.index("COMMIT;")
    # The reads before and after run on their own; the lock, the UPDATE and the audit
    # record between one BEGIN and its COMMIT.
    assert verbs[0] == verbs[-1] == "SELECT"
    assert begin == 1
    assert commit == len(verbs) - 2
    assert "UPDATE" in verbs[begin:commit]


async def test_given_a_row_locked_inside_the_block_when_another_session_asks_then_it_is_held(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    (pk,) = await add_products(engine, {})
    await uow.products.count(ProductFilter())  # a read outside: the autocommit connection

    async with uow:
        await uow.products.get_for_update(pk)
        async with engine.connect() as other:
            with pytest.raises(sa_exc.DBAPIError) as raised:
                await other.execute(
                    text("SELECT id FROM products WHERE id = :id FOR UPDATE NOWAIT"), {"id": pk}
                )
        # 55P03 lock_not_available: the block's lock lives until its transaction ends.
        assert getattr(raised.value.orig, "sqlstate", None) == "55P03"

    async with engine.connect() as other:
        locked = await other.execute(
            text("SELECT id FROM products WHERE id = :id FOR UPDATE NOWAIT"), {"id": pk}
        )
        assert locked.scalar_one() == pk
