"""The subscription root: changes of tasks, products and customers, and the audit trail."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from auth.rbac import Module
from graph.audit.types import AuditLogType, change_node
from graph.context import Info
from graph.permissions import CanRead, guard
from graph.subscriptions.feed import follow
from graph.subscriptions.types import (
    CustomerChangeEvent,
    ProductChangeEvent,
    TaskChangeEvent,
    TaskChangeFilter,
    customer_event,
    product_event,
    task_event,
    task_matcher,
)


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
        async with aclosing(follow(info, "tasks", Module.TASKS, after)) as records:
            async for record in records:
                if matches(record):
                    yield task_event(record)

    @strawberry.subscription(
        description="Changes to products (PRODUCTS read).",
        extensions=guard(CanRead(Module.PRODUCTS)),
    )
    async def product_changed(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[ProductChangeEvent, None]:
        async with aclosing(follow(info, "products", Module.PRODUCTS, after)) as records:
            async for record in records:
                yield product_event(record)

    @strawberry.subscription(
        description="Changes to customers (CUSTOMERS read).",
        extensions=guard(CanRead(Module.CUSTOMERS)),
    )
    async def customer_changed(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[CustomerChangeEvent, None]:
        async with aclosing(follow(info, "customers", Module.CUSTOMERS, after)) as records:
            async for record in records:
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
        async with aclosing(follow(info, None, Module.AUDIT, after, audit_ids=True)) as records:
            async for record in records:
                yield change_node(record)
