"""Prefetching below list and node resolvers, over HTTP: fewer awaits, never other answers.

Each test compares a prefetched query with the same query made with the prefetch bypassed
(a `@include(if: true)` in the selection makes the prefetch step aside), and counts the
statements. The bypassed query still runs a flat number of statements thanks to the
batched loaders; what shows the prefetch ran is *when* its statements run: inside the list
resolver, before the connection's own `totalCount`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.tasks.model import TaskStatus
from tests.builders import add_customers, add_products, add_tasks, add_users, gid, link
from tests.conftest import GraphQLClient, StatementCounter
from tests.e2e.test_statement_counts import (
    ACCESS_RECORD,
    AUTHENTICATION,
    PRODUCTS_PER_TASK,
    TASKS_PER_CUSTOMER,
    count_statements,
    seed,
)
from tests.rbac_helpers import People, assert_forbidden, permission

OVERHEAD = AUTHENTICATION + ACCESS_RECORD
BYPASS = "@include(if: true)"


def kind(statement: str) -> str:
    """What a statement reads or writes, by the tables it names."""
    sql = " ".join(statement.split())
    if sql.startswith("INSERT INTO access_log"):
        return "access"
    if "revoked_tokens" in sql:
        return "auth"
    if "task_products" in sql:
        return "products"
    if "count(" in sql:
        return "count"
    for table in ("tasks", "customers", "users"):
        if f"FROM {table}" in sql:
            return table
    return sql[:60]


def kinds(statements: StatementCounter) -> list[str]:
    """The kinds of the statements counted, in the order they ran."""
    return [kind(statement) for statement in statements.statements]


async def counted(
    client: GraphQLClient,
    statements: StatementCounter,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole response (errors allowed) of one request, with its statements counted."""
    statements.statements.clear()
    statements.counting = True
    try:
        return await client(query, variables)
    finally:
        statements.counting = False


def without_request_ids(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors as two requests can share them: each request has its own id."""
    cleaned = []
    for error in errors:
        extensions = {k: v for k, v in error.get("extensions", {}).items() if k != "requestId"}
        cleaned.append({**error, "extensions": extensions})
    return cleaned


# ---------------------------------------------------------------- customers → tasks → products

CUSTOMERS_TASKS_PRODUCTS = """
query($n: Int) { customers(first: $n) { totalCount edges { node { id name
  tasks(first: 10) %s { edges { cursor node { id title status products { id sku price } } } }
} } } }
"""


@pytest.mark.parametrize("size", [5, 50])
async def test_given_seeded_data_when_customers_tasks_products_are_listed_then_three_statements(
    gql: GraphQLClient, engine: AsyncEngine, statements: StatementCounter, size: int
) -> None:
    # Given 60 customers x 10 tasks x 3 products
    await seed(engine)

    # When the page is listed with the prefetch, and again with it bypassed
    prefetched_count, prefetched = await count_statements(
        gql, statements, CUSTOMERS_TASKS_PRODUCTS % "", {"n": size}
    )
    prefetched_kinds = kinds(statements)
    bypassed_count, bypassed = await count_statements(
        gql, statements, CUSTOMERS_TASKS_PRODUCTS % BYPASS, {"n": size}
    )
    bypassed_kinds = kinds(statements)

    # Then customers, one page of tasks for all of them and their products: 3 statements
    # (+ the customers' count), with or without the prefetch, at every page size
    assert prefetched_count == 3 + 1 + OVERHEAD, statements.statements
    assert bypassed_count == prefetched_count
    # and the prefetch loaded tasks and products inside the list resolver, before the count.
    assert prefetched_kinds == ["auth", "customers", "tasks", "products", "count", "access"]
    assert sorted(bypassed_kinds) == sorted(prefetched_kinds)
    # The answers are equal field by field, and complete.
    assert prefetched == bypassed
    edges = prefetched["customers"]["edges"]
    assert len(edges) == size
    for edge in edges:
        tasks = edge["node"]["tasks"]["edges"]
        assert len(tasks) == TASKS_PER_CUSTOMER
        assert all(len(task["node"]["products"]) == PRODUCTS_PER_TASK for task in tasks)


@dataclass(frozen=True)
class Shop:
    """Three customers (the last without tasks), six tasks, three products."""

    customers: list[int]
    tasks: list[int]
    products: list[int]
    users: list[int]


@pytest.fixture
async def shop(engine: AsyncEngine) -> Shop:
    """Tasks of mixed status and title, linked to products in no particular order."""
    products = await add_products(engine, {"sku": "P-A"}, {"sku": "P-B"}, {"sku": "P-C"})
    users = await add_users(engine, {"email": "ann@shop.test"}, {"email": "ben@shop.test"})
    customers = await add_customers(engine, {"name": "Acme"}, {"name": "Bolt"}, {"name": "Cask"})
    acme, bolt, _cask = customers
    todo, done = TaskStatus.TODO, TaskStatus.DONE
    tasks = await add_tasks(
        engine,
        {"title": "a-plan", "customer_id": acme, "status": todo, "assignee_id": users[0]},
        {"title": "b-build", "customer_id": acme, "status": done, "assignee_id": users[1]},
        {"title": "c-check", "customer_id": acme, "status": done},
        {"title": "d-deliver", "customer_id": acme, "status": todo, "assignee_id": users[0]},
        {"title": "e-estimate", "customer_id": bolt, "status": done, "assignee_id": users[1]},
        {"title": "f-fix", "customer_id": bolt, "status": todo},
    )
    t = tasks
    await link(
        engine,
        [
            (t[0], products[1]),
            (t[0], products[0]),
            (t[1], products[1]),
            (t[3], products[2]),
            (t[4], products[0]),
            (t[5], products[2]),
            (t[5], products[0]),
        ],
    )
    return Shop(customers, tasks, products, users)


TWO_PAGES = """
query($k: Int, $status: [TaskStatus!]) { customers(first: 10) { edges { node { name
  first: tasks(first: $k) %(bypass)s { edges { node { title products { sku } } } }
  done: tasks(filter: {status: $status}, orderBy: [{field: TITLE, direction: DESC}]) %(bypass)s {
    edges { node { title products { sku } } }
  }
} } } }
"""


async def test_given_two_aliases_of_tasks_when_listed_then_each_gets_its_own_rows(
    gql: GraphQLClient, shop: Shop, statements: StatementCounter
) -> None:
    # Given two pages of each customer's tasks with different first, filter and order
    variables = {"k": 2, "status": ["DONE"]}

    # When listed with the prefetch and without
    prefetched = await counted(gql, statements, TWO_PAGES % {"bypass": ""}, variables)
    prefetched_statements = statements.count
    bypassed = await counted(gql, statements, TWO_PAGES % {"bypass": BYPASS}, variables)

    # Then each alias holds the rows its own arguments select, with their products
    assert "errors" not in prefetched, prefetched
    assert prefetched == bypassed

    def page(titles: list[str], skus: list[list[str]]) -> dict[str, Any]:
        return {
            "edges": [
                {"node": {"title": title, "products": [{"sku": sku} for sku in found]}}
                for title, found in zip(titles, skus, strict=True)
            ]
        }

    assert prefetched["data"]["customers"]["edges"] == [
        {
            "node": {
                "name": "Acme",
                "first": page(["a-plan", "b-build"], [["P-A", "P-B"], ["P-B"]]),
                "done": page(["c-check", "b-build"], [[], ["P-B"]]),
            }
        },
        {
            "node": {
                "name": "Bolt",
                "first": page(["e-estimate", "f-fix"], [["P-A"], ["P-A", "P-C"]]),
                "done": page(["e-estimate"], [["P-A"]]),
            }
        },
        {"node": {"name": "Cask", "first": page([], []), "done": page([], [])}},
    ]
    # and the aliases share the statements below them: customers, a page per alias, and one
    # products statement for the tasks of both.
    assert prefetched_statements == 1 + 2 + 1 + OVERHEAD, statements.statements


THROUGH_FRAGMENTS = """
query { customers(first: 10) { totalCount edges { ...CustomerEdge } } }
fragment CustomerEdge on CustomerEdge { node { name ...Work } }
fragment Work on Customer { tasks(first: 3) %s { edges { node { ... on Task { ...Parts } } } } }
fragment Parts on Task { title products { sku } }
"""


async def test_given_named_and_inline_fragments_when_listed_then_the_prefetch_sees_through(
    gql: GraphQLClient, shop: Shop, statements: StatementCounter
) -> None:
    # Given the relations spread over named and inline fragments
    prefetched = await counted(gql, statements, THROUGH_FRAGMENTS % "")
    prefetched_kinds = kinds(statements)
    bypassed = await counted(gql, statements, THROUGH_FRAGMENTS % BYPASS)

    # Then the prefetch found them (its statements precede the count) and the answer is equal.
    assert "errors" not in prefetched, prefetched
    assert prefetched == bypassed
    assert prefetched_kinds == ["auth", "customers", "tasks", "products", "count", "access"]
    acme = prefetched["data"]["customers"]["edges"][0]["node"]
    assert [edge["node"] for edge in acme["tasks"]["edges"]] == [
        {"title": "a-plan", "products": [{"sku": "P-A"}, {"sku": "P-B"}]},
        {"title": "b-build", "products": [{"sku": "P-B"}]},
        {"title": "c-check", "products": []},
    ]


NODE_TASKS = """
query($id: ID!) { node(id: $id) { __typename id
  ... on Customer { name tasks %s { edges { node { title products { id } } } } }
  ... on Product { sku tasks(first: 1) { edges { node { title } } } }
} }
"""


async def test_given_a_customer_id_when_node_selects_its_tasks_then_products_come_prefetched(
    gql: GraphQLClient, shop: Shop, statements: StatementCounter
) -> None:
    # Given Acme's global ID, asked for through `node` with fragments on two types
    variables = {"id": gid("Customer", shop.customers[0])}

    # When fetched with and without the prefetch
    prefetched = await counted(gql, statements, NODE_TASKS % "", variables)
    prefetched_kinds = kinds(statements)
    bypassed = await counted(gql, statements, NODE_TASKS % BYPASS, variables)

    # Then only the Customer fragment applies, and the customer, its tasks and their
    # products took one statement each.
    assert "errors" not in prefetched, prefetched
    assert prefetched == bypassed
    p = shop.products
    assert prefetched["data"]["node"] == {
        "__typename": "Customer",
        "id": variables["id"],
        "name": "Acme",
        "tasks": {
            "edges": [
                {"node": {"title": title, "products": [{"id": gid("Product", pk)} for pk in pks]}}
                for title, pks in (
                    ("a-plan", [p[0], p[1]]),
                    ("b-build", [p[1]]),
                    ("c-check", []),
                    ("d-deliver", [p[2]]),
                )
            ]
        },
    }
    assert prefetched_kinds == ["auth", "customers", "tasks", "products", "access"]


async def test_given_a_customer_id_when_customer_selects_its_tasks_then_products_come_prefetched(
    gql: GraphQLClient, shop: Shop, statements: StatementCounter
) -> None:
    query = """query($id: ID!) { customer(id: $id) { name
      tasks(first: 1) %s { totalCount edges { node { title products { sku } } } } } }"""
    variables = {"id": gid("Customer", shop.customers[1])}

    prefetched = await counted(gql, statements, query % "", variables)
    prefetched_kinds = kinds(statements)
    bypassed = await counted(gql, statements, query % BYPASS, variables)

    assert prefetched == bypassed
    assert prefetched["data"]["customer"] == {
        "name": "Bolt",
        "tasks": {
            "totalCount": 2,
            "edges": [{"node": {"title": "e-estimate", "products": [{"sku": "P-A"}]}}],
        },
    }
    assert prefetched_kinds == ["auth", "customers", "tasks", "products", "count", "access"]


BAD_ARGUMENTS = """
{ customers(first: 10) { edges { node { name
  tasks(ARGUMENTS) %s { edges { node { id products { id } } } }
} } } }
"""


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        pytest.param('after: "garbage"', "after", id="bad-cursor"),
        pytest.param("first: -1", "first", id="negative-first"),
        pytest.param("first: 1, last: 1", "last", id="first-and-last"),
        pytest.param('filter: {customerId: "garbage"}', "customerId", id="bad-filter-id"),
    ],
)
async def test_given_bad_nested_arguments_when_listed_then_the_field_reports_bad_user_input(
    gql: GraphQLClient,
    shop: Shop,
    statements: StatementCounter,
    arguments: str,
    field: str,
) -> None:
    # Given nested page arguments that do not validate
    query = BAD_ARGUMENTS.replace("ARGUMENTS", arguments)

    # When listed with the prefetch and without
    prefetched = await counted(gql, statements, query % "")
    bypassed = await counted(gql, statements, query % BYPASS)

    # Then no crash: every customer is there, each `tasks` is null with BAD_USER_INPUT at
    # its own path, naming the argument, exactly as without the prefetch.
    assert gql.last_response is not None
    assert gql.last_response.status_code == 200
    assert [edge["node"]["name"] for edge in prefetched["data"]["customers"]["edges"]] == [
        "Acme",
        "Bolt",
        "Cask",
    ]
    assert all(e["node"]["tasks"] is None for e in prefetched["data"]["customers"]["edges"])
    errors = prefetched["errors"]
    assert [error["path"] for error in errors] == [
        ["customers", "edges", n, "node", "tasks"] for n in range(3)
    ]
    for error in errors:
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert field in error["extensions"]["fields"], error
    assert prefetched["data"] == bypassed["data"]
    assert without_request_ids(errors) == without_request_ids(bypassed["errors"])


# ---------------------------------------------------------------- the root task list

TASKS_WITH_RELATIONS = """
query($n: Int) { tasks(first: $n) { totalCount edges { node { id %s title
  customer { id name } assignee { id email } products { id sku }
} } } }
"""


@pytest.mark.parametrize("size", [5, 50])
async def test_given_seeded_data_when_root_tasks_list_relations_then_each_is_one_prefetch(
    gql: GraphQLClient, engine: AsyncEngine, statements: StatementCounter, size: int
) -> None:
    await seed(engine)

    prefetched_count, prefetched = await count_statements(
        gql, statements, TASKS_WITH_RELATIONS % "", {"n": size}
    )
    prefetched_kinds = kinds(statements)
    bypassed_count, bypassed = await count_statements(
        gql, statements, TASKS_WITH_RELATIONS % BYPASS, {"n": size}
    )

    # Tasks, then products, customers and assignees, each batched, all before the count.
    assert prefetched_count == 4 + 1 + OVERHEAD, statements.statements
    assert bypassed_count == prefetched_count
    assert prefetched_kinds[:2] == ["auth", "tasks"]
    assert sorted(prefetched_kinds[2:5]) == ["customers", "products", "users"]
    assert prefetched_kinds[5:] == ["count", "access"]
    assert prefetched == bypassed
    nodes = [edge["node"] for edge in prefetched["tasks"]["edges"]]
    assert len(nodes) == size
    assert all(node["customer"] and node["assignee"] for node in nodes)
    assert all(len(node["products"]) == PRODUCTS_PER_TASK for node in nodes)


# ---------------------------------------------------------------- relations the caller may not read


@pytest.fixture
def people(gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str) -> People:
    """Roles and users for the test; `gql` makes the superuser exist too."""
    return People(engine=engine, app=app, http=gql.http, password_hash=password_hash)


CUSTOMER_TASK_PRODUCTS = """
{ customers(first: 10) { edges { node { name
  tasks { edges { node { title products { sku } } } }
} } } }
"""


async def test_given_no_products_read_when_customers_tasks_products_then_forbidden_at_products(
    people: People, shop: Shop, statements: StatementCounter
) -> None:
    # Given a caller who reads customers and tasks, but not products
    member = await people.user({"CUSTOMERS": [], "TASKS": []})

    # When listing customers, their tasks and the tasks' products
    result = await counted(member.gql, statements, CUSTOMER_TASK_PRODUCTS)

    # Then each task's products are null with FORBIDDEN at exactly their path
    data = result["data"]["customers"]["edges"]
    titles = [[t["node"]["title"] for t in e["node"]["tasks"]["edges"]] for e in data]
    assert titles == [["a-plan", "b-build", "c-check", "d-deliver"], ["e-estimate", "f-fix"], []]
    assert all(t["node"]["products"] is None for e in data for t in e["node"]["tasks"]["edges"])
    expected_paths = [
        ["customers", "edges", c, "node", "tasks", "edges", t, "node", "products"]
        for c, count in ((0, 4), (1, 2))
        for t in range(count)
    ]
    assert sorted(error["path"] for error in result["errors"]) == sorted(expected_paths)
    for error in result["errors"]:
        assert_forbidden(error, permission("PRODUCTS"))
    # and no product was read for the caller.
    assert kinds(statements) == ["auth", "customers", "tasks", "access"]


async def test_given_no_tasks_read_when_customers_tasks_then_forbidden_and_no_task_statement(
    people: People, shop: Shop, statements: StatementCounter
) -> None:
    member = await people.user({"CUSTOMERS": [], "PRODUCTS": []})

    result = await counted(member.gql, statements, CUSTOMER_TASK_PRODUCTS)

    assert [e["node"] for e in result["data"]["customers"]["edges"]] == [
        {"name": name, "tasks": None} for name in ("Acme", "Bolt", "Cask")
    ]
    assert [error["path"] for error in result["errors"]] == [
        ["customers", "edges", n, "node", "tasks"] for n in range(3)
    ]
    for error in result["errors"]:
        assert_forbidden(error, permission("TASKS"))
    assert kinds(statements) == ["auth", "customers", "access"]


async def test_given_tasks_read_only_when_root_tasks_list_relations_then_none_is_read(
    people: People, shop: Shop, statements: StatementCounter
) -> None:
    # Given a caller who reads tasks only
    member = await people.user({"TASKS": []})
    query = "{ tasks { edges { node { title customer { id } products { id } } } } }"

    result = await counted(member.gql, statements, query)

    # Then customers and products are FORBIDDEN everywhere and never loaded.
    assert len(result["data"]["tasks"]["edges"]) == len(shop.tasks)
    assert {error["path"][-1] for error in result["errors"]} == {"customer", "products"}
    assert kinds(statements) == ["auth", "tasks", "access"]


async def test_given_no_users_read_when_tasks_list_assignees_then_no_user_is_loaded(
    people: People, shop: Shop, statements: StatementCounter
) -> None:
    # Given a caller who reads tasks but not users, and tasks assigned to others
    member = await people.user({"TASKS": []})
    query = "{ tasks { edges { node { title assignee { email } } } } }"

    # When listing the tasks with their assignees
    result = await counted(member.gql, statements, query)

    # Then every assignee is FORBIDDEN, the unset ones too (the results are right)
    assert sorted(error["path"][2] for error in result["errors"]) == list(range(len(shop.tasks)))
    assert all(edge["node"]["assignee"] is None for edge in result["data"]["tasks"]["edges"])
    for error in result["errors"]:
        assert_forbidden(error, permission("USERS"))
    # but the users were loaded anyway, for nobody to read.
    assert kinds(statements) == ["auth", "tasks", "access"]
