"""Limits enforced before execution, each at its boundary: the limit passes, one more fails.

Every limit is checked twice: on an app built with a small custom limit (proof that the
setting is honoured) and on the defaults (proof of the documented numbers). Documents are
built to an exact size and checked by an independent count where one exists.

Depth follows Strawberry's convention: the root field is at depth 0, so `depth` is the
number of selection sets nested below it (the fields on the longest path, minus one).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
import strawberry
from graphql import Lexer, Source, TokenKind
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from graph.schema import Schema
from tests.builders import gid, products_t
from tests.conftest import GraphQLClient, token_for

VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"

BuildClient = Callable[..., GraphQLClient]


@pytest.fixture
async def client_with(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[BuildClient]:
    """Builds the real app with some settings changed; returns a superuser GraphQL client."""
    async with AsyncExitStack() as stack:

        def build(**overrides: Any) -> GraphQLClient:
            app = create_app(settings.model_copy(update=overrides), engine=engine)
            for name, value in overrides.items():
                assert getattr(app.state.settings, name) == value
            transport = httpx.ASGITransport(app=app)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            stack.push_async_callback(http.aclose)
            return GraphQLClient(http, token_for(app, superuser_id))

        yield build


def limited(client_with: BuildClient, setting: str, limit: int, default: int) -> GraphQLClient:
    """An app whose `setting` is `limit`; when that is the default, the app is left as is."""
    if limit == default:
        assert Settings.model_fields[setting].default == default
        return client_with()
    return client_with(**{setting: limit})


def only_error(result: dict[str, Any]) -> dict[str, Any]:
    """The single error of a refused operation; nothing was executed."""
    assert result.get("data") is None, result
    errors = result.get("errors")
    assert errors is not None
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    return error


def assert_ran(result: dict[str, Any]) -> None:
    """The operation ran without any error."""
    assert "errors" not in result, result.get("errors")
    assert result["data"] is not None


# ---------------------------------------------------------------- depth

# The field each type leads to along the chain, and a scalar to end on. Pages of one keep
# the deepest chains far below the cost limit.
NEXT = {
    "Query": ("customers(first: 1)", "CustomerConnection"),
    "CustomerConnection": ("edges", "CustomerEdge"),
    "CustomerEdge": ("node", "Customer"),
    "Customer": ("tasks(first: 1)", "TaskConnection"),
    "TaskConnection": ("edges", "TaskEdge"),
    "TaskEdge": ("node", "Task"),
    "Task": ("customer", "Customer"),
}
LEAF = {
    "Query": "__typename",
    "CustomerConnection": "totalCount",
    "TaskConnection": "totalCount",
    "CustomerEdge": "cursor",
    "TaskEdge": "cursor",
    "Customer": "id",
    "Task": "id",
}


class DeepQuery:
    """A chain of nested fields `depth` levels below the root field, in one of three styles.

    - fields: `customers { edges { node { tasks { ... } } } }`, plain.
    - named: every Customer below the root is selected through its own named fragment.
    - inline: `node(id:) { ... on Task { customer { ... on Customer { tasks ... } } } }`.
    """

    def __init__(self, style: str) -> None:
        self.style = style
        self.fragments: list[str] = []

    def build(self, depth: int) -> str:
        """The whole document."""
        self.fragments = []
        if self.style == "inline":
            body = f'node(id: "{gid("Task", 1)}") {{ {self.selection("Task", depth - 1)} }}'
        else:
            body = self.selection("Query", depth)
        return " ".join([f"{{ {body} }}", *self.fragments])

    def selection(self, type_name: str, depth: int) -> str:
        inner = self.fields(type_name, depth)
        if self.style == "inline" and type_name in ("Task", "Customer"):
            return f"... on {type_name} {{ {inner} }}"
        if self.style == "named" and type_name == "Customer":
            name = f"Level{len(self.fragments)}"
            self.fragments.append("")
            index = len(self.fragments) - 1
            self.fragments[index] = f"fragment {name} on Customer {{ {inner} }}"
            return f"...{name}"
        return inner

    def fields(self, type_name: str, depth: int) -> str:
        if depth == 0:
            return LEAF[type_name]
        field, child = NEXT[type_name]
        return f"{field} {{ {self.selection(child, depth - 1)} }}"


def longest_path(document: str) -> int:
    """Independent check of a chain's depth: the deepest brace nesting, minus the operation."""
    deepest = level = 0
    operation = document.split(" fragment ")[0]
    for char in operation:
        level += {"{": 1, "}": -1}.get(char, 0)
        deepest = max(deepest, level)
    return deepest - 1


DEPTHS = [pytest.param(3, id="custom-3"), pytest.param(10, id="default-10")]
STYLES = ["fields", "named", "inline"]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("limit", DEPTHS)
async def test_given_a_query_exactly_at_the_depth_limit_when_run_then_it_passes(
    client_with: BuildClient, limit: int, style: str
) -> None:
    gql = limited(client_with, "graphql_max_depth", limit, 10)
    document = DeepQuery(style).build(limit)
    if style == "fields":
        assert longest_path(document) == limit
    assert_ran(await gql(document))


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("limit", DEPTHS)
async def test_given_a_query_one_level_over_the_depth_limit_when_run_then_it_is_refused(
    client_with: BuildClient, limit: int, style: str
) -> None:
    gql = limited(client_with, "graphql_max_depth", limit, 10)
    document = DeepQuery(style).build(limit + 1)
    if style == "fields":
        assert longest_path(document) == limit + 1
    error = only_error(await gql(document))
    assert error["extensions"]["code"] == VALIDATION_FAILED
    assert f"exceeds maximum operation depth of {limit}" in error["message"]


# ---------------------------------------------------------------- aliases


def aliased(in_operation: int, in_fragment: int) -> str:
    """Aliased `__typename`s: some in the operation, some in a named fragment it spreads."""
    fields = [f"op{i}: __typename" for i in range(in_operation)]
    if not in_fragment:
        return f"{{ {' '.join(fields)} }}"
    fragment = " ".join(f"frag{i}: __typename" for i in range(in_fragment))
    return f"{{ {' '.join(fields)} ...Aliases }} fragment Aliases on Query {{ {fragment} }}"


ALIASES = [pytest.param(6, id="custom-6"), pytest.param(30, id="default-30")]


def split(where: str, total: int) -> tuple[int, int]:
    """`total` items as (in the operation, in a fragment)."""
    return {
        "operation": (total, 0),
        "fragment": (0, total),
        "both": (total // 2, total - total // 2),
    }[where]


SPLITS = ["operation", "fragment", "both"]


@pytest.mark.parametrize("where", SPLITS)
@pytest.mark.parametrize("limit", ALIASES)
async def test_given_exactly_the_alias_limit_when_run_then_it_passes(
    client_with: BuildClient, limit: int, where: str
) -> None:
    gql = limited(client_with, "graphql_max_aliases", limit, 30)
    data = await gql.ok(aliased(*split(where, limit)))
    assert len(data) == limit
    assert set(data.values()) == {"Query"}


@pytest.mark.parametrize("where", SPLITS)
@pytest.mark.parametrize("limit", ALIASES)
async def test_given_one_alias_over_the_limit_when_run_then_it_is_refused(
    client_with: BuildClient, limit: int, where: str
) -> None:
    gql = limited(client_with, "graphql_max_aliases", limit, 30)
    in_operation, in_fragment = split(where, limit)
    if where == "operation":
        in_operation += 1
    else:
        in_fragment += 1
    error = only_error(await gql(aliased(in_operation, in_fragment)))
    assert error["extensions"]["code"] == VALIDATION_FAILED
    assert error["message"] == f"{limit + 1} aliases found. Allowed: {limit}"


@pytest.mark.parametrize(("per_spread", "refused"), [(15, False), (16, True)])
async def test_given_a_fragment_spread_twice_when_counted_then_its_aliases_count_twice(
    gql: GraphQLClient, per_spread: int, refused: bool
) -> None:
    fields = " ".join(f"a{i}: __typename" for i in range(per_spread))
    document = f"{{ ...Twice ... on Query {{ ...Twice }} }} fragment Twice on Query {{ {fields} }}"
    result = await gql(document)
    if refused:
        assert only_error(result)["message"] == f"{2 * per_spread} aliases found. Allowed: 30"
    else:
        assert_ran(result)


# ---------------------------------------------------------------- tokens


def token_count(document: str) -> int:
    """Lexical tokens as graphql-core counts them for `max_tokens` (comments included)."""
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def tokens(total: int) -> str:
    """A valid query of exactly `total` tokens: a list argument of one-token enum values."""
    fixed = "{ tasks(filter: {status: []}) { totalCount } }"
    values = " ".join(["DONE"] * (total - token_count(fixed)))
    document = fixed.replace("[]", f"[{values}]")
    assert token_count(document) == total
    return document


TOKENS = [pytest.param(40, id="custom-40"), pytest.param(2000, id="default-2000")]


@pytest.mark.parametrize("limit", TOKENS)
async def test_given_exactly_the_token_limit_when_run_then_it_passes(
    client_with: BuildClient, limit: int
) -> None:
    gql = limited(client_with, "graphql_max_tokens", limit, 2000)
    data = await gql.ok(tokens(limit))
    assert data == {"tasks": {"totalCount": 0}}


@pytest.mark.parametrize("limit", TOKENS)
async def test_given_one_token_over_the_limit_when_run_then_parsing_is_aborted(
    client_with: BuildClient, limit: int
) -> None:
    gql = limited(client_with, "graphql_max_tokens", limit, 2000)
    error = only_error(await gql(tokens(limit + 1)))
    assert error["extensions"]["code"] == PARSE_FAILED
    assert f"more than {limit} tokens" in error["message"]


# ---------------------------------------------------------------- document size


def padded(length: int) -> str:
    """`{ __typename }` padded with spaces (ignored, and no tokens) to `length` characters."""
    document = "{ __typename }"
    return document + " " * (length - len(document))


SIZES = [pytest.param(100, id="custom-100"), pytest.param(20_000, id="default-20000")]


@pytest.mark.parametrize("limit", SIZES)
async def test_given_a_document_exactly_at_the_size_limit_when_run_then_it_passes(
    client_with: BuildClient, limit: int
) -> None:
    gql = limited(client_with, "graphql_max_document_chars", limit, 20_000)
    assert await gql.ok(padded(limit)) == {"__typename": "Query"}


@pytest.mark.parametrize("limit", SIZES)
async def test_given_a_document_one_character_too_long_when_run_then_query_too_large(
    client_with: BuildClient, limit: int
) -> None:
    gql = limited(client_with, "graphql_max_document_chars", limit, 20_000)
    error = only_error(await gql(padded(limit + 1)))
    assert error["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert error["extensions"]["maxLength"] == limit
    assert str(limit + 1) in error["message"]


# ---------------------------------------------------------------- directives


def directed(in_operation: int, in_fragment: int) -> str:
    """`__typename` fields that each carry one directive, in the operation and a fragment."""
    fields = ["__typename @include(if: true)"] * in_operation
    fragment = " ".join(["__typename @skip(if: false)"] * in_fragment) or "__typename"
    operation = f"{{ __typename {' '.join(fields)} ...Directed }}"
    return f"{operation} fragment Directed on Query {{ {fragment} }}"


DIRECTIVES = [pytest.param(4, id="custom-4"), pytest.param(50, id="default-50")]


@pytest.mark.parametrize("where", SPLITS)
@pytest.mark.parametrize("limit", DIRECTIVES)
async def test_given_exactly_the_directive_limit_when_run_then_it_passes(
    client_with: BuildClient, limit: int, where: str
) -> None:
    gql = limited(client_with, "graphql_max_directives", limit, 50)
    document = directed(*split(where, limit))
    assert document.count("@") == limit
    assert await gql.ok(document) == {"__typename": "Query"}


@pytest.mark.parametrize("where", SPLITS)
@pytest.mark.parametrize("limit", DIRECTIVES)
async def test_given_one_directive_over_the_limit_when_run_then_it_is_refused(
    client_with: BuildClient, limit: int, where: str
) -> None:
    gql = limited(client_with, "graphql_max_directives", limit, 50)
    in_operation, in_fragment = split(where, limit)
    if where == "operation":
        in_operation += 1
    else:
        in_fragment += 1
    document = directed(in_operation, in_fragment)
    assert document.count("@") == limit + 1
    error = only_error(await gql(document))
    assert error["extensions"]["code"] == VALIDATION_FAILED
    assert error["message"] == f"The document uses more than {limit} directives."


async def test_given_a_directive_repeated_ten_times_on_one_field_when_run_then_one_error(
    gql: GraphQLClient,
) -> None:
    document = "{ __typename " + "@skip(if: false) " * 10 + "}"
    error = only_error(await gql(document))
    assert error["extensions"]["code"] == VALIDATION_FAILED


# ---------------------------------------------------------------- request body


def json_body(size: int, query: str = "{ __typename }") -> bytes:
    """A JSON request body of exactly `size` bytes, padded in an unused variable."""
    empty = json.dumps({"query": query, "variables": {"pad": ""}}).encode()
    body = json.dumps({"query": query, "variables": {"pad": "x" * (size - len(empty))}}).encode()
    assert len(body) == size
    return body


async def chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    """The body as a stream: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def sent(body: bytes, mode: str) -> Any:
    return body if mode == "content-length" else chunks(body, 256)


BODIES = [pytest.param(1024, id="custom-1KiB"), pytest.param(1024 * 1024, id="default-1MiB")]
MODES = ["content-length", "chunked"]
CREATE_PRODUCT = (
    'mutation { createProduct(input: {sku: "BODY-1", name: "Body", price: "1.00"})'
    " { product { id } } }"
)


async def product_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(products_t))).scalar_one())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("limit", BODIES)
async def test_given_a_body_exactly_at_the_limit_when_posted_then_it_runs(
    client_with: BuildClient, limit: int, mode: str
) -> None:
    gql = limited(client_with, "max_body_bytes", limit, 1024 * 1024)
    response = await gql.http.post(
        "/graphql",
        content=sent(json_body(limit), mode),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}
    if mode == "chunked":
        assert response.request.headers["transfer-encoding"] == "chunked"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("limit", BODIES)
async def test_given_a_body_one_byte_over_the_limit_when_posted_then_413_and_nothing_runs(
    client_with: BuildClient, engine: AsyncEngine, limit: int, mode: str
) -> None:
    gql = limited(client_with, "max_body_bytes", limit, 1024 * 1024)
    response = await gql.http.post(
        "/graphql",
        content=sent(json_body(limit + 1, CREATE_PRODUCT), mode),
        headers={"content-type": "application/json", "authorization": f"Bearer {gql.token}"},
    )
    assert response.status_code == 413
    error = only_error(response.json())
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert str(limit) in error["message"]
    assert await product_count(engine) == 0


# ---------------------------------------------------------------- time limit


@strawberry.type
class SlowQuery:
    """A root with a field that takes a second and one that takes a moment."""

    @strawberry.field
    async def slow(self) -> str:
        """Sleeps longer than the schema allows."""
        await asyncio.sleep(1)
        return "done"

    @strawberry.field
    async def quick(self) -> str:
        """Yields to the event loop once, well within any limit."""
        await asyncio.sleep(0.01)
        return "done"


async def test_given_a_resolver_slower_than_the_time_limit_when_run_then_timeout_quickly() -> None:
    schema = Schema(query=SlowQuery, timeout_seconds=0.05)
    started = time.perf_counter()
    result = await schema.execute("{ slow }")
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    assert result.data is None
    assert result.errors is not None
    assert len(result.errors) == 1
    assert result.errors[0].extensions == {"code": "TIMEOUT"}
    assert "0.05 seconds" in result.errors[0].message


async def test_given_a_resolver_within_the_time_limit_when_run_then_it_answers() -> None:
    schema = Schema(query=SlowQuery, timeout_seconds=1)
    result = await schema.execute("{ quick }")
    assert result.errors is None
    assert result.data == {"quick": "done"}
