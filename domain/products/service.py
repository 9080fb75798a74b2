"""Product use cases. Each write runs in one unit of work and commits once."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from domain.errors import Conflict, NotFound
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.products.model import (
    Product,
    ProductFilter,
    ProductPatch,
    validate_new_product,
    validate_product_filter,
    validate_product_patch,
)
from domain.validation import clean_search
from domain.versioning import check_version


async def list_products(
    uow: UnitOfWork, criteria: ProductFilter, page: PageRequest
) -> Page[Product]:
    """A keyset page of products matching `criteria`."""
    criteria = validate_product_filter(replace(criteria, search=clean_search(criteria.search)))
    return await uow.products.find_page(criteria, page)


async def count_products(uow: UnitOfWork, criteria: ProductFilter) -> int:
    """How many products match `criteria`."""
    criteria = validate_product_filter(replace(criteria, search=clean_search(criteria.search)))
    return await uow.products.count(criteria)


async def create_product(
    uow: UnitOfWork,
    *,
    sku: str,
    name: str,
    description: str | None = None,
    price: Decimal,
    stock: int = 0,
    is_active: bool = True,
) -> Product:
    """Add a product; a taken SKU is a conflict."""
    new = validate_new_product(
        sku=sku, name=name, description=description, price=price, stock=stock, is_active=is_active
    )
    async with uow:
        if await uow.products.sku_taken(new.sku):
            raise Conflict("A product with this SKU already exists.", fields={"sku": "is taken"})
        product = await uow.products.add(new)
        await uow.commit()
    return product


async def update_product(
    uow: UnitOfWork, product_id: int, patch: ProductPatch, *, expected_version: int | None = None
) -> Product:
    """Apply a partial update, refusing a stale `expected_version`."""
    values = validate_product_patch(patch)
    async with uow:
        product = await uow.products.get_for_update(product_id)
        if product is None:
            raise NotFound("Product not found.")
        check_version("Product", product.version, expected_version)
        changed = {k: v for k, v in values.items() if getattr(product, k) != v}
        if not changed:
            return product
        sku = changed.get("sku")
        if isinstance(sku, str) and await uow.products.sku_taken(sku, exclude_id=product_id):
            raise Conflict("A product with this SKU already exists.", fields={"sku": "is taken"})
        product = await uow.products.update(product_id, changed)
        await uow.commit()
    return product


async def delete_product(uow: UnitOfWork, product_id: int) -> int:
    """Delete a product that no task uses; returns its id."""
    async with uow:
        if await uow.products.get_for_update(product_id) is None:
            raise NotFound("Product not found.")
        references = await uow.products.count_task_links(product_id)
        if references:
            raise Conflict(
                f"Product is still used by {references} task(s).",
                details={"references": references},
            )
        await uow.products.delete(product_id)
        await uow.commit()
    return product_id
