"""HTTP behaviour around the GraphQL endpoint: health, request ids, errors, logging."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from config.settings import Settings
from graph.app import create_app
from persistence.database import create_engine
from persistence.models import Base
from tests.conftest import GraphQLClient

UNREACHABLE_DB = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


async def _client_for(settings: Settings, engine: Any = None) -> httpx.AsyncClient:
    app = create_app(settings, engine=engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def broken_db_client() -> AsyncIterator[httpx.AsyncClient]:
    """The app on a database that refuses connections."""
    # JSON logs: the console format draws each logged exception with rich, a second apiece.
    settings = Settings(
        environment="test", database_url=UNREACHABLE_DB, log_format="json", _env_file=None
    )  # type: ignore[call-arg]
    async with await _client_for(settings) as http:
        yield http


async def test_given_the_process_runs_when_healthz_is_asked_then_it_answers_200(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_given_the_database_answers_when_readyz_is_asked_then_it_answers_200(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_given_the_database_is_down_when_readyz_is_asked_then_503_with_a_reason(
    broken_db_client: httpx.AsyncClient,
) -> None:
    response = await broken_db_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("database unavailable")


async def test_given_the_database_is_down_when_logging_in_then_service_unavailable_unleaked(
    capsys: pytest.CaptureFixture[str], broken_db_client: httpx.AsyncClient
) -> None:
    # login needs no token, so the request reaches the database and fails there: an outage,
    # answered like any read during one, not a masked bug.
    response = await broken_db_client.post(
        "/graphql",
        json={"query": 'mutation { login(email: "a@b.example", password: "x") { accessToken } }'},
    )
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["message"] == "The service is temporarily unavailable; retry later."
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    text = response.text.lower()
    for leak in ("traceback", "asyncpg", "connect", "127.0.0.1", "sqlalchemy", ".py"):
        assert leak not in text
    # An outage is expected traffic, not a bug: never logged as an unexpected error.
    assert "unexpected error" not in capsys.readouterr().err


async def test_given_the_landing_page_when_opened_then_it_links_playground_and_docs(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert 'href="/graphql"' in response.text
    assert 'href="/docs"' in response.text


async def test_given_a_browser_when_it_opens_graphql_then_graphiql_is_served(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_given_a_sane_request_id_when_sent_then_it_is_echoed_and_put_on_errors(
    gql: GraphQLClient,
) -> None:
    error = await gql.error(
        '{ product(id: "not-an-id") { id } }', headers={"X-Request-ID": "client-42.a_b"}
    )
    assert gql.last_response is not None
    assert gql.last_response.headers["x-request-id"] == "client-42.a_b"
    assert error["extensions"]["requestId"] == "client-42.a_b"
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "semi;colon", ""])
async def test_given_an_insane_request_id_when_sent_then_a_new_one_is_generated(
    client: httpx.AsyncClient, bad: str
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": bad})
    returned = response.headers["x-request-id"]
    assert returned != bad
    assert len(returned) == 32


async def test_given_a_body_that_is_not_json_when_posted_then_400_with_a_json_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]


async def test_given_a_syntax_error_when_posted_then_the_code_is_parse_failed(
    gql: GraphQLClient,
) -> None:
    error = await gql.error("{ products(first: 5 ")
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "requestId" in error["extensions"]


async def test_given_an_unknown_field_when_posted_then_the_code_is_validation_failed(
    gql: GraphQLClient,
) -> None:
    error = await gql.error("{ products { nope } }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_given_a_variable_of_the_wrong_type_when_posted_then_bad_user_input(
    gql: GraphQLClient,
) -> None:
    error = await gql.error(
        "query($p: Decimal!) { products(filter: {minPrice: $p}) { totalCount } }", {"p": "abc"}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "decimal.ConversionSyntax" not in error["message"]


async def test_given_database_echo_when_a_query_runs_then_sql_is_logged_with_the_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(
        environment="test",
        database_url="sqlite+aiosqlite://",
        database_echo=True,
        log_format="json",
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = create_engine(settings)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        async with await _client_for(settings, engine) as http:
            await http.post(
                "/graphql",
                json={
                    "query": 'mutation { login(email: "a@b.example", password: "x") { tokenType } }'
                },
                headers={"X-Request-ID": "echo-1"},
            )
    finally:
        await engine.dispose()
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    sql = [line for line in lines if line.get("event") == "sql"]
    assert any("FROM users" in line["statement"] for line in sql)
    assert all(line["request_id"] == "echo-1" for line in sql)
    # Parameters (hashes, personal data) stay out of the log.
    assert all("parameters" not in line for line in sql)
    assert "a@b.example" not in "".join(line["statement"] for line in sql)


async def test_given_allowed_origins_when_a_preflight_arrives_then_only_those_are_allowed() -> None:
    settings = Settings(
        environment="test",
        database_url="sqlite+aiosqlite://",
        cors_origins="https://app.example.com",  # type: ignore[arg-type]
        log_format="json",  # the console format draws logged exceptions with rich, slowly
        _env_file=None,  # type: ignore[call-arg]
    )
    async with await _client_for(settings) as http:
        headers = {"access-control-request-method": "POST"}
        allowed = await http.options(
            "/graphql", headers={**headers, "origin": "https://app.example.com"}
        )
        denied = await http.options("/graphql", headers={**headers, "origin": "https://evil.test"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert allowed.headers["access-control-max-age"] == "600"
    assert "access-control-allow-origin" not in denied.headers


async def test_given_production_when_docs_or_graphiql_are_asked_then_they_are_hidden() -> None:
    settings = Settings(
        environment="production",
        database_url="sqlite+aiosqlite://",
        jwt_secret="p" * 48,  # type: ignore[arg-type]
        _env_file=None,  # type: ignore[call-arg]
    )
    async with await _client_for(settings) as http:
        docs = await http.get("/docs")
        graphiql = await http.get("/graphql", headers={"accept": "text/html"})
        landing = await http.get("/")
    assert docs.status_code == 404
    assert graphiql.status_code != 200 or "graphiql" not in graphiql.text.lower()
    assert 'href="/graphql"' not in landing.text
