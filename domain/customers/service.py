"""Customer use cases. Each write runs in one unit of work and commits once."""

from __future__ import annotations

from dataclasses import replace

from domain.customers.model import (
    Customer,
    CustomerFilter,
    CustomerPatch,
    normalise_customer_filter,
    validate_customer_patch,
    validate_new_customer,
)
from domain.errors import Conflict, NotFound
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.validation import clean_search
from domain.versioning import check_version

_EMAIL_TAKEN = "A customer with this email already exists."


def _criteria(criteria: CustomerFilter) -> CustomerFilter:
    return normalise_customer_filter(replace(criteria, search=clean_search(criteria.search)))


async def list_customers(
    uow: UnitOfWork, criteria: CustomerFilter, page: PageRequest
) -> Page[Customer]:
    """A keyset page of customers matching `criteria`."""
    return await uow.customers.find_page(_criteria(criteria), page)


async def count_customers(uow: UnitOfWork, criteria: CustomerFilter) -> int:
    """How many customers match `criteria`."""
    return await uow.customers.count(_criteria(criteria))


async def create_customer(
    uow: UnitOfWork,
    *,
    name: str,
    email: str,
    phone: str | None = None,
    company: str | None = None,
) -> Customer:
    """Add a customer; a taken email is a conflict."""
    new = validate_new_customer(name=name, email=email, phone=phone, company=company)
    async with uow:
        if await uow.customers.email_taken(new.email):
            raise Conflict(_EMAIL_TAKEN, fields={"email": "is taken"})
        customer = await uow.customers.add(new)
        await uow.commit()
    return customer


async def update_customer(
    uow: UnitOfWork,
    customer_id: int,
    patch: CustomerPatch,
    *,
    expected_version: int | None = None,
) -> Customer:
    """Apply a partial update, refusing a stale `expected_version`."""
    values = validate_customer_patch(patch)
    async with uow:
        customer = await uow.customers.get_for_update(customer_id)
        if customer is None:
            raise NotFound("Customer not found.")
        check_version("Customer", customer.version, expected_version)
        changed = {k: v for k, v in values.items() if getattr(customer, k) != v}
        if not changed:
            return customer
        email = changed.get("email")
        if isinstance(email, str) and await uow.customers.email_taken(
            email, exclude_id=customer_id
        ):
            raise Conflict(_EMAIL_TAKEN, fields={"email": "is taken"})
        customer = await uow.customers.update(customer_id, changed)
        await uow.commit()
    return customer


async def delete_customer(uow: UnitOfWork, customer_id: int) -> int:
    """Delete a customer that has no tasks; returns its id."""
    async with uow:
        if await uow.customers.get_for_update(customer_id) is None:
            raise NotFound("Customer not found.")
        references = await uow.customers.count_tasks(customer_id)
        if references:
            raise Conflict(
                f"Customer still has {references} task(s).",
                details={"references": references},
            )
        await uow.customers.delete(customer_id)
        await uow.commit()
    return customer_id
