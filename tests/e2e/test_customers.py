"""Customers over HTTP through the real app: CRUD, errors, filters, ordering and references."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import GraphQLClient

FIELDS = "id name email phone company version createdAt updatedAt"

CREATE = f"""
mutation Create($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ customer {{ {FIELDS} }} }}
}}"""

UPDATE = f"""
mutation Update($id: ID!, $input: UpdateCustomerInput!) {{
  updateCustomer(id: $id, input: $input) {{ customer {{ {FIELDS} }} }}
}}"""

DELETE = "mutation Delete($id: ID!) { deleteCustomer(id: $id) { deletedId } }"

GET = f"query Get($id: ID!) {{ customer(id: $id) {{ {FIELDS} }} }}"

LIST = """
query List($first: Int, $after: String, $last: Int, $before: String,
           $filter: CustomerFilter, $orderBy: [CustomerOrder!]) {
  customers(first: $first, after: $after, last: $last, before: $before,
            filter: $filter, orderBy: $orderBy) {
    totalCount
    edges { cursor node { id email } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""

CREATE_TASK = """
mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { task { id } } }"""

DELETE_TASK = "mutation DeleteTask($id: ID!) { deleteTask(id: $id) { deletedId } }"


def global_id(type_name: str, pk: int) -> str:
    """A global ID made by hand, as a test of the opaque format (clients never do this)."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


async def create(gql: GraphQLClient, email: str = "ann@x.com", **values: Any) -> dict[str, Any]:
    """Create a customer over GraphQL; returns all its fields."""
    data = await gql.ok(CREATE, {"input": {"name": "Ann Lee", "email": email, **values}})
    customer: dict[str, Any] = data["createCustomer"]["customer"]
    return customer


async def read(gql: GraphQLClient, customer_id: str) -> dict[str, Any] | None:
    """The customer as stored now, or None."""
    data = await gql.ok(GET, {"id": customer_id})
    found: dict[str, Any] | None = data["customer"]
    return found


async def total(gql: GraphQLClient, **variables: Any) -> int:
    """How many customers match."""
    data = await gql.ok(LIST, variables)
    count: int = data["customers"]["totalCount"]
    return count


async def emails(gql: GraphQLClient, **variables: Any) -> list[str]:
    """The emails of one page, in order."""
    data = await gql.ok(LIST, variables)
    return [edge["node"]["email"] for edge in data["customers"]["edges"]]


def utc(value: str) -> datetime:
    """Parse a DateTime, checking it is ISO 8601 with the UTC offset spelled +00:00."""
    assert value.endswith("+00:00"), value
    return datetime.fromisoformat(value)


def assert_refused(error: dict[str, Any], code: str) -> dict[str, Any]:
    """Check the code and the request id every error carries; returns the extensions."""
    extensions: dict[str, Any] = error["extensions"]
    assert extensions["code"] == code, error
    assert isinstance(extensions["requestId"], str)
    assert extensions["requestId"]
    return extensions


# ---------------------------------------------------------------- create and read


async def test_given_valid_input_when_a_customer_is_created_then_every_field_is_exact(
    gql: GraphQLClient,
) -> None:
    before = datetime.now(UTC)

    customer = await create(
        gql, email=" Ann.Lee@X.com ", name=" Ann Lee ", phone=" +44 20 7946 0958 ", company="Acme"
    )

    after = datetime.now(UTC)
    assert {k: v for k, v in customer.items() if k not in ("id", "createdAt", "updatedAt")} == {
        "name": "Ann Lee",
        "email": "ann.lee@x.com",
        "phone": "+44 20 7946 0958",
        "company": "Acme",
        "version": 1,
    }
    assert before <= utc(customer["createdAt"]) <= after
    assert (
        timedelta(0)
        <= utc(customer["updatedAt"]) - utc(customer["createdAt"])
        < timedelta(seconds=1)
    )
    assert await read(gql, customer["id"]) == customer


async def test_given_blank_optional_fields_when_created_then_they_are_null(
    gql: GraphQLClient,
) -> None:
    customer = await create(gql, phone="  ", company="")

    assert (customer["phone"], customer["company"]) == (None, None)


# ---------------------------------------------------------------- update


async def test_given_changes_when_updated_then_values_version_and_updated_at_move(
    gql: GraphQLClient,
) -> None:
    created = await create(gql, company="Acme", phone="1234")

    data = await gql.ok(
        UPDATE,
        {
            "id": created["id"],
            "input": {"email": "ANN@Y.COM", "company": None, "expectedVersion": 1},
        },
    )

    updated = data["updateCustomer"]["customer"]
    assert (updated["email"], updated["company"], updated["phone"]) == ("ann@y.com", None, "1234")
    assert (updated["name"], updated["version"]) == ("Ann Lee", 2)
    assert updated["createdAt"] == created["createdAt"]
    assert utc(updated["updatedAt"]) > utc(created["updatedAt"])
    assert await read(gql, created["id"]) == updated


async def test_given_the_same_values_when_updated_then_version_and_updated_at_stay(
    gql: GraphQLClient,
) -> None:
    created = await create(gql)

    data = await gql.ok(
        UPDATE, {"id": created["id"], "input": {"email": "Ann@X.com", "name": "Ann Lee "}}
    )

    assert data["updateCustomer"]["customer"] == created


async def test_given_a_stale_expected_version_when_updated_then_conflict_and_row_unchanged(
    gql: GraphQLClient,
) -> None:
    created = await create(gql)
    await gql.ok(UPDATE, {"id": created["id"], "input": {"name": "Second"}})
    stored = await read(gql, created["id"])

    error = await gql.error(
        UPDATE, {"id": created["id"], "input": {"name": "Third", "expectedVersion": 1}}
    )

    assert assert_refused(error, "CONFLICT")["currentVersion"] == 2
    assert await read(gql, created["id"]) == stored
    assert stored is not None
    assert (stored["name"], stored["version"]) == ("Second", 2)


@pytest.mark.parametrize("field", ["name", "email"])
async def test_given_explicit_null_for_a_required_field_when_updated_then_bad_user_input(
    gql: GraphQLClient, field: str
) -> None:
    created = await create(gql)

    error = await gql.error(UPDATE, {"id": created["id"], "input": {field: None}})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == {field: "must not be null"}
    assert await read(gql, created["id"]) == created


# ---------------------------------------------------------------- delete


async def test_given_a_customer_without_tasks_when_deleted_then_it_is_gone(
    gql: GraphQLClient,
) -> None:
    created = await create(gql)

    data = await gql.ok(DELETE, {"id": created["id"]})

    assert data["deleteCustomer"] == {"deletedId": created["id"]}
    assert await read(gql, created["id"]) is None
    assert await total(gql) == 0


async def test_given_a_customer_with_tasks_when_deleted_then_conflict_until_tasks_are_gone(
    gql: GraphQLClient,
) -> None:
    customer = await create(gql)
    other = await create(gql, "bob@x.com", name="Bob")
    await gql.ok(CREATE_TASK, {"input": {"title": "Not hers", "customerId": other["id"]}})
    task_ids = []
    for title in ("Call", "Visit", "Invoice"):
        data = await gql.ok(CREATE_TASK, {"input": {"title": title, "customerId": customer["id"]}})
        task_ids.append(data["createTask"]["task"]["id"])

    error = await gql.error(DELETE, {"id": customer["id"]})

    assert assert_refused(error, "CONFLICT")["references"] == 3
    assert error["message"] == "Customer still has 3 task(s)."
    assert await read(gql, customer["id"]) == customer

    for task_id in task_ids:
        await gql.ok(DELETE_TASK, {"id": task_id})
    data = await gql.ok(DELETE, {"id": customer["id"]})
    assert data["deleteCustomer"]["deletedId"] == customer["id"]
    assert await read(gql, customer["id"]) is None
    assert await total(gql) == 1


# ---------------------------------------------------------------- ids


async def test_given_a_missing_id_when_read_then_customer_is_null(gql: GraphQLClient) -> None:
    created = await create(gql)
    await gql.ok(DELETE, {"id": created["id"]})

    assert await read(gql, created["id"]) is None


@pytest.mark.parametrize(
    "bad_id",
    [
        "not an id",
        base64.b64encode(b"Customer:").decode(),
        base64.b64encode(b"Customer:-1").decode(),
        base64.b64encode(b"Customer:1.5").decode(),
        base64.b64encode(b"\xff\xfe").decode(),
    ],
)
async def test_given_a_malformed_id_when_read_then_bad_user_input(
    gql: GraphQLClient, bad_id: str
) -> None:
    error = await gql.error(GET, {"id": bad_id})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == {"id": "is not a valid ID"}


async def test_given_the_id_of_a_product_when_read_then_bad_user_input(
    gql: GraphQLClient,
) -> None:
    error = await gql.error(GET, {"id": global_id("Product", 1)})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == {
        "id": "is not the ID of a Customer"
    }


@pytest.mark.parametrize(
    ("mutation", "variables"),
    [(UPDATE, {"input": {"name": "x"}}), (DELETE, {})],
)
async def test_given_a_missing_id_when_changed_then_not_found(
    gql: GraphQLClient, mutation: str, variables: dict[str, Any]
) -> None:
    created = await create(gql)
    await gql.ok(DELETE, {"id": created["id"]})

    error = await gql.error(mutation, {"id": created["id"], **variables})

    assert_refused(error, "NOT_FOUND")
    assert error["message"] == "Customer not found."


# ---------------------------------------------------------------- validation and conflicts


async def test_given_several_bad_fields_when_created_then_each_is_named_and_nothing_stored(
    gql: GraphQLClient,
) -> None:
    error = await gql.error(
        CREATE,
        {"input": {"name": "a\u0000b", "email": "not-an-email", "phone": "call me", "company": ""}},
    )

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == {
        "name": "must not contain control characters",
        "email": "must be a valid email address",
        "phone": "must be a phone number of 4-32 digits",
    }
    assert await total(gql) == 0


async def test_given_an_email_taken_in_another_case_when_created_then_conflict_and_nothing_added(
    gql: GraphQLClient,
) -> None:
    await create(gql, "ann@x.com")

    error = await gql.error(CREATE, {"input": {"name": "Other Ann", "email": "Ann@X.com"}})

    assert assert_refused(error, "CONFLICT")["fields"] == {"email": "is taken"}
    assert await total(gql) == 1


async def test_given_another_customers_email_when_updated_then_conflict_and_row_unchanged(
    gql: GraphQLClient,
) -> None:
    await create(gql, "ann@x.com")
    bob = await create(gql, "bob@x.com", name="Bob")

    error = await gql.error(
        UPDATE, {"id": bob["id"], "input": {"email": "ANN@x.com", "name": "Robert"}}
    )

    assert assert_refused(error, "CONFLICT")["fields"] == {"email": "is taken"}
    assert await read(gql, bob["id"]) == bob


# ---------------------------------------------------------------- filters


@pytest.fixture
async def people(gql: GraphQLClient) -> None:
    """Four customers with distinctive names, emails and companies."""
    rows = [
        ("Ann Lee", "ann@acme.com", "Acme"),
        ("Bob Stone", "bob@mail.org", "ACME"),
        ("Cy 100% Real", "cy@x.io", None),
        ("Dee_Dee", "dee@under.net", "Globex"),
    ]
    for name, email, company in rows:
        await create(gql, email, name=name, company=company)


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"search": "ACME"}, ["ann@acme.com", "bob@mail.org"]),  # email of one, company of both
        ({"search": "stone"}, ["bob@mail.org"]),
        ({"search": "MAIL.ORG"}, ["bob@mail.org"]),
        ({"search": "globex"}, ["dee@under.net"]),
        ({"search": "%"}, ["cy@x.io"]),
        ({"search": "_"}, ["dee@under.net"]),
        ({"search": "a%e"}, []),
        ({"search": " lee "}, ["ann@acme.com"]),
        ({"email": "BOB@MAIL.ORG"}, ["bob@mail.org"]),
        ({"email": "bob@mail"}, []),
        ({"company": "acme"}, ["ann@acme.com", "bob@mail.org"]),
        ({"company": "Acm"}, []),
        ({"company": "acme", "search": "ann"}, ["ann@acme.com"]),
    ],
)
async def test_given_customers_when_filtered_then_every_criterion_holds(
    gql: GraphQLClient, people: None, criteria: dict[str, str], expected: list[str]
) -> None:
    found = await emails(gql, filter=criteria, orderBy=[{"field": "EMAIL"}])

    assert found == expected
    assert await total(gql, filter=criteria) == len(expected)


@pytest.mark.parametrize(
    ("criteria", "fields"),
    [
        ({"search": "x" * 201}, {"search": "must be at most 200 characters"}),
        ({"search": "\u0000"}, {"search": "must not contain control characters"}),
        ({"email": "a\u0000@x.com"}, {"email": "must not contain control characters"}),
        ({"company": "A\u0000"}, {"company": "must not contain control characters"}),
    ],
)
async def test_given_a_filter_that_cannot_hold_when_listed_then_bad_user_input_naming_it(
    gql: GraphQLClient, criteria: dict[str, str], fields: dict[str, str]
) -> None:
    error = await gql.error(LIST, {"filter": criteria})

    assert assert_refused(error, "BAD_USER_INPUT")["fields"] == fields


# ---------------------------------------------------------------- ordering


@pytest.fixture
async def ties(gql: GraphQLClient) -> None:
    """Four customers created in this order, two of them with the same name."""
    for name, email in [("bea", "c@x.com"), ("abe", "d@x.com"), ("bea", "a@x.com")]:
        await create(gql, email, name=name)
    await create(gql, "b@x.com", name="cid")


# Rows in creation (id) order: bea c@, abe d@, bea a@, cid b@.
# Ties go by id, in the direction of the last ordering key.
ORDERINGS = [
    ([("NAME", "ASC")], ["d@x.com", "c@x.com", "a@x.com", "b@x.com"]),
    ([("NAME", "DESC")], ["b@x.com", "a@x.com", "c@x.com", "d@x.com"]),
    ([("EMAIL", "ASC")], ["a@x.com", "b@x.com", "c@x.com", "d@x.com"]),
    ([("EMAIL", "DESC")], ["d@x.com", "c@x.com", "b@x.com", "a@x.com"]),
    ([("CREATED_AT", "ASC")], ["c@x.com", "d@x.com", "a@x.com", "b@x.com"]),
    ([("CREATED_AT", "DESC")], ["b@x.com", "a@x.com", "d@x.com", "c@x.com"]),
    ([("NAME", "ASC"), ("EMAIL", "ASC")], ["d@x.com", "a@x.com", "c@x.com", "b@x.com"]),
    ([("NAME", "DESC"), ("EMAIL", "DESC")], ["b@x.com", "c@x.com", "a@x.com", "d@x.com"]),
    ([("NAME", "ASC"), ("CREATED_AT", "DESC")], ["d@x.com", "a@x.com", "c@x.com", "b@x.com"]),
    ([], ["c@x.com", "d@x.com", "a@x.com", "b@x.com"]),
]


def order_by(keys: list[tuple[str, str]]) -> list[dict[str, str]]:
    """`orderBy` input from (field, direction) pairs."""
    return [{"field": field, "direction": direction} for field, direction in keys]


@pytest.mark.parametrize(("keys", "expected"), ORDERINGS)
async def test_given_ties_when_ordered_then_the_order_is_exact_and_ties_go_by_id(
    gql: GraphQLClient, ties: None, keys: list[tuple[str, str]], expected: list[str]
) -> None:
    assert await emails(gql, orderBy=order_by(keys)) == expected


@pytest.mark.parametrize(("keys", "expected"), ORDERINGS)
async def test_given_ties_when_paged_two_at_a_time_then_pages_join_up_exactly(
    gql: GraphQLClient, ties: None, keys: list[tuple[str, str]], expected: list[str]
) -> None:
    first = await gql.ok(LIST, {"first": 2, "orderBy": order_by(keys)})
    page = first["customers"]
    second = await gql.ok(
        LIST, {"first": 2, "after": page["pageInfo"]["endCursor"], "orderBy": order_by(keys)}
    )
    back = await gql.ok(
        LIST,
        {
            "last": 2,
            "before": second["customers"]["pageInfo"]["startCursor"],
            "orderBy": order_by(keys),
        },
    )

    def page_emails(data: dict[str, Any]) -> list[str]:
        return [edge["node"]["email"] for edge in data["customers"]["edges"]]

    assert page_emails(first) + page_emails(second) == expected
    assert page_emails(back) == expected[:2]
    assert page["pageInfo"]["hasNextPage"] is True
    assert second["customers"]["pageInfo"] | {"startCursor": None, "endCursor": None} == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }
