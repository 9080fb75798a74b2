"""Who asked for what, answered from the API alone: one access record per request.

Refused requests are recorded with the codes the client saw; security events carry their
details; passwords never reach the table; client text is stored escaped and bounded; and
a failure to write the record is logged without failing the request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from domain.cleaning import TRUNCATED
from graph.access_log import REDACTED
from graph.app import create_app
from persistence.database import create_engine
from persistence.models import AccessLogModel, Base
from tests.builders import gid
from tests.conftest import (
    SUPERUSER_PASSWORD,
    GraphQLClient,
    StatementCounter,
    add_login_user,
)
from tests.conftest import token_for as token_of
from tests.rbac_helpers import People

access_t = cast(Table, AccessLogModel.__table__)
ACCESS_LOGS = """
query Requests($first: Int, $after: String, $last: Int, $before: String,
               $filter: AccessLogFilter) {
  accessLogs(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node {
      id occurredAt ip method path statusCode durationMs requestId operationType
      operationName errorCodes details user { id }
    } }
  }
}"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken }
}"""
REFRESH = """
mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { refreshToken } }"""
EMAIL = "alice@access.test"
WRONG_PASSWORD = "Wr0ng-but-memorable-passphrase"


@pytest.fixture
def people(gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str) -> People:
    """Roles and users for the test; `gql` makes the superuser exist too."""
    return People(engine=engine, app=app, http=gql.http, password_hash=password_hash)


@pytest.fixture
async def alice(engine: AsyncEngine, password_hash: str) -> int:
    """A user whose password is SUPERUSER_PASSWORD."""
    return await add_login_user(engine, email=EMAIL, password_hash=password_hash)


def request_id(client: GraphQLClient) -> str:
    """The X-Request-ID the app answered the last request with."""
    assert client.last_response is not None
    return str(client.last_response.headers["x-request-id"])


async def access_record(gql: GraphQLClient, request: str) -> dict[str, Any]:
    """The one access record of request `request`."""
    data = await gql.ok(ACCESS_LOGS, {"first": 100})
    found = [e["node"] for e in data["accessLogs"]["edges"] if e["node"]["requestId"] == request]
    assert len(found) == 1, found
    record: dict[str, Any] = found[0]
    return record


async def table_text(engine: AsyncEngine) -> str:
    """The whole access_log table as text."""
    async with engine.connect() as conn:
        return repr((await conn.execute(select(access_t))).all())


# ---------------------------------------------------------------- refused requests


async def test_given_a_user_without_permission_when_refused_then_forbidden_is_recorded(
    gql: GraphQLClient, people: People
) -> None:
    reader = await people.user({"PRODUCTS": []})

    await reader.gql(
        'mutation Sneak { createProduct(input: {sku: "S-1", name: "S", price: "1"}) '
        "{ product { id } } }"
    )

    record = await access_record(gql, request_id(reader.gql))
    assert record["errorCodes"] == ["FORBIDDEN"]
    assert (record["operationType"], record["operationName"]) == ("mutation", "Sneak")
    assert record["user"] == {"id": gid("User", reader.id)}
    assert (record["method"], record["path"], record["statusCode"]) == ("POST", "/graphql", 200)
    assert record["durationMs"] >= 0
    assert record["ip"] == "127.0.0.1"


async def test_given_no_token_when_reading_then_unauthenticated_is_recorded_without_user(
    gql: GraphQLClient, anonymous: GraphQLClient
) -> None:
    await anonymous("query Peek { products { totalCount } }")

    record = await access_record(gql, request_id(anonymous))
    assert (record["errorCodes"], record["user"]) == (["UNAUTHENTICATED"], None)
    assert (record["operationType"], record["operationName"]) == ("query", "Peek")


async def test_given_an_invalid_document_when_refused_then_validation_failure_is_recorded(
    gql: GraphQLClient,
) -> None:
    response = await gql("query Broken { products { noSuchField } }")
    assert response["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert gql.last_response is not None
    status = gql.last_response.status_code

    record = await access_record(gql, request_id(gql))
    assert record["errorCodes"] == ["GRAPHQL_VALIDATION_FAILED"]
    assert record["statusCode"] == status
    assert record["operationName"] == "Broken"


async def test_given_a_successful_query_when_recorded_then_no_error_codes(
    gql: GraphQLClient, superuser_id: int
) -> None:
    await gql("query Fine { products { totalCount } }")

    record = await access_record(gql, request_id(gql))
    assert (record["errorCodes"], record["user"]) == ([], {"id": gid("User", superuser_id)})
    assert record["details"] is None


# ------------------------------------------------------------------ security events


async def test_given_failed_logins_when_throttled_then_email_and_codes_but_never_the_password(
    gql: GraphQLClient, anonymous: GraphQLClient, engine: AsyncEngine, alice: int
) -> None:
    requests = []
    for _ in range(6):
        await anonymous(LOGIN, {"email": " Alice@Access.TEST ", "password": WRONG_PASSWORD})
        requests.append(request_id(anonymous))

    records = [await access_record(gql, request) for request in requests]
    assert [r["errorCodes"] for r in records] == [["UNAUTHENTICATED"]] * 5 + [["TOO_MANY_REQUESTS"]]
    assert all(r["details"] == {"loginEmail": EMAIL} for r in records)
    assert all(r["operationName"] == "Login" for r in records)
    stored = await table_text(engine)
    assert WRONG_PASSWORD not in stored
    assert "Wr0ng" not in stored


async def test_given_a_reused_refresh_token_when_refused_then_the_security_event_is_recorded(
    gql: GraphQLClient, anonymous: GraphQLClient, alice: int
) -> None:
    tokens = (await anonymous.ok(LOGIN, {"email": EMAIL, "password": SUPERUSER_PASSWORD}))["login"]
    await anonymous.ok(REFRESH, {"token": tokens["refreshToken"]})
    first_use = await access_record(gql, request_id(anonymous))

    await anonymous(REFRESH, {"token": tokens["refreshToken"]})

    record = await access_record(gql, request_id(anonymous))
    assert record["details"] == {"securityEvent": "refresh_token_reuse"}
    assert record["errorCodes"] != []
    assert first_use["details"] is None
    assert tokens["refreshToken"] not in repr(record)


# ------------------------------------------------------------------------ variables


@pytest.fixture
async def logging_variables(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[GraphQLClient]:
    """A superuser client of an app started with AUDIT_LOG_VARIABLES=true."""
    app = create_app(settings.model_copy(update={"audit_log_variables": True}), engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http, token_of(app, superuser_id))


async def test_given_variable_logging_when_a_user_is_created_then_secrets_are_redacted(
    logging_variables: GraphQLClient, engine: AsyncEngine
) -> None:
    secret = "a-long-enough-password-123"
    variables = {
        "input": {"email": "new@access.test", "password": secret, "fullName": "New"},
        "apiKey": "k-123",
        "refresh_token": "r-456",
    }

    await logging_variables(
        "mutation Hire($input: CreateUserInput!, $apiKey: String, $refresh_token: String) "
        "{ createUser(input: $input) { user { id } } }",
        variables,
    )

    record = await access_record(logging_variables, request_id(logging_variables))
    assert record["details"] == {
        "variables": {
            "input": {"email": "new@access.test", "password": REDACTED, "fullName": "New"},
            "apiKey": REDACTED,
            "refresh_token": REDACTED,
        }
    }
    stored = await table_text(engine)
    assert secret not in stored
    assert "k-123" not in stored


async def test_given_default_settings_when_a_mutation_runs_then_no_variables_are_logged(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    await gql(
        "mutation Add($input: CreateProductInput!) { createProduct(input: $input) "
        "{ product { id } } }",
        {"input": {"sku": "V-1", "name": "Visible name", "price": "1.00"}},
    )

    record = await access_record(gql, request_id(gql))
    assert record["details"] is None
    assert "Visible name" not in await table_text(engine)


# ----------------------------------------------------------------------- client text


async def test_given_a_login_email_with_control_characters_when_recorded_then_escaped(
    gql: GraphQLClient, anonymous: GraphQLClient
) -> None:
    email = "evil\x1b[2J\x7f\nname@access.test" + "x" * 300

    await anonymous(LOGIN, {"email": email, "password": WRONG_PASSWORD})

    recorded = (await access_record(gql, request_id(anonymous)))["details"]["loginEmail"]
    assert recorded.startswith("evil\\x1b[2j\\x7f\\x0aname@access.test")
    assert recorded.endswith(TRUNCATED)
    assert len(recorded) == 256
    assert not any(ord(c) < 32 or ord(c) == 127 for c in recorded)


async def test_given_a_login_email_with_a_nul_byte_when_refused_then_recorded_as_failed_login(
    gql: GraphQLClient, anonymous: GraphQLClient
) -> None:
    error = await anonymous.error(LOGIN, {"email": "a\x00b@access.test", "password": "x" * 12})

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    record = await access_record(gql, request_id(anonymous))
    assert record["details"] == {"loginEmail": "a\\x00b@access.test"}


async def test_given_an_unknown_operation_name_when_refused_then_recorded_without_it(
    gql: GraphQLClient,
) -> None:
    await gql("query Real { products { totalCount } }", operation_name="Evil\x00\x1b[2J")
    assert gql.last_response is not None
    status = gql.last_response.status_code

    # Refused before execution: the record keeps the outcome and the name the client asked
    # for, as data: control characters escaped, never raw.
    record = await access_record(gql, request_id(gql))
    assert record["statusCode"] == status == 400
    assert record["operationName"] == "Evil\\x00\\x1b[2J"
    assert record["errorCodes"] != []


async def test_given_a_very_long_operation_name_when_recorded_then_truncated_with_a_marker(
    gql: GraphQLClient,
) -> None:
    name = "Op" + "x" * 998

    await gql.ok(
        f'mutation {name} {{ createProduct(input: {{sku: "L-1", name: "L", price: "1"}}) '
        "{ product { id } } }"
    )

    record = await access_record(gql, request_id(gql))
    assert len(record["operationName"]) == 256
    assert record["operationName"] == name[: 256 - len(TRUNCATED)] + TRUNCATED
    change = await gql.ok("{ auditLogs(first: 1) { edges { node { operationName } } } }")
    assert change["auditLogs"]["edges"][0]["node"]["operationName"] == record["operationName"]


# --------------------------------------------------------------------- lost records


async def test_given_the_access_table_is_missing_when_a_request_comes_then_it_succeeds_loudly(
    settings: Settings, password_hash: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/x.db"})
    engine = create_engine(broken)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.execute(text("DROP TABLE access_log"))
    root = await add_login_user(
        engine, email="root@broken.test", password_hash=password_hash, is_superuser=True
    )
    app = create_app(broken, engine=engine)
    transport = httpx.ASGITransport(app=app)
    # create_app reconfigures the root logger's handlers; listen on the module's logger.
    logging.getLogger("audit.access").addHandler(caplog.handler)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            client = GraphQLClient(http, token_of(app, root))
            data = await client.ok("query Still { products { totalCount } }")
    finally:
        logging.getLogger("audit.access").removeHandler(caplog.handler)
        await engine.dispose()

    assert data == {"products": {"totalCount": 0}}
    errors = [r for r in caplog.records if r.name == "audit.access" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "access record not written" in str(errors[0].msg)
    assert request_id(client) in str(errors[0].msg)


# ------------------------------------------------------------------ filters and pages

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def requests(engine: AsyncEngine, superuser_id: int, password_hash: str) -> dict[str, int]:
    """Five old access records an hour apart from T0, by two users and anonymous callers."""
    bob = await add_login_user(engine, email="bob@access.test", password_hash=password_hash)
    shapes = [
        (superuser_id, "Products", 200, []),
        (bob, "Products", 200, ["FORBIDDEN"]),
        (None, "Login", 200, ["UNAUTHENTICATED"]),
        (bob, "Tasks", 200, []),
        (None, None, 413, ["PAYLOAD_TOO_LARGE"]),
    ]
    rows = [
        {
            "occurred_at": T0 + timedelta(hours=hour),
            "user_id": user_id,
            "ip": "10.0.0.9",
            "method": "POST",
            "path": "/graphql",
            "status_code": status,
            "duration_ms": 3.5,
            "request_id": f"q{hour + 1}",
            "operation_type": "query" if name else None,
            "operation_name": name,
            "error_codes": codes,
            "has_errors": bool(codes),
            "details": None,
        }
        for hour, (user_id, name, status, codes) in enumerate(shapes)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(access_t), rows)
    return {"root": superuser_id, "bob": bob}


OLD = {"occurredBefore": (T0 + timedelta(days=1)).isoformat()}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["q5", "q4", "q3", "q2", "q1"]),
        ({"userId": "bob"}, ["q4", "q2"]),
        ({"operationName": "Products"}, ["q2", "q1"]),
        ({"statusCode": 413}, ["q5"]),
        ({"hasErrors": True}, ["q5", "q3", "q2"]),
        ({"hasErrors": False}, ["q4", "q1"]),
        ({"occurredAfter": (T0 + timedelta(hours=2)).isoformat()}, ["q5", "q4"]),
        ({"userId": "bob", "hasErrors": False}, ["q4"]),
    ],
    ids=["none", "user", "operation", "status", "errors", "no-errors", "after", "combined"],
)
async def test_given_old_requests_when_filtering_then_only_matches_newest_first(
    gql: GraphQLClient, requests: dict[str, int], filters: dict[str, Any], expected: list[str]
) -> None:
    if "userId" in filters:
        filters = {**filters, "userId": gid("User", requests[filters["userId"]])}

    data = await gql.ok(ACCESS_LOGS, {"first": 10, "filter": {**OLD, **filters}})

    assert [e["node"]["requestId"] for e in data["accessLogs"]["edges"]] == expected
    assert data["accessLogs"]["totalCount"] == len(expected)


async def test_given_old_requests_when_paging_with_cursors_then_every_record_once_in_order(
    gql: GraphQLClient, requests: dict[str, int]
) -> None:
    seen: dict[str, str] = {}
    after = None
    while True:
        variables = {"first": 2, "after": after, "filter": OLD}
        page = (await gql.ok(ACCESS_LOGS, variables))["accessLogs"]
        seen |= {edge["node"]["requestId"]: edge["cursor"] for edge in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    backwards = await gql.ok(ACCESS_LOGS, {"last": 2, "before": seen["q1"], "filter": OLD})

    assert list(seen) == ["q5", "q4", "q3", "q2", "q1"]
    assert [e["node"]["requestId"] for e in backwards["accessLogs"]["edges"]] == ["q3", "q2"]


async def test_given_requests_by_many_users_when_listing_then_statements_do_not_grow(
    gql: GraphQLClient, engine: AsyncEngine, statements: StatementCounter, password_hash: str
) -> None:
    query = "query($n: Int) { accessLogs(first: $n, filter: {statusCode: 299}) { edges { node { user { id email } } } } }"  # noqa: E501
    counts: list[int] = []
    for size in (5, 20):
        rows = []
        for n in range(len(counts) and 5, size):
            user = await add_login_user(engine, email=f"u{n}@n1.test", password_hash=password_hash)
            rows.append(
                {
                    "occurred_at": T0 + timedelta(minutes=n),
                    "user_id": user,
                    "method": "POST",
                    "path": "/graphql",
                    "status_code": 299,
                    "duration_ms": 1.0,
                    "request_id": f"n{n}",
                    "error_codes": [],
                    "has_errors": False,
                }
            )
        async with engine.begin() as conn:
            await conn.execute(insert(access_t), rows)
        statements.statements.clear()
        statements.counting = True
        try:
            data = await gql.ok(query, {"n": size})
        finally:
            statements.counting = False
        assert [bool(e["node"]["user"]) for e in data["accessLogs"]["edges"]] == [True] * size
        counts.append(statements.count)

    assert counts[0] == counts[1], counts
