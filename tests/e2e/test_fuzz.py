"""Schema-driven fuzzing: valid operations generated from the committed SDL, sent over HTTP
as the superuser. Whatever they ask, the server answers without a 5xx, without a masked
INTERNAL_SERVER_ERROR, without a stack trace, and with a code on every error.

The operations are generated up front, deterministically (`derandomize=True`), so CI runs
the same ones every time; every failing one is reported, not just the first. Queries are
sent one root field at a time: a failing non-null root field cancels its siblings' SQL
mid-flight (the last test shows it), which is a known bug and not what fuzzing is for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    DocumentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    print_ast,
)
from hypothesis import HealthCheck, given
from hypothesis import settings as run_settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from persistence.database import create_engine
from persistence.models import Base
from tests.builders import add_customers, add_products, add_tasks, add_users, link
from tests.conftest import GraphQLClient, add_login_user, token_for

SDL = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()
QUERIES = 60
MUTATIONS = 40
# `logout` would revoke the fuzzing superuser's own token and blind the rest of the run.
MUTATION_FIELDS = [
    "login",
    "refreshToken",
    "changePassword",
    "createProduct",
    "updateProduct",
    "deleteProduct",
    "createCustomer",
    "updateCustomer",
    "deleteCustomer",
    "createTask",
    "updateTask",
    "deleteTask",
    "createUser",
    "updateUser",
    "createRole",
    "updateRole",
    "deleteRole",
    "assignRole",
    "unassignRole",
]
SCALARS = {
    "Date": st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)).map(nodes.String),
    "DateTime": st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ).map(lambda moment: nodes.String(moment.isoformat())),
    "Decimal": st.decimals(
        min_value=Decimal("-1000000"),
        max_value=Decimal("1000000"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    ).map(nodes.String),
}


def generate(strategy: st.SearchStrategy[Any], count: int) -> list[str]:
    """`count` examples of `strategy`, the same ones on every run."""
    found: list[str] = []

    @run_settings(
        max_examples=count,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(operation: str) -> None:
        found.append(operation)

    collect()
    return list(dict.fromkeys(found))


def one_root_field_each(query: str) -> list[str]:
    """A query with several root fields, as one query per root field."""
    (operation,) = parse(query).definitions
    assert isinstance(operation, OperationDefinitionNode)
    return [
        print_ast(
            DocumentNode(
                definitions=(
                    OperationDefinitionNode(
                        operation=OperationType.QUERY,
                        selection_set=SelectionSetNode(selections=(selection,)),
                    ),
                )
            )
        )
        for selection in operation.selection_set.selections
    ]


@pytest.fixture(scope="module")
def operations() -> list[str]:
    """The generated queries (one root field each), then the generated mutations."""
    # No NUL bytes: PostgreSQL text cannot hold them, so every input must refuse them
    # before the database; test_abuse.py pins that for the login email, the one input
    # without field validation. Here they would only make failures depend on the schema.
    generated_queries = generate(queries(SDL, custom_scalars=SCALARS, allow_x00=False), QUERIES)
    generated_mutations = generate(
        mutations(SDL, fields=MUTATION_FIELDS, custom_scalars=SCALARS, allow_x00=False),
        MUTATIONS,
    )
    assert len(generated_queries) + len(generated_mutations) >= (QUERIES + MUTATIONS) * 0.8
    split = [single for query in generated_queries for single in one_root_field_each(query)]
    return list(dict.fromkeys(split)) + generated_mutations


async def seed(engine: AsyncEngine) -> None:
    """A little of everything, so nested fields resolve to real rows."""
    product_ids = await add_products(engine, *({} for _ in range(3)))
    user_ids = await add_users(engine, {}, {})
    customer_ids = await add_customers(engine, {}, {})
    task_ids = await add_tasks(
        engine,
        *({"customer_id": cid, "assignee_id": user_ids[0]} for cid in customer_ids),
    )
    await link(engine, ((tid, pid) for tid in task_ids for pid in product_ids[:2]))


def problems_of(status: int, text: str, body: Any) -> list[str]:
    """What is wrong with one response, if anything."""
    found = []
    if status >= 500:
        found.append(f"HTTP {status}")
    if "Traceback" in text:
        found.append("a stack trace in the body")
    errors = body.get("errors") or [] if isinstance(body, dict) else []
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        if not code:
            found.append(f"an error without a code: {error.get('message')!r}")
        elif code == "INTERNAL_SERVER_ERROR":
            found.append(f"INTERNAL_SERVER_ERROR at {error.get('path')}")
    return found


async def test_given_generated_operations_when_posted_then_every_answer_is_clean(
    gql: GraphQLClient, engine: AsyncEngine, operations: list[str]
) -> None:
    await seed(engine)
    failures = []
    for operation in operations:
        response = await gql.http.post(
            "/graphql",
            json={"query": operation},
            headers={"authorization": f"Bearer {gql.token}"},
        )
        body = response.json() if response.headers["content-type"] == "application/json" else {}
        problems = problems_of(response.status_code, response.text, body)
        if problems:
            failures.append(f"{'; '.join(problems)}\n    {operation}")
    assert not failures, f"{len(failures)} of {len(operations)} operations:\n" + "\n".join(failures)


@pytest.fixture
async def own_app_client(
    settings: Settings, engine: AsyncEngine, password_hash: str
) -> AsyncIterator[tuple[GraphQLClient, AsyncEngine]]:
    """The app on an engine of its own, so a lost in-memory database stays this test's loss.

    On PostgreSQL it is the run's database (`engine` cleans it afterwards); on SQLite a
    fresh in-memory one.
    """
    own = create_engine(settings)
    async with own.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    user_id = await add_login_user(
        own, email="fuzz@test.example", password_hash=password_hash, is_superuser=True
    )
    app = create_app(settings, engine=own)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http, token_for(app, user_id)), own
    finally:
        await own.dispose()


async def test_given_a_failing_non_null_root_field_when_siblings_query_then_no_connection_dies(
    own_app_client: tuple[GraphQLClient, AsyncEngine],
) -> None:
    gql, own = own_app_client
    invalidated: list[object] = []

    def record(*args: object) -> None:
        invalidated.append(args)

    event.listen(own.sync_engine.pool, "invalidate", record)
    try:
        result = await gql(
            "{ customers { totalCount } tasks { totalCount } products(first: 101) { totalCount } }"
        )
    finally:
        event.remove(own.sync_engine.pool, "invalidate", record)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert invalidated == []
