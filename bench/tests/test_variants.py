"""The benchmark's app variants (bench/variants.py), over HTTP: each changes only what it
names.

Every test builds a variant next to the product app, both from the composition root and on
the same database, and shows the difference from the outside.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.permission import PermissionExtension
from strawberry.types.base import StrawberryObjectDefinition

from bench import variants
from bench.variants import Collaborators
from config.settings import Settings
from graph.app import create_app
from graph.schema import build_schema
from persistence.models import AccessLogModel, AuditLogModel
from tests.builders import add_customers, add_tasks, gid
from tests.conftest import GraphQLClient, StatementCounter, token_for
from tests.e2e.test_statement_counts import (
    ACCESS_RECORD,
    AUTHENTICATION,
    NESTED,
    SIZES,
    TASKS_PER_CUSTOMER,
    counts_at_both_sizes,
    seed,
)
from tests.rbac_helpers import Member, People, assert_forbidden, count_rows, permission

access_t = cast(Table, AccessLogModel.__table__)
audit_t = cast(Table, AuditLogModel.__table__)


@dataclass(frozen=True)
class Built:
    """An app built from some collaborators, a client for it, and its superuser's client."""

    app: Any
    http: httpx.AsyncClient
    gql: GraphQLClient


Variant = Callable[[Settings], Collaborators]
Build = Callable[[Variant | None], Awaitable[Built]]


@pytest.fixture
async def build(settings: Settings, engine: AsyncEngine, superuser_id: int) -> AsyncIterator[Build]:
    """Builds apps on the test database, each with its own in-process HTTP client: the
    product's (None) or a variant's."""
    async with AsyncExitStack() as stack:

        async def built(variant: Variant | None) -> Built:
            collaborators = variant(settings) if variant is not None else {}
            app = create_app(settings, engine=engine, **collaborators)
            transport = httpx.ASGITransport(app=app)
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver")
            )
            return Built(app, http, GraphQLClient(http, token_for(app, superuser_id)))

        yield built


async def member_of(built: Built, engine: AsyncEngine, password_hash: str, grants: Any) -> Member:
    """A user holding one role with `grants`, acting through `built`'s app."""
    people = People(engine=engine, app=built.app, http=built.http, password_hash=password_hash)
    return await people.user(grants)


# ---------------------------------------------------------------- naive


async def test_given_the_naive_variant_when_the_page_grows_then_statements_grow_with_it(
    build: Build, engine: AsyncEngine, statements: StatementCounter
) -> None:
    # Given the seeded data and the naive app (loaders that do not batch) next to the product
    await seed(engine)
    n_plus_one = await build(variants.naive)
    default = await build(None)

    # When the nested query runs at 5 and at 50 customers on each
    counts_off = await counts_at_both_sizes(n_plus_one.gql, statements, NESTED)
    counts_on = await counts_at_both_sizes(default.gql, statements, NESTED)

    # Then without batching every customer costs a statement for its tasks and every task
    # one for its products (prefetching, through the same loaders, adds none); with
    # batching the count is flat.
    overhead = AUTHENTICATION + ACCESS_RECORD
    assert counts_off == [1 + n + n * TASKS_PER_CUSTOMER + overhead for n in SIZES]
    assert counts_on == [3 + overhead, 3 + overhead]


async def test_given_the_naive_variant_when_queried_then_the_answers_are_the_same(
    build: Build, engine: AsyncEngine
) -> None:
    await seed(engine)
    n_plus_one = await build(variants.naive)
    default = await build(None)

    assert await n_plus_one.gql.ok(NESTED, {"n": 7}) == await default.gql.ok(NESTED, {"n": 7})


# ---------------------------------------------------------------- features-off: rbac

TASKS = "{ tasks { edges { node { title } } } }"
CUSTOMER_TASKS = "{ customers { edges { node { name tasks { edges { node { title } } } } } } }"


@pytest.fixture
async def two_tasks(engine: AsyncEngine) -> list[int]:
    """Two tasks of one customer."""
    (customer,) = await add_customers(engine, {"name": "Acme"})
    return await add_tasks(
        engine,
        {"title": "Alpha", "customer_id": customer},
        {"title": "Beta", "customer_id": customer},
    )


async def test_given_features_off_when_a_caller_without_tasks_read_lists_tasks_then_they_get_them(
    build: Build, engine: AsyncEngine, password_hash: str, two_tasks: list[int]
) -> None:
    # Given a caller who may read customers only, on the features-off app and the product
    open_app = await build(variants.features_off)
    default = await build(None)
    member = await member_of(open_app, engine, password_hash, {"CUSTOMERS": []})
    as_default = GraphQLClient(default.http, token_for(default.app, member.id))

    # When they list tasks, at the root and below customers
    open_tasks = await member.gql.ok(TASKS)
    open_nested = await member.gql.ok(CUSTOMER_TASKS)
    refused = await as_default.error(TASKS)

    # Then the features-off app answers, and the product still refuses.
    titles = [{"node": {"title": "Alpha"}}, {"node": {"title": "Beta"}}]
    assert open_tasks == {"tasks": {"edges": titles}}
    assert open_nested["customers"]["edges"] == [
        {"node": {"name": "Acme", "tasks": {"edges": titles}}}
    ]
    assert_forbidden(refused, permission("TASKS"))


async def test_given_a_features_off_app_when_the_product_is_built_after_it_then_it_checks(
    build: Build, engine: AsyncEngine, password_hash: str, two_tasks: list[int]
) -> None:
    # Given a features-off app built first, then the product, in the same process
    open_app = await build(variants.features_off)
    default = await build(None)
    member = await member_of(default, engine, password_hash, {"CUSTOMERS": []})
    as_open = GraphQLClient(open_app.http, token_for(open_app.app, member.id))

    # When the same caller lists tasks on both
    refused = await member.gql.error(TASKS)
    answered = await as_open.ok(TASKS)

    # Then stripping the permissions for the first build did not leak into the second,
    # and building the second did not give the first its permissions back.
    assert_forbidden(refused, permission("TASKS"))
    assert len(answered["tasks"]["edges"]) == 2


def _permissions_of_every_field(settings: Settings) -> dict[tuple[str, str], list[Any]]:
    found: dict[tuple[str, str], list[Any]] = {}
    for concrete in build_schema(settings).schema_converter.type_map.values():
        definition = concrete.definition
        if isinstance(definition, StrawberryObjectDefinition):
            for field in definition.fields:
                found[(definition.name, field.name)] = [
                    e for e in field.extensions if isinstance(e, PermissionExtension)
                ]
    return found


def test_given_the_features_off_schema_when_built_then_every_field_keeps_its_permissions(
    settings: Settings,
) -> None:
    # Given the permission extensions of every field of every type
    before = _permissions_of_every_field(settings)
    assert before[("Query", "tasks")], "the fixture must see guarded fields"

    # When a schema without permission checks is built
    variants.features_off_schema(settings)

    # Then the fields hold the very same extensions afterwards.
    after = _permissions_of_every_field(settings)
    assert after.keys() == before.keys()
    for key, extensions in before.items():
        assert [id(e) for e in after[key]] == [id(e) for e in extensions], key


async def test_given_features_off_when_a_caller_without_tasks_read_asks_node_then_it_answers(
    build: Build, engine: AsyncEngine, password_hash: str, two_tasks: list[int]
) -> None:
    open_app = await build(variants.features_off)
    member = await member_of(open_app, engine, password_hash, {"CUSTOMERS": []})

    data = await member.gql.ok(
        "query($id: ID!) { node(id: $id) { ... on Task { title } } }",
        {"id": gid("Task", two_tasks[0])},
    )

    assert data == {"node": {"title": "Alpha"}}


# ---------------------------------------------------------------- features-off: audit

CREATE_PRODUCT = """
mutation($input: CreateProductInput!) { createProduct(input: $input) { product { sku } } }
"""


@pytest.mark.parametrize(
    ("variant", "access_rows", "audited"),
    [
        pytest.param(variants.features_off, 0, False, id="features-off"),
        pytest.param(None, 1, True, id="product"),
    ],
)
async def test_given_a_variant_when_a_mutation_runs_then_audit_rows_follow_it(
    build: Build,
    engine: AsyncEngine,
    variant: Variant | None,
    access_rows: int,
    audited: bool,
) -> None:
    # Given a features-off app, built before the one under test (it must not leak)
    await build(variants.features_off)
    built = await build(variant)
    access_before = await count_rows(engine, access_t)
    audit_before = await count_rows(engine, audit_t)

    # When a product is created
    data = await built.gql.ok(
        CREATE_PRODUCT, {"input": {"sku": "AUD-1", "name": "Audited", "price": "1.00"}}
    )

    # Then the change happened, and it left access and audit rows only where audit is on.
    assert data == {"createProduct": {"product": {"sku": "AUD-1"}}}
    assert await count_rows(engine, access_t) - access_before == access_rows
    assert (await count_rows(engine, audit_t) > audit_before) is audited


async def test_given_features_off_when_queries_run_then_no_access_row_is_written(
    build: Build, engine: AsyncEngine, two_tasks: list[int]
) -> None:
    built = await build(variants.features_off)

    await built.gql.ok(TASKS)
    await built.gql.error("{ nope }")

    assert await count_rows(engine, access_t) == 0


# ---------------------------------------------------------------- limits-off, features-off

# customers > edges > node > tasks > edges > node > customer > tasks > edges > node >
# customer > name: twelve levels, past GRAPHQL_MAX_DEPTH's default of 10.
DEEP = """
{ customers { edges { node { tasks { edges { node { customer {
  tasks { edges { node { customer { name } } } }
} } } } } } } }
"""

UNLIMITED = [
    pytest.param(variants.limits_off, id="limits-off"),
    pytest.param(variants.features_off, id="features-off"),
]


@pytest.mark.parametrize("variant", UNLIMITED)
async def test_given_no_limits_when_a_query_is_deeper_than_the_limit_then_it_is_answered(
    build: Build, settings: Settings, two_tasks: list[int], variant: Variant
) -> None:
    assert settings.graphql_max_depth < 12
    unlimited = await build(variant)
    default = await build(None)

    refused = await default.gql.error(DEEP)
    answered = await unlimited.gql.ok(DEEP)

    assert "depth" in refused["message"], refused
    assert refused["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    customer = answered["customers"]["edges"][0]["node"]
    inner = customer["tasks"]["edges"][0]["node"]["customer"]["tasks"]["edges"]
    assert [edge["node"]["customer"]["name"] for edge in inner] == ["Acme", "Acme"]


@pytest.mark.parametrize("variant", UNLIMITED)
async def test_given_no_limits_when_a_query_runs_then_no_cost_is_priced_or_reported(
    build: Build, two_tasks: list[int], variant: Variant
) -> None:
    unlimited = await build(variant)
    default = await build(None)

    await unlimited.gql.ok(TASKS)
    unlimited_extensions = unlimited.gql.last_extensions
    await default.gql.ok(TASKS)

    assert "cost" in default.gql.last_extensions
    assert "cost" not in unlimited_extensions


async def test_given_limits_off_when_a_caller_without_tasks_read_lists_tasks_then_refused(
    build: Build, engine: AsyncEngine, password_hash: str, two_tasks: list[int]
) -> None:
    # Given a caller who may read customers only, on the limits-off app
    unlimited = await build(variants.limits_off)
    member = await member_of(unlimited, engine, password_hash, {"CUSTOMERS": []})

    # When they list tasks, and send a field that does not exist
    refused = await member.gql.error(TASKS)
    invalid = await member.gql.error("{ nope }")

    # Then permissions and the error mapping are the product's: only the limits are gone.
    assert_forbidden(refused, permission("TASKS"))
    assert invalid["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "requestId" in invalid["extensions"]


# ---------------------------------------------------------------- features-off: masking


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param("{ nope }", "GRAPHQL_VALIDATION_FAILED", id="validation"),
        pytest.param(
            '{ customers(after: "garbage") { edges { node { id } } } }',
            "BAD_USER_INPUT",
            id="domain-error",
        ),
    ],
)
async def test_given_features_off_when_an_error_happens_then_it_has_no_mapped_code(
    build: Build, query: str, code: str
) -> None:
    # Given the features-off app (no central error mapping), and the product
    unmasked = await build(variants.features_off)
    default = await build(None)

    # When each answers the same failing request
    raw = await unmasked.gql.error(query)
    mapped = await default.gql.error(query)

    # Then only the product gives the error its code and the request id.
    assert mapped["extensions"]["code"] == code
    assert "requestId" in mapped["extensions"]
    extensions = raw.get("extensions") or {}
    assert "code" not in extensions, raw
    assert "requestId" not in extensions, raw
    assert raw.get("path") == mapped.get("path")
    assert raw["locations"] == mapped["locations"]
