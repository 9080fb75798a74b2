"""Product GraphQL types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from auth.rbac import Module
from domain.products.model import Product
from graph.context import Info, context_of
from graph.permissions import CanRead, guard
from graph.relay import (
    Connection,
    ConnectionArgs,
    Node,
    build_connection,
    connection_args,
    encode_global_id,
)
from graph.tasks.inputs import task_page

if TYPE_CHECKING:
    from graph.tasks.types import TaskType

TYPE_NAME = "Product"


@strawberry.type(name="Product")
class ProductType(Node):
    """A sellable item in the catalogue."""

    id: strawberry.ID
    sku: str
    name: str
    description: str | None
    price: Decimal
    stock: int
    is_active: bool
    version: int
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]

    @strawberry.field(
        description=(
            "Tasks that involve this product. "
            "Null, with a FORBIDDEN error at this path, without TASKS read."
        ),
        extensions=guard(CanRead(Module.TASKS)),
    )
    @connection_args
    async def tasks(
        self, info: Info, args: ConnectionArgs
    ) -> Connection[Annotated[TaskType, strawberry.lazy("graph.tasks.types")]] | None:
        from graph.tasks.types import task_node

        loaders = context_of(info).loaders
        found = await loaders.tasks_by_product.load((self.pk, task_page(args)))
        return build_connection(
            found, task_node, lambda: loaders.task_count_by_product.load((self.pk, None))
        )


def product_nodes(
    products: Sequence[Product], memo: dict[tuple[int, int], ProductType]
) -> list[ProductType]:
    """Map products to their GraphQL type, one node per product version in `memo`.

    Tasks share products, so a page of tasks names the same few hundred products again and
    again; each is mapped once per request.
    """
    nodes = []
    for product in products:
        key = (product.id, product.version)
        node = memo.get(key)
        if node is None:
            node = memo[key] = product_node(product)
        nodes.append(node)
    return nodes


def product_node(product: Product) -> ProductType:
    """Map a domain product to its GraphQL type."""
    return ProductType(
        id=encode_global_id(TYPE_NAME, product.id),
        sku=product.sku,
        name=product.name,
        description=product.description,
        price=product.price,
        stock=product.stock,
        is_active=product.is_active,
        version=product.version,
        created_at=product.created_at,
        updated_at=product.updated_at,
        pk=product.id,
    )


@strawberry.type
class ProductPayload:
    """The product a mutation created or changed."""

    product: ProductType
