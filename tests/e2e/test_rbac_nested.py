"""Nested relations and `node(id:)` under RBAC, over HTTP.

A relation the caller may not read is null with a FORBIDDEN error at exactly its path,
and the rest of the response stays intact; `node(id:)` applies the typed queries' rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import add_customers, add_products, add_tasks, gid, link
from tests.conftest import GraphQLClient
from tests.rbac_helpers import Member, People, assert_forbidden

TASKS_WITH_RELATIONS = """
{
  tasks(orderBy: [{field: TITLE}]) {
    totalCount
    edges { node { id title customer { id } products { id } assignee { id } } }
  }
}
"""
NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Task { title customer { id } }
    ... on Customer { name }
    ... on Product { sku }
    ... on User { email roles { name } }
    ... on Role { name grants { module actions } }
  }
}
"""


@dataclass(frozen=True)
class Data:
    """Two tasks for one customer, each with a product, assigned to `other`."""

    customer: int
    products: list[int]
    tasks: list[int]
    other: Member


@pytest.fixture
def people(gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str) -> People:
    """Roles and users for the test; `gql` makes the superuser exist too."""
    return People(engine=engine, app=app, http=gql.http, password_hash=password_hash)


@pytest.fixture
async def data(engine: AsyncEngine, people: People) -> Data:
    """Alpha and Beta, both for one customer and assigned to another user, one product each."""
    other = await people.user({"USERS": []}, email="other@rbac.test")
    (customer,) = await add_customers(engine, {"name": "Acme", "email": "ops@acme.test"})
    products = await add_products(engine, {"sku": "P-1"}, {"sku": "P-2"})
    tasks = await add_tasks(
        engine,
        {"title": "Alpha", "customer_id": customer, "assignee_id": other.id},
        {"title": "Beta", "customer_id": customer, "assignee_id": other.id},
    )
    await link(engine, [(tasks[0], products[0]), (tasks[1], products[1])])
    return Data(customer, products, tasks, other)


def _errors_by_path(result: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(error["path"]): error for error in result.get("errors", [])}


# ---------------------------------------------------------------- task relations


async def test_given_tasks_only_when_listing_tasks_with_relations_then_each_relation_is_forbidden(
    people: People, data: Data
) -> None:
    member = await people.user({"TASKS": []})

    result = await member.gql(TASKS_WITH_RELATIONS)

    assert result["data"]["tasks"] == {
        "totalCount": 2,
        "edges": [
            {
                "node": {
                    "id": gid("Task", data.tasks[n]),
                    "title": title,
                    "customer": None,
                    "products": None,
                    "assignee": None,
                }
            }
            for n, title in enumerate(("Alpha", "Beta"))
        ],
    }
    errors = _errors_by_path(result)
    expected = {
        ("tasks", "edges", n, "node", field): permission
        for n in (0, 1)
        for field, permission in (
            ("customer", "customers:read"),
            ("products", "products:read"),
            ("assignee", "users:read"),
        )
    }
    assert set(errors) == set(expected)
    assert len(result["errors"]) == len(expected)
    for path, permission in expected.items():
        assert_forbidden(errors[path], permission)


async def test_given_tasks_and_customers_when_listing_tasks_then_only_products_and_assignee_fail(
    people: People, data: Data
) -> None:
    member = await people.user({"TASKS": [], "CUSTOMERS": []})

    result = await member.gql(TASKS_WITH_RELATIONS)

    nodes = [edge["node"] for edge in result["data"]["tasks"]["edges"]]
    assert [node["customer"] for node in nodes] == [{"id": gid("Customer", data.customer)}] * 2
    assert [node["products"] for node in nodes] == [None, None]
    assert {path[-1] for path in _errors_by_path(result)} == {"products", "assignee"}


async def test_given_every_read_when_listing_tasks_then_relations_resolve_without_errors(
    people: People, data: Data
) -> None:
    member = await people.user({"TASKS": [], "CUSTOMERS": [], "PRODUCTS": []}, {"USERS": []})

    tasks = (await member.gql.ok(TASKS_WITH_RELATIONS))["tasks"]

    assert [edge["node"]["products"] for edge in tasks["edges"]] == [
        [{"id": gid("Product", pk)}] for pk in data.products
    ]
    assert [edge["node"]["assignee"] for edge in tasks["edges"]] == [{"id": data.other.gid}] * 2


async def test_given_tasks_only_when_the_assignee_is_the_caller_then_it_is_visible(
    people: People, engine: AsyncEngine, data: Data
) -> None:
    member = await people.user({"TASKS": []})
    (mine,) = await add_tasks(engine, {"title": "Mine", "assignee_id": member.id})
    query = "query($id: ID!) { task(id: $id) { title assignee { id email } } }"

    own = await member.gql.ok(query, {"id": gid("Task", mine)})
    theirs = await member.gql(query, {"id": gid("Task", data.tasks[0])})

    assert own["task"] == {"title": "Mine", "assignee": {"id": member.gid, "email": member.email}}
    assert theirs["data"]["task"] == {"title": "Alpha", "assignee": None}
    (error,) = theirs["errors"]
    assert error["path"] == ["task", "assignee"]
    assert_forbidden(error, "users:read")


async def test_given_tasks_create_only_when_creating_with_a_customer_then_task_lands_customer_null(
    people: People, engine: AsyncEngine, data: Data
) -> None:
    member = await people.user({"TASKS": ["CREATE"]})

    result = await member.gql(
        'mutation($c: ID!) { createTask(input: {title: "New", customerId: $c}) '
        "{ task { title customer { id } } } }",
        {"c": gid("Customer", data.customer)},
    )

    assert result["data"]["createTask"]["task"] == {"title": "New", "customer": None}
    (error,) = result["errors"]
    assert error["path"] == ["createTask", "task", "customer"]
    assert_forbidden(error, "customers:read")


# ---------------------------------------------------------------- tasks of customers and products


async def test_given_customers_only_when_listing_customers_with_tasks_then_tasks_are_forbidden(
    people: People, data: Data
) -> None:
    member = await people.user({"CUSTOMERS": ["UPDATE"]})

    result = await member.gql("{ customers { edges { node { name tasks { totalCount } } } } }")

    assert result["data"]["customers"]["edges"] == [{"node": {"name": "Acme", "tasks": None}}]
    (error,) = result["errors"]
    assert error["path"] == ["customers", "edges", 0, "node", "tasks"]
    assert_forbidden(error, "tasks:read")


async def test_given_customers_and_tasks_when_reading_customer_tasks_then_they_resolve(
    people: People, data: Data
) -> None:
    member = await people.user({"CUSTOMERS": []}, {"TASKS": []})

    found = await member.gql.ok(
        "query($id: ID!) { customer(id: $id) { tasks { totalCount } } }",
        {"id": gid("Customer", data.customer)},
    )

    assert found["customer"]["tasks"]["totalCount"] == 2


async def test_given_products_only_when_reading_product_tasks_then_tasks_are_forbidden(
    people: People, data: Data
) -> None:
    member = await people.user({"PRODUCTS": []})

    result = await member.gql(
        "query($id: ID!) { product(id: $id) { sku tasks { totalCount } } }",
        {"id": gid("Product", data.products[0])},
    )

    assert result["data"] == {"product": {"sku": "P-1", "tasks": None}}
    (error,) = result["errors"]
    assert error["path"] == ["product", "tasks"]
    assert_forbidden(error, "tasks:read")


async def test_given_products_only_when_listing_products_with_tasks_then_each_tasks_is_forbidden(
    people: People, data: Data
) -> None:
    member = await people.user({"PRODUCTS": []})

    result = await member.gql("{ products { edges { node { sku tasks { totalCount } } } } }")

    assert [edge["node"] for edge in result["data"]["products"]["edges"]] == [
        {"sku": "P-1", "tasks": None},
        {"sku": "P-2", "tasks": None},
    ]
    assert sorted(tuple(error["path"]) for error in result["errors"]) == [
        ("products", "edges", 0, "node", "tasks"),
        ("products", "edges", 1, "node", "tasks"),
    ]


# ---------------------------------------------------------------- me


async def test_given_no_users_read_when_asking_me_with_roles_and_grants_then_it_works(
    people: People,
) -> None:
    role = await people.role({"TASKS": ["UPDATE", "CREATE"]}, name="task-editor")
    member = await people.user(role_ids=[role])

    me = await member.gql.ok(
        "{ me { id email isSuperuser roles { name grants { module actions } } } }"
    )

    assert me["me"] == {
        "id": member.gid,
        "email": member.email,
        "isSuperuser": False,
        "roles": [
            {
                "name": "task-editor",
                "grants": [{"module": "TASKS", "actions": ["CREATE", "UPDATE"]}],
            }
        ],
    }


async def test_given_no_users_read_when_asking_user_by_id_even_for_self_then_forbidden(
    people: People,
) -> None:
    member = await people.user({"TASKS": []})

    error = await member.gql.error("query($id: ID!) { user(id: $id) { id } }", {"id": member.gid})

    assert_forbidden(error, "users:read")


# ---------------------------------------------------------------- node(id:)


async def test_given_tasks_only_when_fetching_a_customer_node_then_forbidden_and_null(
    people: People, data: Data
) -> None:
    member = await people.user({"TASKS": []})

    result = await member.gql(NODE, {"id": gid("Customer", data.customer)})

    assert result["data"] == {"node": None}
    (error,) = result["errors"]
    assert error["path"] == ["node"]
    assert_forbidden(error, "customers:read")


async def test_given_tasks_only_when_fetching_a_task_node_then_its_customer_is_forbidden(
    people: People, data: Data
) -> None:
    member = await people.user({"TASKS": []})

    result = await member.gql(NODE, {"id": gid("Task", data.tasks[0])})

    assert result["data"]["node"] == {
        "__typename": "Task",
        "id": gid("Task", data.tasks[0]),
        "title": "Alpha",
        "customer": None,
    }
    (error,) = result["errors"]
    assert error["path"] == ["node", "customer"]
    assert_forbidden(error, "customers:read")


@pytest.mark.parametrize(
    ("type_name", "grants", "permission"),
    [
        ("Product", {"TASKS": []}, "products:read"),
        ("Task", {"PRODUCTS": []}, "tasks:read"),
        ("Customer", {"AUDIT": ["CREATE", "UPDATE", "DELETE"]}, "customers:read"),
    ],
)
async def test_given_a_module_missing_when_fetching_its_node_then_forbidden(
    people: People, data: Data, type_name: str, grants: dict[str, list[str]], permission: str
) -> None:
    member = await people.user(grants)
    pk = {"Product": data.products[0], "Task": data.tasks[0], "Customer": data.customer}[type_name]

    error = await member.gql.error(NODE, {"id": gid(type_name, pk)})

    assert_forbidden(error, permission)


async def test_given_products_read_when_fetching_a_product_node_then_it_resolves(
    people: People, data: Data
) -> None:
    member = await people.user({"PRODUCTS": []})

    found = await member.gql.ok(NODE, {"id": gid("Product", data.products[1])})

    assert found["node"] == {
        "__typename": "Product",
        "id": gid("Product", data.products[1]),
        "sku": "P-2",
    }


async def test_given_no_users_read_when_fetching_own_user_node_then_it_resolves_with_roles(
    people: People,
) -> None:
    role = await people.role({"TASKS": []}, name="tasker")
    member = await people.user(role_ids=[role])

    found = await member.gql.ok(NODE, {"id": member.gid})

    assert found["node"] == {
        "__typename": "User",
        "id": member.gid,
        "email": member.email,
        "roles": [{"name": "tasker"}],
    }


async def test_given_no_users_read_when_fetching_another_user_node_then_forbidden(
    people: People, data: Data
) -> None:
    member = await people.user({"TASKS": ["CREATE", "UPDATE", "DELETE"]})

    result = await member.gql(NODE, {"id": data.other.gid})

    assert result["data"] == {"node": None}
    (error,) = result["errors"]
    assert_forbidden(error, "users:read")


async def test_given_users_read_when_fetching_another_user_node_then_it_resolves(
    people: People, data: Data
) -> None:
    member = await people.user({"USERS": []})

    found = await member.gql.ok(NODE, {"id": data.other.gid})

    assert found["node"]["email"] == data.other.email
    assert len(found["node"]["roles"]) == 1


async def test_given_no_users_read_when_fetching_a_role_node_then_forbidden_even_if_held(
    people: People,
) -> None:
    role = await people.role({"TASKS": []})
    member = await people.user(role_ids=[role])

    error = await member.gql.error(NODE, {"id": gid("Role", role)})

    assert_forbidden(error, "users:read")


async def test_given_users_read_when_fetching_a_role_node_then_it_resolves_with_grants(
    people: People,
) -> None:
    role = await people.role({"PRODUCTS": ["DELETE"]}, name="product-remover")
    member = await people.user({"USERS": []})

    found = await member.gql.ok(NODE, {"id": gid("Role", role)})

    assert found["node"] == {
        "__typename": "Role",
        "id": gid("Role", role),
        "name": "product-remover",
        "grants": [{"module": "PRODUCTS", "actions": ["DELETE"]}],
    }


async def test_given_no_token_when_fetching_a_node_then_unauthenticated(
    anonymous: GraphQLClient, data: Data
) -> None:
    error = await anonymous.error(NODE, {"id": gid("Task", data.tasks[0])})

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
