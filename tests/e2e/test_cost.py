"""Query cost over HTTP: the price is reported on every response, the limit is exact, and
a refused operation never reaches a resolver (no SQL beyond authenticating the caller).

The rules themselves are pinned in tests/unit/test_cost_model.py; here the real app
enforces them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from tests.builders import add_customers, add_products, add_tasks, link
from tests.conftest import GraphQLClient, StatementCounter, token_for

DEFAULT_MAX_COST = 5000
BENCHMARK = (
    "{ customers(first: %d) { edges { node { id name email tasks(first: 10) { edges { node {"
    " id title status products { id name price } } } } } } } }"
)

BuildClient = Callable[..., GraphQLClient]


@pytest.fixture
async def client_with(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[BuildClient]:
    """Builds the real app with some settings changed; returns a superuser GraphQL client."""
    async with AsyncExitStack() as stack:

        def build(**overrides: Any) -> GraphQLClient:
            app = create_app(settings.model_copy(update=overrides), engine=engine)
            transport = httpx.ASGITransport(app=app)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            stack.push_async_callback(http.aclose)
            return GraphQLClient(http, token_for(app, superuser_id))

        yield build


def customers(first: int) -> str:
    """Priced at 1 + first."""
    return f"{{ customers(first: {first}) {{ edges {{ node {{ id }} }} }} }}"


def default_limit_query(extra: int) -> str:
    """Priced at exactly 5000 + extra with page sizes the resolvers accept (at most 100).

    customers 1 + 100 customers + 100 task connections + 100 * 47 tasks = 4901, and the
    products connection 1 + (98 + extra) products = 99 + extra.
    """
    return (
        "{ customers(first: 100) { edges { node { tasks(first: 47) { edges { node { id } } } } } }"
        f" products(first: {98 + extra}) {{ edges {{ node {{ id }} }} }} }}"
    )


async def statements_of(
    gql: GraphQLClient, statements: StatementCounter, query: str
) -> tuple[int, dict[str, Any]]:
    """The SQL statements one request runs, and its body."""
    statements.statements.clear()
    statements.counting = True
    try:
        result = await gql(query)
    finally:
        statements.counting = False
    return statements.count, result


# ---------------------------------------------------------------- the limit, exactly


@pytest.mark.parametrize(
    ("max_cost", "at_limit"),
    [
        pytest.param(50, customers(49), id="custom-50"),
        pytest.param(DEFAULT_MAX_COST, default_limit_query(0), id="default-5000"),
    ],
)
async def test_given_a_query_costing_exactly_the_limit_when_run_then_it_runs_and_reports_it(
    client_with: BuildClient, max_cost: int, at_limit: str
) -> None:
    gql = client_with() if max_cost == DEFAULT_MAX_COST else client_with(graphql_max_cost=max_cost)
    data = await gql.ok(at_limit)
    assert data is not None
    assert gql.last_extensions == {"cost": max_cost, "maxCost": max_cost}


@pytest.mark.parametrize(
    ("max_cost", "over_limit"),
    [
        pytest.param(50, customers(50), id="custom-50"),
        pytest.param(DEFAULT_MAX_COST, default_limit_query(1), id="default-5000"),
    ],
)
async def test_given_a_query_one_over_the_limit_when_run_then_refused_before_any_resolver(
    client_with: BuildClient, statements: StatementCounter, max_cost: int, over_limit: str
) -> None:
    gql = client_with() if max_cost == DEFAULT_MAX_COST else client_with(graphql_max_cost=max_cost)
    # Authenticating the caller is the only SQL a request runs before its resolvers.
    authentication, _ = await statements_of(gql, statements, "{ __typename }")

    count, result = await statements_of(gql, statements, over_limit)

    assert result["data"] is None
    assert len(result["errors"]) == 1
    error = result["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] == max_cost + 1
    assert error["extensions"]["maxCost"] == max_cost
    assert f"costs {max_cost + 1}" in error["message"]
    assert "path" not in error
    assert count == authentication
    assert gql.last_extensions == {"cost": max_cost + 1, "maxCost": max_cost}


async def test_given_a_too_costly_mutation_when_run_then_nothing_is_written(
    client_with: BuildClient,
) -> None:
    gql = client_with(graphql_max_cost=1)
    create = (
        'mutation { createProduct(input: {sku: "DEAR-1", name: "Dear", price: "1.00"})'
        " { product { id } } }"
    )
    error = await gql.error(create)
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    data = await client_with().ok("{ products { totalCount } }")
    assert data == {"products": {"totalCount": 0}}


# ---------------------------------------------------------------- the price on every response


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ __typename }", 0),
        ("{ me { id email } }", 1),
        ("{ products(first: 3) { totalCount edges { node { id } } } }", 1 + 3),
        ("{ products { pageInfo { hasNextPage } } }", 1 + 1),
        ("{ roles { id grants { module } } }", 3 + 9),
    ],
)
async def test_given_a_successful_query_when_run_then_extensions_carry_its_cost(
    gql: GraphQLClient, query: str, expected: int
) -> None:
    await gql.ok(query)
    assert gql.last_extensions == {"cost": expected, "maxCost": DEFAULT_MAX_COST}


async def test_given_a_successful_mutation_when_run_then_extensions_carry_its_cost(
    gql: GraphQLClient,
) -> None:
    await gql.ok(
        'mutation { createProduct(input: {sku: "COST-1", name: "Priced", price: "2.50"})'
        " { product { id } } }"
    )
    assert gql.last_extensions == {"cost": 2, "maxCost": DEFAULT_MAX_COST}


@pytest.mark.parametrize("first", [1, 37, 100])
async def test_given_the_page_size_in_a_variable_when_run_then_the_variable_is_priced(
    gql: GraphQLClient, first: int
) -> None:
    query = "query($n: Int!) { customers(first: $n) { edges { node { id } } } }"
    await gql.ok(query, {"n": first})
    assert gql.last_extensions["cost"] == 1 + first


async def test_given_a_query_that_fails_validation_when_run_then_no_cost_is_reported(
    gql: GraphQLClient,
) -> None:
    await gql.error("{ products { nope } }")
    assert "cost" not in gql.last_extensions


# ---------------------------------------------------------------- the benchmark


@pytest.mark.parametrize(("first", "expected"), [(50, 2101), (100, 4201)])
async def test_given_the_benchmark_query_when_run_then_it_answers_under_the_default_limit(
    gql: GraphQLClient, engine: AsyncEngine, first: int, expected: int
) -> None:
    product_ids = await add_products(engine, *({} for _ in range(3)))
    customer_ids = await add_customers(engine, *({} for _ in range(3)))
    task_ids = await add_tasks(engine, *({"customer_id": cid} for cid in customer_ids))
    await link(engine, zip(task_ids, product_ids, strict=True))

    data = await gql.ok(BENCHMARK % first)

    cost = gql.last_extensions["cost"]
    print(f"benchmark query with first: {first} costs {cost}")
    assert cost == expected
    assert cost < DEFAULT_MAX_COST
    edges = data["customers"]["edges"]
    assert len(edges) == 3
    assert all(len(e["node"]["tasks"]["edges"]) == 1 for e in edges)
    assert all(len(e["node"]["tasks"]["edges"][0]["node"]["products"]) == 1 for e in edges)
