"""Customer GraphQL types."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from auth.rbac import Module
from domain.customers.model import Customer
from graph.context import Info, context_of
from graph.permissions import CanRead, guard
from graph.relay import (
    Connection,
    ConnectionArgs,
    Node,
    build_connection,
    connection_args,
    encode_global_id,
)
from graph.tasks.inputs import TaskFilterInput, TaskOrder, task_criteria, task_page

if TYPE_CHECKING:
    from graph.tasks.types import TaskType

TYPE_NAME = "Customer"


@strawberry.type(name="Customer")
class CustomerType(Node):
    """Someone tasks are done for."""

    id: strawberry.ID
    name: str
    email: str
    phone: str | None
    company: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]

    @strawberry.field(
        description="Null, with a FORBIDDEN error at this path, without TASKS read.",
        extensions=guard(CanRead(Module.TASKS)),
    )
    @connection_args
    def tasks(
        self,
        info: Info,
        args: ConnectionArgs,
        filter: TaskFilterInput | None = None,
        order_by: list[TaskOrder] | None = None,
    ) -> Connection[Annotated[TaskType, strawberry.lazy("graph.tasks.types")]] | None:
        from graph.tasks.types import task_node

        loaders = context_of(info).loaders
        criteria = task_criteria(filter)
        page = task_page(args, order_by)
        # Awaitable even when prefetched: graphql-core completes each customer's tasks in a
        # task of its own, so no synchronous completion runs deep enough to make CPython
        # allocate and free a frame-stack chunk per call (bench/README.md).
        return loaders.tasks_by_customer.load_then(  # type: ignore[return-value]
            (self.pk, (criteria, page)),
            lambda found: build_connection(
                found, task_node, lambda: loaders.task_count_by_customer.load((self.pk, criteria))
            ),
        )


def customer_node(customer: Customer) -> CustomerType:
    """Map a domain customer to its GraphQL type."""
    return CustomerType(
        id=encode_global_id(TYPE_NAME, customer.id),
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        company=customer.company,
        version=customer.version,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        pk=customer.id,
    )


@strawberry.type
class CustomerPayload:
    """The customer a mutation created or changed."""

    customer: CustomerType
