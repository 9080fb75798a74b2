"""Task GraphQL types."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TypeVar

import strawberry

from auth.rbac import Module
from domain.tasks.model import Task, TaskPriority, TaskStatus
from graph.context import Info, context_of
from graph.customers.types import CustomerType, customer_node
from graph.permissions import CanRead, CanSeeUser, guard
from graph.products.types import ProductType, product_nodes
from graph.relay import Node, encode_global_id
from graph.tasks import inputs as _inputs  # noqa: F401 - registers the task enums
from graph.users.types import UserType, user_node

TYPE_NAME = "Task"
E = TypeVar("E")
N = TypeVar("N")


@strawberry.type(name="Task")
class TaskType(Node):
    """A piece of work."""

    id: strawberry.ID
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_date: datetime.date | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int | None]
    assignee_pk: strawberry.Private[int | None]

    @strawberry.field(
        description=(
            "Null when unset; null with a FORBIDDEN error at this path without CUSTOMERS read."
        ),
        extensions=guard(CanRead(Module.CUSTOMERS)),
    )
    def customer(self, info: Info) -> CustomerType | None:
        if self.customer_pk is None:
            return None
        return context_of(info).loaders.customer_by_id.then(  # type: ignore[return-value]
            self.customer_pk, _maybe(customer_node)
        )

    @strawberry.field(
        description=(
            "Null when unset; null with a FORBIDDEN error at this path without USERS read, "
            "unless it is the viewer."
        ),
        extensions=guard(CanSeeUser("assignee_pk")),
    )
    def assignee(self, info: Info) -> UserType | None:
        if self.assignee_pk is None:
            return None
        return context_of(info).loaders.user_by_id.then(  # type: ignore[return-value]
            self.assignee_pk, _maybe(user_node)
        )

    @strawberry.field(
        description="Null with a FORBIDDEN error at this path without PRODUCTS read.",
        extensions=guard(CanRead(Module.PRODUCTS)),
    )
    def products(self, info: Info) -> list[ProductType] | None:
        loaders = context_of(info).loaders
        return loaders.products_by_task.then(  # type: ignore[return-value]
            self.pk, lambda found: product_nodes(found, loaders.product_nodes)
        )


def _maybe(to_node: Callable[[E], N]) -> Callable[[E | None], N | None]:
    """`to_node`, passing None through."""
    return lambda found: None if found is None else to_node(found)


def task_node(task: Task) -> TaskType:
    """Map a domain task to its GraphQL type."""
    return TaskType(
        id=encode_global_id(TYPE_NAME, task.id),
        title=task.title,
        description=task.description,
        status=task.status,
        priority=task.priority,
        due_date=task.due_date,
        version=task.version,
        created_at=task.created_at,
        updated_at=task.updated_at,
        pk=task.id,
        customer_pk=task.customer_id,
        assignee_pk=task.assignee_id,
    )


@strawberry.type
class TaskPayload:
    """The task a mutation created or changed."""

    task: TaskType
