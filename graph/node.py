"""`node(id:)`: fetch any object by its global ID, through the same loaders as typed queries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from auth.rbac import Module
from domain.errors import InvalidInput
from graph.audit.types import access_node, change_node
from graph.context import Context, Info, context_of
from graph.customers.types import customer_node
from graph.permissions import IsAuthenticated, guard, require, require_user_visible
from graph.prefetch import customer_loaded
from graph.products.types import product_node
from graph.relay import Node, decode_global_id
from graph.tasks.types import task_node
from graph.users.types import role_node, user_node

Fetch = Callable[[Context, int], Awaitable[Any]]


async def _role(ctx: Context, pk: int) -> Any:
    found = await ctx.uow.identity.roles_by_id([pk])
    return found[0] if found else None


# Type name -> (module whose READ it needs, load by key, map to GraphQL type).
_RESOLVERS: dict[str, tuple[Module, Fetch, Callable[[Any], Node]]] = {
    "Product": (Module.PRODUCTS, lambda ctx, pk: ctx.loaders.product_by_id.load(pk), product_node),
    "Customer": (
        Module.CUSTOMERS,
        lambda ctx, pk: ctx.loaders.customer_by_id.load(pk),
        customer_node,
    ),
    "Task": (Module.TASKS, lambda ctx, pk: ctx.loaders.task_by_id.load(pk), task_node),
    "User": (Module.USERS, lambda ctx, pk: ctx.loaders.user_by_id.load(pk), user_node),
    "Role": (Module.USERS, _role, role_node),
    "AuditLog": (Module.AUDIT, lambda ctx, pk: ctx.uow.audit.change_by_id(pk), change_node),
    "AccessLog": (Module.AUDIT, lambda ctx, pk: ctx.uow.audit.access_by_id(pk), access_node),
}


@strawberry.type
class NodeQueries:
    """Object identification."""

    @strawberry.field(extensions=guard(IsAuthenticated()))
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        """Any object by global ID, under the same permission as its typed query."""
        type_name, pk = decode_global_id(id)
        if type_name not in _RESOLVERS:
            raise InvalidInput("Unknown ID type.", fields={"id": "is not the ID of a node"})
        module, fetch, to_node = _RESOLVERS[type_name]
        if type_name == "User":
            require_user_visible(info, pk)
        else:
            require(info, module)
        found = await fetch(context_of(info), pk)
        if found is None:
            return None
        if type_name == "Customer":
            await customer_loaded(info, found)
        return to_node(found)
