"""Product entity, its filter and the rules its fields obey."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from domain.pagination import Parser, parse_datetime, parse_decimal, parse_str
from domain.validation import NAME_MAX_LENGTH, UNSET, Unset, Violations

SKU_PATTERN: Final = re.compile(r"^[A-Z0-9](?:[A-Z0-9-]{1,30})[A-Z0-9]$")
MAX_PRICE: Final = Decimal("9999999999.99")
MAX_STOCK: Final = 1_000_000_000

# Sortable fields and how to read their cursor values back.
ORDER_FIELDS: Final[Mapping[str, Parser]] = {
    "name": parse_str,
    "sku": parse_str,
    "price": parse_decimal,
    "created_at": parse_datetime,
}


@dataclass(slots=True)
class Product:
    """A sellable item in the catalogue."""

    id: int
    sku: str
    name: str
    description: str | None
    price: Decimal
    stock: int
    is_active: bool
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ProductFilter:
    """Criteria for listing products; every given criterion must hold."""

    search: str | None = None
    sku: str | None = None
    is_active: bool | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class NewProduct:
    """Validated values for a product about to be created."""

    sku: str
    name: str
    description: str | None
    price: Decimal
    stock: int
    is_active: bool


@dataclass(frozen=True, slots=True)
class ProductPatch:
    """A partial update: UNSET fields stay as they are."""

    sku: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    price: Decimal | Unset | None = UNSET
    stock: int | Unset | None = UNSET
    is_active: bool | Unset | None = UNSET


def _check_sku(v: Violations, sku: str) -> str:
    # ASCII first: `upper()` would turn "ß" into "SS" and a ligature into two letters.
    cleaned = sku.strip()
    cleaned = cleaned.upper() if cleaned.isascii() else cleaned
    return v.pattern(
        "sku",
        cleaned,
        SKU_PATTERN,
        "must be 3-32 letters, digits or hyphens, starting and ending with a letter or digit",
    )


def validate_new_product(
    *,
    sku: str,
    name: str,
    description: str | None,
    price: Decimal,
    stock: int,
    is_active: bool,
) -> NewProduct:
    """Check and normalise every field of a new product."""
    v = Violations()
    product = NewProduct(
        sku=_check_sku(v, sku),
        name=v.text("name", name, max_length=NAME_MAX_LENGTH),
        description=v.optional_text("description", description),
        price=v.money("price", price, maximum=MAX_PRICE),
        stock=v.int_range("stock", stock, minimum=0, maximum=MAX_STOCK),
        is_active=is_active,
    )
    v.raise_if_any()
    return product


def validate_product_patch(patch: ProductPatch) -> dict[str, object]:
    """Check the given fields of a patch; returns them normalised, by field name."""
    v = Violations()
    values: dict[str, object] = {}
    for name in ("sku", "name", "price", "stock", "is_active"):
        value = getattr(patch, name)
        if not isinstance(value, Unset):
            v.required(name, value)
    if isinstance(patch.sku, str):
        values["sku"] = _check_sku(v, patch.sku)
    if isinstance(patch.name, str):
        values["name"] = v.text("name", patch.name)
    if not isinstance(patch.description, Unset):
        values["description"] = v.optional_text("description", patch.description)
    if isinstance(patch.price, Decimal):
        values["price"] = v.money("price", patch.price, maximum=MAX_PRICE)
    if isinstance(patch.stock, int) and not isinstance(patch.stock, bool):
        values["stock"] = v.int_range("stock", patch.stock, minimum=0, maximum=MAX_STOCK)
    if isinstance(patch.is_active, bool):
        values["is_active"] = patch.is_active
    v.raise_if_any()
    return values


def validate_product_filter(f: ProductFilter) -> ProductFilter:
    """Refuse a filter whose bounds cannot hold."""
    v = Violations()
    if f.sku is not None:
        v.criterion("sku", f.sku)
    for name in ("min_price", "max_price"):
        bound = getattr(f, name)
        if bound is not None:
            v.money(name, bound, maximum=MAX_PRICE)
    if f.min_price is not None and f.max_price is not None and f.min_price > f.max_price:
        v.add("max_price", "must not be below min_price")
    v.raise_if_any()
    return f
