"""Per-caller rate limits over HTTP: the requests bucket, the cost bucket, batches, keys.

Each test builds its own app with small limits (3 operations or 100 cost per minute), so
the in-memory buckets start full. Nothing refills noticeably within a test: 3 per minute
is one token every 20 seconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from persistence.models import ProductModel
from tests.conftest import GraphQLClient, add_login_user, token_for

TYPENAME = "{ __typename }"
PRODUCTS = "query Products($first: Int!) { products(first: $first) { edges { node { id } } } }"
CREATE = """
mutation Create($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }"""


def limited_app(settings: Settings, engine: AsyncEngine, **limits: Any) -> Any:
    """The real app on the test database, with the given limit settings."""
    return create_app(settings.model_copy(update=limits), engine=engine)


@asynccontextmanager
async def http_from(app: Any, ip: str = "10.1.1.1") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose requests come from `ip`."""
    transport = httpx.ASGITransport(app=app, client=(ip, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def assert_refused(response: httpx.Response, error: dict[str, Any]) -> None:
    """A 429 with Retry-After, and the error that says why and for how long."""
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert error["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert error["extensions"]["retryAfter"] == retry_after
    assert error["extensions"]["requestId"] == response.headers["X-Request-ID"]


async def product_count(engine: AsyncEngine) -> int:
    """How many product rows exist."""
    async with engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(ProductModel))).scalar_one()
        )


# ---------------------------------------------------------------- the requests bucket


async def test_given_3_per_minute_when_a_4th_operation_comes_then_429_and_it_is_not_executed(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    app = limited_app(settings, engine, rate_limit_requests_per_minute=3)
    async with http_from(app) as http:
        gql = GraphQLClient(http, token_for(app, superuser_id))
        for _ in range(3):
            await gql.ok(TYPENAME)
            assert gql.last_response is not None
            assert gql.last_response.status_code == 200
            assert "Retry-After" not in gql.last_response.headers

        result = await gql(CREATE, {"input": {"sku": "RL-1", "name": "Refused", "price": "1.00"}})

    assert gql.last_response is not None
    assert result["data"] is None
    [error] = result["errors"]
    assert_refused(gql.last_response, error)
    assert await product_count(engine) == 0


async def test_given_a_spent_bucket_when_a_document_is_invalid_then_it_is_still_refused_first(
    settings: Settings, engine: AsyncEngine
) -> None:
    # The request token is taken before parsing, so floods of broken documents count too.
    app = limited_app(settings, engine, rate_limit_requests_per_minute=3)
    async with http_from(app) as http:
        anonymous = GraphQLClient(http)
        for _ in range(3):
            assert (await anonymous("{ nope"))["errors"][0]["extensions"]["code"] == (
                "GRAPHQL_PARSE_FAILED"
            )

        error = await anonymous.error("{ nope")

    assert anonymous.last_response is not None
    assert_refused(anonymous.last_response, error)


async def test_given_two_users_on_one_ip_when_one_spends_the_bucket_then_the_other_still_passes(
    settings: Settings, engine: AsyncEngine, superuser_id: int, password_hash: str
) -> None:
    other_id = await add_login_user(engine, email="other@test.example", password_hash=password_hash)
    app = limited_app(settings, engine, rate_limit_requests_per_minute=3)
    async with http_from(app) as http:
        first = GraphQLClient(http, token_for(app, superuser_id))
        second = GraphQLClient(http, token_for(app, other_id))
        for _ in range(3):
            await first.ok(TYPENAME)
        refused = await first(TYPENAME)

        await second.ok(TYPENAME)
        anonymous_on_same_ip = await GraphQLClient(http)(TYPENAME)

    assert refused["errors"][0]["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert second.last_response is not None
    assert second.last_response.status_code == 200
    assert "errors" not in anonymous_on_same_ip


async def test_given_anonymous_callers_when_they_share_an_ip_then_they_share_a_bucket(
    settings: Settings, engine: AsyncEngine
) -> None:
    app = limited_app(settings, engine, rate_limit_requests_per_minute=3)
    async with (
        http_from(app, "10.1.1.1") as first,
        http_from(app, "10.1.1.1") as second,
        http_from(app, "10.2.2.2") as elsewhere,
    ):
        for http in (first, second, first):
            await GraphQLClient(http).ok(TYPENAME)

        same_ip = await GraphQLClient(second)(TYPENAME)
        other_ip = await GraphQLClient(elsewhere)(TYPENAME)

    assert same_ip["errors"][0]["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert "errors" not in other_ip


# ---------------------------------------------------------------- the cost bucket


async def test_given_100_cost_per_minute_when_a_query_of_60_comes_twice_then_the_second_is_refused(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    app = limited_app(settings, engine, rate_limit_cost_per_minute=100)
    async with http_from(app) as http:
        gql = GraphQLClient(http, token_for(app, superuser_id))
        await gql.ok(PRODUCTS, {"first": 59})
        assert gql.last_extensions["cost"] == 60

        error = await gql.error(PRODUCTS, {"first": 59})
        assert gql.last_response is not None
        assert_refused(gql.last_response, error)

        # What is left (40) still admits a cheaper query.
        await gql.ok(PRODUCTS, {"first": 20})


async def test_given_a_spent_cost_budget_when_a_mutation_comes_then_it_is_refused_before_running(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    app = limited_app(settings, engine, rate_limit_cost_per_minute=3)
    async with http_from(app) as http:
        gql = GraphQLClient(http, token_for(app, superuser_id))
        await gql.ok(CREATE, {"input": {"sku": "C-1", "name": "First", "price": "1.00"}})
        assert gql.last_extensions["cost"] == 2

        error = await gql.error(CREATE, {"input": {"sku": "C-2", "name": "Second", "price": "1"}})

    assert gql.last_response is not None
    assert_refused(gql.last_response, error)
    assert await product_count(engine) == 1


async def test_given_a_query_over_the_cost_limit_when_refused_then_it_takes_nothing_from_the_bucket(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    app = limited_app(settings, engine, rate_limit_cost_per_minute=100, graphql_max_cost=80)
    async with http_from(app) as http:
        gql = GraphQLClient(http, token_for(app, superuser_id))
        too_dear = await gql.error(PRODUCTS, {"first": 99})
        assert too_dear["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert gql.last_response is not None
        assert gql.last_response.status_code == 200

        # Had the refused 100 been taken, the bucket would be empty now.
        await gql.ok(PRODUCTS, {"first": 79})


# ---------------------------------------------------------------- batches


async def test_given_a_batch_of_4_when_3_per_minute_then_each_operation_counts_and_one_is_refused(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    app = limited_app(settings, engine, rate_limit_requests_per_minute=3, graphql_max_batch=5)
    operations = [
        {"query": CREATE, "variables": {"input": {"sku": f"B-{n}", "name": "B", "price": "1"}}}
        for n in range(4)
    ]
    async with http_from(app) as http:
        headers = {"Authorization": f"Bearer {token_for(app, superuser_id)}"}
        response = await http.post("/graphql", json=operations, headers=headers)
        next_one = await GraphQLClient(http, token_for(app, superuser_id))(TYPENAME)

    results = response.json()
    refused = [r for r in results if "errors" in r]
    assert len(results) == 4
    assert len(refused) == 1
    assert_refused(response, refused[0]["errors"][0])
    assert await product_count(engine) == 3
    assert next_one["errors"][0]["extensions"]["code"] == "TOO_MANY_REQUESTS"


async def test_given_a_batch_when_its_costs_add_up_past_the_budget_then_the_rest_is_refused(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    app = limited_app(settings, engine, rate_limit_cost_per_minute=100, graphql_max_batch=5)
    operations = [{"query": PRODUCTS, "variables": {"first": 39}} for _ in range(3)]
    async with http_from(app) as http:
        headers = {"Authorization": f"Bearer {token_for(app, superuser_id)}"}
        response = await http.post("/graphql", json=operations, headers=headers)

    codes = [r.get("errors", [{}])[0].get("extensions", {}).get("code") for r in response.json()]
    assert sorted(codes, key=str) == [None, None, "TOO_MANY_REQUESTS"]
    assert response.status_code == 429


# ---------------------------------------------------------------- defaults


async def test_given_the_default_limits_when_a_client_sends_a_burst_then_nothing_is_refused(
    gql: GraphQLClient,
) -> None:
    for _ in range(20):
        await gql.ok(PRODUCTS, {"first": 50})
    assert gql.last_response is not None
    assert gql.last_response.status_code == 200
