"""N+1 guards: the SQL statements of a query must not grow with the page size.

Counting starts right before the HTTP request and stops right after it, so only
the statements the GraphQL request runs are counted. Each test runs the same
query at 5 and at 50 parents; a per-parent query would make the two differ.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import add_customers, add_products, add_tasks, add_users, link
from tests.conftest import GraphQLClient, StatementCounter

AUTHENTICATION = 1
ACCESS_RECORD = 1
CUSTOMERS = 60
TASKS_PER_CUSTOMER = 10
PRODUCTS_PER_TASK = 3
PRODUCTS = 60
USERS = 5
SIZES = (5, 50)


async def seed(engine: AsyncEngine) -> None:
    """60 customers x 10 tasks x 3 products, every task assigned, every product used."""
    product_ids = await add_products(engine, *({} for _ in range(PRODUCTS)))
    user_ids = await add_users(engine, *({} for _ in range(USERS)))
    customer_ids = await add_customers(engine, *({} for _ in range(CUSTOMERS)))
    task_rows = [
        {"customer_id": cid, "assignee_id": user_ids[(n + i) % USERS], "title": f"T{n}-{i}"}
        for n, cid in enumerate(customer_ids)
        for i in range(TASKS_PER_CUSTOMER)
    ]
    task_ids = await add_tasks(engine, *task_rows)
    await link(
        engine,
        (
            (tid, product_ids[(n + k * 7) % PRODUCTS])
            for n, tid in enumerate(task_ids)
            for k in range(PRODUCTS_PER_TASK)
        ),
    )


async def count_statements(
    gql: GraphQLClient, statements: StatementCounter, query: str, variables: dict[str, Any]
) -> tuple[int, Any]:
    """Run one request with counting on; returns the statement count and the data."""
    statements.statements.clear()
    statements.counting = True
    try:
        data = await gql.ok(query, variables)
    finally:
        statements.counting = False
    return statements.count, data


async def counts_at_both_sizes(
    gql: GraphQLClient, statements: StatementCounter, query: str
) -> list[int]:
    """The statement count of `query` at each page size, checking the page was full."""
    counts = []
    for size in SIZES:
        count, data = await count_statements(gql, statements, query, {"n": size})
        root = next(iter(data.values()))
        assert len(root["edges"]) == size
        counts.append(count)
    return counts


PRODUCTS_QUERY = "query($n: Int) { products(first: $n) { edges { node { id sku } } } }"
PRODUCTS_WITH_TOTAL = (
    "query($n: Int) { products(first: $n) { totalCount edges { node { id sku } } } }"
)
NESTED = """
query($n: Int) { customers(first: $n) { edges { node { id
  tasks(first: 10) { edges { node { id products { id } } } }
} } } }
"""
NESTED_WITH_ASSIGNEE = """
query($n: Int) { customers(first: $n) { edges { node { id
  tasks(first: 10) { edges { node { id assignee { id email } products { id } } } }
} } } }
"""
NESTED_WITH_CUSTOMER_AND_ASSIGNEE = """
query($n: Int) { customers(first: $n) { edges { node { id
  tasks(first: 10) { edges { node { id customer { id name } assignee { id email }
    products { id } } } }
} } } }
"""
NESTED_WITH_TOTAL = """
query($n: Int) { customers(first: $n) { edges { node { id
  tasks(first: 10) { totalCount edges { node { id products { id } } } }
} } } }
"""
TASKS_PLAIN = "query($n: Int) { tasks(first: $n) { edges { node { id title } } } }"
TASKS_WITH_CUSTOMER = (
    "query($n: Int) { tasks(first: $n) { edges { node { id customer { id name } } } } }"
)
TASKS_WITH_CUSTOMER_AND_ASSIGNEE = """
query($n: Int) { tasks(first: $n) { edges { node { id
  customer { id name } assignee { id email }
} } } }
"""
TASKS_WITH_RELATIONS = """
query($n: Int) { tasks(first: $n) { edges { node { id
  customer { id name } assignee { id email } products { id sku }
} } } }
"""
PRODUCT_TASKS = """
query($n: Int) { products(first: $n) { edges { node { id
  tasks(first: 5) { edges { node { id title } } }
} } } }
"""
PRODUCT_TASKS_WITH_TOTAL_AND_CUSTOMER = """
query($n: Int) { products(first: $n) { edges { node { id
  tasks(first: 5) { totalCount edges { node { id customer { id } } } }
} } } }
"""


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(PRODUCTS_QUERY, 1, id="products"),
        pytest.param(PRODUCTS_WITH_TOTAL, 2, id="products+totalCount"),
        # customers, one windowed page of tasks per customer, products of every task.
        pytest.param(NESTED, 3, id="customers.tasks.products"),
        # + users by id, batched.
        pytest.param(NESTED_WITH_ASSIGNEE, 4, id="customers.tasks.assignee"),
        # task.customer is answered from the customers the list primed: no statement.
        pytest.param(NESTED_WITH_CUSTOMER_AND_ASSIGNEE, 4, id="customers.tasks.customer"),
        # + one grouped count for every customer's totalCount.
        pytest.param(NESTED_WITH_TOTAL, 4, id="customers.tasks.totalCount"),
        # From the root task list each relation costs exactly one batched statement.
        pytest.param(TASKS_PLAIN, 1, id="tasks"),
        pytest.param(TASKS_WITH_CUSTOMER, 2, id="tasks.customer"),
        pytest.param(TASKS_WITH_CUSTOMER_AND_ASSIGNEE, 3, id="tasks.customer.assignee"),
        pytest.param(TASKS_WITH_RELATIONS, 4, id="tasks.customer.assignee.products"),
        # products, one windowed page of tasks per product.
        pytest.param(PRODUCT_TASKS, 2, id="products.tasks"),
        # + grouped counts per product, + customers by id.
        pytest.param(PRODUCT_TASKS_WITH_TOTAL_AND_CUSTOMER, 4, id="products.tasks.totalCount"),
    ],
)
async def test_given_seeded_data_when_page_grows_tenfold_then_statement_count_stays_exact(
    gql: GraphQLClient,
    engine: AsyncEngine,
    statements: StatementCounter,
    query: str,
    expected: int,
) -> None:
    await seed(engine)

    counts = await counts_at_both_sizes(gql, statements, query)

    # Every authenticated request loads its caller first, in one statement, and its access
    # record is inserted after the response, in its own transaction.
    overhead = AUTHENTICATION + ACCESS_RECORD
    assert counts == [expected + overhead, expected + overhead], statements.statements


async def test_given_nested_connections_when_queried_then_every_parent_gets_its_own_rows(
    gql: GraphQLClient, engine: AsyncEngine, statements: StatementCounter
) -> None:
    # Batching must not mix parents up: each customer sees exactly its 10 tasks, 3 products each.
    await seed(engine)

    _, data = await count_statements(gql, statements, NESTED_WITH_TOTAL, {"n": 50})

    customers = data["customers"]["edges"]
    for edge in customers:
        tasks = edge["node"]["tasks"]
        assert tasks["totalCount"] == TASKS_PER_CUSTOMER
        assert len(tasks["edges"]) == TASKS_PER_CUSTOMER
        assert all(len(t["node"]["products"]) == PRODUCTS_PER_TASK for t in tasks["edges"])
    all_task_ids = [t["node"]["id"] for e in customers for t in e["node"]["tasks"]["edges"]]
    assert len(set(all_task_ids)) == 50 * TASKS_PER_CUSTOMER
