"""Customer inputs: the list filter and ordering, and the values of a new or changed customer."""

from __future__ import annotations

from enum import Enum

import strawberry

from domain.customers.model import CustomerFilter
from graph.common import SortDirection


@strawberry.input(name="CustomerFilter")
class CustomerFilterInput:
    """Criteria for listing customers."""

    search: str | None = strawberry.field(
        default=None, description="Case-insensitive match on name, email and company."
    )
    email: str | None = None
    company: str | None = None


@strawberry.enum
class CustomerOrderField(Enum):
    """Fields customers can be ordered by (values are domain field names)."""

    NAME = "name"
    EMAIL = "email"
    CREATED_AT = "created_at"


@strawberry.input
class CustomerOrder:
    """One ordering key for customers."""

    field: CustomerOrderField
    direction: SortDirection = SortDirection.ASC


def customer_criteria(f: CustomerFilterInput | None) -> CustomerFilter:
    """Map the filter input to domain criteria."""
    if f is None:
        return CustomerFilter()
    return CustomerFilter(search=f.search, email=f.email, company=f.company)


@strawberry.input
class CreateCustomerInput:
    """Values of a new customer."""

    name: str
    email: str
    phone: str | None = None
    company: str | None = None


@strawberry.input
class UpdateCustomerInput:
    """A partial update of a customer; omitted fields stay as they are."""

    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    company: str | None = strawberry.UNSET
    expected_version: int | None = None
