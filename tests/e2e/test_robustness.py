"""Issue 10's defects, one regression test each, over HTTP through the real app.

Each class of bad input is refused at its root with a coded error: malformed bodies at the
JSON edge (400 BAD_REQUEST), text that is not UTF-8 before GraphQL runs (BAD_USER_INPUT),
IDs in anything but their one canonical spelling, timestamps that overflow in UTC,
undefined fragments, tokens with impossible claims, invisible characters in names. The
wider catalogue of hostile inputs is `test_bad_input_catalogue.py`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from graph.http import UNSTORABLE_REASON
from tests.conftest import ON_POSTGRES, SUPERUSER_EMAIL, SUPERUSER_PASSWORD, GraphQLClient
from tests.e2e.test_jwt_attacks import forge

JSON = {"content-type": "application/json"}
CREATE = """
mutation Create($input: CreateProductInput!) {
  createProduct(input: $input) { product { id name version } }
}"""
UPDATE = """
mutation Update($id: ID!, $input: UpdateProductInput!) {
  updateProduct(id: $id, input: $input) { product { id name version } }
}"""
PRODUCT = "query P($id: ID!) { product(id: $id) { sku } }"


def b64(text: str) -> str:
    """A global ID spelled by hand."""
    return base64.b64encode(text.encode()).decode()


async def post_raw(client: httpx.AsyncClient, body: bytes, **headers: str) -> httpx.Response:
    """POST bytes exactly as given, so bodies can be broken on purpose."""
    return await client.post("/graphql", content=body, headers={**JSON, **headers})


def first_error(response: httpx.Response) -> dict[str, Any]:
    """The first error of a JSON GraphQL response."""
    errors = response.json()["errors"]
    assert errors, response.text
    error: dict[str, Any] = errors[0]
    return error


async def create_product(gql: GraphQLClient, sku: str = "ROBUST-1") -> dict[str, Any]:
    """A product to address; its payload."""
    data = await gql.ok(CREATE, {"input": {"sku": sku, "name": "Robust", "price": "1.00"}})
    product: dict[str, Any] = data["createProduct"]["product"]
    return product


# --- 2. malformed bodies -------------------------------------------------------------------

DEEP = b'{"query":"{ __typename }","variables":{"v":' + b"[" * 5000 + b"]" * 5000 + b"}}"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(b"null", {}, id="bare-null"),
        pytest.param(b'"str"', {}, id="bare-string"),
        pytest.param(b"123", {}, id="bare-number"),
        pytest.param(b"true", {}, id="bare-true"),
        pytest.param(b"[1, 2]", {}, id="array-of-non-objects"),
        pytest.param(b'{"query": "{ __typename }", "x": "\xff"}', {}, id="bad-utf8-in-string"),
        pytest.param(b'\xff{"query": "{ __typename }"}', {}, id="bad-utf8-outside-string"),
        pytest.param(
            b'{"query": "{ __typename }", "variables": {"n": "caf\xe9"}}',
            {"content-type": "application/json; charset=latin-1"},
            id="latin-1-charset",
        ),
        pytest.param(
            b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5000 + b"}}",
            {},
            id="5000-digit-integer",
        ),
        pytest.param(DEEP, {}, id="nested-5000-levels"),
        pytest.param(b"[" * 5000 + b"]" * 5000, {}, id="top-level-nested-5000"),
        pytest.param(b'{"query": "{ __typename }", "variables": {"n": NaN}}', {}, id="nan"),
        pytest.param(b'{"query": "{ __typename }", "operationName": 5}', {}, id="op-name-number"),
        pytest.param(b"", {}, id="empty-body"),
    ],
)
async def test_given_a_malformed_body_when_posted_then_400_bad_request(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str]
) -> None:
    response = await post_raw(client, body, **headers)

    assert response.status_code == 400, response.text
    assert first_error(response)["extensions"]["code"] == "BAD_REQUEST"


# --- 3. lone surrogates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        pytest.param(
            rb'{"query":"query A { __typename }","operationName":"\ud800"}',
            "operationName",
            id="operation-name",
        ),
        pytest.param(
            rb'{"query":"mutation L($e: String!) { login(email: $e, password: \"x\") '
            rb'{ accessToken } }","variables":{"e":"\ud800@x.io"}}',
            "e",
            id="login-email-without-token",
        ),
        pytest.param(
            rb'{"query":"mutation R($t: String!) { refreshToken(refreshToken: $t) '
            rb'{ accessToken } }","variables":{"t":"\udfff"}}',
            "t",
            id="refresh-token",
        ),
        pytest.param(
            rb'{"query":"query Q($f: ProductFilter) { products(filter: $f) { totalCount } }",'
            rb'"variables":{"f":{"search":"a\ud800"}}}',
            "f.search",
            id="nested-search-filter",
        ),
        pytest.param(
            rb'{"query":"{ products(filter: {search: \"\ud800\"}) { totalCount } }"}',
            "query",
            id="raw-surrogate-in-document",
        ),
    ],
)
async def test_given_a_lone_surrogate_when_posted_then_bad_user_input_naming_where(
    client: httpx.AsyncClient, body: bytes, path: str
) -> None:
    response = await post_raw(client, body)

    assert response.status_code == 200, response.text
    error = first_error(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == {path: UNSTORABLE_REASON}


async def test_given_an_escaped_surrogate_in_a_literal_when_posted_then_parse_failed(
    client: httpx.AsyncClient,
) -> None:
    # The GraphQL lexer itself refuses `\ud800` escapes inside a string literal.
    body = rb'{"query":"{ products(filter: {search: \"\\ud800\"}) { totalCount } }"}'

    response = await post_raw(client, body)

    assert first_error(response)["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


# --- 4. global IDs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    ["Product:²", "Product:١٢", "Product:0001", "Product:01", "Product:+1", "Product: 1"],
)
async def test_given_a_non_canonical_id_when_looked_up_then_bad_user_input(
    gql: GraphQLClient, spelling: str
) -> None:
    await create_product(gql)

    error = await gql.error(PRODUCT, {"id": b64(spelling)})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_given_the_canonical_id_when_looked_up_then_found(gql: GraphQLClient) -> None:
    product = await create_product(gql)

    data = await gql.ok(PRODUCT, {"id": product["id"]})

    assert data["product"] == {"sku": "ROBUST-1"}


# --- 5. datetimes that overflow in UTC -------------------------------------------------------


@pytest.mark.parametrize("field", ["auditLogs", "accessLogs"])
@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:59"])
async def test_given_a_timestamp_past_the_utc_range_when_filtered_then_bad_user_input(
    gql: GraphQLClient, field: str, stamp: str
) -> None:
    query = f"query Q($t: DateTime) {{ {field}(filter: {{occurredAfter: $t}}) {{ totalCount }} }}"

    error = await gql.error(query, {"t": stamp})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "out of range" in error["message"]


# --- 9. undefined fragment -------------------------------------------------------------------


async def test_given_an_undefined_fragment_when_posted_then_unknown_fragment_and_no_stack(
    gql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    error = await gql.error("{ ...Nope }")

    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"] == "Unknown fragment 'Nope'."
    assert "unexpected error" not in caplog.text
    assert "Traceback" not in caplog.text


# --- 7. the database out of reach ------------------------------------------------------------

LOGIN = """
mutation L($email: String!, $password: String!) { login(email: $email, password: $password) {
  accessToken } }"""


@pytest.fixture
async def unreachable(tmp_path: Any) -> Any:
    """The app on a database that cannot be opened or reached."""
    folder = tmp_path / "gone"
    url = (
        "postgresql+asyncpg://postgres@127.0.0.1:1/none"
        if ON_POSTGRES
        else f"sqlite+aiosqlite:///{folder}/app.db"
    )
    # JSON logs: the console format draws each logged exception with rich, a second apiece.
    settings = Settings(environment="test", database_url=url, log_format="json", _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings)
    if not ON_POSTGRES:
        folder.rmdir()  # the engine made it; without it SQLite cannot open the file
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (LOGIN, {"email": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD}),
        ('mutation R { refreshToken(refreshToken: "abc") { accessToken } }', {}),
    ],
)
async def test_given_an_unreachable_database_when_logging_in_then_service_unavailable(
    unreachable: GraphQLClient, query: str, variables: dict[str, Any]
) -> None:
    error = await unreachable.error(query, variables)

    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_given_an_unreachable_database_when_a_token_is_sent_then_service_unavailable(
    unreachable: GraphQLClient, app: Any, superuser_id: int
) -> None:
    token = app.state.services.auth.codec.issue_access(superuser_id).token

    error = await unreachable.as_token(token).error("{ products { totalCount } }")

    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"


# --- 10. last writer wins without expectedVersion --------------------------------------------


async def test_given_20_concurrent_updates_without_expected_version_then_all_apply_in_turn(
    gql: GraphQLClient,
) -> None:
    product = await create_product(gql)

    results = await asyncio.gather(
        *(gql(UPDATE, {"id": product["id"], "input": {"name": f"Name {n}"}}) for n in range(20))
    )

    assert [r.get("errors") for r in results] == [None] * 20
    versions = sorted(r["data"]["updateProduct"]["product"]["version"] for r in results)
    assert versions == list(range(2, 22))


async def test_given_a_stale_expected_version_when_updated_then_still_conflict(
    gql: GraphQLClient,
) -> None:
    product = await create_product(gql)
    await gql.ok(UPDATE, {"id": product["id"], "input": {"name": "Second"}})

    error = await gql.error(
        UPDATE, {"id": product["id"], "input": {"name": "X", "expectedVersion": 1}}
    )

    assert error["extensions"]["code"] == "CONFLICT"


# --- 11. signed tokens with impossible claims ------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": "9999999999"},
        {"sub": "2147483648"},
        {"jti": "a\x00b"},
        {"jti": "x" * 65},
        {"jti": "id with spaces"},
        {"jti": ""},
    ],
    ids=["sub-past-int32", "sub-just-past-int32", "nul-in-jti", "long-jti", "spaces", "empty"],
)
async def test_given_a_signed_token_with_impossible_claims_then_unauthenticated(
    client: httpx.AsyncClient,
    settings: Settings,
    superuser_id: int,
    changes: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = forge(settings, superuser_id, **changes)

    error = await GraphQLClient(client, token).error("{ me { email } }")

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Traceback" not in caplog.text


# --- 12. invisible and reordering characters -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("\u200b\u200b", "must not contain invisible formatting characters"),
        ("Safe\u202eeman", "must not contain bidirectional control characters"),
        ("Inv\u2066isible", "must not contain bidirectional control characters"),
        ("\ufeffBOM", "must not contain invisible formatting characters"),
        ("soft\u00adhyphen", "must not contain invisible formatting characters"),
        ("\u0301\u0301", "must not be blank"),
    ],
)
async def test_given_invisible_characters_in_a_name_when_created_then_bad_user_input(
    gql: GraphQLClient, name: str, reason: str
) -> None:
    error = await gql.error(CREATE, {"input": {"sku": "INV-1", "name": name, "price": "1"}})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == {"name": reason}


async def test_given_emoji_and_joined_scripts_when_created_then_accepted(
    gql: GraphQLClient,
) -> None:
    # Joiners are format characters, but emoji sequences and Persian need them.
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    name = f"Family {family} {persian}"

    product = await gql.ok(CREATE, {"input": {"sku": "EMOJI-1", "name": name, "price": "1"}})

    assert product["createProduct"]["product"]["name"] == name


async def test_given_a_non_ascii_sku_when_created_then_refused_not_case_folded(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    # "straße".upper() is "STRASSE": a SKU must not become another one by case folding.
    error = await gql.error(CREATE, {"input": {"sku": "stra\u00dfe", "name": "S", "price": "1"}})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "sku" in error["extensions"]["fields"]
