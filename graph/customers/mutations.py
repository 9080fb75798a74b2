"""Customer mutations."""

from __future__ import annotations

import strawberry

from auth.rbac import Action, Module
from domain.customers import service
from domain.customers.model import CustomerPatch
from graph.common import DeletePayload, patch_of
from graph.context import Info, context_of
from graph.customers.inputs import CreateCustomerInput, UpdateCustomerInput
from graph.customers.types import TYPE_NAME, CustomerPayload, customer_node
from graph.permissions import CanWrite, guard
from graph.relay import decode_id_of


@strawberry.type
class CustomerMutations:
    """Changes to customers."""

    @strawberry.mutation(extensions=guard(CanWrite(Module.CUSTOMERS, Action.CREATE)))
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> CustomerPayload:
        """Add a customer."""
        customer = await service.create_customer(
            context_of(info).uow,
            name=input.name,
            email=input.email,
            phone=input.phone,
            company=input.company,
        )
        return CustomerPayload(customer=customer_node(customer))

    @strawberry.mutation(extensions=guard(CanWrite(Module.CUSTOMERS, Action.UPDATE)))
    async def update_customer(
        self, info: Info, id: strawberry.ID, input: UpdateCustomerInput
    ) -> CustomerPayload:
        """Change some fields of a customer."""
        customer = await service.update_customer(
            context_of(info).uow,
            decode_id_of(id, TYPE_NAME),
            patch_of(CustomerPatch, input),
            expected_version=input.expected_version,
        )
        return CustomerPayload(customer=customer_node(customer))

    @strawberry.mutation(extensions=guard(CanWrite(Module.CUSTOMERS, Action.DELETE)))
    async def delete_customer(self, info: Info, id: strawberry.ID) -> DeletePayload:
        """Delete a customer that has no tasks."""
        await service.delete_customer(context_of(info).uow, decode_id_of(id, TYPE_NAME))
        return DeletePayload(deleted_id=id)
