"""`node(id:)`: Relay object identification over HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.tasks.model import TaskPriority
from tests.builders import add_customers, add_products, add_tasks, add_users, gid, raw_id
from tests.conftest import GraphQLClient

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on Product { sku name price }
    ... on Customer { name email }
    ... on Task { title priority customer { id } }
    ... on User { email isActive }
  }
}
"""


async def test_given_one_object_of_each_type_when_fetched_by_id_then_each_resolves(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    (product,) = await add_products(engine, {"sku": "NODE-1", "name": "Lamp"})
    (customer,) = await add_customers(engine, {"name": "Initech", "email": "it@initech.test"})
    (user,) = await add_users(engine, {"email": "peter@initech.test", "is_active": False})
    (task,) = await add_tasks(
        engine, {"title": "TPS report", "priority": TaskPriority.URGENT, "customer_id": customer}
    )

    found = {
        type_name: (await gql.ok(NODE, {"id": gid(type_name, pk)}))["node"]
        for type_name, pk in (
            ("Product", product),
            ("Customer", customer),
            ("Task", task),
            ("User", user),
        )
    }

    assert found["Product"] == {
        "__typename": "Product",
        "id": gid("Product", product),
        "sku": "NODE-1",
        "name": "Lamp",
        "price": "10.00",
    }
    assert found["Customer"] == {
        "__typename": "Customer",
        "id": gid("Customer", customer),
        "name": "Initech",
        "email": "it@initech.test",
    }
    assert found["Task"] == {
        "__typename": "Task",
        "id": gid("Task", task),
        "title": "TPS report",
        "priority": "URGENT",
        "customer": {"id": gid("Customer", customer)},
    }
    assert found["User"] == {
        "__typename": "User",
        "id": gid("User", user),
        "email": "peter@initech.test",
        "isActive": False,
    }


@pytest.mark.parametrize("type_name", ["Product", "Customer", "Task", "User"])
async def test_given_no_such_object_when_fetched_by_id_then_node_is_null(
    gql: GraphQLClient, type_name: str
) -> None:
    result = await gql(NODE, {"id": gid(type_name, 424_242)})

    assert result == {"data": {"node": None}}


@pytest.mark.parametrize("type_name", ["Product", "Task"])
async def test_given_a_key_past_the_id_range_when_fetched_then_null_or_bad_input_not_a_crash(
    gql: GraphQLClient, type_name: str
) -> None:
    result = await gql(NODE, {"id": gid(type_name, 2**31)})

    codes = [error["extensions"]["code"] for error in result.get("errors", [])]
    assert codes in ([], ["BAD_USER_INPUT"])
    assert result["data"]["node"] is None


@pytest.mark.parametrize(
    "bad_id",
    [
        pytest.param("not base64 at all!", id="not-base64"),
        pytest.param(raw_id("Product"), id="no-separator"),
        pytest.param(raw_id("Product:"), id="no-key"),
        pytest.param(raw_id(":1"), id="no-type"),
        pytest.param(raw_id("Product:abc"), id="key-not-a-number"),
        pytest.param(raw_id("Product:-1"), id="negative-key"),
        pytest.param(raw_id("Product:" + "9" * 40), id="key-too-long"),
        pytest.param("", id="empty"),
        pytest.param("QQ" * 200, id="too-long"),
    ],
)
async def test_given_a_malformed_id_when_fetched_then_bad_user_input(
    gql: GraphQLClient, bad_id: str
) -> None:
    error = await gql.error(NODE, {"id": bad_id})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["node"]
    assert "id" in error["extensions"]["fields"]


@pytest.mark.parametrize("type_name", ["Foo", "ProductEdge", "product", "PageInfo"])
async def test_given_an_id_of_an_unknown_type_when_fetched_then_bad_user_input(
    gql: GraphQLClient, type_name: str
) -> None:
    error = await gql.error(NODE, {"id": raw_id(f"{type_name}:1")})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "id" in error["extensions"]["fields"]


async def test_given_several_node_lookups_in_one_request_when_resolved_then_each_answers(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    products = await add_products(engine, {}, {})
    query = """
    query($a: ID!, $b: ID!, $c: ID!) {
      a: node(id: $a) { id } b: node(id: $b) { id } c: node(id: $c) { id }
    }
    """

    data = await gql.ok(
        query,
        {
            "a": gid("Product", products[0]),
            "b": gid("Product", products[1]),
            "c": gid("Product", 999_999),
        },
    )

    assert data == {
        "a": {"id": gid("Product", products[0])},
        "b": {"id": gid("Product", products[1])},
        "c": None,
    }
