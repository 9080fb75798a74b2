"""Task mutations."""

from __future__ import annotations

import strawberry

from auth.rbac import Action, Module
from domain.tasks import service
from domain.tasks.model import TaskPatch
from domain.validation import UNSET, Unset
from graph.common import DeletePayload, given, patch_of
from graph.context import Info, context_of
from graph.permissions import CanWrite, guard
from graph.relay import decode_id_of, decode_ids_of
from graph.tasks.inputs import CreateTaskInput, UpdateTaskInput, optional_id
from graph.tasks.types import TYPE_NAME, TaskPayload, task_node


def _patch_ref(value: strawberry.ID | None, type_name: str, field: str) -> int | Unset | None:
    """A patch reference: left out (UNSET), cleared (None) or a decoded global ID."""
    if value is strawberry.UNSET:
        return UNSET
    return optional_id(value, type_name, field)


@strawberry.type
class TaskMutations:
    """Changes to tasks."""

    @strawberry.mutation(extensions=guard(CanWrite(Module.TASKS, Action.CREATE)))
    async def create_task(self, info: Info, input: CreateTaskInput) -> TaskPayload:
        """Add a task."""
        task = await service.create_task(
            context_of(info).uow,
            title=input.title,
            description=input.description,
            status=input.status,
            priority=input.priority,
            due_date=input.due_date,
            customer_id=optional_id(input.customer_id, "Customer", "customerId"),
            assignee_id=optional_id(input.assignee_id, "User", "assigneeId"),
            product_ids=decode_ids_of(input.product_ids, "Product", field="productIds"),
        )
        return TaskPayload(task=task_node(task))

    @strawberry.mutation(extensions=guard(CanWrite(Module.TASKS, Action.UPDATE)))
    async def update_task(
        self, info: Info, id: strawberry.ID, input: UpdateTaskInput
    ) -> TaskPayload:
        """Change some fields of a task; `productIds` replaces the whole set."""
        product_ids = given(input.product_ids)
        if isinstance(product_ids, list):
            product_ids = decode_ids_of(product_ids, "Product", field="productIds")
        patch = patch_of(
            TaskPatch,
            input,
            customer_id=_patch_ref(input.customer_id, "Customer", "customerId"),
            assignee_id=_patch_ref(input.assignee_id, "User", "assigneeId"),
            product_ids=product_ids,
        )
        task = await service.update_task(
            context_of(info).uow,
            decode_id_of(id, TYPE_NAME),
            patch,
            expected_version=input.expected_version,
        )
        return TaskPayload(task=task_node(task))

    @strawberry.mutation(extensions=guard(CanWrite(Module.TASKS, Action.DELETE)))
    async def delete_task(self, info: Info, id: strawberry.ID) -> DeletePayload:
        """Delete a task and its product links."""
        await service.delete_task(context_of(info).uow, decode_id_of(id, TYPE_NAME))
        return DeletePayload(deleted_id=id)
