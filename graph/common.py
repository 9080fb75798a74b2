"""Types and helpers that every module's GraphQL adapter shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import strawberry

from domain.pagination import SortKey
from domain.validation import UNSET

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

PatchT = TypeVar("PatchT", bound="DataclassInstance")


@strawberry.enum
class SortDirection(Enum):
    """Ascending or descending order."""

    ASC = "ASC"
    DESC = "DESC"


@strawberry.type
class DeletePayload:
    """The global ID of the object that was deleted."""

    deleted_id: strawberry.ID


class OrderInput(Protocol):
    """Any `<Thing>Order` input: a field enum whose values are domain field names."""

    @property
    def field(self) -> Any: ...
    @property
    def direction(self) -> SortDirection: ...


def sort_keys(order_by: Sequence[OrderInput] | None) -> tuple[SortKey, ...]:
    """Map `orderBy` inputs to domain sort keys."""
    return tuple(
        SortKey(field=item.field.value, descending=item.direction is SortDirection.DESC)
        for item in order_by or ()
    )


def given(value: Any) -> Any:
    """Translate Strawberry's UNSET (argument left out) into the domain's UNSET."""
    return UNSET if value is strawberry.UNSET else value


def patch_of(patch_type: type[PatchT], input: object, **decoded: object) -> PatchT:
    """The domain patch an `Update<Thing>Input` asks for.

    Each field of the patch takes the input field of the same name, and the domain's UNSET
    where the client left that out; `decoded` gives the fields whose input needs decoding
    first (global IDs).
    """
    values = {
        field.name: given(getattr(input, field.name))
        for field in fields(patch_type)
        if field.name not in decoded
    }
    return patch_type(**values, **decoded)
