"""Relay plumbing: the Node interface, opaque global IDs, generic connections and the
arguments every connection field takes."""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypeVar, cast

import strawberry

from domain.errors import InvalidInput
from domain.pagination import MAX_ID, Page, PageRequest, Parser, SortKey

NodeT = TypeVar("NodeT")
EntityT = TypeVar("EntityT")
ResolverT = TypeVar("ResolverT", bound=Callable[..., Any])


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


class ConnectionArgs(NamedTuple):
    """Relay's `first`, `after`, `last` and `before`, as a connection field received them."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def page(
        self, order: Sequence[SortKey] = (), fields: Mapping[str, Parser] | None = None
    ) -> PageRequest:
        """Validate into a domain page request; `fields` parses each sort field's cursor value."""
        return PageRequest.build(
            first=self.first,
            after=self.after,
            last=self.last,
            before=self.before,
            order=order,
            fields=fields,
        )


# The GraphQL arguments `connection_args` puts in place of a resolver's `args`, in this order.
_CONNECTION_PARAMETERS = tuple(
    inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=type_)
    for name, type_ in (
        ("first", int | None),
        ("after", str | None),
        ("last", int | None),
        ("before", str | None),
    )
)


def _packed(kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs["args"] = ConnectionArgs(
        kwargs.pop("first", None),
        kwargs.pop("after", None),
        kwargs.pop("last", None),
        kwargs.pop("before", None),
    )
    return kwargs


def connection_args(resolver: ResolverT) -> ResolverT:
    """Give a connection field Relay's four page arguments without each resolver spelling
    them out: the resolver takes `args: ConnectionArgs`, and the field offers `first`,
    `after`, `last` and `before` in its place.

    Strawberry reads a field's arguments from the resolver's signature, so the wrapper
    declares them in `__signature__` and packs what it receives into one `ConnectionArgs`.
    """
    signature = inspect.signature(resolver)
    parameters = list(signature.parameters.values())
    names = [parameter.name for parameter in parameters]
    if "args" not in names:
        raise TypeError(f"{resolver.__qualname__} needs a parameter `args: ConnectionArgs`")
    at = names.index("args")
    wrapper: Any
    if inspect.iscoroutinefunction(resolver):

        @functools.wraps(resolver)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await resolver(*args, **_packed(kwargs))

    else:

        @functools.wraps(resolver)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return resolver(*args, **_packed(kwargs))

    wrapper.__signature__ = signature.replace(
        parameters=[*parameters[:at], *_CONNECTION_PARAMETERS, *parameters[at + 1 :]]
    )
    return cast(ResolverT, wrapper)
