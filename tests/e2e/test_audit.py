"""Who changed what, answered from the API alone: change records over HTTP.

Every mutation below goes through the real app; the records are read back with the
`auditLogs` query, and compared with the rows the database holds before and after.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Connection, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.capture import REDACTED, append
from audit.chain import json_value
from persistence.models import (
    AuditLogModel,
    CustomerModel,
    ProductModel,
    TaskModel,
    UserModel,
)
from tests.builders import gid, pk_of
from tests.conftest import SUPERUSER_PASSWORD, GraphQLClient, StatementCounter, add_login_user
from tests.conftest import token_for as token_of
from tests.rbac_helpers import People, assert_forbidden, permission

audit_t = cast(Table, AuditLogModel.__table__)
RECORD = """
id occurredAt action entity entityId oldValues newValues changedFields requestId
operationName actorLabel actor { id }
"""
AUDIT_LOGS = (
    """
query Changes($first: Int, $after: String, $last: Int, $before: String,
              $filter: AuditLogFilter) {
  auditLogs(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { """
    + RECORD
    + """ } }
  }
}"""
)
CREATE_PRODUCT = """
mutation CreateWidget($input: CreateProductInput!) {
  createProduct(input: $input) { product { id } }
}"""
UPDATE_PRODUCT = """
mutation RepriceWidget($id: ID!, $input: UpdateProductInput!) {
  updateProduct(id: $id, input: $input) { product { id } }
}"""
DELETE_PRODUCT = "mutation DropWidget($id: ID!) { deleteProduct(id: $id) { deletedId } }"
WIDGET = {"sku": "W-1", "name": "Widget", "price": "19.90", "stock": 5}


@pytest.fixture
def people(gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str) -> People:
    """Roles and users for the test; `gql` makes the superuser exist too."""
    return People(engine=engine, app=app, http=gql.http, password_hash=password_hash)


async def changes(gql: GraphQLClient, **filters: Any) -> list[dict[str, Any]]:
    """Every change record matching `filters`, newest first."""
    data = await gql.ok(AUDIT_LOGS, {"first": 100, "filter": filters or None})
    return [edge["node"] for edge in data["auditLogs"]["edges"]]


async def row(engine: AsyncEngine, model: type[Any], pk: int) -> dict[str, Any] | None:
    """A stored row as the audit trail writes values (Decimal as string, ISO dates)."""
    table = cast(Table, model.__table__)
    async with engine.connect() as conn:
        found = (await conn.execute(select(table).where(table.c.id == pk))).mappings().first()
    return None if found is None else {k: json_value(v) for k, v in found.items()}


def request_id(gql: GraphQLClient) -> str:
    """The X-Request-ID the app answered the last request with."""
    assert gql.last_response is not None
    return str(gql.last_response.headers["x-request-id"])


async def mutate(gql: GraphQLClient, query: str, variables: dict[str, Any]) -> tuple[Any, str]:
    """Run a mutation that must succeed; its data and its request id."""
    data = await gql.ok(query, variables)
    return data, request_id(gql)


def only(records: Sequence[dict[str, Any]], **match: Any) -> dict[str, Any]:
    """The single record whose fields equal `match`."""
    found = [r for r in records if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, records)
    return found[0]


# ------------------------------------------------------------------------- products


async def test_given_a_product_lifecycle_when_reading_changes_then_one_exact_record_per_step(
    gql: GraphQLClient, engine: AsyncEngine, superuser_id: int
) -> None:
    created, create_request = await mutate(gql, CREATE_PRODUCT, {"input": WIDGET})
    product_id = created["createProduct"]["product"]["id"]
    pk = pk_of(product_id)
    inserted = await row(engine, ProductModel, pk)
    _, update_request = await mutate(
        gql, UPDATE_PRODUCT, {"id": product_id, "input": {"price": "24.50", "stock": 5}}
    )
    updated = await row(engine, ProductModel, pk)
    _, delete_request = await mutate(gql, DELETE_PRODUCT, {"id": product_id})

    records = await changes(gql, entity="products")

    assert [r["action"] for r in records] == ["DELETE", "UPDATE", "INSERT"]
    delete, update, insert = records
    assert insert["newValues"] == inserted
    assert insert["newValues"]["price"] == "19.90"
    assert insert["oldValues"] is None
    assert insert["changedFields"] == [
        "created_at",
        "id",
        "is_active",
        "name",
        "price",
        "sku",
        "stock",
    ]
    assert (update["oldValues"], update["newValues"]) == (inserted, updated)
    assert update["changedFields"] == ["price"], "stock was sent unchanged"
    assert (update["oldValues"]["version"], update["newValues"]["version"]) == (1, 2)
    assert (delete["oldValues"], delete["newValues"]) == (updated, None)
    assert [r["requestId"] for r in records] == [delete_request, update_request, create_request]
    assert [r["operationName"] for r in records] == ["DropWidget", "RepriceWidget", "CreateWidget"]
    assert {r["entityId"] for r in records} == {str(pk)}
    assert {(r["actor"]["id"], r["actorLabel"]) for r in records} == {
        (gid("User", superuser_id), None)
    }


# ------------------------------------------------------------------------ customers


async def test_given_a_customer_lifecycle_when_reading_changes_then_exact_records(
    gql: GraphQLClient, engine: AsyncEngine, superuser_id: int
) -> None:
    created, create_request = await mutate(
        gql,
        "mutation AddClient($input: CreateCustomerInput!) "
        "{ createCustomer(input: $input) { customer { id } } }",
        {"input": {"name": "Ada", "email": "ada@example.com", "company": "Acme"}},
    )
    customer_id = created["createCustomer"]["customer"]["id"]
    pk = pk_of(customer_id)
    inserted = await row(engine, CustomerModel, pk)
    _, update_request = await mutate(
        gql,
        "mutation RenameClient($id: ID!, $input: UpdateCustomerInput!) "
        "{ updateCustomer(id: $id, input: $input) { customer { id } } }",
        {"id": customer_id, "input": {"phone": "+1-555-0100", "company": None}},
    )
    updated = await row(engine, CustomerModel, pk)
    await mutate(
        gql,
        "mutation DropClient($id: ID!) { deleteCustomer(id: $id) { deletedId } }",
        {"id": customer_id},
    )

    delete, update, insert = await changes(gql, entity="customers")

    assert (insert["action"], insert["newValues"]) == ("INSERT", inserted)
    assert insert["requestId"] == create_request
    assert (update["oldValues"], update["newValues"]) == (inserted, updated)
    assert update["changedFields"] == ["company", "phone"]
    assert (update["requestId"], update["operationName"]) == (update_request, "RenameClient")
    assert (delete["action"], delete["oldValues"], delete["newValues"]) == (
        "DELETE",
        updated,
        None,
    )
    assert delete["actor"] == {"id": gid("User", superuser_id)}


# ---------------------------------------------------------------------------- tasks

CREATE_TASK = """
mutation PlanWork($input: CreateTaskInput!) { createTask(input: $input) { task { id } } }"""
UPDATE_TASK = """
mutation ReplanWork($id: ID!, $input: UpdateTaskInput!) {
  updateTask(id: $id, input: $input) { task { id } }
}"""


async def products(gql: GraphQLClient, count: int) -> list[str]:
    """`count` new products' global IDs."""
    ids = []
    for n in range(count):
        created = await gql.ok(CREATE_PRODUCT, {"input": {**WIDGET, "sku": f"P-{n}"}})
        ids.append(created["createProduct"]["product"]["id"])
    return ids


async def test_given_a_task_with_products_when_created_then_task_and_each_link_are_recorded(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    p1, p2 = await products(gql, 2)
    task_input = {
        "title": "Install desks",
        "dueDate": "2026-12-24",
        "priority": "HIGH",
        "productIds": [p1, p2],
    }

    created, request = await mutate(gql, CREATE_TASK, {"input": task_input})

    pk = pk_of(created["createTask"]["task"]["id"])
    records = await changes(gql, requestId=request)
    task = only(records, entity="tasks")
    assert (task["action"], task["newValues"]) == ("INSERT", await row(engine, TaskModel, pk))
    assert (task["newValues"]["due_date"], task["newValues"]["priority"]) == ("2026-12-24", "HIGH")
    assert task["newValues"]["status"] == "TODO"
    links = sorted((r["entityId"], r["newValues"]) for r in records if r["entity"] != "tasks")
    assert links == sorted(
        (f"{pk}:{pk_of(p)}", {"task_id": pk, "product_id": pk_of(p)}) for p in (p1, p2)
    )
    assert len(records) == 3
    assert {r["operationName"] for r in records} == {"PlanWork"}


async def test_given_a_task_when_its_status_and_products_change_then_exact_diff_records(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    p1, p2, p3 = await products(gql, 3)
    created = await gql.ok(CREATE_TASK, {"input": {"title": "Repair", "productIds": [p1, p2]}})
    task_id = created["createTask"]["task"]["id"]
    pk = pk_of(task_id)
    before = await row(engine, TaskModel, pk)

    _, request = await mutate(
        gql, UPDATE_TASK, {"id": task_id, "input": {"status": "DONE", "productIds": [p2, p3]}}
    )

    records = await changes(gql, requestId=request)
    assert len(records) == 3
    task = only(records, entity="tasks")
    assert (task["action"], task["changedFields"]) == ("UPDATE", ["status"])
    assert (task["oldValues"], task["newValues"]) == (before, await row(engine, TaskModel, pk))
    assert (task["oldValues"]["status"], task["newValues"]["status"]) == ("TODO", "DONE")
    unlinked = only(records, entity="task_products", action="DELETE")
    linked = only(records, entity="task_products", action="INSERT")
    assert unlinked["entityId"] == f"{pk}:{pk_of(p1)}"
    assert unlinked["oldValues"] == {"task_id": pk, "product_id": pk_of(p1)}
    assert linked["entityId"] == f"{pk}:{pk_of(p3)}"


async def test_given_a_task_when_only_its_products_change_then_no_task_record(
    gql: GraphQLClient,
) -> None:
    p1, p2 = await products(gql, 2)
    created = await gql.ok(CREATE_TASK, {"input": {"title": "Swap", "productIds": [p1]}})
    task_id = created["createTask"]["task"]["id"]

    _, request = await mutate(gql, UPDATE_TASK, {"id": task_id, "input": {"productIds": [p2]}})

    # The task's version and updated_at move, but nothing about the task itself changed.
    records = await changes(gql, requestId=request)
    assert sorted((r["entity"], r["action"]) for r in records) == [
        ("task_products", "DELETE"),
        ("task_products", "INSERT"),
    ]


async def test_given_a_task_with_products_when_deleted_then_the_links_and_task_are_recorded(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    p1, p2 = await products(gql, 2)
    created = await gql.ok(CREATE_TASK, {"input": {"title": "Drop", "productIds": [p1, p2]}})
    task_id = created["createTask"]["task"]["id"]
    stored = await row(engine, TaskModel, pk_of(task_id))

    _, request = await mutate(
        gql, "mutation DropWork($id: ID!) { deleteTask(id: $id) { deletedId } }", {"id": task_id}
    )

    records = await changes(gql, requestId=request)
    assert sorted((r["entity"], r["action"]) for r in records) == [
        ("task_products", "DELETE"),
        ("task_products", "DELETE"),
        ("tasks", "DELETE"),
    ]
    assert only(records, entity="tasks")["oldValues"] == stored


# ------------------------------------------------------------------------- failures


async def test_given_a_conflicting_mutation_when_it_fails_then_no_change_record_but_access_code(
    gql: GraphQLClient,
) -> None:
    await gql.ok(CREATE_PRODUCT, {"input": WIDGET})
    before = await changes(gql)

    error = await gql.error(
        "mutation DuplicateWidget($input: CreateProductInput!) "
        "{ createProduct(input: $input) { product { id } } }",
        {"input": WIDGET},
    )
    failed_request = request_id(gql)

    assert error["extensions"]["code"] == "CONFLICT"
    assert await changes(gql) == before
    data = await gql.ok(
        'query { accessLogs(first: 5, filter: {operationName: "DuplicateWidget"}) '
        "{ edges { node { requestId errorCodes operationType statusCode } } } }"
    )
    [access] = [edge["node"] for edge in data["accessLogs"]["edges"]]
    assert access == {
        "requestId": failed_request,
        "errorCodes": ["CONFLICT"],
        "operationType": "mutation",
        "statusCode": 200,
    }


async def test_given_a_forbidden_mutation_when_it_is_refused_then_no_change_record(
    gql: GraphQLClient, people: People
) -> None:
    reader = await people.user({"PRODUCTS": []})

    error = await reader.gql.error(CREATE_PRODUCT, {"input": WIDGET})

    assert_forbidden(error)
    assert await changes(gql) == []


# -------------------------------------------------------------------------- secrets

CREATE_USER = """
mutation HireUser($input: CreateUserInput!) { createUser(input: $input) { user { id } } }"""
CHANGE_PASSWORD = """
mutation Rotate($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new)
}"""


async def stored_hashes(engine: AsyncEngine) -> list[str]:
    """Every stored password hash."""
    async with engine.connect() as conn:
        result = await conn.execute(select(UserModel.password_hash))
        return [value for value in result.scalars() if value]


async def audit_text(engine: AsyncEngine) -> str:
    """The whole audit_log table as text."""
    async with engine.connect() as conn:
        return repr((await conn.execute(select(audit_t))).all())


async def test_given_a_new_user_when_created_then_the_password_hash_is_redacted(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    password = "a-long-enough-password"

    created, request = await mutate(
        gql, CREATE_USER, {"input": {"email": "new@audit.test", "password": password}}
    )

    record = only(await changes(gql, requestId=request), entity="users")
    assert record["entityId"] == str(pk_of(created["createUser"]["user"]["id"]))
    assert record["newValues"]["password_hash"] == REDACTED
    assert "password_hash" in record["changedFields"]
    text = await audit_text(engine)
    assert password not in text
    assert all(stored not in text for stored in await stored_hashes(engine))
    assert "$argon2" not in text


async def test_given_a_password_change_when_recorded_then_both_hashes_are_redacted(
    gql: GraphQLClient, anonymous: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str
) -> None:
    alice = await add_login_user(engine, email="alice@audit.test", password_hash=password_hash)
    new_password = "another-long-password"

    as_alice = anonymous.as_token(token_of(app, alice))

    result = await as_alice(CHANGE_PASSWORD, {"current": SUPERUSER_PASSWORD, "new": new_password})

    assert result == {"data": {"changePassword": True}}
    request = request_id(as_alice)

    # One record per flush of the row: the new hash, then the token cut-off.
    records = [r for r in await changes(gql, requestId=request) if r["entity"] == "users"]
    assert records
    assert {r["action"] for r in records} == {"UPDATE"}
    assert {r["oldValues"]["password_hash"] for r in records} == {REDACTED}
    assert {r["newValues"]["password_hash"] for r in records} == {REDACTED}
    assert {r["actor"]["id"] for r in records} == {gid("User", alice)}
    text = await audit_text(engine)
    assert all(stored not in text for stored in [password_hash, *await stored_hashes(engine)])
    assert new_password not in text


async def test_given_a_password_change_when_recorded_then_changed_fields_name_the_password(
    gql: GraphQLClient, anonymous: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str
) -> None:
    alice = await add_login_user(engine, email="alice@audit.test", password_hash=password_hash)
    as_alice = anonymous.as_token(token_of(app, alice))

    await as_alice(CHANGE_PASSWORD, {"current": SUPERUSER_PASSWORD, "new": "a-new-password-1"})

    records = await changes(gql, requestId=request_id(as_alice))
    changed = {field for r in records if r["entity"] == "users" for field in r["changedFields"]}
    assert changed == {"password_hash", "tokens_valid_after"}


# ------------------------------------------------------------------ filters and pages

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


async def write_change(
    engine: AsyncEngine,
    *,
    when: datetime,
    actor_id: int | None,
    entity: str = "products",
    entity_id: str = "1",
    action: str = "UPDATE",
    request: str = "req",
) -> None:
    """One change record at a fixed time."""
    entry = {
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "old_values": None if action == "INSERT" else {"name": "old"},
        "new_values": None if action == "DELETE" else {"name": "new"},
        "changed_fields": ["name"],
    }

    def write(conn: Connection) -> None:
        append(
            conn,
            [entry],
            actor_id=actor_id,
            actor_label=None if actor_id else "system:test",
            request_id=request,
            operation_name="Fixture",
            now=when,
        )

    async with engine.begin() as conn:
        await conn.run_sync(write)


@pytest.fixture
async def trail(engine: AsyncEngine, superuser_id: int, password_hash: str) -> dict[str, int]:
    """Six records an hour apart from T0, by two users and the system."""
    bob = await add_login_user(engine, email="bob@audit.test", password_hash=password_hash)
    rows: list[dict[str, Any]] = [
        {"actor_id": superuser_id, "action": "INSERT", "request": "r1"},
        {"actor_id": bob, "entity_id": "2", "request": "r2"},
        {"actor_id": bob, "entity": "customers", "entity_id": "1", "request": "r3"},
        {"actor_id": None, "action": "DELETE", "request": "r4"},
        {"actor_id": superuser_id, "entity": "tasks", "entity_id": "9", "request": "r5"},
        {"actor_id": bob, "request": "r6"},
    ]
    for hour, values in enumerate(rows):
        await write_change(engine, when=T0 + timedelta(hours=hour), **values)
    return {"root": superuser_id, "bob": bob}


def iso(when: datetime) -> str:
    """A DateTime argument."""
    return when.isoformat()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["r6", "r5", "r4", "r3", "r2", "r1"]),
        ({"entity": "products"}, ["r6", "r4", "r2", "r1"]),
        ({"entity": "products", "entityId": "1"}, ["r6", "r4", "r1"]),
        ({"action": "DELETE"}, ["r4"]),
        ({"actorId": "bob"}, ["r6", "r3", "r2"]),
        ({"requestId": "r5"}, ["r5"]),
        ({"occurredAfter": iso(T0 + timedelta(hours=3))}, ["r6", "r5"]),
        ({"occurredBefore": iso(T0 + timedelta(hours=2))}, ["r2", "r1"]),
        ({"actorId": "root", "entity": "tasks"}, ["r5"]),
    ],
    ids=["none", "entity", "id", "action", "actor", "request", "after", "before", "combined"],
)
async def test_given_a_trail_when_filtering_then_only_matches_newest_first(
    gql: GraphQLClient, trail: dict[str, int], filters: dict[str, Any], expected: list[str]
) -> None:
    if "actorId" in filters:
        filters = {**filters, "actorId": gid("User", trail[filters["actorId"]])}

    data = await gql.ok(AUDIT_LOGS, {"first": 10, "filter": filters})

    assert [e["node"]["requestId"] for e in data["auditLogs"]["edges"]] == expected
    assert data["auditLogs"]["totalCount"] == len(expected)


async def test_given_a_trail_when_paging_with_cursors_then_every_record_once_in_order(
    gql: GraphQLClient, trail: dict[str, int]
) -> None:
    seen: dict[str, str] = {}
    after = None
    while True:
        page = (await gql.ok(AUDIT_LOGS, {"first": 4, "after": after}))["auditLogs"]
        seen |= {edge["node"]["requestId"]: edge["cursor"] for edge in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    backwards = (await gql.ok(AUDIT_LOGS, {"last": 2, "before": seen["r2"]}))["auditLogs"]

    assert list(seen) == ["r6", "r5", "r4", "r3", "r2", "r1"]
    assert [e["node"]["requestId"] for e in backwards["edges"]] == ["r4", "r3"]
    assert backwards["pageInfo"]["hasPreviousPage"] is True


async def test_given_a_trail_when_reading_actors_then_users_and_system_resolve(
    gql: GraphQLClient, trail: dict[str, int]
) -> None:
    data = await gql.ok(
        "{ auditLogs(first: 10) { edges { node { requestId actorLabel actor { id email } } } } }"
    )

    by_request = {e["node"]["requestId"]: e["node"] for e in data["auditLogs"]["edges"]}
    assert by_request["r2"]["actor"] == {"id": gid("User", trail["bob"]), "email": "bob@audit.test"}
    assert (by_request["r4"]["actor"], by_request["r4"]["actorLabel"]) == (None, "system:test")


async def test_given_a_record_id_when_fetching_the_node_then_the_same_record_returns(
    gql: GraphQLClient, trail: dict[str, int]
) -> None:
    newest = (await changes(gql))[0]

    data = await gql.ok(
        "query($id: ID!) { node(id: $id) { ... on AuditLog { id requestId } } }",
        {"id": newest["id"]},
    )

    assert data["node"] == {"id": newest["id"], "requestId": "r6"}


async def test_given_records_by_many_actors_when_listing_then_statements_do_not_grow(
    gql: GraphQLClient, engine: AsyncEngine, statements: StatementCounter, password_hash: str
) -> None:
    query = "query($n: Int) { auditLogs(first: $n) { edges { node { actor { id email } } } } }"
    counts: list[int] = []
    for size in (5, 20):
        for n in range(len(counts) and 5, size):
            actor = await add_login_user(engine, email=f"a{n}@n1.test", password_hash=password_hash)
            await write_change(engine, when=T0 + timedelta(minutes=n), actor_id=actor)
        statements.statements.clear()
        statements.counting = True
        try:
            data = await gql.ok(query, {"n": size})
        finally:
            statements.counting = False
        assert [bool(edge["node"]["actor"]) for edge in data["auditLogs"]["edges"]] == [True] * size
        counts.append(statements.count)

    assert counts[0] == counts[1], counts


# ---------------------------------------------------------------------- permissions


@pytest.mark.parametrize(
    "query",
    [
        "{ auditLogs { totalCount } }",
        "{ accessLogs { totalCount } }",
        "{ verifyAuditChain { ok } }",
        '{ node(id: "' + gid("AuditLog", 1) + '") { id } }',
        '{ node(id: "' + gid("AccessLog", 1) + '") { id } }',
    ],
    ids=["auditLogs", "accessLogs", "verifyAuditChain", "auditLog-node", "accessLog-node"],
)
async def test_given_a_user_without_audit_when_reading_the_trail_then_forbidden(
    people: People, query: str
) -> None:
    everything_else = await people.user(
        {"PRODUCTS": ["CREATE"], "CUSTOMERS": [], "TASKS": [], "USERS": ["UPDATE"]}
    )
    auditor = await people.user({"AUDIT": []})

    error = await everything_else.gql.error(query)

    assert_forbidden(error, permission("AUDIT"))
    assert "errors" not in await auditor.gql(query)


async def test_given_the_schema_when_listing_mutations_then_none_can_touch_the_audit_trail(
    gql: GraphQLClient,
) -> None:
    data = await gql.ok(
        """{ __schema { mutationType { fields { name type { name ofType { name } }
             args { name type { name ofType { name ofType { name } } } } } } } }"""
    )

    fields = data["__schema"]["mutationType"]["fields"]
    text = repr(fields).lower()
    assert fields, "the introspection answered"
    for word in ("audit", "access", "chain", "anchor", "archive"):
        assert word not in text, word


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ('{ auditLogs(filter: {entity: "products\\u0000"}) { totalCount } }', "entity"),
        ('{ auditLogs(filter: {requestId: "r\\u001b[2J"}) { totalCount } }', "requestId"),
        ('{ accessLogs(filter: {operationName: "Op\\u0000"}) { totalCount } }', "operationName"),
        ('{ accessLogs(filter: {requestId: "%s"}) { totalCount } }' % ("x" * 257), "requestId"),
    ],
)
async def test_given_control_characters_in_an_audit_filter_when_queried_then_bad_user_input(
    gql: GraphQLClient, query: str, field: str
) -> None:
    error = await gql.error(query)

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]
