"""Task enums and inputs, apart from the types so customers can use them without a cycle."""

from __future__ import annotations

import datetime
from enum import Enum

import strawberry

from domain.pagination import PageRequest
from domain.tasks.model import ORDER_FIELDS, TaskFilter, TaskPriority, TaskStatus
from domain.tasks.service import prepare_task_filter
from graph.common import SortDirection, sort_keys
from graph.relay import ConnectionArgs, decode_id_of

# The domain enums are exposed as they are; GraphQL sees their member names.
strawberry.enum(TaskStatus, name="TaskStatus", description="Where a task stands.")
strawberry.enum(TaskPriority, name="TaskPriority", description="How urgent a task is.")


@strawberry.input(name="TaskFilter")
class TaskFilterInput:
    """Criteria for listing tasks."""

    search: str | None = strawberry.field(
        default=None, description="Case-insensitive match on title and description."
    )
    status: list[TaskStatus] | None = None
    priority: list[TaskPriority] | None = None
    customer_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    product_id: strawberry.ID | None = None
    due_before: datetime.date | None = None
    due_after: datetime.date | None = None


@strawberry.enum
class TaskOrderField(Enum):
    """Fields tasks can be ordered by (values are domain field names)."""

    TITLE = "title"
    DUE_DATE = "due_date"
    PRIORITY = "priority"
    CREATED_AT = "created_at"


@strawberry.input
class TaskOrder:
    """One ordering key for tasks; tasks without a due date sort last."""

    field: TaskOrderField
    direction: SortDirection = SortDirection.ASC


def optional_id(value: strawberry.ID | None, type_name: str, field: str) -> int | None:
    """Decode an optional global ID of `type_name`; None stays None."""
    return None if value is None else decode_id_of(value, type_name, field=field)


def task_criteria(f: TaskFilterInput | None) -> TaskFilter:
    """Map the filter input to checked, normalised domain criteria, decoding its IDs."""
    if f is None:
        return TaskFilter()
    # Nested task lists reach the repository through loaders, not the service, so the
    # filter is normalised here; it also lets equal filters share one loader batch.
    return prepare_task_filter(
        TaskFilter(
            search=f.search,
            statuses=tuple(f.status) if f.status is not None else None,
            priorities=tuple(f.priority) if f.priority is not None else None,
            customer_id=optional_id(f.customer_id, "Customer", "customerId"),
            assignee_id=optional_id(f.assignee_id, "User", "assigneeId"),
            product_id=optional_id(f.product_id, "Product", "productId"),
            due_before=f.due_before,
            due_after=f.due_after,
        )
    )


def task_page(args: ConnectionArgs, order_by: list[TaskOrder] | None = None) -> PageRequest:
    """Validate the page arguments of a task connection."""
    return args.page(sort_keys(order_by), ORDER_FIELDS)


@strawberry.input
class CreateTaskInput:
    """Values of a new task."""

    title: str
    description: str | None = None
    status: TaskStatus = TaskStatus.TODO
    priority: TaskPriority = TaskPriority.MEDIUM
    due_date: datetime.date | None = None
    customer_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    product_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateTaskInput:
    """A partial update of a task; omitted fields stay as they are."""

    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    status: TaskStatus | None = strawberry.UNSET
    priority: TaskPriority | None = strawberry.UNSET
    due_date: datetime.date | None = strawberry.UNSET
    customer_id: strawberry.ID | None = strawberry.UNSET
    assignee_id: strawberry.ID | None = strawberry.UNSET
    product_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the whole set when given."
    )
    expected_version: int | None = None
