"""Global IDs in anything but their one canonical spelling, and cursors that are not ours.

A key is ASCII digits without a leading zero; `int()` would also read "²", Arabic-Indic
digits, "0001", "+1" and " 1", making one object answer to many IDs. Every ID argument
of the schema refuses them with BAD_USER_INPUT, before any SQL.
"""

from __future__ import annotations

import base64
from typing import Any

from tests.e2e.catalogue import BAD_USER_INPUT, Build, Case, b64, op
from tests.e2e.catalogue import operations as ops
from tests.e2e.catalogue.operations import task_input, user_input

# Spellings of a key of type `{T}`, sent base64-encoded like a real global ID.
ENCODED: dict[str, str] = {
    "superscript-two": "{T}:\u00b2",
    "arabic-indic-digits": "{T}:\u0661\u0662",
    "fullwidth-digit": "{T}:\uff11",
    "leading-zeros": "{T}:0001",
    "plus-sign": "{T}:+1",
    "minus-sign": "{T}:-1",
    "leading-space": "{T}: 1",
    "trailing-newline": "{T}:1\n",
    "huge-number": "{T}:" + "9" * 30,
    "past-int32": "{T}:2147483648",
    "decimal-point": "{T}:1.0",
    "hex": "{T}:0x1",
    "no-key": "{T}:",
    "no-type": ":1",
    "no-separator": "{T}1",
    "two-separators": "{T}:1:2",
    "wrong-type": "Nope:1",
    "nul-after-key": "{T}:1\x00",
}
# Spellings sent as they are.
RAW: dict[str, str] = {
    "not-base64": "!!not-base64!!",
    "plain-text": "{T}:1",
    "empty": "",
    "invalid-utf8-inside": base64.b64encode(b"Product:\xff").decode(),
    "non-ascii-id": "\u0399D",
    "very-long": "QQ" * 5000,
}
MAIN = (*ENCODED, *RAW)
FEW = ("superscript-two", "leading-zeros", "huge-number", "not-base64", "empty", "wrong-type")


def spelt(name: str, type_name: str) -> str:
    """The spelling `name` of an ID of `type_name`."""
    if name in ENCODED:
        return b64(ENCODED[name].replace("{T}", type_name))
    return RAW[name].replace("{T}", type_name)


def refused(case_id: str, query: str, variables: dict[str, Any]) -> Case:
    """An ID the server must refuse as BAD_USER_INPUT."""
    return op(case_id, query, variables, code=BAD_USER_INPUT)


def argument(
    label: str, query: str, type_name: str, build: Build, names: tuple[str, ...] = FEW
) -> list[Case]:
    """One case per spelling, `build(id)` -> variables."""
    return [refused(f"id-{label}-{name}", query, build(spelt(name, type_name))) for name in names]


CASES = [
    # The places issue 10 names, with every spelling.
    *argument("product", ops.PRODUCT, "Product", lambda i: {"id": i}, MAIN),
    *argument("node", ops.NODE, "Product", lambda i: {"id": i}, MAIN),
    *argument(
        "delete-product",
        ops.DELETE_PRODUCT,
        "Product",
        lambda i: {"id": i},
        (
            "superscript-two",
            "arabic-indic-digits",
            "leading-zeros",
            "plus-sign",
            "huge-number",
            "wrong-type",
            "not-base64",
            "empty",
        ),
    ),
    *argument(
        "create-task-product-ids",
        ops.CREATE_TASK,
        "Product",
        lambda i: {"input": task_input(productIds=[i])},
        (
            "superscript-two",
            "arabic-indic-digits",
            "leading-zeros",
            "minus-sign",
            "huge-number",
            "not-base64",
            "empty",
        ),
    ),
    *argument(
        "tasks-product-filter",
        ops.TASKS,
        "Product",
        lambda i: {"f": {"productId": i}},
        (
            "superscript-two",
            "arabic-indic-digits",
            "leading-zeros",
            "leading-space",
            "huge-number",
            "not-base64",
            "empty",
        ),
    ),
    *argument(
        "audit-logs-actor-filter",
        ops.AUDIT_LOGS,
        "User",
        lambda i: {"f": {"actorId": i}},
        (
            "superscript-two",
            "arabic-indic-digits",
            "leading-zeros",
            "plus-sign",
            "huge-number",
            "not-base64",
            "empty",
        ),
    ),
    *argument(
        "assign-role-user",
        ops.ASSIGN_ROLE,
        "User",
        lambda i: {"user": i, "role": "<<role>>"},
        ("superscript-two", "arabic-indic-digits", "leading-zeros", "huge-number", "not-base64"),
    ),
    *argument(
        "assign-role-role",
        ops.ASSIGN_ROLE,
        "Role",
        lambda i: {"user": "<<viewer_user>>", "role": i},
        ("superscript-two", "leading-zeros", "huge-number", "not-base64"),
    ),
    # Every other ID argument of the schema.
    *argument(
        "customer",
        "query C($id: ID!) { customer(id: $id) { id } }",
        "Customer",
        lambda i: {"id": i},
    ),
    *argument("task", "query T($id: ID!) { task(id: $id) { id } }", "Task", lambda i: {"id": i}),
    *argument("user", "query U($id: ID!) { user(id: $id) { id } }", "User", lambda i: {"id": i}),
    *argument(
        "update-product",
        ops.UPDATE_PRODUCT,
        "Product",
        lambda i: {"id": i, "input": {"name": "Renamed"}},
        ("leading-zeros", "empty"),
    ),
    *argument(
        "update-customer",
        ops.UPDATE_CUSTOMER,
        "Customer",
        lambda i: {"id": i, "input": {"name": "Renamed"}},
        ("superscript-two", "empty"),
    ),
    *argument(
        "delete-customer",
        ops.DELETE_CUSTOMER,
        "Customer",
        lambda i: {"id": i},
        ("arabic-indic-digits", "not-base64"),
    ),
    *argument(
        "update-task",
        ops.UPDATE_TASK,
        "Task",
        lambda i: {"id": i, "input": {"title": "Renamed"}},
        ("leading-zeros", "empty"),
    ),
    *argument(
        "delete-task", ops.DELETE_TASK, "Task", lambda i: {"id": i}, ("plus-sign", "huge-number")
    ),
    *argument(
        "update-user",
        ops.UPDATE_USER,
        "User",
        lambda i: {"id": i, "input": {"fullName": "Renamed"}},
        ("superscript-two", "not-base64"),
    ),
    *argument(
        "update-role",
        ops.UPDATE_ROLE,
        "Role",
        lambda i: {"id": i, "input": {"name": "renamed"}},
        ("leading-zeros", "empty"),
    ),
    *argument(
        "delete-role",
        ops.DELETE_ROLE,
        "Role",
        lambda i: {"id": i},
        ("arabic-indic-digits", "huge-number"),
    ),
    *argument(
        "unassign-role-user",
        ops.UNASSIGN_ROLE,
        "User",
        lambda i: {"user": i, "role": "<<role>>"},
        ("leading-zeros", "not-base64"),
    ),
    *argument(
        "create-task-customer",
        ops.CREATE_TASK,
        "Customer",
        lambda i: {"input": task_input(customerId=i)},
        ("superscript-two", "empty"),
    ),
    *argument(
        "create-task-assignee",
        ops.CREATE_TASK,
        "User",
        lambda i: {"input": task_input(assigneeId=i)},
        ("leading-zeros", "wrong-type"),
    ),
    *argument(
        "unassign-role-role",
        ops.UNASSIGN_ROLE,
        "Role",
        lambda i: {"user": "<<viewer_user>>", "role": i},
        ("arabic-indic-digits", "empty"),
    ),
    *argument(
        "update-task-customer",
        ops.UPDATE_TASK,
        "Customer",
        lambda i: {"id": "<<task>>", "input": {"customerId": i}},
        ("leading-zeros", "wrong-type"),
    ),
    *argument(
        "update-task-assignee",
        ops.UPDATE_TASK,
        "User",
        lambda i: {"id": "<<task>>", "input": {"assigneeId": i}},
        ("superscript-two", "not-base64"),
    ),
    *argument(
        "nested-customer-tasks-product-filter",
        "query C($p: ID) { customers(first: 1) { edges { node {"
        " tasks(filter: {productId: $p}) { totalCount } } } } }",
        "Product",
        lambda i: {"p": i},
        ("superscript-two", "leading-zeros"),
    ),
    *argument(
        "update-task-product-ids",
        ops.UPDATE_TASK,
        "Product",
        lambda i: {"id": "<<task>>", "input": {"productIds": [i]}},
        ("arabic-indic-digits", "not-base64"),
    ),
    *argument(
        "create-user-role-ids",
        ops.CREATE_USER,
        "Role",
        lambda i: {"input": user_input(roleIds=[i])},
        ("superscript-two", "plus-sign"),
    ),
    *argument(
        "tasks-customer-filter",
        ops.TASKS,
        "Customer",
        lambda i: {"f": {"customerId": i}},
        ("leading-zeros", "not-base64"),
    ),
    *argument(
        "tasks-assignee-filter",
        ops.TASKS,
        "User",
        lambda i: {"f": {"assigneeId": i}},
        ("arabic-indic-digits", "empty"),
    ),
    *argument(
        "access-logs-user-filter",
        ops.ACCESS_LOGS,
        "User",
        lambda i: {"f": {"userId": i}},
        ("superscript-two", "huge-number"),
    ),
    # IDs of another type where one type is required.
    refused("id-product-given-a-customer-id", ops.PRODUCT, {"id": "<<customer>>"}),
    refused("id-delete-product-given-a-task-id", ops.DELETE_PRODUCT, {"id": "<<task>>"}),
    refused(
        "id-assign-role-given-two-user-ids",
        ops.ASSIGN_ROLE,
        {"user": "<<viewer_user>>", "role": "<<viewer_user>>"},
    ),
    refused(
        "id-tasks-product-filter-given-a-customer-id",
        ops.TASKS,
        {"f": {"productId": "<<customer>>"}},
    ),
    # An ID written as an Int literal is coerced to the string "1": not a global ID.
    op("id-product-int-literal", "{ product(id: 1) { id } }", code=BAD_USER_INPUT),
    op(
        "id-node-literal-superscript",
        '{ node(id: "UHJvZHVjdDrCsg==") { id } }',
        code=BAD_USER_INPUT,
    ),
]

# Cursors: opaque, made by the server for one ordering.
CURSORS = [
    refused("cursor-after-garbage", ops.PRODUCTS, {"after": "garbage"}),
    refused("cursor-after-empty", ops.PRODUCTS, {"after": ""}),
    refused("cursor-after-base64-junk", ops.PRODUCTS, {"after": b64("junk")}),
    refused("cursor-after-base64-json-array", ops.PRODUCTS, {"after": b64("[1, 2, 3]")}),
    refused("cursor-after-base64-huge-number", ops.PRODUCTS, {"after": b64("9" * 5000)}),
    refused("cursor-after-very-long", ops.PRODUCTS, {"after": "A" * 20_000}),
    refused("cursor-after-non-ascii", ops.PRODUCTS, {"after": "\u00e9\u00e8"}),
    refused("cursor-after-made-for-another-order", ops.PRODUCTS, {"after": "<<name_cursor>>"}),
    refused("cursor-before-garbage", ops.PRODUCTS_BACKWARDS, {"before": "garbage", "last": 2}),
    refused(
        "cursor-customers-after-a-products-cursor", ops.CUSTOMERS, {"after": "<<name_cursor>>"}
    ),
    refused(
        "cursor-tasks-after-garbage",
        "query T($a: String) { tasks(first: 2, after: $a) { totalCount } }",
        {"a": "!!"},
    ),
    refused(
        "cursor-audit-logs-after-garbage",
        "query A($a: String) { auditLogs(first: 2, after: $a) { totalCount } }",
        {"a": "garbage"},
    ),
    refused(
        "cursor-nested-tasks-after-garbage",
        "query C($a: String) { customers(first: 1) { edges { node { tasks(first: 1,"
        " after: $a) { totalCount } } } } }",
        {"a": "garbage"},
    ),
]

CASES += CURSORS
