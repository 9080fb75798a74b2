"""The operations the cases send, and valid inputs that a case spoils one field of.

Every input that would create something gets a name no other case uses, so a write that
is wrongly let through fails its own case and no other.
"""

from __future__ import annotations

from itertools import count
from typing import Any

PRODUCTS = (
    "query Products($f: ProductFilter, $after: String, $first: Int) "
    "{ products(first: $first, after: $after, filter: $f) { totalCount } }"
)
PRODUCTS_BY_NAME = (
    "query ProductsByName($after: String) "
    "{ products(first: 5, after: $after, orderBy: [{field: NAME}]) { totalCount } }"
)
PRODUCTS_BACKWARDS = (
    "query ProductsBack($before: String, $last: Int) "
    "{ products(last: $last, before: $before) { totalCount } }"
)
CUSTOMERS = (
    "query Customers($f: CustomerFilter, $after: String) "
    "{ customers(first: 5, after: $after, filter: $f) { totalCount } }"
)
TASKS = "query Tasks($f: TaskFilter) { tasks(first: 5, filter: $f) { totalCount } }"
AUDIT_LOGS = "query Audit($f: AuditLogFilter) { auditLogs(first: 5, filter: $f) { totalCount } }"
ACCESS_LOGS = (
    "query Access($f: AccessLogFilter) { accessLogs(first: 5, filter: $f) { totalCount } }"
)
PRODUCT = "query Product($id: ID!) { product(id: $id) { id } }"
NODE = "query Node($id: ID!) { node(id: $id) { id } }"
ME = "query Me { me { email } }"

CREATE_PRODUCT = (
    "mutation CreateProduct($input: CreateProductInput!) "
    "{ createProduct(input: $input) { product { id } } }"
)
UPDATE_PRODUCT = (
    "mutation UpdateProduct($id: ID!, $input: UpdateProductInput!) "
    "{ updateProduct(id: $id, input: $input) { product { id } } }"
)
DELETE_PRODUCT = "mutation DeleteProduct($id: ID!) { deleteProduct(id: $id) { deletedId } }"
CREATE_CUSTOMER = (
    "mutation CreateCustomer($input: CreateCustomerInput!) "
    "{ createCustomer(input: $input) { customer { id } } }"
)
UPDATE_CUSTOMER = (
    "mutation UpdateCustomer($id: ID!, $input: UpdateCustomerInput!) "
    "{ updateCustomer(id: $id, input: $input) { customer { id } } }"
)
DELETE_CUSTOMER = "mutation DeleteCustomer($id: ID!) { deleteCustomer(id: $id) { deletedId } }"
CREATE_TASK = (
    "mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { task { id } } }"
)
UPDATE_TASK = (
    "mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) "
    "{ updateTask(id: $id, input: $input) { task { id } } }"
)
DELETE_TASK = "mutation DeleteTask($id: ID!) { deleteTask(id: $id) { deletedId } }"
CREATE_USER = (
    "mutation CreateUser($input: CreateUserInput!) { createUser(input: $input) { user { id } } }"
)
UPDATE_USER = (
    "mutation UpdateUser($id: ID!, $input: UpdateUserInput!) "
    "{ updateUser(id: $id, input: $input) { user { id } } }"
)
CREATE_ROLE = (
    "mutation CreateRole($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }"
)
UPDATE_ROLE = (
    "mutation UpdateRole($id: ID!, $input: UpdateRoleInput!) "
    "{ updateRole(id: $id, input: $input) { role { id } } }"
)
DELETE_ROLE = "mutation DeleteRole($id: ID!) { deleteRole(id: $id) { deletedId } }"
ASSIGN_ROLE = (
    "mutation AssignRole($user: ID!, $role: ID!) "
    "{ assignRole(userId: $user, roleId: $role) { user { id } } }"
)
UNASSIGN_ROLE = (
    "mutation UnassignRole($user: ID!, $role: ID!) "
    "{ unassignRole(userId: $user, roleId: $role) { user { id } } }"
)
LOGIN = (
    "mutation Login($email: String!, $password: String!) "
    "{ login(email: $email, password: $password) { accessToken } }"
)
REFRESH = "mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { accessToken } }"
LOGOUT = "mutation Logout($token: String) { logout(refreshToken: $token) }"
CHANGE_PASSWORD = (
    "mutation ChangePassword($current: String!, $new: String!) "
    "{ changePassword(currentPassword: $current, newPassword: $new) }"
)

_serial = count(1)


def product_input(**changes: Any) -> dict[str, Any]:
    """A valid CreateProductInput with an unused SKU, then `changes`."""
    return {"sku": f"NEW-{next(_serial):04d}", "name": "New widget", "price": "1.00", **changes}


def customer_input(**changes: Any) -> dict[str, Any]:
    """A valid CreateCustomerInput with an unused email, then `changes`."""
    return {"name": "New customer", "email": f"new{next(_serial)}@catalogue.test", **changes}


def task_input(**changes: Any) -> dict[str, Any]:
    """A valid CreateTaskInput, then `changes`."""
    return {"title": f"New task {next(_serial)}", **changes}


def role_input(**changes: Any) -> dict[str, Any]:
    """A valid CreateRoleInput with an unused name, then `changes`."""
    return {"name": f"new-role-{next(_serial)}", **changes}


def user_input(**changes: Any) -> dict[str, Any]:
    """A valid CreateUserInput with an unused email, then `changes`."""
    return {
        "email": f"new-user{next(_serial)}@catalogue.test",
        "password": "a-long-enough-password",
        **changes,
    }
