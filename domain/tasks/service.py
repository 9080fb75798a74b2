"""Task use cases. Each write runs in one unit of work and commits once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from domain.errors import NotFound
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.tasks.model import (
    Task,
    TaskFilter,
    TaskPatch,
    TaskPriority,
    TaskStatus,
    validate_new_task,
    validate_task_filter,
    validate_task_patch,
)
from domain.validation import Violations, clean_search
from domain.versioning import check_version


def prepare_task_filter(criteria: TaskFilter) -> TaskFilter:
    """Normalise and check a task filter before it reaches storage."""
    return validate_task_filter(replace(criteria, search=clean_search(criteria.search)))


async def list_tasks(uow: UnitOfWork, criteria: TaskFilter, page: PageRequest) -> Page[Task]:
    """A keyset page of tasks matching `criteria`."""
    return await uow.tasks.find_page(prepare_task_filter(criteria), page)


async def count_tasks(uow: UnitOfWork, criteria: TaskFilter) -> int:
    """How many tasks match `criteria`."""
    return await uow.tasks.count(prepare_task_filter(criteria))


async def _check_references(
    uow: UnitOfWork,
    *,
    customer_id: int | None,
    assignee_id: int | None,
    product_ids: Sequence[int] | None,
) -> None:
    """Refuse references to customers, users or products that do not exist."""
    v = Violations()
    if customer_id is not None and await uow.customers.get(customer_id) is None:
        v.add("customer_id", "refers to no customer")
    if assignee_id is not None:
        assignee = await uow.users.get(assignee_id)
        if assignee is None:
            v.add("assignee_id", "refers to no user")
        elif not assignee.is_active:
            v.add("assignee_id", "refers to an inactive user")
    if product_ids:
        missing = len(set(product_ids) - await uow.products.existing_ids(product_ids))
        if missing:
            v.add("product_ids", f"refers to {missing} unknown product(s)")
    v.raise_if_any()


async def create_task(
    uow: UnitOfWork,
    *,
    title: str,
    description: str | None = None,
    status: TaskStatus = TaskStatus.TODO,
    priority: TaskPriority = TaskPriority.MEDIUM,
    due_date: date | None = None,
    customer_id: int | None = None,
    assignee_id: int | None = None,
    product_ids: Sequence[int] = (),
) -> Task:
    """Add a task; every referenced customer, user and product must exist."""
    new = validate_new_task(
        title=title,
        description=description,
        status=status,
        priority=priority,
        due_date=due_date,
        customer_id=customer_id,
        assignee_id=assignee_id,
        product_ids=product_ids,
    )
    async with uow:
        await _check_references(
            uow,
            customer_id=new.customer_id,
            assignee_id=new.assignee_id,
            product_ids=new.product_ids,
        )
        task = await uow.tasks.add(new)
        await uow.commit()
    return task


async def update_task(
    uow: UnitOfWork, task_id: int, patch: TaskPatch, *, expected_version: int | None = None
) -> Task:
    """Apply a partial update; a given product set replaces the stored one."""
    values, product_ids = validate_task_patch(patch)
    async with uow:
        task = await uow.tasks.get_for_update(task_id)
        if task is None:
            raise NotFound("Task not found.")
        check_version("Task", task.version, expected_version)
        changed = {k: v for k, v in values.items() if getattr(task, k) != v}
        await _check_references(
            uow,
            customer_id=_changed_ref(changed, "customer_id"),
            assignee_id=_changed_ref(changed, "assignee_id"),
            product_ids=product_ids,
        )
        if not changed and product_ids is None:
            return task
        task = await uow.tasks.update(task_id, changed, product_ids)
        await uow.commit()
    return task


def _changed_ref(changed: Mapping[str, object], key: str) -> int | None:
    """A reference the update sets to another object (None when unchanged or cleared)."""
    value = changed.get(key)
    return value if isinstance(value, int) else None


async def delete_task(uow: UnitOfWork, task_id: int) -> int:
    """Delete a task and its product links; returns its id."""
    async with uow:
        if await uow.tasks.get_for_update(task_id) is None:
            raise NotFound("Task not found.")
        await uow.tasks.delete(task_id)
        await uow.commit()
    return task_id
