"""Values that do not fit their type: timestamps past the UTC range, malformed dates,
Int overflow, non-finite decimals, wrong enums, page sizes, and variables of the wrong
shape. Variables that do not coerce are BAD_USER_INPUT; literals in the document that do
not fit are refused by validation."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.catalogue import BAD_USER_INPUT, VALIDATION_FAILED, Case, op, post
from tests.e2e.catalogue import operations as ops
from tests.e2e.catalogue.operations import product_input, role_input, task_input

INT_MAX = 2**31 - 1


def refused(case_id: str, query: str, variables: dict[str, Any] | None = None) -> Case:
    """Variables the server must refuse as BAD_USER_INPUT."""
    return op(case_id, query, variables, code=BAD_USER_INPUT)


def invalid(case_id: str, query: str) -> Case:
    """A document whose literals do not fit the schema."""
    return op(case_id, query, code=VALIDATION_FAILED)


LOGS = {"audit-logs": ops.AUDIT_LOGS, "access-logs": ops.ACCESS_LOGS}
OVERFLOWING = {
    "year-1-at-plus-14": "0001-01-01T00:00:00+14:00",
    "year-9999-at-minus-23-59": "9999-12-31T23:59:59-23:59",
}
MALFORMED_DATETIMES: dict[str, Any] = {
    "words": "not a date",
    "month-13": "2024-13-01T00:00:00Z",
    "february-30": "2024-02-30T00:00:00Z",
    "hour-25": "2024-01-01T25:00:00Z",
    "offset-25-hours": "2024-01-01T00:00:00+25:00",
    "year-0": "0000-01-01T00:00:00Z",
    "year-10000": "10000-01-01T00:00:00Z",
    "empty": "",
    "duration": "P1D",
    "integer": 1700000000,
    "boolean": True,
    "object": {"at": "2024-01-01T00:00:00Z"},
}

DATETIMES = [
    *(
        refused(f"{log}-{bound}-{name}", query, {"f": {bound: stamp}})
        for log, query in LOGS.items()
        for bound in ("occurredAfter", "occurredBefore")
        for name, stamp in OVERFLOWING.items()
    ),
    # Typed into the document, a bad value fails validation, like every other literal.
    op(
        "audit-logs-literal-occurredAfter-year-1-at-plus-14",
        '{ auditLogs(filter: {occurredAfter: "0001-01-01T00:00:00+14:00"}) { totalCount } }',
        code=VALIDATION_FAILED,
        message="out of range once converted to UTC",
    ),
    op(
        "access-logs-literal-occurredBefore-year-9999-at-minus-23-59",
        '{ accessLogs(filter: {occurredBefore: "9999-12-31T23:59:59-23:59"}) { totalCount } }',
        code=VALIDATION_FAILED,
        message="out of range once converted to UTC",
    ),
    *(
        refused(f"{log}-occurredAfter-{name}", query, {"f": {"occurredAfter": value}})
        for log, query in LOGS.items()
        for name, value in MALFORMED_DATETIMES.items()
        if log == "audit-logs" or name in ("words", "february-30", "year-10000", "integer")
    ),
]

DATES = [
    *(
        refused(f"tasks-due-before-{name}", ops.TASKS, {"f": {"dueBefore": value}})
        for name, value in {
            "february-30": "2024-02-30",
            "year-0": "0000-01-01",
            "year-10000": "10000-01-01",
            "words": "tomorrow",
            "a-datetime": "2024-01-01T00:00:00Z",
            "integer": 20240101,
            "empty": "",
        }.items()
    ),
    refused("tasks-due-after-month-0", ops.TASKS, {"f": {"dueAfter": "2024-00-10"}}),
    refused(
        "create-task-due-date-words", ops.CREATE_TASK, {"input": task_input(dueDate="yesterday")}
    ),
    refused(
        "create-task-due-date-february-30",
        ops.CREATE_TASK,
        {"input": task_input(dueDate="2023-02-30")},
    ),
]

PAGES = [
    refused("first-past-int32", ops.PRODUCTS, {"first": INT_MAX + 1}),
    refused("first-below-int32", ops.PRODUCTS, {"first": -(2**31) - 1}),
    refused("first-int32-max", ops.PRODUCTS, {"first": INT_MAX}),
    refused("first-huge", ops.PRODUCTS, {"first": 10**30}),
    refused("first-fraction", ops.PRODUCTS, {"first": 1.5}),
    refused("first-string", ops.PRODUCTS, {"first": "5"}),
    refused("first-boolean", ops.PRODUCTS, {"first": True}),
    refused("first-list", ops.PRODUCTS, {"first": [5]}),
    refused("first-negative", ops.PRODUCTS, {"first": -1}),
    refused("first-101", ops.PRODUCTS, {"first": 101}),
    refused("last-negative", ops.PRODUCTS_BACKWARDS, {"last": -5}),
    refused("last-101", ops.PRODUCTS_BACKWARDS, {"last": 101}),
    refused("last-int32-min", ops.PRODUCTS_BACKWARDS, {"last": -(2**31)}),
    refused("first-and-last-together", "query P { products(first: 2, last: 2) { totalCount } }"),
    refused("first-literal-int32-min", "query P { products(first: -2147483648) { totalCount } }"),
    refused(
        "nested-tasks-first-101",
        "query C { customers(first: 1) { edges { node { tasks(first: 101) { totalCount } } } } }",
    ),
    refused(
        "nested-product-tasks-last-negative",
        "query P { products(first: 1) { edges { node { tasks(last: -1) { totalCount } } } } }",
    ),
    refused("users-first-101", "query U { users(first: 101) { totalCount } }"),
    refused("audit-logs-first-negative", "query A { auditLogs(first: -3) { totalCount } }"),
    invalid("first-literal-past-int32", "query P { products(first: 2147483648) { totalCount } }"),
    invalid("first-literal-string", 'query P { products(first: "5") { totalCount } }'),
    invalid("first-literal-fraction", "query P { products(first: 1.5) { totalCount } }"),
    invalid("first-literal-list", "query P { products(first: [1]) { totalCount } }"),
]

NUMBERS = [
    refused(
        "create-product-stock-past-int32",
        ops.CREATE_PRODUCT,
        {"input": product_input(stock=INT_MAX + 1)},
    ),
    refused(
        "create-product-stock-negative", ops.CREATE_PRODUCT, {"input": product_input(stock=-1)}
    ),
    refused(
        "create-product-stock-over-max",
        ops.CREATE_PRODUCT,
        {"input": product_input(stock=1_000_000_001)},
    ),
    refused("create-product-stock-string", ops.CREATE_PRODUCT, {"input": product_input(stock="1")}),
    refused(
        "create-product-stock-fraction", ops.CREATE_PRODUCT, {"input": product_input(stock=1.5)}
    ),
    refused(
        "update-product-expected-version-past-int32",
        ops.UPDATE_PRODUCT,
        {"id": "<<product>>", "input": {"name": "X", "expectedVersion": INT_MAX + 1}},
    ),
    refused(
        "access-logs-status-code-past-int32", ops.ACCESS_LOGS, {"f": {"statusCode": INT_MAX + 1}}
    ),
    *(
        refused(
            f"create-product-price-{name}",
            ops.CREATE_PRODUCT,
            {"input": product_input(price=price)},
        )
        for name, price in {
            "words": "abc",
            "nan": "NaN",
            "signalling-nan": "sNaN",
            "infinity": "Infinity",
            "minus-infinity": "-Infinity",
            "huge-exponent": "1e999999",
            "negative": "-1.00",
            "three-decimals": "1.001",
            "empty": "",
            "41-digits": "1" * 41,
            "over-max": "10000000000.00",
            "boolean": True,
            "object": {"amount": "1.00"},
            "list": ["1.00"],
        }.items()
    ),
    refused("products-min-price-words", ops.PRODUCTS, {"f": {"minPrice": "cheap"}}),
    refused("products-max-price-nan", ops.PRODUCTS, {"f": {"maxPrice": "NaN"}}),
    refused("products-min-price-negative", ops.PRODUCTS, {"f": {"minPrice": "-5"}}),
    refused("products-is-active-string", ops.PRODUCTS, {"f": {"isActive": "yes"}}),
    refused("products-is-active-number", ops.PRODUCTS, {"f": {"isActive": 1}}),
    refused("access-logs-has-errors-string", ops.ACCESS_LOGS, {"f": {"hasErrors": "true"}}),
    refused(
        "update-product-price-infinity",
        ops.UPDATE_PRODUCT,
        {"id": "<<product>>", "input": {"price": "Infinity"}},
    ),
]


def number_in_body(case_id: str, query: str, variables: str) -> Case:
    """Variables spelt as raw JSON, for numbers `json.dumps` would not write."""
    body = b'{"query":' + json.dumps(query).encode() + b',"variables":' + variables.encode() + b"}"
    return post(case_id, body, status=200, code=BAD_USER_INPUT)


OVERFLOWING_JSON = [
    number_in_body("first-json-1e400", ops.PRODUCTS, '{"first":1e400}'),
    number_in_body(
        "create-product-price-json-1e400",
        ops.CREATE_PRODUCT,
        '{"input":{"sku":"FLT-0001","name":"F","price":1e400}}',
    ),
    number_in_body(
        "create-product-price-json-minus-1e400",
        ops.CREATE_PRODUCT,
        '{"input":{"sku":"FLT-0002","name":"F","price":-1e400}}',
    ),
]

ORDER = "query P($o: [ProductOrder!]) { products(first: 2, orderBy: $o) { totalCount } }"
ENUMS = [
    refused("order-by-unknown-field", ORDER, {"o": [{"field": "NOPE"}]}),
    refused("order-by-lowercase-field", ORDER, {"o": [{"field": "name"}]}),
    refused("order-by-field-number", ORDER, {"o": [{"field": 1}]}),
    refused("order-by-unknown-direction", ORDER, {"o": [{"field": "NAME", "direction": "UP"}]}),
    refused("order-by-not-a-list-of-objects", ORDER, {"o": ["NAME"]}),
    refused("tasks-status-lowercase", ops.TASKS, {"f": {"status": ["done"]}}),
    refused("tasks-priority-unknown", ops.TASKS, {"f": {"priority": ["CRITICAL"]}}),
    refused(
        "create-task-status-trailing-space", ops.CREATE_TASK, {"input": task_input(status="DONE ")}
    ),
    refused("audit-logs-action-unknown", ops.AUDIT_LOGS, {"f": {"action": "CREATE"}}),
    refused(
        "create-role-unknown-module",
        ops.CREATE_ROLE,
        {"input": role_input(grants=[{"module": "EVERYTHING"}])},
    ),
    refused(
        "create-role-read-is-not-an-action",
        ops.CREATE_ROLE,
        {"input": role_input(grants=[{"module": "PRODUCTS", "actions": ["READ"]}])},
    ),
    invalid(
        "order-by-literal-unknown-field", "{ products(orderBy: [{field: NOPE}]) { totalCount } }"
    ),
    invalid(
        "order-by-literal-string-for-enum",
        '{ products(orderBy: [{field: "NAME"}]) { totalCount } }',
    ),
    invalid("tasks-literal-lowercase-status", "{ tasks(filter: {status: [done]}) { totalCount } }"),
]

SHAPES = [
    refused("variable-required-missing", ops.PRODUCT, {}),
    refused("variable-required-null", ops.PRODUCT, {"id": None}),
    refused("variable-misspelt-name", ops.PRODUCT, {"ID": "<<product>>"}),
    refused("variable-input-unknown-field", ops.PRODUCTS, {"f": {"search": "x", "nope": 1}}),
    refused("variable-input-is-a-string", ops.PRODUCTS, {"f": "search"}),
    refused("variable-input-is-a-list", ops.PRODUCTS, {"f": [{"search": "x"}]}),
    refused("variable-string-given-an-object", ops.PRODUCTS, {"f": {"search": {"a": 1}}}),
    refused("variable-string-given-a-number", ops.PRODUCTS, {"f": {"search": 5}}),
    refused("variable-string-given-a-list", ops.PRODUCTS, {"f": {"search": ["a"]}}),
    refused("variable-id-given-a-number", ops.PRODUCT, {"id": 1}),
    refused("variable-id-given-a-boolean", ops.PRODUCT, {"id": True}),
    refused(
        "create-product-missing-name",
        ops.CREATE_PRODUCT,
        {"input": {"sku": "MISS-0001", "price": "1.00"}},
    ),
    refused(
        "create-product-missing-price",
        ops.CREATE_PRODUCT,
        {"input": {"sku": "MISS-0002", "name": "No price"}},
    ),
    refused("create-product-null-name", ops.CREATE_PRODUCT, {"input": product_input(name=None)}),
    refused("create-product-null-stock", ops.CREATE_PRODUCT, {"input": product_input(stock=None)}),
    refused("create-product-input-null", ops.CREATE_PRODUCT, {"input": None}),
    refused(
        "create-task-nested-list-of-ids",
        ops.CREATE_TASK,
        {"input": task_input(productIds=[["<<product>>"]])},
    ),
    refused(
        "create-task-null-in-id-list", ops.CREATE_TASK, {"input": task_input(productIds=[None])}
    ),
    refused(
        "update-product-explicit-null-name",
        ops.UPDATE_PRODUCT,
        {"id": "<<product>>", "input": {"name": None}},
    ),
    refused(
        "update-product-explicit-null-sku",
        ops.UPDATE_PRODUCT,
        {"id": "<<product>>", "input": {"sku": None}},
    ),
    refused(
        "update-product-explicit-null-price",
        ops.UPDATE_PRODUCT,
        {"id": "<<product>>", "input": {"price": None}},
    ),
    refused(
        "update-customer-explicit-null-email",
        ops.UPDATE_CUSTOMER,
        {"id": "<<customer>>", "input": {"email": None}},
    ),
    refused(
        "update-task-explicit-null-title",
        ops.UPDATE_TASK,
        {"id": "<<task>>", "input": {"title": None}},
    ),
]

CASES = [*DATETIMES, *DATES, *PAGES, *NUMBERS, *OVERFLOWING_JSON, *ENUMS, *SHAPES]
