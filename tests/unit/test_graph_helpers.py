"""The helpers every module's GraphQL adapter shares: Relay's connection arguments
(`connection_args`) and the patch of an update input (`patch_of`)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import strawberry

from domain.errors import InvalidInput
from domain.pagination import PageRequest, SortKey
from domain.validation import UNSET, Unset
from graph.common import patch_of
from graph.relay import ConnectionArgs, connection_args

received: list[tuple[ConnectionArgs, str | None]] = []


@strawberry.type
class Query:
    @strawberry.field
    @connection_args
    async def things(self, args: ConnectionArgs, filter: str | None = None) -> list[int]:
        received.append((args, filter))
        return [1]

    @strawberry.field
    @connection_args
    def others(self, args: ConnectionArgs) -> list[int]:
        received.append((args, None))
        return [2]


schema = strawberry.Schema(query=Query)


@pytest.fixture(autouse=True)
def _forget() -> None:
    received.clear()


def test_given_connection_args_when_the_schema_is_built_then_the_four_come_first() -> None:
    sdl = schema.as_str()

    page = "first: Int = null, after: String = null, last: Int = null, before: String = null"
    assert f"things({page}, filter: String = null): [Int!]!" in sdl
    assert f"others({page}): [Int!]!" in sdl


async def test_given_an_async_resolver_when_queried_then_it_receives_the_arguments_packed() -> None:
    result = await schema.execute('{ things(first: 2, after: "c", filter: "f") }')

    assert result.errors is None
    assert received == [(ConnectionArgs(first=2, after="c"), "f")]


def test_given_a_sync_resolver_when_queried_then_it_receives_the_arguments_packed() -> None:
    result = schema.execute_sync('{ others(last: 3, before: "c") }')

    assert result.errors is None
    assert received == [(ConnectionArgs(last=3, before="c"), None)]


def test_given_a_resolver_without_args_when_decorated_then_refused() -> None:
    def things(self: object, filter: str | None = None) -> list[int]:
        return []

    with pytest.raises(TypeError, match="args: ConnectionArgs"):
        connection_args(things)


def test_given_connection_args_when_paged_then_order_and_bounds_reach_the_request() -> None:
    order = (SortKey("name", descending=True),)

    page = ConnectionArgs(last=5).page(order)

    assert page == PageRequest(limit=5, backward=True, order=order)
    with pytest.raises(InvalidInput) as caught:
        ConnectionArgs(first=1, last=1).page()
    assert set(caught.value.fields) == {"last"}


@dataclass(frozen=True)
class ThingPatch:
    name: str | Unset | None = UNSET
    owner_id: int | Unset | None = UNSET


@strawberry.input
class UpdateThingInput:
    name: str | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    expected_version: int | None = None


def test_given_an_update_input_when_patched_then_left_out_fields_stay_unset() -> None:
    patch = patch_of(ThingPatch, UpdateThingInput(name=None))

    assert patch == ThingPatch(name=None, owner_id=UNSET)


def test_given_a_decoded_field_when_patched_then_it_replaces_the_input_value() -> None:
    patch = patch_of(
        ThingPatch, UpdateThingInput(name="n", owner_id=strawberry.ID("x")), owner_id=7
    )

    assert patch == ThingPatch(name="n", owner_id=7)


def test_given_a_decoded_field_the_patch_lacks_when_patched_then_refused() -> None:
    with pytest.raises(TypeError):
        patch_of(ThingPatch, UpdateThingInput(), owner=7)
