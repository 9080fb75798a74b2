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
from typing import Any, Final

import strawberry

from domain.audit import ChangeRecord
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


TASKS: Final = "tasks"
TASK_PRODUCTS: Final = "task_products"
# A task's event also reports changes of its product links (`task_products` rows).
TASK_TABLES: Final = frozenset({TASKS, TASK_PRODUCTS})
PRODUCTS_FIELD: Final = "products"


class TaskChange:
    """Every record of one task in one transaction: its `tasks` records, its links.

    The records of a transaction are consecutive and share their time and request id. The
    change's id (its cursor) is its last record's.
    """

    __slots__ = (
        "action",
        "changed",
        "event",
        "id",
        "links",
        "new_values",
        "occurred_at",
        "old_values",
        "task_id",
    )

    def __init__(self, task_id: int, record: ChangeRecord) -> None:
        self.task_id = task_id
        self.id = record.id
        self.occurred_at = record.occurred_at
        self.action: str | None = None  # of its `tasks` records; None: links only
        self.old_values: dict[str, Any] | None = None
        self.new_values: dict[str, Any] | None = None
        self.changed: set[str] = set()
        self.links = False
        self.event: TaskChangeEvent | None = None  # built once, shared by every subscriber

    def add(self, record: ChangeRecord) -> None:
        """One more record of this task in the same transaction."""
        self.id = record.id
        if record.entity != TASKS:
            self.links = True
            return
        if self.action is None:
            self.action = record.action
            self.old_values = record.old_values
        elif record.action == "DELETE":
            self.action = record.action  # created or updated, then deleted: deleted
        self.new_values = record.new_values
        self.changed.update(record.changed_fields or ())

    @property
    def links_only(self) -> bool:
        """Only the task's product links changed: the task itself must be read."""
        return self.action is None

    def changed_fields(self) -> list[str]:
        """GraphQL names; `products` when links changed."""
        names = set(field_names(sorted(self.changed)))
        if self.links:
            names.add(PRODUCTS_FIELD)
        return sorted(names)

    def to_event(self, task: Task | None = None) -> TaskChangeEvent:
        """The event, with `task` as read for a links-only change."""
        if self.event is None:
            if self.links_only:
                # What a filter looks at, as read now: the same before and after.
                self.old_values = self.new_values = None if task is None else task_values(task)
            else:
                task = None if self.new_values is None else _task(self.new_values)
            self.event = TaskChangeEvent(
                cursor=encode_cursor(self.id),
                action=ACTIONS[self.action or "UPDATE"],
                occurred_at=self.occurred_at,
                id=encode_global_id(TASK, self.task_id),
                changed_fields=self.changed_fields(),
                task=None if task is None else task_node(task),
            )
        return self.event


def task_changes(batch: list[ChangeRecord]) -> list[TaskChange]:
    """The `tasks` and `task_products` records of `batch`, one change per task and
    transaction, ordered by their last record (so cursors only grow)."""
    changes: list[TaskChange] = []
    open_: dict[int, TaskChange] = {}
    transaction: tuple[Any, Any] | None = None
    for record in batch:
        if record.entity not in TASK_TABLES:
            continue
        key = (record.occurred_at, record.request_id)
        if key != transaction:
            transaction, open_ = key, {}
        task_id = int(record.entity_id.split(":", 1)[0])
        change = open_.get(task_id)
        if change is None:
            change = open_[task_id] = TaskChange(task_id, record)
            changes.append(change)
        change.add(record)
    changes.sort(key=_position)
    return changes


def _position(change: TaskChange) -> int:
    return change.id


def task_values(task: Task) -> dict[str, Any]:
    """The columns a `TaskChangeFilter` looks at, as a change record holds them."""
    return {
        "customer_id": task.customer_id,
        "assignee_id": task.assignee_id,
        "status": task.status.name,
    }


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


TaskMatcher = Callable[[dict[str, Any] | None, dict[str, Any] | None], bool]


def task_matcher(criteria: TaskChangeFilter | None) -> TaskMatcher:
    """Whether a task change matches `criteria`: the task matched before (first values) or
    after it (second values)."""
    if criteria is None:
        return lambda _before, _after: True
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

    return lambda before, after: holds(after) or holds(before)
