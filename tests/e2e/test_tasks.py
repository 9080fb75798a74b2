"""Tasks over HTTP: create, update, delete, filters and orderings through the real app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.tasks.model import TaskPriority, TaskStatus
from tests.builders import (
    add_customers,
    add_products,
    add_tasks,
    add_users,
    at,
    column_of,
    day,
    gid,
    link,
    links_of,
    pk_of,
    tasks_t,
)
from tests.conftest import GraphQLClient

TASK_FIELDS = """
fragment TaskFields on Task {
  id title description status priority dueDate version createdAt updatedAt
  customer { id name email }
  assignee { id email fullName }
  products { id sku }
}
"""
CREATE = (
    "mutation($input: CreateTaskInput!) { createTask(input: $input) { task { ...TaskFields } } }"
    + TASK_FIELDS
)
UPDATE = (
    "mutation($id: ID!, $input: UpdateTaskInput!) "
    "{ updateTask(id: $id, input: $input) { task { ...TaskFields } } }" + TASK_FIELDS
)
DELETE = "mutation($id: ID!) { deleteTask(id: $id) { deletedId } }"
READ = "query($id: ID!) { task(id: $id) { ...TaskFields } }" + TASK_FIELDS
LIST = """
query($filter: TaskFilter, $orderBy: [TaskOrder!]) {
  tasks(first: 100, filter: $filter, orderBy: $orderBy) { totalCount edges { node { title } } }
}
"""


@dataclass
class Refs:
    """Things a task can point at: two customers, two users, three products."""

    customers: list[int]
    users: list[int]
    products: list[int]

    def customer(self, n: int = 0) -> str:
        return gid("Customer", self.customers[n])

    def user(self, n: int = 0) -> str:
        return gid("User", self.users[n])

    def product(self, n: int) -> str:
        return gid("Product", self.products[n])


@pytest.fixture
async def refs(engine: AsyncEngine) -> Refs:
    """Two customers, two active users and three products."""
    return Refs(
        customers=await add_customers(
            engine, {"name": "Acme", "email": "ops@acme.test"}, {"name": "Globex"}
        ),
        users=await add_users(
            engine, {"email": "ann@example.com", "full_name": "Ann"}, {"full_name": "Bob"}
        ),
        products=await add_products(engine, {"sku": "P-1"}, {"sku": "P-2"}, {"sku": "P-3"}),
    )


async def create(gql: GraphQLClient, **fields: Any) -> dict[str, Any]:
    """Create a task through the API and return it."""
    data = await gql.ok(CREATE, {"input": {"title": "A task", **fields}})
    task: dict[str, Any] = data["createTask"]["task"]
    return task


async def update(gql: GraphQLClient, task_id: str, **fields: Any) -> dict[str, Any]:
    """Update a task through the API and return it."""
    data = await gql.ok(UPDATE, {"id": task_id, "input": fields})
    task: dict[str, Any] = data["updateTask"]["task"]
    return task


async def task_count(engine: AsyncEngine) -> int:
    """How many task rows exist, counted around the app."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(tasks_t))).scalar_one())


# ---------------------------------------------------------------- create


async def test_given_only_a_title_when_task_is_created_then_defaults_apply(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    task = await create(gql, title="  Plan the launch  ")

    assert task["title"] == "Plan the launch"
    assert task["description"] is None
    assert task["status"] == "TODO"
    assert task["priority"] == "MEDIUM"
    assert task["dueDate"] is None
    assert task["customer"] is None
    assert task["assignee"] is None
    assert task["products"] == []
    assert task["version"] == 1
    assert task["createdAt"] <= task["updatedAt"]
    assert await links_of(engine, pk_of(task["id"])) == set()


async def test_given_references_when_task_is_created_then_every_value_comes_back_nested(
    gql: GraphQLClient, engine: AsyncEngine, refs: Refs
) -> None:
    task = await create(
        gql,
        title="Install",
        description="Bring the ladder",
        status="IN_PROGRESS",
        priority="URGENT",
        dueDate="2024-05-31",
        customerId=refs.customer(0),
        assigneeId=refs.user(0),
        # Out of order and repeated: stored once each, listed by id.
        productIds=[refs.product(2), refs.product(0), refs.product(2)],
    )

    expected_customer = {"id": refs.customer(0), "name": "Acme", "email": "ops@acme.test"}
    expected_assignee = {"id": refs.user(0), "email": "ann@example.com", "fullName": "Ann"}
    expected_products = [
        {"id": refs.product(0), "sku": "P-1"},
        {"id": refs.product(2), "sku": "P-3"},
    ]
    assert task["title"] == "Install"
    assert task["description"] == "Bring the ladder"
    assert task["status"] == "IN_PROGRESS"
    assert task["priority"] == "URGENT"
    assert task["dueDate"] == "2024-05-31"
    assert task["customer"] == expected_customer
    assert task["assignee"] == expected_assignee
    assert task["products"] == expected_products
    assert await links_of(engine, pk_of(task["id"])) == {refs.products[0], refs.products[2]}
    reread = await gql.ok(READ, {"id": task["id"]})
    assert reread["task"] == task


async def test_given_unknown_references_when_task_is_created_then_each_field_is_named(
    gql: GraphQLClient, engine: AsyncEngine, refs: Refs
) -> None:
    error = await gql.error(
        CREATE,
        {
            "input": {
                "title": "Ghost",
                "customerId": gid("Customer", 999_999),
                "assigneeId": gid("User", 999_999),
                "productIds": [refs.product(0), gid("Product", 999_999)],
            }
        },
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {"customerId", "assigneeId", "productIds"}
    assert await task_count(engine) == 0


async def test_given_a_reference_past_the_id_range_when_task_is_created_then_bad_user_input(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    error = await gql.error(
        CREATE, {"input": {"title": "Far away", "customerId": gid("Customer", 2**31)}}
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "customerId" in error["extensions"]["fields"]
    assert await task_count(engine) == 0


@pytest.mark.parametrize(
    ("field", "value_of"),
    [
        ("customerId", lambda r: r.product(0)),
        ("assigneeId", lambda r: r.customer(0)),
        ("productIds", lambda r: [r.customer(0)]),
    ],
)
async def test_given_an_id_of_another_type_when_task_is_created_then_bad_user_input(
    gql: GraphQLClient, engine: AsyncEngine, refs: Refs, field: str, value_of: Any
) -> None:
    error = await gql.error(CREATE, {"input": {"title": "Mixed up", field: value_of(refs)}})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]
    assert await task_count(engine) == 0


async def test_given_an_inactive_user_when_assigned_then_refused_on_create_and_update(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    (inactive,) = await add_users(engine, {"is_active": False})
    task = await create(gql)

    on_create = await gql.error(
        CREATE, {"input": {"title": "X", "assigneeId": gid("User", inactive)}}
    )
    on_update = await gql.error(
        UPDATE, {"id": task["id"], "input": {"assigneeId": gid("User", inactive)}}
    )

    for error in (on_create, on_update):
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "assigneeId" in error["extensions"]["fields"]
    assert await task_count(engine) == 1
    assert await column_of(engine, tasks_t, pk_of(task["id"]), "assignee_id") is None


# ---------------------------------------------------------------- update


async def test_given_a_task_when_only_the_title_changes_then_the_rest_stays_and_version_bumps(
    gql: GraphQLClient, refs: Refs
) -> None:
    task = await create(
        gql,
        description="Keep me",
        priority="HIGH",
        dueDate="2024-06-01",
        customerId=refs.customer(),
        assigneeId=refs.user(),
        productIds=[refs.product(0)],
    )

    updated = await update(gql, task["id"], title="Renamed")

    unchanged = {k: v for k, v in task.items() if k not in ("title", "version", "updatedAt")}
    assert updated["title"] == "Renamed"
    assert updated["version"] == 2
    assert updated["updatedAt"] >= task["updatedAt"]
    assert {k: updated[k] for k in unchanged} == unchanged


async def test_given_linked_products_when_product_ids_are_given_then_the_set_is_replaced(
    gql: GraphQLClient, engine: AsyncEngine, refs: Refs
) -> None:
    task = await create(gql, productIds=[refs.product(0), refs.product(1)])

    updated = await update(gql, task["id"], productIds=[refs.product(1), refs.product(2)])

    assert [p["id"] for p in updated["products"]] == [refs.product(1), refs.product(2)]
    # Only the links changed, and that is still a change of the task.
    assert updated["version"] == 2
    assert await links_of(engine, pk_of(task["id"])) == {refs.products[1], refs.products[2]}


async def test_given_linked_products_when_an_empty_list_is_given_then_every_link_goes(
    gql: GraphQLClient, engine: AsyncEngine, refs: Refs
) -> None:
    task = await create(gql, productIds=[refs.product(0), refs.product(1)])

    updated = await update(gql, task["id"], productIds=[])

    assert updated["products"] == []
    assert await links_of(engine, pk_of(task["id"])) == set()


async def test_given_linked_products_when_product_ids_are_omitted_then_links_stay(
    gql: GraphQLClient, engine: AsyncEngine, refs: Refs
) -> None:
    task = await create(gql, productIds=[refs.product(0), refs.product(2)])

    updated = await update(gql, task["id"], status="DONE")

    assert updated["status"] == "DONE"
    assert updated["products"] == task["products"]
    assert await links_of(engine, pk_of(task["id"])) == {refs.products[0], refs.products[2]}


async def test_given_set_references_when_explicit_nulls_are_sent_then_they_are_cleared(
    gql: GraphQLClient, engine: AsyncEngine, refs: Refs
) -> None:
    task = await create(
        gql,
        dueDate="2024-06-01",
        customerId=refs.customer(),
        assigneeId=refs.user(),
        description="Some words",
    )

    updated = await update(gql, task["id"], customerId=None, assigneeId=None, dueDate=None)

    assert updated["customer"] is None
    assert updated["assignee"] is None
    assert updated["dueDate"] is None
    assert updated["description"] == "Some words"
    assert updated["version"] == 2
    pk = pk_of(task["id"])
    assert await column_of(engine, tasks_t, pk, "customer_id") is None
    assert await column_of(engine, tasks_t, pk, "assignee_id") is None
    assert await column_of(engine, tasks_t, pk, "due_date") is None


async def test_given_a_task_when_null_is_sent_for_a_required_field_then_bad_user_input(
    gql: GraphQLClient,
) -> None:
    task = await create(gql)

    error = await gql.error(UPDATE, {"id": task["id"], "input": {"title": None}})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "title" in error["extensions"]["fields"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customerId", gid("Customer", 999_999)),
        ("assigneeId", gid("User", 999_999)),
        ("productIds", [gid("Product", 999_999)]),
        ("customerId", gid("Product", 1)),
    ],
)
async def test_given_a_bad_reference_when_task_is_updated_then_bad_user_input_and_no_change(
    gql: GraphQLClient, engine: AsyncEngine, refs: Refs, field: str, value: Any
) -> None:
    task = await create(gql, productIds=[refs.product(0)])

    error = await gql.error(UPDATE, {"id": task["id"], "input": {field: value, "title": "New"}})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]
    assert (await gql.ok(READ, {"id": task["id"]}))["task"] == task
    assert await links_of(engine, pk_of(task["id"])) == {refs.products[0]}


async def test_given_a_stale_expected_version_when_updating_then_conflict_and_nothing_changes(
    gql: GraphQLClient, engine: AsyncEngine, refs: Refs
) -> None:
    task = await create(gql, title="Original", productIds=[refs.product(0)])
    await update(gql, task["id"], priority="LOW")  # now at version 2

    error = await gql.error(
        UPDATE,
        {
            "id": task["id"],
            "input": {
                "title": "Lost update",
                "productIds": [refs.product(1)],
                "expectedVersion": 1,
            },
        },
    )

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentVersion"] == 2
    stored = (await gql.ok(READ, {"id": task["id"]}))["task"]
    assert stored["title"] == "Original"
    assert stored["version"] == 2
    assert await links_of(engine, pk_of(task["id"])) == {refs.products[0]}


async def test_given_the_current_expected_version_when_updating_then_it_applies(
    gql: GraphQLClient,
) -> None:
    task = await create(gql)

    updated = await update(gql, task["id"], title="Fresh", expectedVersion=1)

    assert (updated["title"], updated["version"]) == ("Fresh", 2)


async def test_given_no_task_when_updated_or_deleted_then_not_found(gql: GraphQLClient) -> None:
    missing = gid("Task", 999_999)

    on_update = await gql.error(UPDATE, {"id": missing, "input": {"title": "X"}})
    on_delete = await gql.error(DELETE, {"id": missing})

    assert on_update["extensions"]["code"] == "NOT_FOUND"
    assert on_delete["extensions"]["code"] == "NOT_FOUND"


# ---------------------------------------------------------------- delete


async def test_given_a_linked_task_when_deleted_then_its_links_go_and_the_product_can_be_deleted(
    gql: GraphQLClient, engine: AsyncEngine, refs: Refs
) -> None:
    task = await create(gql, productIds=[refs.product(0), refs.product(1)])
    delete_product = "mutation($id: ID!) { deleteProduct(id: $id) { deletedId } }"
    in_use = await gql.error(delete_product, {"id": refs.product(0)})
    assert in_use["extensions"]["code"] == "CONFLICT"

    deleted = await gql.ok(DELETE, {"id": task["id"]})

    assert deleted["deleteTask"]["deletedId"] == task["id"]
    assert await links_of(engine, pk_of(task["id"])) == set()
    assert (await gql.ok(READ, {"id": task["id"]}))["task"] is None
    gone = await gql.ok(delete_product, {"id": refs.product(0)})
    assert gone["deleteProduct"]["deletedId"] == refs.product(0)


# ---------------------------------------------------------------- filters


@pytest.fixture
async def listed(engine: AsyncEngine, refs: Refs) -> Refs:
    """Five tasks that differ in every filterable field."""
    c1, c2 = refs.customers
    u1, u2 = refs.users
    p1, p2, _ = refs.products
    a, b, c, _, _ = await add_tasks(
        engine,
        {
            "title": "Fix login bug",
            "status": TaskStatus.TODO,
            "priority": TaskPriority.HIGH,
            "due_date": day(1),
            "customer_id": c1,
            "assignee_id": u1,
        },
        {
            "title": "Write docs",
            "description": "Explain the LOGIN flow",
            "status": TaskStatus.IN_PROGRESS,
            "priority": TaskPriority.LOW,
            "due_date": day(5),
            "customer_id": c2,
            "assignee_id": u2,
        },
        {
            "title": "Ship release",
            "status": TaskStatus.DONE,
            "priority": TaskPriority.URGENT,
            "customer_id": c1,
        },
        {
            "title": "Call customer",
            "description": "about the invoice",
            "status": TaskStatus.CANCELLED,
            "priority": TaskPriority.MEDIUM,
            "due_date": day(10),
            "assignee_id": u1,
        },
        {
            "title": "Reach 100% coverage",
            "status": TaskStatus.TODO,
            "priority": TaskPriority.LOW,
            "due_date": day(5),
        },
    )
    await link(engine, [(a, p1), (b, p2), (c, p1), (c, p2)])
    return refs


FIX, DOCS, SHIP, CALL, REACH = (
    "Fix login bug",
    "Write docs",
    "Ship release",
    "Call customer",
    "Reach 100% coverage",
)


@pytest.mark.parametrize(
    ("filter_of", "expected"),
    [
        pytest.param(lambda r: {}, {FIX, DOCS, SHIP, CALL, REACH}, id="none"),
        # Title and description, case-insensitive, trimmed.
        pytest.param(lambda r: {"search": "  login "}, {FIX, DOCS}, id="search"),
        pytest.param(lambda r: {"search": "INVOICE"}, {CALL}, id="search-description"),
        # A wildcard character matches only itself.
        pytest.param(lambda r: {"search": "0%"}, {REACH}, id="search-percent"),
        pytest.param(lambda r: {"search": "_"}, set(), id="search-underscore"),
        pytest.param(lambda r: {"status": ["TODO"]}, {FIX, REACH}, id="status"),
        pytest.param(lambda r: {"status": ["DONE", "CANCELLED"]}, {SHIP, CALL}, id="statuses"),
        pytest.param(lambda r: {"status": []}, set(), id="status-empty"),
        pytest.param(lambda r: {"priority": ["LOW"]}, {DOCS, REACH}, id="priority"),
        pytest.param(lambda r: {"priority": ["HIGH", "URGENT"]}, {FIX, SHIP}, id="priorities"),
        pytest.param(lambda r: {"customerId": r.customer(0)}, {FIX, SHIP}, id="customer"),
        pytest.param(lambda r: {"assigneeId": r.user(0)}, {FIX, CALL}, id="assignee"),
        pytest.param(lambda r: {"productId": r.product(0)}, {FIX, SHIP}, id="product"),
        pytest.param(lambda r: {"productId": r.product(2)}, set(), id="unused-product"),
        # Both bounds are exclusive; tasks without a due date never match either.
        pytest.param(lambda r: {"dueBefore": str(day(5))}, {FIX}, id="due-before"),
        pytest.param(lambda r: {"dueAfter": str(day(5))}, {CALL}, id="due-after"),
        pytest.param(
            lambda r: {"dueAfter": str(day(0)), "dueBefore": str(day(10))},
            {FIX, DOCS, REACH},
            id="due-window",
        ),
        pytest.param(
            lambda r: {"status": ["TODO"], "priority": ["LOW"]}, {REACH}, id="all-must-hold"
        ),
    ],
)
async def test_given_varied_tasks_when_filtered_then_exactly_the_matching_ones_are_listed(
    gql: GraphQLClient, listed: Refs, filter_of: Any, expected: set[str]
) -> None:
    data = await gql.ok(LIST, {"filter": filter_of(listed)})

    titles = [edge["node"]["title"] for edge in data["tasks"]["edges"]]
    assert set(titles) == expected
    assert len(titles) == len(expected)
    assert data["tasks"]["totalCount"] == len(expected)


@pytest.mark.parametrize(
    ("task_filter", "field"),
    [
        ({"customerId": gid("Product", 1)}, "customerId"),
        ({"productId": "not-an-id"}, "productId"),
        ({"dueAfter": "2024-05-02", "dueBefore": "2024-05-01"}, "dueAfter"),
    ],
)
async def test_given_an_invalid_filter_when_listing_tasks_then_bad_user_input(
    gql: GraphQLClient, task_filter: dict[str, Any], field: str
) -> None:
    error = await gql.error(LIST, {"filter": task_filter})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]


# ---------------------------------------------------------------- orderings


@pytest.fixture
async def ordered(engine: AsyncEngine) -> None:
    """Six tasks whose title, due date, priority and creation orders all differ."""
    await add_tasks(
        engine,
        {"title": "Delta", "due_date": day(3), "priority": TaskPriority.LOW, "created_at": at(50)},
        {"title": "Alpha", "due_date": None, "priority": TaskPriority.URGENT, "created_at": at(10)},
        {
            "title": "Echo",
            "due_date": day(1),
            "priority": TaskPriority.MEDIUM,
            "created_at": at(40),
        },
        {"title": "Bravo", "due_date": day(2), "priority": TaskPriority.HIGH, "created_at": at(30)},
        {"title": "Foxtrot", "due_date": None, "priority": TaskPriority.LOW, "created_at": at(20)},
        {
            "title": "Charlie",
            "due_date": day(1),
            "priority": TaskPriority.HIGH,
            "created_at": at(60),
        },
    )


@pytest.mark.usefixtures("ordered")
@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ([{"field": "TITLE"}], ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]),
        (
            [{"field": "TITLE", "direction": "DESC"}],
            ["Foxtrot", "Echo", "Delta", "Charlie", "Bravo", "Alpha"],
        ),
        # Ties go by id in the direction of the last key; tasks without a due date come
        # last in both directions (inserted order: Alpha before Foxtrot).
        (
            [{"field": "DUE_DATE"}],
            ["Echo", "Charlie", "Bravo", "Delta", "Alpha", "Foxtrot"],
        ),
        (
            [{"field": "DUE_DATE", "direction": "DESC"}],
            ["Delta", "Bravo", "Charlie", "Echo", "Foxtrot", "Alpha"],
        ),
        # By urgency, not alphabetically (which would put HIGH first).
        (
            [{"field": "PRIORITY"}],
            ["Delta", "Foxtrot", "Echo", "Bravo", "Charlie", "Alpha"],
        ),
        (
            [{"field": "PRIORITY", "direction": "DESC"}, {"field": "TITLE"}],
            ["Alpha", "Bravo", "Charlie", "Echo", "Delta", "Foxtrot"],
        ),
        (
            [{"field": "CREATED_AT"}],
            ["Alpha", "Foxtrot", "Bravo", "Echo", "Delta", "Charlie"],
        ),
        (
            [{"field": "CREATED_AT", "direction": "DESC"}],
            ["Charlie", "Delta", "Echo", "Bravo", "Foxtrot", "Alpha"],
        ),
        # Without orderBy: by id, i.e. insertion order.
        (None, ["Delta", "Alpha", "Echo", "Bravo", "Foxtrot", "Charlie"]),
    ],
)
async def test_given_varied_tasks_when_ordered_then_they_come_in_that_order(
    gql: GraphQLClient, order_by: list[dict[str, str]] | None, expected: list[str]
) -> None:
    data = await gql.ok(LIST, {"orderBy": order_by})

    assert [edge["node"]["title"] for edge in data["tasks"]["edges"]] == expected


async def test_given_a_due_date_when_created_then_it_round_trips_as_a_calendar_date(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    task = await create(gql, dueDate="2024-02-29")

    assert task["dueDate"] == "2024-02-29"
    assert await column_of(engine, tasks_t, pk_of(task["id"]), "due_date") == date(2024, 2, 29)
