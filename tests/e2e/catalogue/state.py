"""Writes that clash with stored state (CONFLICT), address nothing (NOT_FOUND) or refer
to nothing (BAD_USER_INPUT), and credentials that do not match (UNAUTHENTICATED)."""

from __future__ import annotations

from typing import Any

from tests.e2e.catalogue import (
    BAD_USER_INPUT,
    CONFLICT,
    NOT_FOUND,
    UNAUTHENTICATED,
    Case,
    b64,
    op,
)
from tests.e2e.catalogue import operations as ops
from tests.e2e.catalogue.operations import (
    customer_input,
    product_input,
    role_input,
    task_input,
    user_input,
)

# Well-formed keys that no row has: the largest id the columns hold.
MISSING = {
    name: b64(f"{name}:2147483647") for name in ("Product", "Customer", "Task", "User", "Role")
}


def conflict(case_id: str, query: str, variables: dict[str, Any]) -> Case:
    """A write that clashes with what is stored."""
    return op(case_id, query, variables, code=CONFLICT)


def not_found(case_id: str, query: str, variables: dict[str, Any]) -> Case:
    """A write that names an object that does not exist."""
    return op(case_id, query, variables, code=NOT_FOUND)


CONFLICTS = [
    conflict(
        "create-product-duplicate-sku", ops.CREATE_PRODUCT, {"input": product_input(sku="CAT-0001")}
    ),
    conflict(
        "create-product-duplicate-sku-other-case",
        ops.CREATE_PRODUCT,
        {"input": product_input(sku="cat-0001")},
    ),
    conflict(
        "update-product-sku-to-another-products",
        ops.UPDATE_PRODUCT,
        {"id": "<<product2>>", "input": {"sku": "CAT-0001"}},
    ),
    conflict(
        "create-customer-duplicate-email",
        ops.CREATE_CUSTOMER,
        {"input": customer_input(email="buyer@catalogue.test")},
    ),
    conflict(
        "create-customer-duplicate-email-other-case",
        ops.CREATE_CUSTOMER,
        {"input": customer_input(email="BUYER@Catalogue.Test")},
    ),
    conflict(
        "update-customer-email-to-another-customers",
        ops.UPDATE_CUSTOMER,
        {"id": "<<customer2>>", "input": {"email": "buyer@catalogue.test"}},
    ),
    conflict(
        "create-role-duplicate-name", ops.CREATE_ROLE, {"input": role_input(name="catalogue-role")}
    ),
    conflict(
        "update-role-name-to-another-roles",
        ops.UPDATE_ROLE,
        {"id": "<<role>>", "input": {"name": "catalogue-viewer"}},
    ),
    conflict(
        "create-user-duplicate-email",
        ops.CREATE_USER,
        {"input": user_input(email="admin@catalogue.test")},
    ),
    conflict(
        "create-user-duplicate-email-other-case",
        ops.CREATE_USER,
        {"input": user_input(email="ADMIN@catalogue.test")},
    ),
    conflict(
        "update-product-stale-expected-version",
        ops.UPDATE_PRODUCT,
        {"id": "<<product>>", "input": {"name": "Stale", "expectedVersion": 2}},
    ),
    conflict(
        "update-product-expected-version-0",
        ops.UPDATE_PRODUCT,
        {"id": "<<product>>", "input": {"name": "Stale", "expectedVersion": 0}},
    ),
    conflict(
        "update-product-expected-version-negative",
        ops.UPDATE_PRODUCT,
        {"id": "<<product>>", "input": {"name": "Stale", "expectedVersion": -1}},
    ),
    conflict(
        "update-customer-stale-expected-version",
        ops.UPDATE_CUSTOMER,
        {"id": "<<customer>>", "input": {"name": "Stale", "expectedVersion": 7}},
    ),
    conflict(
        "update-task-stale-expected-version",
        ops.UPDATE_TASK,
        {"id": "<<task>>", "input": {"title": "Stale", "expectedVersion": 99}},
    ),
    conflict("delete-product-a-task-uses", ops.DELETE_PRODUCT, {"id": "<<product>>"}),
    conflict("delete-customer-with-tasks", ops.DELETE_CUSTOMER, {"id": "<<customer>>"}),
]

NOT_FOUND_CASES = [
    not_found(
        "update-product-missing",
        ops.UPDATE_PRODUCT,
        {"id": MISSING["Product"], "input": {"name": "Ghost"}},
    ),
    not_found("delete-product-missing", ops.DELETE_PRODUCT, {"id": MISSING["Product"]}),
    not_found(
        "update-customer-missing",
        ops.UPDATE_CUSTOMER,
        {"id": MISSING["Customer"], "input": {"name": "Ghost"}},
    ),
    not_found("delete-customer-missing", ops.DELETE_CUSTOMER, {"id": MISSING["Customer"]}),
    not_found(
        "update-task-missing", ops.UPDATE_TASK, {"id": MISSING["Task"], "input": {"title": "Ghost"}}
    ),
    not_found("delete-task-missing", ops.DELETE_TASK, {"id": MISSING["Task"]}),
    not_found(
        "update-user-missing",
        ops.UPDATE_USER,
        {"id": MISSING["User"], "input": {"fullName": "Ghost"}},
    ),
    not_found(
        "update-role-missing", ops.UPDATE_ROLE, {"id": MISSING["Role"], "input": {"name": "ghost"}}
    ),
    not_found("delete-role-missing", ops.DELETE_ROLE, {"id": MISSING["Role"]}),
    not_found(
        "assign-role-missing-user", ops.ASSIGN_ROLE, {"user": MISSING["User"], "role": "<<role>>"}
    ),
    not_found(
        "assign-role-missing-role",
        ops.ASSIGN_ROLE,
        {"user": "<<viewer_user>>", "role": MISSING["Role"]},
    ),
]


# A reference to a row that does not exist is an input of the write, not its target.
MISSING_REFERENCES = [
    op(
        "create-task-missing-product",
        ops.CREATE_TASK,
        {"input": task_input(productIds=[MISSING["Product"]])},
        code=BAD_USER_INPUT,
    ),
    op(
        "create-task-missing-customer",
        ops.CREATE_TASK,
        {"input": task_input(customerId=MISSING["Customer"])},
        code=BAD_USER_INPUT,
    ),
    op(
        "create-task-missing-assignee",
        ops.CREATE_TASK,
        {"input": task_input(assigneeId=MISSING["User"])},
        code=BAD_USER_INPUT,
    ),
]


def anonymous(case_id: str, query: str, variables: dict[str, Any]) -> Case:
    """Credentials that match nothing, sent without a token."""
    return op(case_id, query, variables, code=UNAUTHENTICATED, caller=None)


CREDENTIALS = [
    anonymous(
        "login-wrong-password",
        ops.LOGIN,
        {"email": "admin@catalogue.test", "password": "not-the-password"},
    ),
    anonymous(
        "login-unknown-email",
        ops.LOGIN,
        {"email": "nobody@catalogue.test", "password": "long-enough-password"},
    ),
    anonymous(
        "login-password-129-chars",
        ops.LOGIN,
        {"email": "admin@catalogue.test", "password": "p" * 129},
    ),
    anonymous(
        "login-email-10000-chars",
        ops.LOGIN,
        {"email": "e" * 10_000 + "@catalogue.test", "password": "long-enough-password"},
    ),
    anonymous("login-empty-credentials", ops.LOGIN, {"email": "", "password": ""}),
    anonymous("refresh-unknown-token", ops.REFRESH, {"token": "a" * 43}),
    anonymous("refresh-empty-token", ops.REFRESH, {"token": ""}),
    anonymous("refresh-token-10000-chars", ops.REFRESH, {"token": "r" * 10_000}),
    anonymous("refresh-with-an-access-token", ops.REFRESH, {"token": "<<admin>>"}),
    anonymous("logout-unknown-refresh-token", ops.LOGOUT, {"token": "a" * 43}),
]

CASES = [*CONFLICTS, *NOT_FOUND_CASES, *MISSING_REFERENCES, *CREDENTIALS]
