"""Product queries."""

from __future__ import annotations

import strawberry

from auth.rbac import Module
from domain.pagination import PageRequest
from domain.products import service
from domain.products.model import ORDER_FIELDS
from domain.products.model import ProductFilter as ProductCriteria
from graph.common import sort_keys
from graph.context import Info, context_of
from graph.permissions import CanRead, guard
from graph.products.types import (
    TYPE_NAME,
    ProductFilter,
    ProductOrder,
    ProductType,
    product_node,
)
from graph.relay import Connection, build_connection, decode_id_of


def _criteria(f: ProductFilter | None) -> ProductCriteria:
    if f is None:
        return ProductCriteria()
    return ProductCriteria(
        search=f.search,
        sku=f.sku,
        is_active=f.is_active,
        min_price=f.min_price,
        max_price=f.max_price,
    )


@strawberry.type
class ProductQueries:
    """Read access to products."""

    @strawberry.field(extensions=guard(CanRead(Module.PRODUCTS)))
    async def product(self, info: Info, id: strawberry.ID) -> ProductType | None:
        """One product by ID; null when it does not exist."""
        found = await context_of(info).loaders.product_by_id.load(decode_id_of(id, TYPE_NAME))
        return None if found is None else product_node(found)

    @strawberry.field(extensions=guard(CanRead(Module.PRODUCTS)))
    async def products(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ProductFilter | None = None,
        order_by: list[ProductOrder] | None = None,
    ) -> Connection[ProductType]:
        """A keyset-paginated list of products."""
        uow = context_of(info).uow
        criteria = _criteria(filter)
        page = PageRequest.build(
            first=first,
            after=after,
            last=last,
            before=before,
            order=sort_keys(order_by),
            fields=ORDER_FIELDS,
        )
        found = await service.list_products(uow, criteria, page)
        return build_connection(found, product_node, lambda: service.count_products(uow, criteria))
