"""Differential tests of the compiled read path (graph/compiled/, ADR 0007).

Every operation runs through two apps on the same database: the product (compiled read path
on) and the reference (`planner=None`: the general executor alone). Their responses
must be identical to the byte: `data`, `errors` (messages, locations, paths, codes and every
other extension but the request id, which differs per request) and `extensions` (the cost).
The operations are (a) every query document of the end-to-end suite, (b) operations
generated from the SDL with hypothesis-graphql and (c) RBAC, pagination, filter and
missing-object cases written out here. Each test also checks that the compiled path did
answer, so a silent fallback to the general executor cannot make it pass.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    DocumentNode,
    GraphQLError,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from graphql.execution.collect_fields import collect_fields
from hypothesis import HealthCheck, given
from hypothesis import settings as run_settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.rbac import Module
from config.settings import Settings
from graph.app import create_app
from graph.compiled.plan import MODULES, Planner
from graph.execution import FastExecutionContext
from graph.schema import build_schema
from tests.builders import add_customers, add_products, add_tasks, gid, link
from tests.conftest import GraphQLClient, token_for
from tests.rbac_helpers import People

ROOT = Path(__file__).resolve().parents[2]
SDL = (ROOT / "schema.graphql").read_text()
HISTORY_FIELDS = ("accessLogs", "auditLogs", "verifyAuditChain", "AccessLog", "AuditLog")
COMPILED_ROOTS = ["products", "customers", "tasks", "node", "product", "customer", "task"]


def e2e_query_documents() -> list[str]:
    """Every string constant of tests/e2e/*.py that parses as a document with a query."""
    found: dict[str, None] = {}
    for path in sorted((ROOT / "tests" / "e2e").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            text = node.value
            if "{" not in text:
                continue
            try:
                document = parse(text)
            except GraphQLError:
                continue
            # The access and audit trails grow with every request, so two apps asked one
            # after the other see different totals; neither is a compiled root anyway.
            if any(name in text for name in HISTORY_FIELDS):
                continue
            if any(
                isinstance(d, OperationDefinitionNode) and d.operation is OperationType.QUERY
                for d in document.definitions
            ):
                found[text] = None
    return list(found)


E2E_DOCUMENTS = e2e_query_documents()


@dataclass
class Seeded:
    """The ids of the differential data set."""

    customers: list[int]
    products: list[int]
    tasks: list[int]
    viewer_id: int


@dataclass
class Pair:
    """The same caller on the compiled app and on the reference app."""

    compiled: GraphQLClient
    reference: GraphQLClient


def _without_request_ids(body: dict[str, Any]) -> dict[str, Any]:
    for error in body.get("errors") or []:
        (error.get("extensions") or {}).pop("requestId", None)
    return body


async def same(pair: Pair, query: str, variables: dict[str, Any] | None = None) -> Any:
    """Run `query` on both apps; their bodies and extensions must be identical."""
    compiled = _without_request_ids(await pair.compiled(query, variables))
    reference = _without_request_ids(await pair.reference(query, variables))
    assert compiled == reference, (query, variables)
    assert pair.compiled.last_extensions == pair.reference.last_extensions, query
    assert pair.compiled.last_response is not None
    assert pair.reference.last_response is not None
    assert pair.compiled.last_response.status_code == pair.reference.last_response.status_code
    return compiled


@pytest.fixture
def planner() -> Planner:
    """The compiled app's planner, to check what it covered."""
    return Planner()


@pytest.fixture
def apps(settings: Settings, engine: AsyncEngine, planner: Planner) -> tuple[Any, Any]:
    """The product (compiled reads on) and the reference (general executor only)."""
    generous = settings.model_copy(
        update={"rate_limit_requests_per_minute": 1_000_000, "rate_limit_cost_per_minute": 10**9}
    )
    return (
        create_app(generous, engine=engine, planner=lambda: planner),
        create_app(generous, engine=engine, planner=None),
    )


@pytest.fixture
async def https(apps: tuple[Any, Any]) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """An in-process HTTP client per app."""
    compiled_app, reference_app = apps
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=compiled_app), base_url="http://testserver"
        ) as compiled,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=reference_app), base_url="http://testserver"
        ) as reference,
    ):
        yield compiled, reference


@pytest.fixture
def people(
    engine: AsyncEngine, apps: tuple[Any, Any], https: tuple[Any, ...], password_hash: str
) -> People:
    """Users and roles, with tokens the compiled app mints (both apps share the secret)."""
    return People(engine, apps[0], https[0], password_hash)


def pair_for(apps: tuple[Any, Any], https: tuple[Any, ...], user_id: int) -> Pair:
    """Both clients acting as `user_id`."""
    return Pair(
        GraphQLClient(https[0], token_for(apps[0], user_id)),
        GraphQLClient(https[1], token_for(apps[1], user_id)),
    )


@pytest.fixture
async def seeded(engine: AsyncEngine, people: People) -> Seeded:
    """Customers with and without tasks, tasks with and without due dates, customers and
    assignees (one of them the viewer), products shared between tasks, one orphan task."""
    viewer = await people.user({"PRODUCTS": [], "CUSTOMERS": [], "TASKS": []})
    other = await people.user({"PRODUCTS": []})
    products = await add_products(
        engine,
        *(
            {"sku": f"SKU-{n:03d}", "name": f"Product {n % 4}", "price": Decimal(f"{n}.50")}
            for n in range(8)
        ),
    )
    customers = await add_customers(
        engine,
        *({"name": f"Customer {n % 3}", "company": None if n % 2 else f"Co {n}"} for n in range(6)),
    )
    rows = []
    for n in range(24):
        rows.append(
            {
                "title": f"Task {n % 5}",
                "customer_id": customers[n % 5] if n != 23 else None,
                "assignee_id": (viewer.id, other.id, None)[n % 3],
                "due_date": None if n % 4 == 0 else date(2030, 1, 1 + n % 7),
                "status": ("TODO", "IN_PROGRESS", "DONE")[n % 3],
                "priority": (1, 2, 3, 4)[n % 4],
            }
        )
    tasks = await add_tasks(engine, *rows)
    await link(
        engine,
        (
            (tid, products[(n * 3 + k) % 8])
            for n, tid in enumerate(tasks[:-2])
            for k in range(n % 4)
        ),
    )
    return Seeded(customers, products, tasks, viewer.id)


@pytest.fixture
async def root(apps: tuple[Any, Any], https: tuple[Any, ...], superuser_id: int) -> Pair:
    """The superuser on both apps."""
    return pair_for(apps, https, superuser_id)


def compiled_plans(planner: Planner) -> int:
    """How many cached plans the compiled path holds (operations it answers)."""
    return sum(plan is not None for plan in planner.plans())


# -- (a) the end-to-end suite's query documents --------------------------------------------


def _named_type(type_node: Any) -> str:
    while isinstance(type_node, NonNullTypeNode | ListTypeNode):
        if isinstance(type_node, ListTypeNode):
            return "[]"
        type_node = type_node.type
    assert isinstance(type_node, NamedTypeNode)
    return type_node.name.value


def variable_sets(document: DocumentNode, seeded: Seeded) -> Iterator[dict[str, Any]]:
    """Plausible variables for the document's operations: each ID variable tried as a
    customer, a product and a task; counts small enough to page."""
    for type_name, pk in (
        ("Customer", seeded.customers[0]),
        ("Product", seeded.products[1]),
        ("Task", seeded.tasks[2]),
    ):
        values: dict[str, Any] = {}
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            for variable in definition.variable_definitions or ():
                name = variable.variable.name.value
                kind = _named_type(variable.type)
                if kind == "ID":
                    values[name] = gid(type_name, pk)
                elif kind == "Int":
                    values[name] = 3
                elif kind == "Boolean":
                    values[name] = True
        yield values


@pytest.mark.parametrize("chunk", range(4))
async def test_every_e2e_query_document_answers_the_same(
    root: Pair, seeded: Seeded, planner: Planner, chunk: int
) -> None:
    """Given the e2e suite's query documents, when each runs on both apps with plausible
    variables, then both answer identically."""
    documents = E2E_DOCUMENTS[chunk::4]
    assert documents
    for text in documents:
        document = parse(text)
        operations = [
            d.name.value if d.name else None
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        ]
        for variables in variable_sets(document, seeded):
            if len(operations) > 1:
                for name in operations:
                    body = {"query": text, "variables": variables, "operationName": name}
                    compiled = await root.compiled.http.post(
                        "/graphql", json=body, headers=_auth(root.compiled)
                    )
                    reference = await root.reference.http.post(
                        "/graphql", json=body, headers=_auth(root.reference)
                    )
                    assert _without_request_ids(compiled.json()) == _without_request_ids(
                        reference.json()
                    )
            else:
                await same(root, text, variables)
    assert compiled_plans(planner) > 0
    assert planner.answered > 0


def test_the_e2e_corpus_is_found() -> None:
    """The collector finds the e2e suite's queries (a broken collector would test nothing)."""
    assert len(E2E_DOCUMENTS) >= 40


def _auth(client: GraphQLClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.token}"}


# -- (b) generated operations ----------------------------------------------------------------

SCALARS = {
    "Date": st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)).map(nodes.String),
    "DateTime": st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ).map(lambda moment: nodes.String(moment.isoformat())),
    "Decimal": st.decimals(
        min_value=Decimal("-1000"), max_value=Decimal("1000"), places=2, allow_nan=False
    ).map(nodes.String),
}
# Global IDs that can name seeded rows (or missing ones), so `node` and the typed roots reach
# the database instead of refusing a random string.
GENERATED_IDS = st.sampled_from(
    [gid(type_name, pk) for type_name in ("Customer", "Product", "Task") for pk in (1, 2, 5, 99)]
).map(nodes.String)
GENERATED = 80


def generated_operations() -> list[str]:
    """Queries on the roots the compiled path covers, the same ones on every run."""
    found: list[str] = []

    @run_settings(
        max_examples=GENERATED,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        queries(
            SDL,
            fields=COMPILED_ROOTS,
            custom_scalars={**SCALARS, "ID": GENERATED_IDS},
            allow_x00=False,
        )
    )
    def collect(operation: str) -> None:
        found.append(operation)

    collect()
    return list(dict.fromkeys(found))


async def test_generated_operations_answer_the_same(
    root: Pair, seeded: Seeded, planner: Planner
) -> None:
    """Given operations generated from the SDL on the covered roots, when each runs on both
    apps, then both answer identically."""
    operations = generated_operations()
    assert len(operations) >= GENERATED // 2
    for operation in operations:
        await same(root, operation)
    assert compiled_plans(planner) >= 5
    assert planner.answered >= 5


# -- (c) written-out cases ----------------------------------------------------------------

NESTED = """
query Nested($n: Int, $after: String, $tasks: Int, $filter: TaskFilter, $order: [TaskOrder!]) {
  customers(first: $n, after: $after, orderBy: [{field: NAME, direction: DESC}]) {
    __typename totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor __typename }
    edges {
      cursor
      node {
        __typename id name email phone company version createdAt updatedAt
        tasks(first: $tasks, filter: $filter, orderBy: $order) {
          totalCount
          pageInfo { hasNextPage endCursor }
          edges { cursor node { ...TaskFields } }
        }
      }
    }
  }
}
fragment TaskFields on Task {
  id title description status priority dueDate version createdAt
  customer { id name }
  assignee { id email fullName isActive }
  products { __typename id sku price isActive ... on Product { stock } }
}
"""

TASKS = """
query Tasks($first: Int, $last: Int, $after: String, $before: String,
            $filter: TaskFilter, $order: [TaskOrder!], $withProducts: Boolean!) {
  tasks(first: $first, last: $last, after: $after, before: $before,
        filter: $filter, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      cursor
      node {
        id title dueDate priority status
        mine: assignee { id }
        customer { name tasks(first: 2) { edges { node { id } } } }
        products @include(if: $withProducts) { id name }
      }
    }
  }
}
"""

PRODUCTS = """
query Products($first: Int, $last: Int, $after: String, $before: String,
               $filter: ProductFilter, $order: [ProductOrder!]) {
  products(first: $first, last: $last, after: $after, before: $before,
           filter: $filter, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id sku name description price stock isActive createdAt } }
  }
}
"""

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Customer { name tasks(first: 3) { edges { node { title products { name } } } } }
    ... on Task { title customer { id } assignee { email } }
    ... on Product { sku }
  }
  alias: __typename
}
"""

TYPED = """
query Typed($customer: ID!, $product: ID!, $task: ID!) {
  customer(id: $customer) { id name tasks { totalCount edges { node { id } } } }
  product(id: $product) { id name price }
  task(id: $task) { id title products { id } }
}
"""


async def _pages(pair: Pair, query: str, key: str, variables: dict[str, Any]) -> None:
    """Walk every page forwards then backwards, comparing each."""
    after = None
    for _ in range(30):
        data = (await same(pair, query, {**variables, "after": after}))["data"]
        page = data[key]
        if page is None or not page["pageInfo"]["hasNextPage"] or not page["pageInfo"]["endCursor"]:
            break
        after = page["pageInfo"]["endCursor"]
    before = None
    for _ in range(12):
        variables_back = {
            **variables,
            "first": None,
            "last": variables.get("first"),
            "before": before,
        }
        data = (await same(pair, query, variables_back))["data"]
        page = data[key]
        if page is None or not page["pageInfo"]["hasPreviousPage"]:
            break
        if not page["pageInfo"]["startCursor"]:
            break
        before = page["pageInfo"]["startCursor"]


async def test_nested_pages_filters_and_orderings_answer_the_same(
    root: Pair, seeded: Seeded, planner: Planner
) -> None:
    """Given customers, tasks and products, when nested pages are walked with filters and
    orderings (nullable due dates included), then both apps answer identically."""
    for variables in (
        {"n": 2, "tasks": 3},
        {"n": 4, "tasks": 2, "order": [{"field": "DUE_DATE"}]},
        {"n": 3, "tasks": 5, "order": [{"field": "DUE_DATE", "direction": "DESC"}]},
        {"n": 5, "tasks": 2, "filter": {"status": ["TODO", "DONE"]}},
        {"n": 5, "filter": {"search": "task 1", "priority": ["LOW", "URGENT"]}},
        {"n": 2, "filter": {"dueAfter": "2030-01-02", "dueBefore": "2030-01-06"}},
        {"n": 0},
    ):
        await _pages(root, NESTED, "customers", variables)
    for order in (
        [{"field": "DUE_DATE"}],
        [{"field": "PRIORITY", "direction": "DESC"}, {"field": "TITLE"}],
        [{"field": "CREATED_AT"}],
        None,
    ):
        for flag in (True, False):
            await _pages(root, TASKS, "tasks", {"first": 5, "order": order, "withProducts": flag})
    await _pages(root, PRODUCTS, "products", {"first": 3, "order": [{"field": "PRICE"}]})
    await _pages(
        root,
        PRODUCTS,
        "products",
        {"first": 2, "filter": {"search": "product 1"}, "order": [{"field": "NAME"}]},
    )
    for product_filter in (
        {"minPrice": "2.00", "maxPrice": "6.00"},
        {"sku": " sku-003 "},
        {"isActive": True},
        {"search": "%"},
    ):
        await same(root, PRODUCTS, {"first": 10, "filter": product_filter})
    assert compiled_plans(planner) >= 3
    # Every one of them was answered by its plan: none fell back to the general executor.
    assert planner.abandoned == 0
    assert planner.answered >= 40


async def test_bad_arguments_answer_the_same(root: Pair, seeded: Seeded, planner: Planner) -> None:
    """Given invalid arguments (a cursor of another ordering, a page too large, a foreign
    ID), when they run, then the errors are the general executor's."""
    data = (await same(root, PRODUCTS, {"first": 2}))["data"]
    cursor = data["products"]["pageInfo"]["endCursor"]
    await same(root, PRODUCTS, {"first": 2, "after": cursor, "order": [{"field": "NAME"}]})
    await same(root, PRODUCTS, {"first": 101})
    await same(root, PRODUCTS, {"first": 1, "last": 1})
    await same(root, PRODUCTS, {"first": 2, "after": "not-a-cursor"})
    await same(root, NESTED, {"n": 2, "tasks": 500})
    await same(root, TASKS, {"first": 2, "withProducts": True, "filter": {"customerId": "eA"}})
    await same(root, TYPED, {"customer": gid("Task", 1), "product": gid("Product", 1), "task": "x"})
    # The first page was the plan's; each bad argument was the general executor's to report.
    assert planner.answered == 1
    assert planner.abandoned >= 6


async def test_objects_by_id_and_node_answer_the_same(
    root: Pair, seeded: Seeded, planner: Planner
) -> None:
    """Given each type's ID, a deleted or missing one and a malformed one, when `node`,
    `customer`, `product` and `task` fetch them, then both apps answer identically."""
    ids = [
        gid("Customer", seeded.customers[0]),
        gid("Customer", seeded.customers[5]),
        gid("Product", seeded.products[2]),
        gid("Task", seeded.tasks[0]),
        gid("Task", seeded.tasks[23]),
        gid("Customer", 999_999),
        gid("Task", 999_999),
        gid("User", seeded.viewer_id),
        gid("Nope", 1),
        "!!",
    ]
    for value in ids:
        await same(root, NODE, {"id": value})
    await same(
        root,
        TYPED,
        {
            "customer": gid("Customer", seeded.customers[1]),
            "product": gid("Product", 999_999),
            "task": gid("Task", seeded.tasks[5]),
        },
    )
    assert compiled_plans(planner) >= 2
    # Customers, tasks, products and missing ones by the plan; users and bad IDs not.
    assert planner.answered == 8
    assert planner.abandoned == 3


@pytest.mark.parametrize(
    "grants",
    [
        {"CUSTOMERS": []},
        {"CUSTOMERS": [], "TASKS": []},
        {"CUSTOMERS": [], "TASKS": [], "PRODUCTS": []},
        {"TASKS": []},
        {"TASKS": [], "USERS": []},
        {"PRODUCTS": [], "CUSTOMERS": [], "TASKS": [], "USERS": []},
    ],
    ids=lambda grants: "+".join(grants),
)
async def test_rbac_answers_the_same(
    apps: tuple[Any, Any],
    https: tuple[Any, ...],
    people: People,
    seeded: Seeded,
    planner: Planner,
    grants: dict[str, list[str]],
) -> None:
    """Given a caller without some module (nested relations they may not read: null and
    FORBIDDEN at the path; an assignee who is or is not the caller), when the nested
    queries run, then data and errors are the general executor's, in the same order."""
    viewer = await people.user(grants)
    pair = pair_for(apps, https, viewer.id)
    await same(pair, NESTED, {"n": 3, "tasks": 4})
    await same(pair, TASKS, {"first": 10, "withProducts": True})
    await same(pair, PRODUCTS, {"first": 3})
    await same(pair, NODE, {"id": gid("Customer", seeded.customers[0])})
    await same(pair, NODE, {"id": gid("Task", seeded.tasks[0])})
    # The seeded viewer is the assignee of every third task and lacks USERS read.
    own = pair_for(apps, https, seeded.viewer_id)
    body = await same(own, TASKS, {"first": 12, "withProducts": False})
    codes = {error["extensions"]["code"] for error in body.get("errors", [])}
    assert codes == {"FORBIDDEN"}
    assert any(edge["node"]["mine"] for edge in body["data"]["tasks"]["edges"])
    assert compiled_plans(planner) >= 1
    assert planner.answered >= 3


async def test_the_compiled_path_answers_with_fewer_or_equal_statements(
    root: Pair, seeded: Seeded, planner: Planner, statements: Any
) -> None:
    """Given the nested query, when it runs on each app, then the compiled one runs no more
    statements than the general executor."""
    counts = []
    for client in (root.compiled, root.reference):
        statements.statements.clear()
        statements.counting = True
        try:
            await client.ok(NESTED, {"n": 5, "tasks": 3})
        finally:
            statements.counting = False
        counts.append(statements.count)
    assert counts[0] <= counts[1], counts
    assert compiled_plans(planner) == 1
    assert (planner.answered, planner.abandoned) == (1, 0)


def _planned(
    planner: Planner, query: str, variables: dict[str, Any], readable: frozenset[Module]
) -> Any:
    """Plan `query` as the executor does for a request with `variables`."""
    schema = build_schema(Settings.model_construct())._schema
    executor = FastExecutionContext.build(schema, _parse_cached(query), None, None, variables)
    assert isinstance(executor, FastExecutionContext)
    assert schema.query_type is not None
    grouped = collect_fields(
        schema, executor.fragments, executor.variable_values, schema.query_type, executor.operation
    ).grouped_field_set
    return planner.plan(
        schema,
        executor.fragments,
        executor.variable_values,
        executor.operation,
        readable,
        lambda: grouped,
    )


_DOCUMENTS: dict[str, DocumentNode] = {}


def _parse_cached(query: str) -> DocumentNode:
    # As Strawberry's ParserCache: one document object per text, which plans are keyed by.
    return _DOCUMENTS.setdefault(query, parse(query))


SKIPPING = "query($x: Boolean!) { tasks { edges { node { id products @skip(if: $x) { id } } } } }"
EVERY_MODULE = frozenset(MODULES)


def test_plans_are_keyed_by_document_grants_and_directive_values() -> None:
    """Given one document, when it is planned again, for other grants or other @skip values,
    then the plan is reused, made anew, and made per directive value respectively."""
    planner = Planner()
    first = _planned(planner, SKIPPING, {"x": False}, EVERY_MODULE)
    assert first is not None
    assert _planned(planner, SKIPPING, {"x": False}, EVERY_MODULE) is first
    skipped = _planned(planner, SKIPPING, {"x": True}, EVERY_MODULE)
    assert skipped is not None
    assert skipped is not first
    without_products = _planned(planner, SKIPPING, {"x": False}, EVERY_MODULE - {Module.PRODUCTS})
    assert without_products is not None
    assert without_products is not first
    assert len(planner) == 3
    (products,) = [r for r in first.roots[0].connection.node.relations if r.key == "products"]
    assert products.forbidden is None
    (forbidden,) = without_products.roots[0].connection.node.relations
    assert forbidden.forbidden is Module.PRODUCTS
    assert not skipped.roots[0].connection.node.relations


def test_operations_not_covered_plan_to_none_and_the_cache_is_bounded() -> None:
    """Given operations outside the compiled path (another root, a relation without a plan,
    a root the caller may not read), when planned, then there is no plan; and a planner
    bounded to two plans keeps the two most recent."""
    planner = Planner(max_plans=2)
    assert _planned(planner, "{ me { id } }", {}, EVERY_MODULE) is None
    assert (
        _planned(
            planner, "{ products { edges { node { tasks { totalCount } } } } }", {}, EVERY_MODULE
        )
        is None
    )
    assert _planned(planner, "{ users { totalCount } }", {}, EVERY_MODULE) is None
    assert _planned(planner, "{ tasks { totalCount } }", {}, frozenset()) is None
    assert len(planner) == 2
    assert _planned(planner, "{ tasks { totalCount } }", {}, EVERY_MODULE) is not None
    assert len(planner) == 2
