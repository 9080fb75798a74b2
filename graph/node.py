"""`node(id:)`: fetch any object by its global ID, through the same loaders as typed queries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from domain.errors import InvalidInput
from graph.context import Context, Info, context_of
from graph.customers.types import customer_node
from graph.products.types import product_node
from graph.relay import Node, decode_global_id
from graph.tasks.types import task_node
from graph.users.types import user_node

Fetch = Callable[[Context, int], Awaitable[Any]]

# Type name -> (load by key, map to GraphQL type).
_RESOLVERS: dict[str, tuple[Fetch, Callable[[Any], Node]]] = {
    "Product": (lambda ctx, pk: ctx.loaders.product_by_id.load(pk), product_node),
    "Customer": (lambda ctx, pk: ctx.loaders.customer_by_id.load(pk), customer_node),
    "Task": (lambda ctx, pk: ctx.loaders.task_by_id.load(pk), task_node),
    "User": (lambda ctx, pk: ctx.loaders.user_by_id.load(pk), user_node),
}


@strawberry.type
class NodeQueries:
    """Object identification."""

    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        """Any object by global ID; null when it does not exist."""
        type_name, pk = decode_global_id(id)
        if type_name not in _RESOLVERS:
            raise InvalidInput("Unknown ID type.", fields={"id": "is not the ID of a node"})
        fetch, to_node = _RESOLVERS[type_name]
        found = await fetch(context_of(info), pk)
        return None if found is None else to_node(found)
