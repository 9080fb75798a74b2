"""Task queries."""

from __future__ import annotations

import strawberry

from auth.rbac import Module
from domain.tasks import service
from graph.context import Info, context_of
from graph.permissions import CanRead, guard
from graph.prefetch import task_list_loaded
from graph.relay import Connection, ConnectionArgs, build_connection, connection_args, decode_id_of
from graph.tasks.inputs import TaskFilterInput, TaskOrder, task_criteria, task_page
from graph.tasks.types import TYPE_NAME, TaskType, task_node


@strawberry.type
class TaskQueries:
    """Read access to tasks."""

    @strawberry.field(extensions=guard(CanRead(Module.TASKS)))
    async def task(self, info: Info, id: strawberry.ID) -> TaskType | None:
        """One task by ID; null when it does not exist."""
        found = await context_of(info).loaders.task_by_id.load(decode_id_of(id, TYPE_NAME))
        return None if found is None else task_node(found)

    @strawberry.field(extensions=guard(CanRead(Module.TASKS)))
    @connection_args
    async def tasks(
        self,
        info: Info,
        args: ConnectionArgs,
        filter: TaskFilterInput | None = None,
        order_by: list[TaskOrder] | None = None,
    ) -> Connection[TaskType]:
        """A keyset-paginated list of tasks."""
        ctx = context_of(info)
        criteria = task_criteria(filter)
        found = await service.list_tasks(ctx.uow, criteria, task_page(args, order_by))
        ctx.loaders.prime(ctx.loaders.task_by_id, found.items)
        await task_list_loaded(info, found.items)
        return build_connection(found, task_node, lambda: service.count_tasks(ctx.uow, criteria))
