"""Product GraphQL types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from auth.rbac import Module
from domain.pagination import PageRequest
from domain.products.model import Product
from domain.tasks.model import ORDER_FIELDS as TASK_ORDER_FIELDS
from graph.common import SortDirection
from graph.context import Info, context_of
from graph.permissions import CanRead, guard
from graph.relay import Connection, Node, build_connection, encode_global_id

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
    async def tasks(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[TaskType, strawberry.lazy("graph.tasks.types")]] | None:
        from graph.tasks.types import task_node

        loaders = context_of(info).loaders
        page = PageRequest.build(
            first=first, after=after, last=last, before=before, fields=TASK_ORDER_FIELDS
        )
        found = await loaders.tasks_by_product.load((self.pk, page))
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


@strawberry.input
class ProductFilter:
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


@strawberry.type
class ProductPayload:
    """The product a mutation created or changed."""

    product: ProductType
