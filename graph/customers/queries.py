"""Customer queries."""

from __future__ import annotations

import strawberry

from auth.rbac import Module
from domain.customers import service
from domain.customers.model import ORDER_FIELDS
from domain.customers.model import CustomerFilter as CustomerCriteria
from domain.pagination import PageRequest
from graph.common import sort_keys
from graph.context import Info, context_of
from graph.customers.types import (
    TYPE_NAME,
    CustomerFilter,
    CustomerOrder,
    CustomerType,
    customer_node,
)
from graph.permissions import CanRead, guard
from graph.prefetch import customer_list_loaded, customer_loaded
from graph.relay import Connection, build_connection, decode_id_of


def _criteria(f: CustomerFilter | None) -> CustomerCriteria:
    if f is None:
        return CustomerCriteria()
    return CustomerCriteria(search=f.search, email=f.email, company=f.company)


@strawberry.type
class CustomerQueries:
    """Read access to customers."""

    @strawberry.field(extensions=guard(CanRead(Module.CUSTOMERS)))
    async def customer(self, info: Info, id: strawberry.ID) -> CustomerType | None:
        """One customer by ID; null when it does not exist."""
        found = await context_of(info).loaders.customer_by_id.load(decode_id_of(id, TYPE_NAME))
        if found is None:
            return None
        await customer_loaded(info, found)
        return customer_node(found)

    @strawberry.field(extensions=guard(CanRead(Module.CUSTOMERS)))
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: CustomerFilter | None = None,
        order_by: list[CustomerOrder] | None = None,
    ) -> Connection[CustomerType]:
        """A keyset-paginated list of customers."""
        ctx = context_of(info)
        criteria = _criteria(filter)
        page = PageRequest.build(
            first=first,
            after=after,
            last=last,
            before=before,
            order=sort_keys(order_by),
            fields=ORDER_FIELDS,
        )
        found = await service.list_customers(ctx.uow, criteria, page)
        ctx.loaders.prime(ctx.loaders.customer_by_id, found.items)
        await customer_list_loaded(info, found.items)
        return build_connection(
            found, customer_node, lambda: service.count_customers(ctx.uow, criteria)
        )
