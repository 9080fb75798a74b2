"""Relay plumbing: the Node interface, opaque global IDs and generic connections."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from domain.errors import InvalidInput
from domain.pagination import MAX_ID, Page

NodeT = TypeVar("NodeT")
EntityT = TypeVar("EntityT")


@strawberry.interface
class Node:
    """An object with a globally unique, opaque ID."""

    id: strawberry.ID


def encode_global_id(type_name: str, pk: int) -> strawberry.ID:
    """The opaque ID of object `pk` of `type_name`."""
    return strawberry.ID(base64.b64encode(f"{type_name}:{pk}".encode()).decode())


# The one spelling of a key: ASCII digits without a leading zero. `str.isdigit()` and `int()`
# would also take "²", Arabic-Indic digits and "0001", making one object answer to many IDs.
_KEY = re.compile(r"0|[1-9][0-9]{0,9}")
_TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")


def decode_global_id(value: str, *, field: str = "id") -> tuple[str, int]:
    """Split a global ID into type name and key; malformed IDs are BAD_USER_INPUT."""
    invalid = InvalidInput("Invalid ID.", fields={field: "is not a valid ID"})
    if len(value) > 200 or not value.isascii():
        raise invalid
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    type_name, sep, pk = raw.partition(":")
    # Keys past the id column's range cannot exist; refusing them keeps them out of SQL.
    if not sep or not _TYPE_NAME.fullmatch(type_name) or not _KEY.fullmatch(pk) or int(pk) > MAX_ID:
        raise invalid
    return type_name, int(pk)


def decode_id_of(value: str, type_name: str, *, field: str = "id") -> int:
    """The key of a global ID that must name a `type_name`; a foreign ID is BAD_USER_INPUT."""
    found, pk = decode_global_id(value, field=field)
    if found != type_name:
        raise InvalidInput(
            f"Expected the ID of a {type_name}.",
            fields={field: f"is not the ID of a {type_name}"},
        )
    return pk


def decode_ids_of(values: Sequence[str], type_name: str, *, field: str) -> list[int]:
    """Decode a list of global IDs that must all name a `type_name`."""
    return [decode_id_of(value, type_name, field=field) for value in values]


@strawberry.type
class PageInfo:
    """Where a page sits in the whole list."""

    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    """One node and the cursor that points at it."""

    node: NodeT
    entity: strawberry.Private[Any]
    page: strawberry.Private[Page[Any]]

    @strawberry.field
    def cursor(self) -> str:
        """An opaque position; computed only when selected."""
        return self.page.cursor(self.entity)


@strawberry.type
class Connection(Generic[NodeT]):
    """A page of nodes with Relay's page info and an on-demand total."""

    edges: list[Edge[NodeT]]
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    async def total_count(self) -> int:
        """How many nodes match in all; counted only when selected."""
        return await self.counter()


def build_connection(
    page: Page[EntityT],
    to_node: Callable[[EntityT], NodeT],
    counter: Callable[[], Awaitable[int]],
) -> Connection[NodeT]:
    """Map a domain page to a connection of GraphQL nodes."""
    items = page.items
    return Connection(
        edges=[Edge(node=to_node(item), entity=item, page=page) for item in items],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursor(items[0]) if items else None,
            end_cursor=page.cursor(items[-1]) if items else None,
        ),
        counter=counter,
    )
