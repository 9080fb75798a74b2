"""Product queries."""

from __future__ import annotations

import strawberry

from auth.rbac import Module
from domain.products import service
from domain.products.model import ORDER_FIELDS
from graph.common import sort_keys
from graph.context import Info, context_of
from graph.permissions import CanRead, guard
from graph.products.inputs import ProductFilterInput, ProductOrder, product_criteria
from graph.products.types import TYPE_NAME, ProductType, product_node
from graph.relay import Connection, ConnectionArgs, build_connection, connection_args, decode_id_of


@strawberry.type
class ProductQueries:
    """Read access to products."""

    @strawberry.field(extensions=guard(CanRead(Module.PRODUCTS)))
    async def product(self, info: Info, id: strawberry.ID) -> ProductType | None:
        """One product by ID; null when it does not exist."""
        found = await context_of(info).loaders.product_by_id.load(decode_id_of(id, TYPE_NAME))
        return None if found is None else product_node(found)

    @strawberry.field(extensions=guard(CanRead(Module.PRODUCTS)))
    @connection_args
    async def products(
        self,
        info: Info,
        args: ConnectionArgs,
        filter: ProductFilterInput | None = None,
        order_by: list[ProductOrder] | None = None,
    ) -> Connection[ProductType]:
        """A keyset-paginated list of products."""
        uow = context_of(info).uow
        criteria = product_criteria(filter)
        page = args.page(sort_keys(order_by), ORDER_FIELDS)
        found = await service.list_products(uow, criteria, page)
        return build_connection(found, product_node, lambda: service.count_products(uow, criteria))
