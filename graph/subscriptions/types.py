"""Subscription event types, built from change records.

The entity of an event is the row as the change left it: the record's `new_values`, so a
replayed event shows the state of its time, not today's. Nested relations (a task's
assignee, products) are read through the batch's loaders and guarded like in queries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from audit.queries import ChangeRecord
from domain.customers.model import Customer
from domain.products.model import Product
from domain.tasks.model import Task, TaskPriority, TaskStatus
from graph.customers.types import TYPE_NAME as CUSTOMER
from graph.customers.types import CustomerType, customer_node
from graph.errors import camel
from graph.products.types import TYPE_NAME as PRODUCT
from graph.products.types import ProductType, product_node
from graph.relay import decode_id_of, encode_global_id
from graph.subscriptions.cursor import encode_cursor
from graph.tasks.types import TYPE_NAME as TASK
from graph.tasks.types import TaskType, task_node
from graph.users.types import TYPE_NAME as USER


@strawberry.enum(
    description=(
        "What happened to an entity. The entity field of an event holds its state after the "
        "change; null after a delete."
    )
)
class ChangeAction(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


ACTIONS = {
    "INSERT": ChangeAction.CREATED,
    "UPDATE": ChangeAction.UPDATED,
    "DELETE": ChangeAction.DELETED,
}


@strawberry.input
class TaskChangeFilter:
    """Which task changes to receive; a change matches when the task matched before or after."""

    customer_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    status: list[TaskStatus] | None = None


@strawberry.type
class TaskChangeEvent:
    cursor: str = strawberry.field(
        description="Opaque, ordered. Pass it as `after` to resume with the next event."
    )
    action: ChangeAction
    occurred_at: datetime
    id: strawberry.ID = strawberry.field(
        description="The global ID of the changed task (also after a delete)."
    )
    changed_fields: list[str]
    task: TaskType | None


@strawberry.type
class ProductChangeEvent:
    cursor: str
    action: ChangeAction
    occurred_at: datetime
    id: strawberry.ID
    changed_fields: list[str]
    product: ProductType | None


@strawberry.type
class CustomerChangeEvent:
    cursor: str
    action: ChangeAction
    occurred_at: datetime
    id: strawberry.ID
    changed_fields: list[str]
    customer: CustomerType | None


def _datetime(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _task(values: dict[str, Any]) -> Task:
    return Task(
        id=int(values["id"]),
        title=values["title"],
        description=values.get("description"),
        status=TaskStatus[values["status"]],
        priority=TaskPriority[values["priority"]],
        due_date=_date(values.get("due_date")),
        customer_id=values.get("customer_id"),
        assignee_id=values.get("assignee_id"),
        version=int(values["version"]),
        created_at=_datetime(values["created_at"]),  # type: ignore[arg-type]
        updated_at=_datetime(values["updated_at"]),  # type: ignore[arg-type]
    )


def _product(values: dict[str, Any]) -> Product:
    return Product(
        id=int(values["id"]),
        sku=values["sku"],
        name=values["name"],
        description=values.get("description"),
        price=Decimal(values["price"]),
        stock=int(values["stock"]),
        is_active=bool(values["is_active"]),
        version=int(values["version"]),
        created_at=_datetime(values["created_at"]),  # type: ignore[arg-type]
        updated_at=_datetime(values["updated_at"]),  # type: ignore[arg-type]
    )


def _customer(values: dict[str, Any]) -> Customer:
    return Customer(
        id=int(values["id"]),
        name=values["name"],
        email=values["email"],
        phone=values.get("phone"),
        company=values.get("company"),
        version=int(values["version"]),
        created_at=_datetime(values["created_at"]),  # type: ignore[arg-type]
        updated_at=_datetime(values["updated_at"]),  # type: ignore[arg-type]
    )


def field_names(columns: list[str] | None) -> list[str]:
    """Changed columns as GraphQL field names: `due_date` is `dueDate`, `assignee_id` `assignee`."""
    return [camel(column.removesuffix("_id")) for column in columns or []]


def _common(record: ChangeRecord, type_name: str) -> dict[str, Any]:
    return {
        "cursor": encode_cursor(record.id),
        "action": ACTIONS[record.action],
        "occurred_at": record.occurred_at,
        "id": encode_global_id(type_name, int(record.entity_id)),
        "changed_fields": field_names(record.changed_fields),
    }


def task_event(record: ChangeRecord) -> TaskChangeEvent:
    """The event of a `tasks` change record."""
    values = record.new_values
    return TaskChangeEvent(
        **_common(record, TASK), task=None if values is None else task_node(_task(values))
    )


def product_event(record: ChangeRecord) -> ProductChangeEvent:
    """The event of a `products` change record."""
    values = record.new_values
    return ProductChangeEvent(
        **_common(record, PRODUCT),
        product=None if values is None else product_node(_product(values)),
    )


def customer_event(record: ChangeRecord) -> CustomerChangeEvent:
    """The event of a `customers` change record."""
    values = record.new_values
    return CustomerChangeEvent(
        **_common(record, CUSTOMER),
        customer=None if values is None else customer_node(_customer(values)),
    )


def task_matcher(criteria: TaskChangeFilter | None) -> Callable[[ChangeRecord], bool]:
    """Whether a task change matches `criteria`: the task matched before or after it."""
    if criteria is None:
        return lambda _record: True
    customer = (
        None
        if criteria.customer_id is None
        else decode_id_of(criteria.customer_id, CUSTOMER, field="customerId")
    )
    assignee = (
        None
        if criteria.assignee_id is None
        else decode_id_of(criteria.assignee_id, USER, field="assigneeId")
    )
    statuses = None if criteria.status is None else {status.name for status in criteria.status}

    def holds(values: dict[str, Any] | None) -> bool:
        return (
            values is not None
            and (customer is None or values.get("customer_id") == customer)
            and (assignee is None or values.get("assignee_id") == assignee)
            and (statuses is None or values.get("status") in statuses)
        )

    return lambda record: holds(record.new_values) or holds(record.old_values)
