"""Production switches, each shown next to its development control.

Production turns introspection, GraphiQL, suggestions ("Did you mean ...") and the HTTP
API docs off, masks unexpected errors and adds HSTS. Development keeps the tools on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from config.settings import Settings
from graph.app import create_app
from tests.conftest import GraphQLClient, token_for

VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
SECRET = "s" * 40

Build = Callable[..., Awaitable[GraphQLClient]]


@pytest.fixture
async def app_for(
    database_url: str, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[Build]:
    """Builds the real app for an environment on the test database; a superuser client."""
    async with AsyncExitStack() as stack:

        async def build(
            environment: str, *, on: AsyncEngine | None = None, **overrides: Any
        ) -> GraphQLClient:
            settings = Settings(
                environment=environment,  # type: ignore[arg-type]
                jwt_secret=SECRET,  # type: ignore[arg-type]
                database_url=database_url,
                # JSON logs everywhere: the console renderer takes seconds to draw a stack
                # trace with its locals, and masking is about the response, not the log.
                log_format="json",
                _env_file=None,  # type: ignore[call-arg]
                **overrides,
            )
            app = create_app(settings, engine=on or engine)
            transport = httpx.ASGITransport(app=app)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            stack.push_async_callback(http.aclose)
            return GraphQLClient(http, token_for(app, superuser_id))

        yield build


ENVIRONMENTS = ["production", "development"]


# ---------------------------------------------------------------- introspection


@pytest.mark.parametrize(
    "query",
    ["{ __schema { queryType { name } } }", '{ __type(name: "Query") { name } }'],
    ids=["__schema", "__type"],
)
async def test_given_production_when_introspection_is_asked_then_it_is_refused(
    app_for: Build, query: str
) -> None:
    gql = await app_for("production")
    result = await gql(query)
    assert result["data"] is None
    for error in result["errors"]:
        assert error["extensions"]["code"] == VALIDATION_FAILED
        assert "introspection has been disabled" in error["message"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ __schema { queryType { name } } }", {"__schema": {"queryType": {"name": "Query"}}}),
        ('{ __type(name: "Query") { name } }', {"__type": {"name": "Query"}}),
    ],
    ids=["__schema", "__type"],
)
async def test_given_development_when_introspection_is_asked_then_it_answers(
    app_for: Build, query: str, expected: dict[str, Any]
) -> None:
    gql = await app_for("development")
    assert await gql.ok(query) == expected


async def test_given_production_when_typename_is_asked_then_it_still_answers(
    app_for: Build,
) -> None:
    gql = await app_for("production")
    assert await gql.ok("{ __typename }") == {"__typename": "Query"}


# ---------------------------------------------------------------- GraphiQL


async def graphiql_page(gql: GraphQLClient) -> httpx.Response:
    return await gql.http.get("/graphql", headers={"accept": "text/html"})


def is_graphiql(response: httpx.Response) -> bool:
    return response.status_code == 200 and "graphiql" in response.text.lower()


async def test_given_production_when_a_browser_opens_graphql_then_no_graphiql(
    app_for: Build,
) -> None:
    gql = await app_for("production")
    response = await graphiql_page(gql)
    assert not is_graphiql(response)
    assert response.status_code == 404
    landing = await gql.http.get("/")
    assert 'href="/graphql"' not in landing.text


async def test_given_production_with_graphiql_enabled_when_opened_then_graphiql_is_served(
    app_for: Build,
) -> None:
    gql = await app_for("production", graphiql_enabled=True)
    assert is_graphiql(await graphiql_page(gql))
    # Introspection stays off: GraphiQL then works without schema docs.
    result = await gql("{ __schema { queryType { name } } }")
    assert "introspection has been disabled" in result["errors"][0]["message"]


async def test_given_development_when_a_browser_opens_graphql_then_graphiql_is_served(
    app_for: Build,
) -> None:
    gql = await app_for("development")
    assert is_graphiql(await graphiql_page(gql))


# ---------------------------------------------------------------- suggestions

SUGGESTIONS = [
    pytest.param("{ products { edges { node { nam } } } }", None, "'name'", id="field"),
    pytest.param("{ products(frist: 1) { totalCount } }", None, "'first'", id="argument"),
    pytest.param(
        "{ tasks(filter: {status: [DONEE]}) { totalCount } }", None, "'DONE'", id="enum-literal"
    ),
    pytest.param(
        "query($f: ProductFiltr) { products(filter: $f) { totalCount } }",
        None,
        "'ProductFilter'",
        id="type",
    ),
    pytest.param(
        "query($s: [TaskStatus!]) { tasks(filter: {status: $s}) { totalCount } }",
        {"s": ["DONEE"]},
        "'DONE'",
        id="enum-variable",
    ),
]


@pytest.mark.parametrize(("query", "variables", "hint"), SUGGESTIONS)
async def test_given_production_when_a_name_is_misspelt_then_no_suggestion_is_given(
    app_for: Build, query: str, variables: dict[str, Any] | None, hint: str
) -> None:
    gql = await app_for("production")
    result = await gql(query, variables)
    assert result["errors"], result
    for error in result["errors"]:
        assert "Did you mean" not in error["message"]
        assert hint not in error["message"]
        assert error["extensions"]["code"]


@pytest.mark.parametrize(("query", "variables", "hint"), SUGGESTIONS)
async def test_given_development_when_a_name_is_misspelt_then_the_suggestion_helps(
    app_for: Build, query: str, variables: dict[str, Any] | None, hint: str
) -> None:
    gql = await app_for("development")
    result = await gql(query, variables)
    messages = " ".join(error["message"] for error in result["errors"])
    assert "Did you mean" in messages
    assert hint in messages


# ---------------------------------------------------------------- unexpected errors


@pytest.fixture
async def empty_engine() -> AsyncIterator[AsyncEngine]:
    """A database without tables: every query fails in a way no code expects."""
    engine = create_async_engine("sqlite+aiosqlite://")
    yield engine
    await engine.dispose()


@pytest.mark.parametrize("environment", ENVIRONMENTS)
async def test_given_an_unexpected_failure_when_queried_then_the_client_sees_it_masked(
    app_for: Build, empty_engine: AsyncEngine, environment: str
) -> None:
    gql = (await app_for(environment, on=empty_engine)).as_token(None)
    error = await gql.error(
        'mutation { login(email: "a@b.example", password: "whatever-password") { tokenType } }'
    )
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert gql.last_response is not None
    body = gql.last_response.text.lower()
    for leak in ("traceback", "no such table", "sqlite", "sqlalchemy", "select", ".py"):
        assert leak not in body


# ---------------------------------------------------------------- HTTP API docs and HSTS


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_given_production_when_the_http_api_docs_are_asked_then_404(
    app_for: Build, path: str
) -> None:
    gql = await app_for("production")
    response = await gql.http.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_given_development_when_the_http_api_docs_are_asked_then_they_are_served(
    app_for: Build, path: str
) -> None:
    gql = await app_for("development")
    response = await gql.http.get(path)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/graphql", "/", "/healthz"])
async def test_given_production_when_any_page_is_served_then_hsts_is_sent(
    app_for: Build, path: str
) -> None:
    gql = await app_for("production")
    response = await gql.http.get(path)
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("path", ["/graphql", "/", "/healthz"])
async def test_given_development_when_any_page_is_served_then_no_hsts(
    app_for: Build, path: str
) -> None:
    gql = await app_for("development")
    response = await gql.http.get(path)
    assert "strict-transport-security" not in response.headers
