"""Task entity, its filter and the rules its fields obey."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum, IntEnum
from typing import Final

from domain.pagination import Parser, parse_date, parse_datetime, parse_int, parse_str
from domain.validation import NAME_MAX_LENGTH, UNSET, Unset, Violations

MAX_PRODUCTS_PER_TASK: Final = 100
EARLIEST_DUE_DATE: Final = date(1900, 1, 1)
LATEST_DUE_DATE: Final = date(2999, 12, 31)


class TaskStatus(Enum):
    """Where a task stands."""

    TODO = "TODO"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class TaskPriority(IntEnum):
    """How urgent a task is; the numbers give the sort order."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    URGENT = 4


def parse_priority(value: int) -> TaskPriority:
    """Read a priority rank back from a cursor; an unknown rank is refused."""
    return TaskPriority(parse_int(value))


ORDER_FIELDS: Final[Mapping[str, Parser]] = {
    "title": parse_str,
    "due_date": parse_date,
    "priority": parse_priority,
    "created_at": parse_datetime,
}


@dataclass(slots=True)
class Task:
    """A piece of work."""

    id: int
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_date: date | None
    customer_id: int | None
    assignee_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Criteria for listing tasks; every given criterion must hold."""

    search: str | None = None
    statuses: tuple[TaskStatus, ...] | None = None
    priorities: tuple[TaskPriority, ...] | None = None
    customer_id: int | None = None
    assignee_id: int | None = None
    product_id: int | None = None
    due_before: date | None = None
    due_after: date | None = None


@dataclass(frozen=True, slots=True)
class NewTask:
    """Validated values for a task about to be created."""

    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_date: date | None
    customer_id: int | None
    assignee_id: int | None
    product_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TaskPatch:
    """A partial update: UNSET fields stay as they are; product_ids replaces the set."""

    title: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    status: TaskStatus | Unset | None = UNSET
    priority: TaskPriority | Unset | None = UNSET
    due_date: date | Unset | None = UNSET
    customer_id: int | Unset | None = UNSET
    assignee_id: int | Unset | None = UNSET
    product_ids: Sequence[int] | Unset | None = UNSET


def _due(v: Violations, due: date | None) -> date | None:
    if due is not None and not EARLIEST_DUE_DATE <= due <= LATEST_DUE_DATE:
        v.add("due_date", f"must be between {EARLIEST_DUE_DATE} and {LATEST_DUE_DATE}")
    return due


def _products(v: Violations, product_ids: Sequence[int]) -> tuple[int, ...]:
    # Order is kept but duplicates are dropped: a task involves a product once.
    unique = tuple(dict.fromkeys(product_ids))
    if len(unique) > MAX_PRODUCTS_PER_TASK:
        v.add("product_ids", f"must list at most {MAX_PRODUCTS_PER_TASK} products")
    return unique


def validate_new_task(
    *,
    title: str,
    description: str | None,
    status: TaskStatus,
    priority: TaskPriority,
    due_date: date | None,
    customer_id: int | None,
    assignee_id: int | None,
    product_ids: Sequence[int],
) -> NewTask:
    """Check and normalise every field of a new task."""
    v = Violations()
    task = NewTask(
        title=v.text("title", title, max_length=NAME_MAX_LENGTH),
        description=v.optional_text("description", description),
        status=status,
        priority=priority,
        due_date=_due(v, due_date),
        customer_id=customer_id,
        assignee_id=assignee_id,
        product_ids=_products(v, product_ids),
    )
    v.raise_if_any()
    return task


def validate_task_patch(patch: TaskPatch) -> tuple[dict[str, object], tuple[int, ...] | None]:
    """Check the given fields; returns the normalised scalar changes and the new product set."""
    v = Violations()
    values: dict[str, object] = {}
    for name in ("title", "status", "priority", "product_ids"):
        value = getattr(patch, name)
        if not isinstance(value, Unset):
            v.required(name, value)
    if isinstance(patch.title, str):
        values["title"] = v.text("title", patch.title)
    if not isinstance(patch.description, Unset):
        values["description"] = v.optional_text("description", patch.description)
    if isinstance(patch.status, TaskStatus):
        values["status"] = patch.status
    if isinstance(patch.priority, TaskPriority):
        values["priority"] = patch.priority
    if not isinstance(patch.due_date, Unset):
        values["due_date"] = _due(v, patch.due_date)
    if not isinstance(patch.customer_id, Unset):
        values["customer_id"] = patch.customer_id
    if not isinstance(patch.assignee_id, Unset):
        values["assignee_id"] = patch.assignee_id
    product_ids = None
    if not isinstance(patch.product_ids, Unset) and patch.product_ids is not None:
        product_ids = _products(v, patch.product_ids)
    v.raise_if_any()
    return values, product_ids


def validate_task_filter(f: TaskFilter) -> TaskFilter:
    """Refuse a due-date window that cannot hold."""
    if f.due_before is not None and f.due_after is not None and f.due_after > f.due_before:
        v = Violations()
        v.add("due_after", "must not be after due_before")
        v.raise_if_any()
    return f
