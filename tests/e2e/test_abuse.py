"""The abuse list: requests an attacker sends to exhaust or trick the server, each refused.

Every refusal is a clear error with a code (never a 500), and where the request carried
a write, the database proves it never ran.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from tests.builders import products_t
from tests.conftest import GraphQLClient, token_for

VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
CREATE_PRODUCT = (
    'mutation { createProduct(input: {sku: "EVIL-%d", name: "Evil", price: "1.00"})'
    " { product { id } } }"
)


async def product_count(engine: AsyncEngine) -> int:
    """Products in the database, read around the app."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(products_t))).scalar_one())


def refused(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The errors of an operation that did not run; each carries a code."""
    assert result.get("data") is None, result
    errors: list[dict[str, Any]] = result["errors"]
    assert errors
    assert all(e["extensions"]["code"] for e in errors)
    return errors


def bearer(gql: GraphQLClient) -> dict[str, str]:
    return {"authorization": f"Bearer {gql.token}"}


@pytest.fixture
async def get_queries_client(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[GraphQLClient]:
    """The app with queries over GET switched on, as the superuser."""
    app = create_app(settings.model_copy(update={"graphql_get_queries": True}), engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http, token_for(app, superuser_id))


@pytest.fixture
async def production(database_url: str, engine: AsyncEngine) -> AsyncIterator[GraphQLClient]:
    """The app with production settings, anonymous."""
    settings = Settings(
        environment="production",
        jwt_secret="x" * 40,  # type: ignore[arg-type]
        database_url=database_url,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


async def test_given_101_aliased_typenames_when_posted_then_refused_by_the_alias_limit(
    gql: GraphQLClient,
) -> None:
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(101)) + " }"
    (error,) = refused(await gql(query))
    assert error["extensions"]["code"] == VALIDATION_FAILED
    assert error["message"] == "101 aliases found. Allowed: 30"


async def test_given_a_batch_of_ten_operations_when_batching_is_off_then_none_runs(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    batch = [{"query": CREATE_PRODUCT % n} for n in range(10)]
    response = await gql.http.post("/graphql", json=batch, headers=bearer(gql))
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["message"] == "Batching is not enabled"
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert await product_count(engine) == 0


async def test_given_a_query_over_get_when_get_is_off_then_it_is_refused(
    gql: GraphQLClient,
) -> None:
    response = await gql.http.get(
        "/graphql", params={"query": "{ me { id } }"}, headers=bearer(gql)
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "data" not in response.json()


@pytest.mark.parametrize("get_enabled", [False, True], ids=["get-off", "get-on"])
async def test_given_a_mutation_over_get_when_sent_then_it_never_runs(
    gql: GraphQLClient,
    get_queries_client: GraphQLClient,
    engine: AsyncEngine,
    get_enabled: bool,
) -> None:
    client = get_queries_client if get_enabled else gql
    response = await client.http.get(
        "/graphql", params={"query": CREATE_PRODUCT % 1}, headers=bearer(client)
    )
    assert response.status_code in (400, 405)
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] in ("BAD_REQUEST", "METHOD_NOT_ALLOWED")
    assert await product_count(engine) == 0


async def test_given_get_queries_enabled_when_a_query_is_sent_over_get_then_it_runs(
    get_queries_client: GraphQLClient,
) -> None:
    # The control for the two tests above: GET itself works when switched on.
    response = await get_queries_client.http.get(
        "/graphql", params={"query": "{ __typename }"}, headers=bearer(get_queries_client)
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=xyz"],
)
async def test_given_a_cross_site_form_post_when_sent_then_415_and_nothing_is_written(
    gql: GraphQLClient, engine: AsyncEngine, content_type: str
) -> None:
    # What an HTML form on another site can send without a CORS preflight.
    bodies = {
        "application/x-www-form-urlencoded": urlencode({"query": CREATE_PRODUCT % 1}),
        "text/plain": json.dumps({"query": CREATE_PRODUCT % 1}),
        "multipart/form-data; boundary=xyz": (
            '--xyz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
            + json.dumps({"query": CREATE_PRODUCT % 1})
            + "\r\n--xyz--\r\n"
        ),
    }
    response = await gql.http.post(
        "/graphql",
        content=bodies[content_type],
        headers={**bearer(gql), "content-type": content_type},
    )
    assert response.status_code == 415
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert await product_count(engine) == 0


async def test_given_production_when_a_misspelt_introspection_field_is_sent_then_no_hint(
    production: GraphQLClient,
) -> None:
    errors = refused(await production("{ __schema { directive } }"))
    assert {e["extensions"]["code"] for e in errors} == {VALIDATION_FAILED}
    messages = " ".join(e["message"] for e in errors)
    assert "introspection has been disabled" in messages
    assert "Did you mean" not in messages
    assert "directives" not in messages


async def test_given_a_directive_repeated_ten_times_when_posted_then_it_is_refused(
    gql: GraphQLClient,
) -> None:
    query = "{ __typename " + "@include(if: true) " * 10 + "}"
    errors = refused(await gql(query))
    assert {e["extensions"]["code"] for e in errors} == {VALIDATION_FAILED}
    assert all("can only be used once" in e["message"] for e in errors)


@pytest.mark.parametrize(
    "query",
    [
        # Three levels of `fields` already trip graphql-core's introspection depth rule.
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        "{ __schema { types { "
        + "fields { type { ofType { fields { type { ofType { " * 3
        + "name"
        + " } } } } } }" * 3
        + " } } }",
        '{ __type(name: "Query") { ...T } } fragment T on __Type { fields { type { ...U } } }'
        " fragment U on __Type { fields { type { ...V } } }"
        " fragment V on __Type { fields { type { name } } }",
    ],
    ids=["nested", "very-deep", "through-fragments"],
)
async def test_given_circular_introspection_when_posted_then_it_is_refused(
    gql: GraphQLClient, query: str
) -> None:
    errors = refused(await gql(query))
    assert {e["extensions"]["code"] for e in errors} == {VALIDATION_FAILED}
    assert any("introspection depth" in e["message"] for e in errors)


async def test_given_shallow_introspection_in_development_when_posted_then_it_answers(
    gql: GraphQLClient,
) -> None:
    # The control: introspection is on in development, only the circular kind is refused.
    data = await gql.ok("{ __schema { queryType { name } } }")
    assert data == {"__schema": {"queryType": {"name": "Query"}}}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("subscription { products { totalCount } }", VALIDATION_FAILED),
        ("subscription { x }", VALIDATION_FAILED),
        ("foo { x }", "GRAPHQL_PARSE_FAILED"),
        # No operation at all: refused at the HTTP layer (400), still with a code.
        ("fragment F on Query { __typename }", "BAD_REQUEST"),
    ],
    ids=["subscription", "subscription-unknown-field", "unknown-keyword", "no-operation"],
)
async def test_given_an_unknown_operation_type_when_posted_then_a_coded_error_not_a_500(
    gql: GraphQLClient, query: str, code: str
) -> None:
    errors = refused(await gql(query))
    assert gql.last_response is not None
    assert gql.last_response.status_code < 500
    assert errors[0]["extensions"]["code"] == code
    assert "Traceback" not in gql.last_response.text


@pytest.fixture
async def anonymous_json_logs(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[GraphQLClient]:
    """An anonymous client of the app with JSON logs (the console renderer takes seconds to
    draw a stack trace with its locals, should the NUL test below ever log one again)."""
    app = create_app(settings.model_copy(update={"log_format": "json"}), engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


async def test_given_a_nul_byte_in_the_login_email_when_posted_then_bad_credentials(
    anonymous_json_logs: GraphQLClient,
) -> None:
    # PostgreSQL text cannot hold NUL: the email must be refused before the lookup, or the
    # caller gets a masked INTERNAL_SERVER_ERROR instead of the usual refusal.
    query = (
        "mutation($email: String!, $pw: String!)"
        " { login(email: $email, password: $pw) { tokenType } }"
    )
    variables = {"email": "root\x00@test.example", "pw": "long-enough-password"}
    error = await anonymous_json_logs.error(query, variables)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == "Invalid email or password."
