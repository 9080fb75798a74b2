"""Product inputs: the list filter and ordering, and the values of a new or changed product."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

import strawberry

from domain.products.model import ProductFilter
from graph.common import SortDirection


@strawberry.input(name="ProductFilter")
class ProductFilterInput:
    """Criteria for listing products."""

    search: str | None = strawberry.field(
        default=None, description="Case-insensitive match on name, sku and description."
    )
    sku: str | None = None
    is_active: bool | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None


@strawberry.enum
class ProductOrderField(Enum):
    """Fields products can be ordered by (values are domain field names)."""

    NAME = "name"
    SKU = "sku"
    PRICE = "price"
    CREATED_AT = "created_at"


@strawberry.input
class ProductOrder:
    """One ordering key for products."""

    field: ProductOrderField
    direction: SortDirection = SortDirection.ASC


def product_criteria(f: ProductFilterInput | None) -> ProductFilter:
    """Map the filter input to domain criteria."""
    if f is None:
        return ProductFilter()
    return ProductFilter(
        search=f.search,
        sku=f.sku,
        is_active=f.is_active,
        min_price=f.min_price,
        max_price=f.max_price,
    )


@strawberry.input
class CreateProductInput:
    """Values of a new product."""

    sku: str
    name: str
    description: str | None = None
    price: Decimal
    stock: int = 0
    is_active: bool = True


@strawberry.input
class UpdateProductInput:
    """A partial update of a product; omitted fields stay as they are."""

    sku: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    price: Decimal | None = strawberry.UNSET
    stock: int | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET
    expected_version: int | None = strawberry.field(
        default=None,
        description=(
            "When given and the stored version differs, the update is refused with CONFLICT."
        ),
    )
