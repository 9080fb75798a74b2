"""Prometheus metrics over HTTP: what each request records, bounded labels, a guarded /metrics.

The metrics live in prometheus-client's process-wide registry, so each test reads the
change of a value across its own requests, with operation names of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from observability.metrics import ANONYMOUS, OTHER
from tests.conftest import SUPERUSER_EMAIL, GraphQLClient, token_for

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}"""


def value(sample: str, /, **labels: str) -> float:
    """The current value of one sample (0 when it does not exist yet)."""
    return REGISTRY.get_sample_value(sample, labels) or 0.0


def unique(prefix: str) -> str:
    """An operation name no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def app_client(
    settings: Settings, engine: AsyncEngine, user_id: int | None, **changes: Any
) -> AsyncIterator[tuple[Any, GraphQLClient]]:
    """A fresh app on the test database with `changes` to the settings, and a client."""
    app = create_app(settings.model_copy(update=changes), engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        token = token_for(app, user_id) if user_id is not None else None
        yield app, GraphQLClient(http, token)


async def test_given_named_and_anonymous_queries_when_run_then_counted_by_type_and_name(
    gql: GraphQLClient,
) -> None:
    name = unique("Products")
    before_named = value("graphql_operations_total", type="query", name=name)
    before_anonymous = value("graphql_operations_total", type="query", name=ANONYMOUS)
    before_latency = value("graphql_operation_duration_seconds_count", type="query", name=name)

    await gql.ok(f"query {name} {{ products(first: 2) {{ totalCount }} }}")
    await gql.ok(f"query {name} {{ products(first: 2) {{ totalCount }} }}")
    await gql.ok("{ products(first: 1) { totalCount } }")

    assert value("graphql_operations_total", type="query", name=name) == before_named + 2
    assert value("graphql_operations_total", type="query", name=ANONYMOUS) == before_anonymous + 1
    count = value("graphql_operation_duration_seconds_count", type="query", name=name)
    assert count == before_latency + 2


async def test_given_a_mutation_when_run_then_its_type_is_mutation(gql: GraphQLClient) -> None:
    name = unique("Create")
    before = value("graphql_operations_total", type="mutation", name=name)
    await gql.ok(
        f'mutation {name} {{ createProduct(input: {{sku: "MET-1", name: "M",'
        f' price: "1.00"}}) {{ product {{ id }} }} }}'
    )
    assert value("graphql_operations_total", type="mutation", name=name) == before + 1


async def test_given_a_limit_of_two_names_when_five_come_then_the_rest_count_as_other(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    names = [unique(f"Q{n}") for n in range(5)]
    before_other = value("graphql_operations_total", type="query", name=OTHER)
    async with app_client(settings, engine, superuser_id, metrics_max_operation_names=2) as (
        _app,
        gql,
    ):
        for name in names:
            await gql.ok(f"query {name} {{ products(first: 1) {{ totalCount }} }}")
        # An admitted name stays admitted.
        await gql.ok(f"query {names[0]} {{ products(first: 1) {{ totalCount }} }}")

    assert value("graphql_operations_total", type="query", name=names[0]) == 2
    assert value("graphql_operations_total", type="query", name=names[1]) == 1
    for name in names[2:]:
        assert value("graphql_operations_total", type="query", name=name) == 0
    assert value("graphql_operations_total", type="query", name=OTHER) == before_other + 3


async def test_given_an_invalid_document_when_named_then_its_name_never_becomes_a_label(
    gql: GraphQLClient,
) -> None:
    name = unique("Bogus")
    error = await gql.error(f"query {name} {{ noSuchField }}")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # An over-long name from a client is never admitted either.
    await gql.ok(f"query {'L' * 80} {{ products(first: 1) {{ totalCount }} }}")

    assert value("graphql_operations_total", type="query", name=name) == 0
    assert value("graphql_operations_total", type="unknown", name=name) == 0
    assert value("graphql_operations_total", type="query", name="L" * 80) == 0


async def test_given_errors_when_answered_then_counted_by_code_and_statements_per_request(
    gql: GraphQLClient,
) -> None:
    before_auth = value("graphql_errors_total", code="UNAUTHENTICATED")
    before_requests = value("graphql_sql_statements_per_request_count")
    before_statements = value("graphql_sql_statements_per_request_sum")

    await gql.as_token(None).error("{ products(first: 1) { totalCount } }")
    await gql.ok("{ products(first: 3) { edges { node { id } } } }")

    assert value("graphql_errors_total", code="UNAUTHENTICATED") == before_auth + 1
    assert value("graphql_sql_statements_per_request_count") == before_requests + 2
    # The second request: the caller, then the page; its access record is not counted.
    assert value("graphql_sql_statements_per_request_sum") - before_statements >= 2


async def test_given_a_query_when_priced_then_its_cost_is_observed(gql: GraphQLClient) -> None:
    before = value("graphql_operation_cost_count", type="query")
    before_sum = value("graphql_operation_cost_sum", type="query")
    await gql.ok("{ products(first: 7) { edges { node { id } } } }")
    cost = gql.last_extensions["cost"]
    assert value("graphql_operation_cost_count", type="query") == before + 1
    assert value("graphql_operation_cost_sum", type="query") == before_sum + cost


async def test_given_wrong_passwords_when_login_is_throttled_then_failures_and_throttles_count(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    failures = value("auth_login_failures_total")
    throttled = value("auth_login_throttled_total")
    async with app_client(settings, engine, None, login_max_failures_per_email=2) as (_app, gql):
        wrong = {"email": SUPERUSER_EMAIL, "password": "wrong-password-here"}
        codes = [(await gql.error(LOGIN, wrong))["extensions"]["code"] for _ in range(3)]

    assert codes == ["UNAUTHENTICATED", "UNAUTHENTICATED", "TOO_MANY_REQUESTS"]
    assert value("auth_login_failures_total") == failures + 2
    assert value("auth_login_throttled_total") == throttled + 1


async def test_given_a_spent_rate_limit_when_refused_then_refusals_and_429_count(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    refusals = value("ratelimit_refusals_total")
    status_429 = value("graphql_http_requests_total", status="429")
    async with app_client(settings, engine, superuser_id, rate_limit_requests_per_minute=1) as (
        _app,
        gql,
    ):
        await gql.ok("{ products(first: 1) { totalCount } }")
        error = await gql.error("{ products(first: 1) { totalCount } }")

    assert error["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert value("ratelimit_refusals_total") == refusals + 1
    assert value("graphql_http_requests_total", status="429") == status_429 + 1


async def test_given_an_access_logged_request_when_done_then_the_write_is_timed_and_settled(
    gql: GraphQLClient,
) -> None:
    before = value("access_log_write_seconds_count")
    await gql.ok("{ products(first: 1) { totalCount } }")
    assert value("access_log_write_seconds_count") == before + 1
    assert value("access_log_pending_records") == 0


async def test_given_metrics_when_scraped_then_prometheus_text_with_every_family(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    await gql.ok("{ products(first: 1) { totalCount } }")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "graphql_http_requests",
        "graphql_http_request_duration_seconds",
        "graphql_operations",
        "graphql_operation_duration_seconds",
        "graphql_operation_cost",
        "graphql_errors",
        "graphql_sql_statements_per_request",
        "db_pool_connections_in_use",
        "db_pool_waiting",
        "access_log_pending_records",
        "access_log_write_seconds",
        "graphql_websocket_connections",
        "graphql_subscriptions_active",
        "auth_login_failures",
        "auth_login_throttled",
        "ratelimit_refusals",
    } <= families


async def test_given_production_without_a_token_when_scraped_then_metrics_are_not_served(
    settings: Settings, engine: AsyncEngine
) -> None:
    production = {"environment": "production", "jwt_secret": SecretStr("s" * 40)}
    async with app_client(settings, engine, None, **production) as (_app, gql):
        assert (await gql.http.get("/metrics")).status_code == 404


async def test_given_a_metrics_token_when_scraped_then_only_its_bearer_is_answered(
    settings: Settings, engine: AsyncEngine
) -> None:
    production = {
        "environment": "production",
        "jwt_secret": SecretStr("s" * 40),
        "metrics_token": SecretStr("scrape-me-please"),
    }
    async with app_client(settings, engine, None, **production) as (_app, gql):
        assert (await gql.http.get("/metrics")).status_code == 401
        wrong = {"Authorization": "Bearer scrape-me-pleasX"}
        assert (await gql.http.get("/metrics", headers=wrong)).status_code == 401
        right = {"Authorization": "Bearer scrape-me-please"}
        answered = await gql.http.get("/metrics", headers=right)
    assert answered.status_code == 200
    assert "graphql_operations_total" in answered.text


async def test_given_metrics_disabled_when_scraped_then_not_found(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with app_client(settings, engine, None, metrics_enabled=False) as (_app, gql):
        assert (await gql.http.get("/metrics")).status_code == 404
