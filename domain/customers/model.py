"""Customer entity, its filter and the rules its fields obey."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from domain.pagination import Parser, parse_datetime, parse_str
from domain.validation import EMAIL_MAX_LENGTH, UNSET, Unset, Violations

PHONE_PATTERN: Final = re.compile(r"^\+?[0-9][0-9 ()./-]{3,30}$")

ORDER_FIELDS: Final[Mapping[str, Parser]] = {
    "name": parse_str,
    "email": parse_str,
    "created_at": parse_datetime,
}


@dataclass(slots=True)
class Customer:
    """Someone tasks are done for."""

    id: int
    name: str
    email: str
    phone: str | None
    company: str | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    """Criteria for listing customers; every given criterion must hold."""

    search: str | None = None
    email: str | None = None
    company: str | None = None


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """Validated values for a customer about to be created."""

    name: str
    email: str
    phone: str | None
    company: str | None


@dataclass(frozen=True, slots=True)
class CustomerPatch:
    """A partial update: UNSET fields stay as they are."""

    name: str | Unset | None = UNSET
    email: str | Unset | None = UNSET
    phone: str | Unset | None = UNSET
    company: str | Unset | None = UNSET


def _phone(v: Violations, phone: str | None) -> str | None:
    if phone is None or not phone.strip():
        return None
    cleaned = phone.strip()
    return v.pattern("phone", cleaned, PHONE_PATTERN, "must be a phone number of 4-32 digits")


def _company(v: Violations, company: str | None) -> str | None:
    if company is None or not company.strip():
        return None
    return v.text("company", company)


def validate_new_customer(
    *, name: str, email: str, phone: str | None, company: str | None
) -> NewCustomer:
    """Check and normalise every field of a new customer."""
    v = Violations()
    customer = NewCustomer(
        name=v.text("name", name),
        email=v.email("email", email),
        phone=_phone(v, phone),
        company=_company(v, company),
    )
    v.raise_if_any()
    return customer


def validate_customer_patch(patch: CustomerPatch) -> dict[str, object]:
    """Check the given fields of a patch; returns them normalised, by field name."""
    v = Violations()
    values: dict[str, object] = {}
    for name in ("name", "email"):
        value = getattr(patch, name)
        if not isinstance(value, Unset):
            v.required(name, value)
    if isinstance(patch.name, str):
        values["name"] = v.text("name", patch.name)
    if isinstance(patch.email, str):
        values["email"] = v.email("email", patch.email)
    if not isinstance(patch.phone, Unset):
        values["phone"] = _phone(v, patch.phone)
    if not isinstance(patch.company, Unset):
        values["company"] = _company(v, patch.company)
    v.raise_if_any()
    return values


def normalise_customer_filter(f: CustomerFilter) -> CustomerFilter:
    """Lower-case the exact email criterion, as stored addresses are."""
    v = Violations()
    if f.email is not None:
        v.criterion("email", f.email, max_length=EMAIL_MAX_LENGTH)
    if f.company is not None:
        v.criterion("company", f.company)
    v.raise_if_any()
    return CustomerFilter(
        search=f.search,
        email=f.email.strip().lower() if f.email is not None else None,
        company=f.company,
    )
