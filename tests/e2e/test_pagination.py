"""Keyset pagination over HTTP on every connection: root lists and nested task lists.

The expected order of each walk is computed here from the seeded rows with the
documented rule: keys in the given directions, NULL due dates last in both
directions, ties broken by id in the direction of the last key.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from domain.tasks.model import TaskPriority, TaskStatus
from tests.builders import (
    add_customers,
    add_products,
    add_tasks,
    at,
    day,
    gid,
    link,
    products_t,
)
from tests.conftest import GraphQLClient

VARS = "$first: Int, $after: String, $last: Int, $before: String"
ARGS = "first: $first, after: $after, last: $last, before: $before"
SELECTION = """{
  totalCount
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { id } }
}"""


@dataclass(frozen=True)
class Spec:
    """One connection: its query and where the connection sits in the data."""

    name: str
    type_name: str
    query: str
    extract: Callable[[Any], Any]


PRODUCTS = Spec(
    "products",
    "Product",
    f"query({VARS}, $orderBy: [ProductOrder!], $filter: ProductFilter) "
    f"{{ products({ARGS}, orderBy: $orderBy, filter: $filter) {SELECTION} }}",
    lambda d: d["products"],
)
CUSTOMERS = Spec(
    "customers",
    "Customer",
    f"query({VARS}, $orderBy: [CustomerOrder!], $filter: CustomerFilter) "
    f"{{ customers({ARGS}, orderBy: $orderBy, filter: $filter) {SELECTION} }}",
    lambda d: d["customers"],
)
TASKS = Spec(
    "tasks",
    "Task",
    f"query({VARS}, $orderBy: [TaskOrder!], $filter: TaskFilter) "
    f"{{ tasks({ARGS}, orderBy: $orderBy, filter: $filter) {SELECTION} }}",
    lambda d: d["tasks"],
)
CUSTOMER_TASKS = Spec(
    "Customer.tasks",
    "Task",
    f"query($id: ID!, {VARS}, $orderBy: [TaskOrder!], $filter: TaskFilter) "
    f"{{ customer(id: $id) {{ tasks({ARGS}, orderBy: $orderBy, filter: $filter) {SELECTION} }} }}",
    lambda d: d["customer"]["tasks"],
)
PRODUCT_TASKS = Spec(
    "Product.tasks",
    "Task",
    f"query($id: ID!, {VARS}) {{ product(id: $id) {{ tasks({ARGS}) {SELECTION} }} }}",
    lambda d: d["product"]["tasks"],
)


# ---------------------------------------------------------------- seed data


@dataclass
class World:
    """Seeded rows (as dicts with their ids) and the parents of the nested lists."""

    products: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    busy_customer: int
    quiet_customer: int
    idle_customer: int
    busy_product: int
    quiet_product: int

    def parent_vars(self, spec: Spec) -> dict[str, Any]:
        """The `id` variable a nested connection needs (its busiest parent)."""
        if spec is CUSTOMER_TASKS:
            return {"id": gid("Customer", self.busy_customer)}
        if spec is PRODUCT_TASKS:
            return {"id": gid("Product", self.busy_product)}
        return {}

    def rows(self, spec: Spec) -> list[dict[str, Any]]:
        """The rows a connection lists, without filters."""
        if spec is PRODUCTS:
            return self.products
        if spec is CUSTOMERS:
            return self.customers
        if spec is CUSTOMER_TASKS:
            return [t for t in self.tasks if t["customer_id"] == self.busy_customer]
        if spec is PRODUCT_TASKS:
            return [t for t in self.tasks if self.busy_product in t["products"]]
        return self.tasks


ROWS = 23  # not a multiple of any page size used, so the last page is partial


async def _with_ids(
    engine: AsyncEngine, adder: Callable[..., Any], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    ids = await adder(engine, *rows)
    return [{**row, "id": pk} for row, pk in zip(rows, ids, strict=True)]


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    """23 products, 23+ customers and 30 tasks, with many duplicate sort values."""
    products = await _with_ids(
        engine,
        add_products,
        [
            {
                "sku": f"SKU-{i:03d}",
                "name": f"Gadget {i % 5}",
                "price": Decimal(i % 4 + 1),
                "created_at": at(i // 3),
            }
            for i in range(ROWS)
        ],
    )
    customers = await _with_ids(
        engine,
        add_customers,
        [
            {"name": f"Client {i % 6:02d}", "email": f"client{i:03d}@example.com"}
            for i in range(ROWS)
        ],
    )
    busy, quiet, idle = customers[0]["id"], customers[1]["id"], customers[2]["id"]
    task_rows = []
    for i in range(ROWS + 7):
        task_rows.append(
            {
                "title": f"Job {i % 6:02d}",
                "customer_id": busy if i < ROWS else quiet,
                # Every fourth task has no due date; the rest share five dates.
                "due_date": None if i % 4 == 0 else day(i % 5),
                "priority": TaskPriority(i % 4 + 1),
                "status": TaskStatus.DONE if i % 3 == 0 else TaskStatus.TODO,
                "created_at": at(i // 2),
            }
        )
    tasks = await _with_ids(engine, add_tasks, task_rows)
    busy_product, quiet_product = products[0]["id"], products[1]["id"]
    for n, task in enumerate(tasks):
        task["products"] = {busy_product} if n < ROWS else {quiet_product}
    await link(engine, ((t["id"], p) for t in tasks for p in t["products"]))
    return World(products, customers, tasks, busy, quiet, idle, busy_product, quiet_product)


def expected_order(rows: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[int]:
    """Ids in the documented order: NULLs last either way, ties by id like the last key."""

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for field, descending in order:
            left, right = a[field], b[field]
            if left is None or right is None:
                if left is None and right is None:
                    continue
                return 1 if left is None else -1
            if left != right:
                result = -1 if left < right else 1
                return -result if descending else result
        tie = int(a["id"] > b["id"]) - int(a["id"] < b["id"])
        return -tie if order and order[-1][1] else tie

    return [row["id"] for row in sorted(rows, key=functools.cmp_to_key(compare))]


def order_input(order: list[tuple[str, bool]]) -> list[dict[str, str]] | None:
    """The `orderBy` argument for domain field names and directions."""
    if not order:
        return None
    return [
        {"field": field.upper(), "direction": "DESC" if descending else "ASC"}
        for field, descending in order
    ]


# ---------------------------------------------------------------- walking


async def fetch(gql: GraphQLClient, spec: Spec, variables: dict[str, Any]) -> Any:
    """One page of a connection."""
    return spec.extract(await gql.ok(spec.query, variables))


def check_page_info(page: Any) -> list[str]:
    """Start and end cursors must be those of the first and last edges; returns node ids."""
    edges, info = page["edges"], page["pageInfo"]
    if edges:
        assert info["startCursor"] == edges[0]["cursor"]
        assert info["endCursor"] == edges[-1]["cursor"]
    else:
        assert info["startCursor"] is None
        assert info["endCursor"] is None
    return [edge["node"]["id"] for edge in edges]


async def walk_forward(
    gql: GraphQLClient, spec: Spec, size: int, variables: dict[str, Any]
) -> list[str]:
    """Every node, page by page with first/after."""
    seen: list[str] = []
    after = None
    for _ in range(100):
        page = await fetch(gql, spec, {**variables, "first": size, "after": after})
        ids = check_page_info(page)
        seen += ids
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            assert len(ids) <= size
            return seen
        assert len(ids) == size
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("the walk did not end")


async def walk_backward(
    gql: GraphQLClient, spec: Spec, size: int, variables: dict[str, Any]
) -> list[str]:
    """Every node, page by page with last/before, returned in display order."""
    seen: list[str] = []
    before = None
    for _ in range(100):
        page = await fetch(gql, spec, {**variables, "last": size, "before": before})
        ids = check_page_info(page)
        seen = ids + seen
        assert page["pageInfo"]["hasNextPage"] is (before is not None)
        if not page["pageInfo"]["hasPreviousPage"]:
            assert len(ids) <= size
            return seen
        assert len(ids) == size
        before = page["pageInfo"]["startCursor"]
    raise AssertionError("the walk did not end")


WALKS = [
    pytest.param(PRODUCTS, [], id="products-by-id"),
    pytest.param(PRODUCTS, [("name", False)], id="products-name"),
    pytest.param(PRODUCTS, [("price", True)], id="products-price-desc"),
    pytest.param(PRODUCTS, [("created_at", False), ("name", True)], id="products-created-name"),
    pytest.param(PRODUCTS, [("sku", True)], id="products-sku-desc"),
    pytest.param(CUSTOMERS, [("name", False)], id="customers-name"),
    pytest.param(CUSTOMERS, [("email", True)], id="customers-email-desc"),
    pytest.param(TASKS, [("due_date", False)], id="tasks-due"),
    pytest.param(TASKS, [("due_date", True)], id="tasks-due-desc"),
    pytest.param(TASKS, [("due_date", True), ("title", False)], id="tasks-due-desc-title"),
    pytest.param(TASKS, [("priority", False), ("title", True)], id="tasks-priority-title"),
    pytest.param(TASKS, [("title", False)], id="tasks-title"),
    pytest.param(TASKS, [("created_at", True)], id="tasks-created-desc"),
    pytest.param(CUSTOMER_TASKS, [], id="customer.tasks-by-id"),
    pytest.param(CUSTOMER_TASKS, [("due_date", False)], id="customer.tasks-due"),
    pytest.param(CUSTOMER_TASKS, [("due_date", True)], id="customer.tasks-due-desc"),
    pytest.param(CUSTOMER_TASKS, [("priority", True)], id="customer.tasks-priority-desc"),
    pytest.param(PRODUCT_TASKS, [], id="product.tasks-by-id"),
]


@pytest.mark.parametrize(("spec", "order"), WALKS)
@pytest.mark.parametrize("size", [3, 7])
async def test_given_duplicate_and_null_keys_when_walking_both_ways_then_each_row_comes_once(
    gql: GraphQLClient, world: World, spec: Spec, order: list[tuple[str, bool]], size: int
) -> None:
    variables = {**world.parent_vars(spec), "orderBy": order_input(order)}
    if spec is PRODUCT_TASKS:
        del variables["orderBy"]
    expected = [gid(spec.type_name, pk) for pk in expected_order(world.rows(spec), order)]

    forward = await walk_forward(gql, spec, size, variables)
    backward = await walk_backward(gql, spec, size, variables)

    assert forward == expected
    assert backward == expected


# ---------------------------------------------------------------- sizes and arguments

ALL_SPECS = [PRODUCTS, CUSTOMERS, TASKS, CUSTOMER_TASKS, PRODUCT_TASKS]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
async def test_given_more_rows_than_a_page_when_no_size_is_given_then_twenty_come(
    gql: GraphQLClient, world: World, spec: Spec
) -> None:
    page = await fetch(gql, spec, world.parent_vars(spec))

    assert len(page["edges"]) == DEFAULT_PAGE_SIZE
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    assert page["totalCount"] >= ROWS


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
async def test_given_the_maximum_page_size_when_asked_then_every_row_comes(
    gql: GraphQLClient, world: World, spec: Spec
) -> None:
    page = await fetch(gql, spec, {**world.parent_vars(spec), "first": MAX_PAGE_SIZE})

    assert len(page["edges"]) == page["totalCount"] == len(world.rows(spec))
    assert page["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"first": MAX_PAGE_SIZE + 1}, "first"),
        ({"first": -1}, "first"),
        ({"last": MAX_PAGE_SIZE + 1}, "last"),
        ({"last": -5}, "last"),
        ({"first": 2, "last": 2}, "last"),
    ],
)
async def test_given_bad_page_sizes_when_listing_then_bad_user_input_names_the_argument(
    gql: GraphQLClient, world: World, spec: Spec, arguments: dict[str, int], field: str
) -> None:
    error = await gql.error(spec.query, {**world.parent_vars(spec), **arguments})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
async def test_given_no_matching_rows_when_listing_then_the_page_is_empty_with_null_cursors(
    gql: GraphQLClient, engine: AsyncEngine, spec: Spec
) -> None:
    # A parent without children (or an empty table) gives an empty, final page.
    (customer,) = await add_customers(engine, {})
    (product,) = await add_products(engine, {})
    by_spec: dict[str, dict[str, Any]] = {
        PRODUCTS.name: {"filter": {"search": "no such thing"}},
        CUSTOMERS.name: {"filter": {"email": "nobody@example.com"}},
        TASKS.name: {},
        CUSTOMER_TASKS.name: {"id": gid("Customer", customer)},
        PRODUCT_TASKS.name: {"id": gid("Product", product)},
    }
    variables = by_spec[spec.name]

    for direction in ({"first": 5}, {"last": 5}):
        page = await fetch(gql, spec, {**variables, **direction})

        assert page["edges"] == []
        assert page["totalCount"] == 0
        assert page["pageInfo"] == {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        }


async def test_given_exactly_one_page_of_rows_when_listed_then_there_is_no_next_page(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    await add_products(engine, *({} for _ in range(5)))

    exact = await fetch(gql, PRODUCTS, {"first": 5})
    one_short = await fetch(gql, PRODUCTS, {"first": 4})

    assert len(exact["edges"]) == 5
    assert exact["pageInfo"]["hasNextPage"] is False
    assert one_short["pageInfo"]["hasNextPage"] is True


# ---------------------------------------------------------------- cursors


async def test_given_rows_inserted_before_the_cursor_when_paging_on_then_nothing_repeats(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    names = [f"Model {i:02d}" for i in range(10)]
    ids = await add_products(engine, *({"name": name} for name in names))
    order = {"orderBy": [{"field": "NAME"}]}
    first = await fetch(gql, PRODUCTS, {**order, "first": 4})
    assert check_page_info(first) == [gid("Product", pk) for pk in ids[:4]]

    # Rows that sort before the cursor (an OFFSET would now repeat two rows), one that
    # sorts right after it, and the cursor's own row deleted: the keyset holds.
    await add_products(
        engine,
        {"sku": "NEW-1", "name": "Anvil"},
        {"sku": "NEW-2", "name": "Bucket"},
    )
    (between,) = await add_products(engine, {"sku": "NEW-3", "name": "Model 03b"})
    await _delete_product_row(engine, ids[3])
    second = await fetch(
        gql, PRODUCTS, {**order, "first": 4, "after": first["pageInfo"]["endCursor"]}
    )

    expected = [between, ids[4], ids[5], ids[6]]
    assert check_page_info(second) == [gid("Product", pk) for pk in expected]
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert second["pageInfo"]["hasNextPage"] is True


async def _delete_product_row(engine: AsyncEngine, pk: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(products_t.delete().where(products_t.c.id == pk))


async def test_given_tasks_added_before_the_cursor_when_paging_by_due_date_then_it_continues(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    ids = await add_tasks(engine, *({"due_date": day(i)} for i in range(6)), {"due_date": None})
    order = {"orderBy": [{"field": "DUE_DATE"}]}
    first = await fetch(gql, TASKS, {**order, "first": 3})

    await add_tasks(engine, {"due_date": day(-10)}, {"due_date": day(0)})
    rest = await walk_forward_from(gql, TASKS, order, first["pageInfo"]["endCursor"])

    # The new day(0) task ties with the first row's date but has a larger id, so it
    # sorts before the cursor (day 2) and is not shown; the NULL due date stays last.
    assert rest == [gid("Task", pk) for pk in ids[3:]]


async def walk_forward_from(
    gql: GraphQLClient, spec: Spec, variables: dict[str, Any], after: str
) -> list[str]:
    """Every node after `after`, in pages of 2."""
    seen: list[str] = []
    cursor: str | None = after
    while cursor is not None:
        page = await fetch(gql, spec, {**variables, "first": 2, "after": cursor})
        seen += check_page_info(page)
        cursor = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    return seen


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "",
        "bm90IGpzb24",  # base64 of "not json"
        _cursor({"a": 1}),
        _cursor(["name:a", [], 1]),  # no value for the sort key
        _cursor(["name:a", [7], 1]),  # a number where a name belongs
        _cursor(["name:a", ["Gadget"], "1"]),  # a text id
        _cursor(["name:a", ["Gadget"], True]),
        "x" * 5000,
    ],
)
async def test_given_a_garbage_cursor_when_paging_then_bad_user_input(
    gql: GraphQLClient, cursor: str
) -> None:
    for direction in ("after", "before"):
        error = await gql.error(PRODUCTS.query, {direction: cursor, "orderBy": [{"field": "NAME"}]})

        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert direction in error["extensions"]["fields"]


async def test_given_a_valid_handmade_cursor_when_paging_then_it_is_honoured(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    # Guards the garbage-cursor test: the same format with sane values works.
    ids = await add_products(engine, {"name": "A"}, {"name": "B"}, {"name": "C"})

    page = await fetch(
        gql, PRODUCTS, {"after": _cursor(["name:a", ["A"], ids[0]]), "orderBy": [{"field": "NAME"}]}
    )

    assert check_page_info(page) == [gid("Product", ids[1]), gid("Product", ids[2])]


@pytest.mark.parametrize(
    ("made_for", "used_with"),
    [
        ([{"field": "NAME"}], [{"field": "PRICE"}]),
        ([{"field": "NAME"}], [{"field": "NAME", "direction": "DESC"}]),
        (None, [{"field": "NAME"}]),
        ([{"field": "NAME"}], None),
        ([{"field": "NAME"}], [{"field": "NAME"}, {"field": "SKU"}]),
    ],
)
async def test_given_a_cursor_of_another_ordering_when_reused_then_bad_user_input(
    gql: GraphQLClient,
    engine: AsyncEngine,
    made_for: list[dict[str, str]] | None,
    used_with: list[dict[str, str]] | None,
) -> None:
    await add_products(engine, {}, {}, {})
    first = await fetch(gql, PRODUCTS, {"first": 1, "orderBy": made_for})

    error = await gql.error(
        PRODUCTS.query, {"after": first["pageInfo"]["endCursor"], "orderBy": used_with}
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "after" in error["extensions"]["fields"]


async def test_given_a_task_cursor_of_another_ordering_when_used_on_a_nested_list_then_refused(
    gql: GraphQLClient, world: World
) -> None:
    variables = world.parent_vars(CUSTOMER_TASKS)
    first = await fetch(gql, CUSTOMER_TASKS, {**variables, "first": 1})

    error = await gql.error(
        CUSTOMER_TASKS.query,
        {
            **variables,
            "after": first["pageInfo"]["endCursor"],
            "orderBy": [{"field": "DUE_DATE"}],
        },
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["customer", "tasks"]


# ---------------------------------------------------------------- totalCount


@pytest.mark.parametrize(
    ("spec", "variables_of", "count_of"),
    [
        (PRODUCTS, lambda w: {"filter": {"search": "gadget 3"}}, lambda w: 4),
        (
            PRODUCTS,
            lambda w: {"filter": {"minPrice": "2", "maxPrice": "3"}},
            lambda w: sum(1 for p in w.products if 2 <= p["price"] <= 3),
        ),
        (CUSTOMERS, lambda w: {"filter": {"search": "client 01"}}, lambda w: 4),
        (
            TASKS,
            lambda w: {"filter": {"status": ["DONE"]}},
            lambda w: sum(1 for t in w.tasks if t["status"] is TaskStatus.DONE),
        ),
        (
            CUSTOMER_TASKS,
            lambda w: {"id": gid("Customer", w.busy_customer), "filter": {"status": ["DONE"]}},
            lambda w: sum(
                1
                for t in w.tasks
                if t["status"] is TaskStatus.DONE and t["customer_id"] == w.busy_customer
            ),
        ),
    ],
)
async def test_given_a_filter_when_counting_then_total_count_counts_matches_not_the_page(
    gql: GraphQLClient, world: World, spec: Spec, variables_of: Any, count_of: Any
) -> None:
    expected = count_of(world)
    assert 1 < expected < len(world.rows(spec))

    page = await fetch(gql, spec, {**variables_of(world), "first": 1})

    assert page["totalCount"] == expected
    assert len(page["edges"]) == 1


NESTED_COUNTS = """
query($filter: TaskFilter) {
  customers(first: 3) { edges { node { id tasks(first: 2, filter: $filter) {
    totalCount edges { node { id } } } } } }
  products(first: 3) { edges { node { id tasks(first: 2) { totalCount } } } }
}
"""


async def test_given_several_parents_when_counting_nested_tasks_then_each_gets_its_own_total(
    gql: GraphQLClient, world: World
) -> None:
    done = sum(
        1
        for t in world.tasks
        if t["customer_id"] == world.quiet_customer and t["status"] is TaskStatus.DONE
    )

    unfiltered = await gql.ok(NESTED_COUNTS)
    filtered = await gql.ok(NESTED_COUNTS, {"filter": {"status": ["DONE"]}})

    def totals(data: Any, root: str) -> dict[str, int]:
        return {e["node"]["id"]: e["node"]["tasks"]["totalCount"] for e in data[root]["edges"]}

    assert totals(unfiltered, "customers") == {
        gid("Customer", world.busy_customer): ROWS,
        gid("Customer", world.quiet_customer): 7,
        gid("Customer", world.idle_customer): 0,
    }
    assert totals(filtered, "customers")[gid("Customer", world.quiet_customer)] == done
    assert totals(unfiltered, "products") == {
        gid("Product", world.busy_product): ROWS,
        gid("Product", world.quiet_product): 7,
        gid("Product", world.products[2]["id"]): 0,
    }


async def test_given_a_nested_filter_when_listing_then_it_is_normalised_like_the_root_one(
    gql: GraphQLClient, world: World
) -> None:
    # The root list trims the search term; the nested list must treat it the same way.
    variables = {"id": gid("Customer", world.busy_customer), "filter": {"search": "  job 01 "}}
    nested = await fetch(gql, CUSTOMER_TASKS, variables)
    root = await fetch(
        gql,
        TASKS,
        {"filter": {"search": "  job 01 ", "customerId": gid("Customer", world.busy_customer)}},
    )

    assert nested["totalCount"] == root["totalCount"] == 4
    assert check_page_info(nested) == check_page_info(root)
