"""Customer queries."""

from __future__ import annotations

import strawberry

from auth.rbac import Module
from domain.customers import service
from domain.customers.model import ORDER_FIELDS
from graph.common import sort_keys
from graph.context import Info, context_of
from graph.customers.inputs import CustomerFilterInput, CustomerOrder, customer_criteria
from graph.customers.types import TYPE_NAME, CustomerType, customer_node
from graph.permissions import CanRead, guard
from graph.prefetch import customer_list_loaded, customer_loaded
from graph.relay import Connection, ConnectionArgs, build_connection, connection_args, decode_id_of


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
    @connection_args
    async def customers(
        self,
        info: Info,
        args: ConnectionArgs,
        filter: CustomerFilterInput | None = None,
        order_by: list[CustomerOrder] | None = None,
    ) -> Connection[CustomerType]:
        """A keyset-paginated list of customers."""
        ctx = context_of(info)
        criteria = customer_criteria(filter)
        page = args.page(sort_keys(order_by), ORDER_FIELDS)
        found = await service.list_customers(ctx.uow, criteria, page)
        ctx.loaders.prime(ctx.loaders.customer_by_id, found.items)
        await customer_list_loaded(info, found.items)
        return build_connection(
            found, customer_node, lambda: service.count_customers(ctx.uow, criteria)
        )
