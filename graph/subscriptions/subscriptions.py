"""The subscription root: changes of tasks, products and customers, and the audit trail."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Final

import strawberry

from auth.rbac import Module
from graph.audit.types import AuditLogType, change_node
from graph.context import Info
from graph.permissions import CanRead, guard
from graph.subscriptions.feed import follow, records, subscription_context
from graph.subscriptions.types import (
    TASK_TABLES,
    CustomerChangeEvent,
    ProductChangeEvent,
    TaskChangeEvent,
    TaskChangeFilter,
    customer_event,
    product_event,
    task_changes,
    task_matcher,
)

PRODUCTS: Final = frozenset({"products"})
CUSTOMERS: Final = frozenset({"customers"})


@strawberry.type
class Subscription:
    """Every subscription; each replays after `after`, then stays live."""

    @strawberry.subscription(
        description=(
            "Changes to tasks the caller may read (TASKS read), after `after` if given, then live."
        ),
        extensions=guard(CanRead(Module.TASKS)),
    )
    async def task_changed(
        self, info: Info, filter: TaskChangeFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[TaskChangeEvent, None]:
        matches = task_matcher(filter)
        changes = follow(info, TASK_TABLES, Module.TASKS, after, task_changes)
        async with aclosing(changes) as stream:
            async for change in stream:
                if change.links_only and change.event is None:
                    # Only its products changed: the task is read, once per batch (the
                    # batch's loader); deleted since, it matches no filter.
                    loaders = subscription_context(info).loaders
                    change.to_event(await loaders.task_by_id.load(change.task_id))
                if matches(change.old_values, change.new_values):
                    yield change.to_event()

    @strawberry.subscription(
        description="Changes to products (PRODUCTS read).",
        extensions=guard(CanRead(Module.PRODUCTS)),
    )
    async def product_changed(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[ProductChangeEvent, None]:
        async with aclosing(follow(info, PRODUCTS, Module.PRODUCTS, after, records)) as stream:
            async for record in stream:
                yield product_event(record)

    @strawberry.subscription(
        description="Changes to customers (CUSTOMERS read).",
        extensions=guard(CanRead(Module.CUSTOMERS)),
    )
    async def customer_changed(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[CustomerChangeEvent, None]:
        async with aclosing(follow(info, CUSTOMERS, Module.CUSTOMERS, after, records)) as stream:
            async for record in stream:
                yield customer_event(record)

    @strawberry.subscription(
        description=(
            "New change records of the audit trail (AUDIT read); `after` is an AuditLog cursor "
            "(an event's position: the AuditLog's `id`)."
        ),
        extensions=guard(CanRead(Module.AUDIT)),
    )
    async def audit_log_added(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[AuditLogType, None]:
        trail = follow(info, None, Module.AUDIT, after, records, audit_ids=True)
        async with aclosing(trail) as stream:
            async for record in stream:
                yield change_node(record)
