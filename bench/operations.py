"""The measured GraphQL operations: their documents and the request bodies each run cycles over.

The floor serves exactly these documents (it looks them up by text instead of parsing
GraphQL), so both sides of every comparison answer byte-for-byte the same request.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

Q1: Final = "Q1"
Q2: Final = "Q2"
Q3: Final = "Q3"
M1: Final = "M1"
W1: Final = "W1"
OPERATIONS: Final = (Q1, Q2, Q3, M1)
DESCRIPTIONS: Final = {
    Q1: "flat: products(first: 100) { id sku name price }",
    Q2: "nested: customers(first: N) { tasks(first: 10) { products } }",
    Q3: "one customer by node(id:) with the same nesting",
    M1: "updateTask(id:, input: {status}) { task { id status version } }",
    W1: "createProduct(input: {sku, name, price}) { product { id } }, a new SKU each",
}
DEFAULT_PAGE_SIZE: Final = 50
PAGE_SIZES: Final = (10, 50, 100)
TASKS_PER_CUSTOMER_PAGE: Final = 10
FLAT_PAGE_SIZE: Final = 100
# Statuses the mutation alternates between; the domain allows any change of status.
STATUS_FLIP: Final = {"TODO": "IN_PROGRESS", "IN_PROGRESS": "TODO"}

FLAT_QUERY: Final = (
    f"{{ products(first: {FLAT_PAGE_SIZE}) {{ edges {{ node {{ id sku name price }} }} }} }}"
)
_TASKS_SELECTION: Final = (
    f"tasks(first: {TASKS_PER_CUSTOMER_PAGE}) "
    "{ edges { node { id title status products { id name price } } } }"
)
CUSTOMER_QUERY: Final = (
    "query ($id: ID!) { node(id: $id) { ... on Customer { id name email "
    + _TASKS_SELECTION
    + " } } }"
)
UPDATE_MUTATION: Final = (
    "mutation ($id: ID!, $status: TaskStatus!) "
    "{ updateTask(id: $id, input: {status: $status}) { task { id status version } } }"
)
CREATE_MUTATION: Final = (
    "mutation ($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }"
)
LOGIN_MUTATION: Final = (
    "mutation ($email: String!, $password: String!) "
    "{ login(email: $email, password: $password) { accessToken } }"
)


def nested_query(page_size: int) -> str:
    """Q2 for a page of `page_size` customers."""
    return (
        f"{{ customers(first: {page_size}) {{ edges {{ node {{ id name email "
        + _TASKS_SELECTION
        + " } } } }"
    )


def global_id(type_name: str, pk: int) -> str:
    """The Relay ID of `pk` of `type_name`, as graph/relay.py encodes it."""
    return binascii.b2a_base64(f"{type_name}:{pk}".encode(), newline=False).decode()


def decode_global_id(value: str) -> tuple[str, int]:
    """Split a Relay ID into its type name and key."""
    type_name, _, pk = base64.b64decode(value).decode().partition(":")
    return type_name, int(pk)


def body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    """A GraphQL POST body."""
    payload: dict[str, Any] = {"query": query}
    if variables:
        payload["variables"] = variables
    return orjson.dumps(payload)


@dataclass(frozen=True, slots=True)
class Workload:
    """One measured operation: its name, its page size and the bodies a run cycles over."""

    operation: str
    bodies: tuple[bytes, ...]
    page_size: int | None = None

    @property
    def key(self) -> str:
        """A label unique within a run, e.g. `Q2` or `Q2@100`."""
        if self.operation == Q2 and self.page_size not in (None, DEFAULT_PAGE_SIZE):
            return f"{self.operation}@{self.page_size}"
        return self.operation


def flat_workload() -> Workload:
    """Q1: the first page of the catalogue."""
    return Workload(Q1, (body(FLAT_QUERY),), FLAT_PAGE_SIZE)


def nested_workload(page_size: int = DEFAULT_PAGE_SIZE) -> Workload:
    """Q2 at one page size."""
    return Workload(Q2, (body(nested_query(page_size)),), page_size)


def customer_workload(customer_ids: Sequence[int]) -> Workload:
    """Q3, cycling over `customer_ids`."""
    bodies = tuple(body(CUSTOMER_QUERY, {"id": global_id("Customer", pk)}) for pk in customer_ids)
    return Workload(Q3, bodies)


def update_workload(current_statuses: Sequence[tuple[int, str]]) -> Workload:
    """M1: two passes over the tasks, each request flipping one task's status.

    The first pass moves every task to the other status and the second moves it back, so
    every request really changes its row while the data stays the same size.
    """
    first_pass = [(pk, STATUS_FLIP[status]) for pk, status in current_statuses]
    second_pass = list(current_statuses)
    bodies = tuple(
        body(UPDATE_MUTATION, {"id": global_id("Task", pk), "status": status})
        for pk, status in first_pass + second_pass
    )
    return Workload(M1, bodies)


def create_workload(prefix: str, count: int) -> Workload:
    """W1: `count` createProduct bodies, each with a SKU of its own (`<prefix>-<n>`).

    A SKU sent twice would be refused as taken, so a run must never cycle past the end.
    """
    bodies = tuple(
        body(
            CREATE_MUTATION,
            {"input": {"sku": f"{prefix}-{n}", "name": f"Burst {n}", "price": "9.99"}},
        )
        for n in range(count)
    )
    return Workload(W1, bodies)


def login_body(email: str, password: str) -> bytes:
    """The login mutation's body."""
    return body(LOGIN_MUTATION, {"email": email, "password": password})
