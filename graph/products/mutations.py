"""Product mutations."""

from __future__ import annotations

import strawberry

from auth.rbac import Action, Module
from domain.products import service
from domain.products.model import ProductPatch
from graph.common import DeletePayload, patch_of
from graph.context import Info, context_of
from graph.permissions import CanWrite, guard
from graph.products.inputs import CreateProductInput, UpdateProductInput
from graph.products.types import TYPE_NAME, ProductPayload, product_node
from graph.relay import decode_id_of


@strawberry.type
class ProductMutations:
    """Changes to products."""

    @strawberry.mutation(extensions=guard(CanWrite(Module.PRODUCTS, Action.CREATE)))
    async def create_product(self, info: Info, input: CreateProductInput) -> ProductPayload:
        """Add a product."""
        product = await service.create_product(
            context_of(info).uow,
            sku=input.sku,
            name=input.name,
            description=input.description,
            price=input.price,
            stock=input.stock,
            is_active=input.is_active,
        )
        return ProductPayload(product=product_node(product))

    @strawberry.mutation(extensions=guard(CanWrite(Module.PRODUCTS, Action.UPDATE)))
    async def update_product(
        self, info: Info, id: strawberry.ID, input: UpdateProductInput
    ) -> ProductPayload:
        """Change some fields of a product."""
        product = await service.update_product(
            context_of(info).uow,
            decode_id_of(id, TYPE_NAME),
            patch_of(ProductPatch, input),
            expected_version=input.expected_version,
        )
        return ProductPayload(product=product_node(product))

    @strawberry.mutation(extensions=guard(CanWrite(Module.PRODUCTS, Action.DELETE)))
    async def delete_product(self, info: Info, id: strawberry.ID) -> DeletePayload:
        """Delete a product that no task uses."""
        await service.delete_product(context_of(info).uow, decode_id_of(id, TYPE_NAME))
        return DeletePayload(deleted_id=id)
