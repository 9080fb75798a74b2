"""Products over HTTP through the real app: CRUD, errors, filters, ordering and references."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import GraphQLClient

FIELDS = "id sku name description price stock isActive version createdAt updatedAt"

CREATE = f"""
mutation Create($input: CreateProductInput!) {{
  createProduct(input: $input) {{ product {{ {FIELDS} }} }}
}}"""

UPDATE = f"""
mutation Update($id: ID!, $input: UpdateProductInput!) {{
  updateProduct(id: $id, input: $input) {{ product {{ {FIELDS} }} }}
}}"""

DELETE = "mutation Delete($id: ID!) { deleteProduct(id: $id) { deletedId } }"

GET = f"query Get($id: ID!) {{ product(id: $id) {{ {FIELDS} }} }}"

LIST = """
query List($first: Int, $after: String, $last: Int, $before: String,
           $filter: ProductFilter, $orderBy: [ProductOrder!]) {
  products(first: $first, after: $after, last: $last, before: $before,
           filter: $filter, orderBy: $orderBy) {
    totalCount
    edges { cursor node { id sku } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""

CREATE_TASK = """
mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { task { id } } }"""

DELETE_TASK = "mutation DeleteTask($id: ID!) { deleteTask(id: $id) { deletedId } }"


def global_id(type_name: str, pk: int) -> str:
    """A global ID made by hand, as a test of the opaque format (clients never do this)."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


async def create(gql: GraphQLClient, sku: str = "AB-1", **values: Any) -> dict[str, Any]:
    """Create a product over GraphQL; returns all its fields."""
    product_input = {"sku": sku, "name": "Widget", "price": "19.90", **values}
    data = await gql.ok(CREATE, {"input": product_input})
    product: dict[str, Any] = data["createProduct"]["product"]
    return product


async def read(gql: GraphQLClient, product_id: str) -> dict[str, Any] | None:
    """The product as stored now, or None."""
    data = await gql.ok(GET, {"id": product_id})
    found: dict[str, Any] | None = data["product"]
    return found


async def total(gql: GraphQLClient, **variables: Any) -> int:
    """How many products match."""
    data = await gql.ok(LIST, variables)
    count: int = data["products"]["totalCount"]
    return count


async def skus(gql: GraphQLClient, **variables: Any) -> list[str]:
    """The SKUs of one page, in order."""
    data = await gql.ok(LIST, variables)
    return [edge["node"]["sku"] for edge in data["products"]["edges"]]


def utc(value: str) -> datetime:
    """Parse a DateTime, checking it is ISO 8601 with the UTC offset spelled +00:00."""
    assert value.endswith("+00:00"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset() == UTC.utcoffset(None)
    return parsed


def assert_refused(error: dict[str, Any], code: str) -> dict[str, Any]:
    """Check the code and the request id every error carries; returns the extensions."""
    extensions: dict[str, Any] = error["extensions"]
    assert extensions["code"] == code, error
    assert isinstance(extensions["requestId"], str)
    assert extensions["requestId"]
    return extensions


# ---------------------------------------------------------------- create and read


async def test_given_valid_input_when_a_product_is_created_then_every_field_is_exact(
    gql: GraphQLClient,
) -> None:
    before = datetime.now(UTC)

    product = await create(
        gql,
        sku=" ab-1 ",
        name="  Widget  ",
        description="A useful\nthing",
        price="19.9",
        stock=7,
        isActive=False,
    )

    after = datetime.now(UTC)
    assert {k: v for k, v in product.items() if k not in ("id", "createdAt", "updatedAt")} == {
        "sku": "AB-1",
        "name": "Widget",
        "description": "A useful\nthing",
        "price": "19.90",
        "stock": 7,
        "isActive": False,
        "version": 1,
    }
    assert before <= utc(product["createdAt"]) <= after
    # Not asserted equal: the two column defaults read the clock separately (see report).
    assert (
        timedelta(0) <= utc(product["updatedAt"]) - utc(product["createdAt"]) < timedelta(seconds=1)
    )
    assert await read(gql, product["id"]) == product


async def test_given_only_required_fields_when_created_then_the_defaults_apply(
    gql: GraphQLClient,
) -> None:
    product = await create(gql, price="5")

    assert (product["description"], product["stock"], product["isActive"]) == (None, 0, True)
    assert product["price"] == "5.00"


async def test_given_a_product_when_fetched_as_a_node_then_it_is_the_same_product(
    gql: GraphQLClient,
) -> None:
    product = await create(gql)

    data = await gql.ok(
        "query($id: ID!) { node(id: $id) { __typename id ... on Product { sku price } } }",
        {"id": product["id"]},
    )

    assert data["node"] == {
        "__typename": "Product",
        "id": product["id"],
        "sku": "AB-1",
        "price": "19.90",
    }


# ---------------------------------------------------------------- update


async def test_given_changes_when_updated_then_values_version_and_updated_at_move(
    gql: GraphQLClient,
) -> None:
    created = await create(gql, description="Old")

    data = await gql.ok(
        UPDATE,
        {
            "id": created["id"],
            "input": {
                "name": "Gadget",
                "price": "5.5",
                "description": None,
                "isActive": False,
                "expectedVersion": 1,
            },
        },
    )

    updated = data["updateProduct"]["product"]
    assert (updated["name"], updated["price"], updated["description"]) == ("Gadget", "5.50", None)
    assert (updated["isActive"], updated["sku"], updated["stock"]) == (False, "AB-1", 0)
    assert updated["version"] == 2
    assert updated["createdAt"] == created["createdAt"]
    assert utc(updated["updatedAt"]) > utc(created["updatedAt"])
    assert await read(gql, created["id"]) == updated


async def test_given_the_same_values_when_updated_then_version_and_updated_at_stay(
    gql: GraphQLClient,
) -> None:
    created = await create(gql)

    data = await gql.ok(
        UPDATE, {"id": created["id"], "input": {"sku": "ab-1", "price": "19.9", "name": "Widget"}}
    )

    assert data["updateProduct"]["product"] == created


async def test_given_a_stale_expected_version_when_updated_then_conflict_and_row_unchanged(
    gql: GraphQLClient,
) -> None:
    created = await create(gql)
    await gql.ok(UPDATE, {"id": created["id"], "input": {"name": "Second"}})
    stored = await read(gql, created["id"])

    error = await gql.error(
        UPDATE, {"id": created["id"], "input": {"name": "Third", "expectedVersion": 1}}
    )

    extensions = assert_refused(error, "CONFLICT")
    assert extensions["currentVersion"] == 2
    assert extensions["fields"] == {"expectedVersion": "is stale; current version is 2"}
    assert await read(gql, created["id"]) == stored
    assert stored is not None
    assert (stored["name"], stored["version"]) == ("Second", 2)


@pytest.mark.parametrize(
    ("field", "camel"),
    [("sku", "sku"), ("name", "name"), ("price", "price"), ("isActive", "isActive")],
)
async def test_given_explicit_null_for_a_required_field_when_updated_then_bad_user_input(
    gql: GraphQLClient, field: str, camel: str
) -> None:
    created = await create(gql)

    error = await gql.error(UPDATE, {"id": created["id"], "input": {field: None}})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == {camel: "must not be null"}
    assert await read(gql, created["id"]) == created


# ---------------------------------------------------------------- delete


async def test_given_an_unused_product_when_deleted_then_it_is_gone(gql: GraphQLClient) -> None:
    created = await create(gql)

    data = await gql.ok(DELETE, {"id": created["id"]})

    assert data["deleteProduct"] == {"deletedId": created["id"]}
    assert await read(gql, created["id"]) is None
    assert await total(gql) == 0


async def test_given_a_product_used_by_tasks_when_deleted_then_conflict_until_tasks_are_gone(
    gql: GraphQLClient,
) -> None:
    product = await create(gql)
    other = await create(gql, sku="CD-2")
    task_ids = []
    for title in ("Install", "Inspect"):
        data = await gql.ok(
            CREATE_TASK,
            {"input": {"title": title, "productIds": [product["id"], other["id"]]}},
        )
        task_ids.append(data["createTask"]["task"]["id"])

    error = await gql.error(DELETE, {"id": product["id"]})

    extensions = assert_refused(error, "CONFLICT")
    assert extensions["references"] == 2
    assert error["message"] == "Product is still used by 2 task(s)."
    assert await read(gql, product["id"]) == product

    for task_id in task_ids:
        await gql.ok(DELETE_TASK, {"id": task_id})
    data = await gql.ok(DELETE, {"id": product["id"]})
    assert data["deleteProduct"]["deletedId"] == product["id"]
    assert await read(gql, product["id"]) is None


# ---------------------------------------------------------------- ids


async def test_given_a_missing_id_when_read_then_product_is_null(gql: GraphQLClient) -> None:
    created = await create(gql)
    await gql.ok(DELETE, {"id": created["id"]})

    assert await read(gql, created["id"]) is None


async def test_given_an_id_past_the_32_bit_range_when_read_then_null_or_bad_input_not_a_crash(
    gql: GraphQLClient,
) -> None:
    result = await gql(GET, {"id": global_id("Product", 2**31)})

    # No such row can exist: null and BAD_USER_INPUT are both fair answers; a 500 is not.
    if "errors" in result:
        assert_refused(result["errors"][0], "BAD_USER_INPUT")
    else:
        assert result["data"] == {"product": None}


@pytest.mark.parametrize("bad_id", ["not an id", "", global_id("Product", 0)[:-2] + "!!"])
async def test_given_a_malformed_id_when_read_then_bad_user_input(
    gql: GraphQLClient, bad_id: str
) -> None:
    error = await gql.error(GET, {"id": bad_id})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == {"id": "is not a valid ID"}


async def test_given_the_id_of_a_customer_when_read_then_bad_user_input(
    gql: GraphQLClient,
) -> None:
    error = await gql.error(GET, {"id": global_id("Customer", 1)})

    extensions = assert_refused(error, "BAD_USER_INPUT")
    assert extensions["fields"] == {"id": "is not the ID of a Product"}


@pytest.mark.parametrize(
    ("mutation", "variables"),
    [
        (UPDATE, {"input": {"name": "x"}}),
        (DELETE, {}),
    ],
)
async def test_given_a_missing_id_when_changed_then_not_found(
    gql: GraphQLClient, mutation: str, variables: dict[str, Any]
) -> None:
    created = await create(gql)
    await gql.ok(DELETE, {"id": created["id"]})

    error = await gql.error(mutation, {"id": created["id"], **variables})

    assert_refused(error, "NOT_FOUND")
    assert error["message"] == "Product not found."


async def test_given_a_foreign_id_when_deleted_then_bad_user_input_and_nothing_changes(
    gql: GraphQLClient,
) -> None:
    await create(gql)

    error = await gql.error(DELETE, {"id": global_id("Task", 1)})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == {"id": "is not the ID of a Product"}
    assert await total(gql) == 1


# ---------------------------------------------------------------- validation and conflicts


async def test_given_several_bad_fields_when_created_then_each_is_named_and_nothing_stored(
    gql: GraphQLClient,
) -> None:
    error = await gql.error(
        CREATE,
        {
            "input": {
                "sku": "x",
                "name": " ",
                "price": "1.999",
                "stock": -1,
                "description": "d" * 5001,
            }
        },
    )

    extensions = assert_refused(error, "BAD_USER_INPUT")
    assert set(extensions["fields"]) == {"sku", "name", "price", "stock", "description"}
    assert extensions["fields"]["price"] == "must have at most 2 decimal places"
    assert extensions["fields"]["stock"] == "must be at least 0"
    assert await total(gql) == 0


@pytest.mark.parametrize("price", ["-1", "NaN", "Infinity", "abc", "1e400"])
async def test_given_a_bad_price_when_created_then_bad_user_input_and_nothing_stored(
    gql: GraphQLClient, price: str
) -> None:
    error = await gql.error(CREATE, {"input": {"sku": "AB-1", "name": "W", "price": price}})

    assert_refused(error, "BAD_USER_INPUT")
    assert await total(gql) == 0


async def test_given_a_taken_sku_in_another_case_when_created_then_conflict_and_nothing_added(
    gql: GraphQLClient,
) -> None:
    await create(gql, sku="AB-1")

    error = await gql.error(CREATE, {"input": {"sku": "ab-1", "name": "Other", "price": "1"}})

    assert assert_refused(error, "CONFLICT")["fields"] == {"sku": "is taken"}
    assert await total(gql) == 1


async def test_given_another_products_sku_when_updated_then_conflict_and_row_unchanged(
    gql: GraphQLClient,
) -> None:
    await create(gql, sku="AB-1")
    second = await create(gql, sku="CD-2")

    error = await gql.error(UPDATE, {"id": second["id"], "input": {"sku": "ab-1", "stock": 3}})

    assert assert_refused(error, "CONFLICT")["fields"] == {"sku": "is taken"}
    assert await read(gql, second["id"]) == second


async def test_given_a_request_id_header_when_refused_then_the_error_carries_that_id(
    gql: GraphQLClient,
) -> None:
    error = await gql.error(
        CREATE,
        {"input": {"sku": "x", "name": "W", "price": "1"}},
        headers={"X-Request-ID": "req-products-1"},
    )

    assert error["extensions"]["requestId"] == "req-products-1"


# ---------------------------------------------------------------- filters


@pytest.fixture
async def catalogue(gql: GraphQLClient) -> dict[str, dict[str, Any]]:
    """Five products with distinctive names, SKUs, descriptions, prices and states."""
    rows = [
        ("BOLT-1", "Steel Bolt", "M8, zinc plated", "1.50", True),
        ("NUT-1", "Hex nut", "Fits the STEEL bolt", "0.20", True),
        ("PCT-1", "Discount 100% off", None, "10.00", True),
        ("UND-1", "snake_case label", "underscore", "10.01", False),
        ("WASH-1", "Washer", None, "99.99", False),
    ]
    made = {}
    for sku, name, description, price, is_active in rows:
        made[sku] = await create(
            gql, sku=sku, name=name, description=description, price=price, isActive=is_active
        )
    return made


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("steel", ["BOLT-1", "NUT-1"]),  # name of one, description of the other
        ("STEEL BOLT", ["BOLT-1", "NUT-1"]),
        ("nut-", ["NUT-1"]),  # sku, in lower case
        ("zinc", ["BOLT-1"]),
        ("100%", ["PCT-1"]),
        ("%", ["PCT-1"]),  # a literal percent sign, not "anything"
        ("_", ["UND-1"]),  # a literal underscore, not "any one character"
        ("e_c", ["UND-1"]),
        ("t%o", []),
        ("  washer  ", ["WASH-1"]),
        ("nothing like it", []),
    ],
)
async def test_given_a_catalogue_when_searched_then_name_sku_and_description_match_literally(
    gql: GraphQLClient,
    catalogue: dict[str, dict[str, Any]],
    search: str,
    expected: list[str],
) -> None:
    found = await skus(gql, filter={"search": search}, orderBy=[{"field": "SKU"}])

    assert found == expected
    assert await total(gql, filter={"search": search}) == len(expected)


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"sku": "nut-1"}, ["NUT-1"]),
        ({"sku": "NUT"}, []),
        ({"isActive": False}, ["UND-1", "WASH-1"]),
        ({"isActive": True}, ["BOLT-1", "NUT-1", "PCT-1"]),
        ({"minPrice": "10"}, ["PCT-1", "UND-1", "WASH-1"]),
        ({"maxPrice": "10"}, ["BOLT-1", "NUT-1", "PCT-1"]),
        ({"minPrice": "1.5", "maxPrice": "10.01"}, ["BOLT-1", "PCT-1", "UND-1"]),
        ({"minPrice": "10", "maxPrice": "10"}, ["PCT-1"]),
        ({"isActive": True, "minPrice": "1", "search": "bolt"}, ["BOLT-1"]),
    ],
)
async def test_given_a_catalogue_when_filtered_then_every_criterion_holds(
    gql: GraphQLClient,
    catalogue: dict[str, dict[str, Any]],
    criteria: dict[str, Any],
    expected: list[str],
) -> None:
    found = await skus(gql, filter=criteria, orderBy=[{"field": "SKU"}])

    assert found == expected
    assert await total(gql, filter=criteria) == len(expected)


@pytest.mark.parametrize(
    ("criteria", "fields"),
    [
        ({"minPrice": "10", "maxPrice": "9.99"}, {"maxPrice": "must not be below min_price"}),
        ({"minPrice": "-1"}, {"minPrice": "must be at least 0"}),
        ({"maxPrice": "0.001"}, {"maxPrice": "must have at most 2 decimal places"}),
        ({"search": "x" * 201}, {"search": "must be at most 200 characters"}),
        ({"search": "a\u0000b"}, {"search": "must not contain control characters"}),
        ({"sku": "AB\u0000"}, {"sku": "must not contain control characters"}),
    ],
)
async def test_given_a_filter_that_cannot_hold_when_listed_then_bad_user_input_naming_it(
    gql: GraphQLClient, criteria: dict[str, Any], fields: dict[str, str]
) -> None:
    error = await gql.error(LIST, {"filter": criteria})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == fields


# ---------------------------------------------------------------- ordering


@pytest.fixture
async def ties(gql: GraphQLClient) -> list[str]:
    """Four products created in order A..D, with equal names and equal prices among them."""
    rows = [("BBB", "bolt", "5.00"), ("CCC", "anchor", "5.00"), ("AAA", "bolt", "1.50")]
    rows.append(("DDD", "clamp", "10.00"))
    return [
        (await create(gql, sku=sku, name=name, price=price))["sku"] for sku, name, price in rows
    ]


# Rows in creation (id) order: BBB bolt 5.00, CCC anchor 5.00, AAA bolt 1.50, DDD clamp 10.00.
# Ties go by id, in the direction of the last ordering key.
ORDERINGS = [
    ([("NAME", "ASC")], ["CCC", "BBB", "AAA", "DDD"]),
    ([("NAME", "DESC")], ["DDD", "AAA", "BBB", "CCC"]),
    ([("SKU", "ASC")], ["AAA", "BBB", "CCC", "DDD"]),
    ([("SKU", "DESC")], ["DDD", "CCC", "BBB", "AAA"]),
    ([("PRICE", "ASC")], ["AAA", "BBB", "CCC", "DDD"]),
    ([("PRICE", "DESC")], ["DDD", "CCC", "BBB", "AAA"]),
    ([("CREATED_AT", "ASC")], ["BBB", "CCC", "AAA", "DDD"]),
    ([("CREATED_AT", "DESC")], ["DDD", "AAA", "CCC", "BBB"]),
    ([("PRICE", "DESC"), ("NAME", "ASC")], ["DDD", "CCC", "BBB", "AAA"]),
    ([("NAME", "ASC"), ("PRICE", "ASC")], ["CCC", "AAA", "BBB", "DDD"]),
    ([("NAME", "ASC"), ("PRICE", "DESC")], ["CCC", "BBB", "AAA", "DDD"]),
    ([], ["BBB", "CCC", "AAA", "DDD"]),
]


def order_by(keys: list[tuple[str, str]]) -> list[dict[str, str]]:
    """`orderBy` input from (field, direction) pairs."""
    return [{"field": field, "direction": direction} for field, direction in keys]


@pytest.mark.parametrize(("keys", "expected"), ORDERINGS)
async def test_given_ties_when_ordered_then_the_order_is_exact_and_ties_go_by_id(
    gql: GraphQLClient, ties: list[str], keys: list[tuple[str, str]], expected: list[str]
) -> None:
    assert await skus(gql, orderBy=order_by(keys)) == expected


@pytest.mark.parametrize(("keys", "expected"), ORDERINGS)
async def test_given_ties_when_paged_one_by_one_both_ways_then_the_same_order_comes_back(
    gql: GraphQLClient, ties: list[str], keys: list[tuple[str, str]], expected: list[str]
) -> None:
    forward: list[str] = []
    after = None
    while True:
        data = await gql.ok(LIST, {"first": 1, "after": after, "orderBy": order_by(keys)})
        page = data["products"]
        forward += [edge["node"]["sku"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    backward: list[str] = []
    before = None
    while True:
        data = await gql.ok(LIST, {"last": 1, "before": before, "orderBy": order_by(keys)})
        page = data["products"]
        backward = [edge["node"]["sku"] for edge in page["edges"]] + backward
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]

    assert forward == expected
    assert backward == expected


async def test_given_the_default_direction_when_ordered_then_it_is_ascending(
    gql: GraphQLClient, ties: list[str]
) -> None:
    assert await skus(gql, orderBy=[{"field": "PRICE"}]) == ["AAA", "BBB", "CCC", "DDD"]


# ---------------------------------------------------------------- page arguments


async def test_given_a_page_size_past_the_maximum_when_listed_then_first_is_refused(
    gql: GraphQLClient,
) -> None:
    error = await gql.error(LIST, {"first": 101})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == {"first": "must be at most 100"}


async def test_given_a_cursor_of_another_ordering_when_listed_then_after_is_refused(
    gql: GraphQLClient, ties: list[str]
) -> None:
    data = await gql.ok(LIST, {"first": 1, "orderBy": [{"field": "NAME"}]})
    cursor = data["products"]["pageInfo"]["endCursor"]

    error = await gql.error(LIST, {"after": cursor, "orderBy": [{"field": "PRICE"}]})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == {
        "after": "was made for another ordering"
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (["id", [], 2**31], None),
        (["id", [], 10**30], None),
        (["price:a", ["1e999999"], 1], "PRICE"),
        (["name:a", ["\u0000"], 1], "NAME"),
        (["created_at:a", ["0001-01-01T00:00:00+14:00"], 1], "CREATED_AT"),
    ],
)
async def test_given_a_forged_cursor_the_database_cannot_use_when_listed_then_bad_user_input(
    gql: GraphQLClient, payload: list[Any], field: str | None
) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    ordering = [{"field": field}] if field else None

    error = await gql.error(LIST, {"after": cursor, "orderBy": ordering})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == {"after": "is not a valid cursor"}
