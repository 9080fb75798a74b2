"""PostgreSQL guards: server-side timeouts on every pooled connection, and what a client
sees when they fire or when the pool runs dry.

- `statement_timeout`, `lock_timeout` and `idle_in_transaction_session_timeout` are set
  on every connection the engine opens.
- A cancelled statement (57014) or a lock wait given up (55P03) reaches the client as
  TIMEOUT; an exhausted pool as SERVICE_UNAVAILABLE. Neither is a masked 500 or a hang.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from graphql import GraphQLError
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from config.settings import Settings
from graph.app import create_app
from graph.errors import is_expected, map_error
from persistence.database import create_engine
from persistence.failures import unavailable
from tests.builders import add_products, gid
from tests.conftest import GraphQLClient, token_for

pytestmark = pytest.mark.postgres_only

GUARDS = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
RENAME = (
    'mutation($id: ID!) { updateProduct(id: $id, input: {name: "Renamed"}) { product { id } } }'
)

Build = Callable[..., Awaitable[GraphQLClient]]


async def guard_settings(conn: AsyncConnection) -> dict[str, int]:
    """The three guards of this connection, in milliseconds."""
    rows = await conn.execute(
        text("SELECT name, setting FROM pg_settings WHERE name = ANY(:names)"),
        {"names": list(GUARDS)},
    )
    return {name: int(setting) for name, setting in rows.all()}


@pytest.fixture
async def engine_with(settings: Settings) -> AsyncIterator[Callable[..., AsyncEngine]]:
    """Engines built by `create_engine` from changed settings; disposed after the test."""
    engines: list[AsyncEngine] = []

    def build(**overrides: Any) -> AsyncEngine:
        engines.append(create_engine(settings.model_copy(update=overrides)))
        return engines[-1]

    yield build
    for built in engines:
        await built.dispose()


@pytest.fixture
async def app_with(
    settings: Settings,
    engine: AsyncEngine,
    engine_with: Callable[..., AsyncEngine],
    superuser_id: int,
) -> AsyncIterator[Callable[..., tuple[GraphQLClient, AsyncEngine]]]:
    """The real app on its own engine built from changed settings; a superuser client."""
    async with AsyncExitStack() as stack:

        def build(**overrides: Any) -> tuple[GraphQLClient, AsyncEngine]:
            own = engine_with(**overrides)
            app = create_app(settings.model_copy(update=overrides), engine=own)
            transport = httpx.ASGITransport(app=app)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            stack.push_async_callback(http.aclose)
            return GraphQLClient(http, token_for(app, superuser_id)), own

        yield build


@pytest.fixture
async def locked_product(engine: AsyncEngine) -> AsyncIterator[str]:
    """A product whose row another transaction holds FOR UPDATE; its global ID."""
    (pk,) = await add_products(engine, {})
    async with engine.connect() as holder:
        await holder.begin()
        await holder.execute(text("SELECT id FROM products WHERE id = :id FOR UPDATE"), {"id": pk})
        yield gid("Product", pk)
        await holder.rollback()


# ---------------------------------------------------------------- the guards are set


async def test_given_default_settings_when_a_pooled_connection_opens_then_guards_are_set(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with engine.connect() as conn:
        assert await guard_settings(conn) == {
            "statement_timeout": settings.database_statement_timeout_ms,
            "lock_timeout": settings.database_lock_timeout_ms,
            "idle_in_transaction_session_timeout": settings.database_idle_in_transaction_timeout_ms,
        }
        shown = (await conn.execute(text("SHOW statement_timeout"))).scalar_one()
    assert shown == "10s"


async def test_given_custom_timeouts_when_a_connection_opens_then_the_server_reports_them(
    engine_with: Callable[..., AsyncEngine],
) -> None:
    custom = engine_with(
        database_statement_timeout_ms=1234,
        database_lock_timeout_ms=567,
        database_idle_in_transaction_timeout_ms=8910,
    )
    async with custom.connect() as conn:
        assert await guard_settings(conn) == {
            "statement_timeout": 1234,
            "lock_timeout": 567,
            "idle_in_transaction_session_timeout": 8910,
        }
        shown = (await conn.execute(text("SHOW statement_timeout"))).scalar_one()
    assert shown == "1234ms"


# ---------------------------------------------------------------- timeouts map to TIMEOUT


def client_view(original: Exception) -> GraphQLError:
    """The error a client gets when a statement at `tasks` raised `original`: the adapter
    translates it (`persistence.failures`), the GraphQL layer maps the translation."""
    translated = unavailable(original)
    assert translated is not None, "a timeout is overload, not a bug"
    raised = GraphQLError("raw", path=["tasks"], original_error=translated)
    assert is_expected(raised), "a timeout is overload, not a bug: no stack trace is logged"
    return map_error(raised, executing=True, request_id="req-1")


async def test_given_a_statement_over_the_timeout_when_it_runs_then_the_client_sees_timeout(
    engine_with: Callable[..., AsyncEngine],
) -> None:
    custom = engine_with(database_statement_timeout_ms=50)
    started = time.perf_counter()
    with pytest.raises(sa_exc.DBAPIError) as caught:
        async with custom.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(2)"))
    assert time.perf_counter() - started < 1.5
    assert caught.value.orig is not None
    assert getattr(caught.value.orig, "sqlstate", None) == "57014"

    error = client_view(caught.value)
    assert error.extensions == {"code": "TIMEOUT", "requestId": "req-1"}
    assert "pg_sleep" not in error.message
    assert "cancel" not in error.message.lower()


async def test_given_a_lock_wait_over_the_timeout_when_it_gives_up_then_the_client_sees_timeout(
    engine_with: Callable[..., AsyncEngine], locked_product: str
) -> None:
    custom = engine_with(database_lock_timeout_ms=50)
    with pytest.raises(sa_exc.DBAPIError) as caught:
        async with custom.connect() as conn:
            await conn.execute(text("UPDATE products SET stock = stock + 1"))
    assert getattr(caught.value.orig, "sqlstate", None) == "55P03"
    assert client_view(caught.value).extensions == {"code": "TIMEOUT", "requestId": "req-1"}


async def test_given_a_mutation_blocked_past_the_statement_timeout_when_run_then_timeout(
    app_with: Callable[..., tuple[GraphQLClient, AsyncEngine]], locked_product: str
) -> None:
    # lock_timeout 0 disables that guard, so the statement timeout is what fires.
    gql, _ = app_with(database_statement_timeout_ms=200, database_lock_timeout_ms=0)
    started = time.perf_counter()
    error = await gql.error(RENAME, {"id": locked_product})
    assert time.perf_counter() - started < 2
    assert error["extensions"]["code"] == "TIMEOUT"
    assert error["path"] == ["updateProduct"]
    assert gql.last_response is not None
    assert gql.last_response.status_code == 200


async def test_given_a_mutation_waiting_past_the_lock_timeout_when_run_then_timeout(
    app_with: Callable[..., tuple[GraphQLClient, AsyncEngine]], locked_product: str
) -> None:
    gql, _ = app_with(database_lock_timeout_ms=100)
    started = time.perf_counter()
    error = await gql.error(RENAME, {"id": locked_product})
    assert time.perf_counter() - started < 2
    assert error["extensions"]["code"] == "TIMEOUT"


async def test_given_a_timed_out_mutation_when_the_lock_is_gone_then_the_pool_still_serves(
    app_with: Callable[..., tuple[GraphQLClient, AsyncEngine]], engine: AsyncEngine
) -> None:
    gql, _ = app_with(database_statement_timeout_ms=200, database_lock_timeout_ms=0)
    (pk,) = await add_products(engine, {})
    async with engine.connect() as holder:
        await holder.begin()
        await holder.execute(text("SELECT id FROM products WHERE id = :id FOR UPDATE"), {"id": pk})
        error = await gql.error(RENAME, {"id": gid("Product", pk)})
        await holder.rollback()
    assert error["extensions"]["code"] == "TIMEOUT"
    # The cancelled statement's connection went back to the pool in a usable state.
    data = await gql.ok(RENAME, {"id": gid("Product", pk)})
    assert data["updateProduct"]["product"]["id"] == gid("Product", pk)


# ---------------------------------------------------------------- pool exhaustion

# One connection, no overflow, a short wait. JSON logs, as in production: the development
# console renderer spends about two seconds drawing the stack trace with its locals.
ONE_CONNECTION = {
    "database_pool_size": 1,
    "database_max_overflow": 0,
    "database_pool_timeout_seconds": 0.2,
    "log_format": "json",
}
LOGIN = (
    'mutation { login(email: "nobody@test.example", password: "no-such-password") { tokenType } }'
)


@pytest.mark.parametrize(
    ("query", "anonymous"),
    [("{ products { totalCount } }", False), (LOGIN, True)],
    ids=["authenticated-query", "anonymous-login"],
)
async def test_given_the_only_connection_is_held_when_a_request_arrives_then_service_unavailable(
    app_with: Callable[..., tuple[GraphQLClient, AsyncEngine]], query: str, anonymous: bool
) -> None:
    gql, own = app_with(**ONE_CONNECTION)
    client = gql.as_token(None) if anonymous else gql
    held = await own.connect()
    try:
        started = time.perf_counter()
        error = await client.error(query)
        elapsed = time.perf_counter() - started
    finally:
        await held.close()
    assert elapsed < 1.0
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "QueuePool" not in error["message"]
    assert client.last_response is not None
    assert client.last_response.status_code == 200
    # Once the connection is back, the same app answers normally.
    assert await gql.ok("{ products { totalCount } }") == {"products": {"totalCount": 0}}


async def test_given_the_pool_is_exhausted_when_a_caller_authenticates_then_no_stack_trace(
    app_with: Callable[..., tuple[GraphQLClient, AsyncEngine]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    gql, own = app_with(**ONE_CONNECTION)
    held = await own.connect()
    try:
        capsys.readouterr()
        error = await gql.error("{ products { totalCount } }")
    finally:
        await held.close()
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "Traceback" not in capsys.readouterr().err
