"""Page requests and cursors: Relay's arguments checked, cursors opaque and tied to an ordering."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.errors import InvalidInput
from domain.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_ID,
    MAX_PAGE_SIZE,
    Cursor,
    Page,
    PageRequest,
    SortKey,
    encode_cursor,
)
from domain.products.model import ORDER_FIELDS
from domain.tasks.model import ORDER_FIELDS as TASK_ORDER_FIELDS
from domain.tasks.model import TaskPriority


@dataclass
class Row:
    """Something with sortable fields, like a product."""

    id: int
    name: str
    price: Decimal
    created_at: datetime


ROW = Row(id=7, name="Widget", price=Decimal("19.90"), created_at=datetime(2024, 5, 1, tzinfo=UTC))
BY_PRICE = (SortKey("price", descending=True),)
BY_NAME = (SortKey("name"),)


def refused(**arguments: object) -> dict[str, str]:
    """The per-argument reasons of a page request that must be refused."""
    with pytest.raises(InvalidInput) as caught:
        PageRequest.build(fields=ORDER_FIELDS, **arguments)  # type: ignore[arg-type]
    return caught.value.fields


def raw_cursor(payload: object) -> str:
    """Encode any JSON payload the way cursors are encoded, to forge cursors."""
    text = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


# ---------------------------------------------------------------- sizes


def test_given_no_arguments_when_built_then_a_forward_page_of_the_default_size() -> None:
    page = PageRequest.build()

    assert page == PageRequest(limit=DEFAULT_PAGE_SIZE, backward=False)
    assert DEFAULT_PAGE_SIZE == 20


@pytest.mark.parametrize("size", [0, 1, MAX_PAGE_SIZE])
def test_given_first_within_bounds_when_built_then_it_is_the_limit(size: int) -> None:
    page = PageRequest.build(first=size)

    assert page.limit == size
    assert page.backward is False


def test_given_last_when_built_then_the_page_reads_backwards() -> None:
    page = PageRequest.build(last=5)

    assert page.limit == 5
    assert page.backward is True


@pytest.mark.parametrize("name", ["first", "last"])
def test_given_a_size_past_the_maximum_when_built_then_that_argument_is_refused(
    name: str,
) -> None:
    assert MAX_PAGE_SIZE == 100
    assert refused(**{name: MAX_PAGE_SIZE + 1}) == {name: "must be at most 100"}


@pytest.mark.parametrize("name", ["first", "last"])
def test_given_a_negative_size_when_built_then_that_argument_is_refused(name: str) -> None:
    assert refused(**{name: -1}) == {name: "must not be negative"}


def test_given_first_and_last_together_when_built_then_last_is_refused() -> None:
    assert refused(first=1, last=1) == {"last": "cannot be combined with first"}


def test_given_several_bad_arguments_when_built_then_each_is_named() -> None:
    fields = refused(first=-1, after="garbage!", before="also garbage")

    assert set(fields) == {"first", "after", "before"}


def test_given_a_field_twice_in_the_ordering_when_built_then_order_by_is_refused() -> None:
    assert refused(order=(SortKey("name"), SortKey("name", descending=True))) == {
        "orderBy": "lists a field more than once"
    }


# ---------------------------------------------------------------- cursors


def test_given_a_cursor_of_a_row_when_used_as_after_then_it_decodes_to_its_values_and_id() -> None:
    order = (SortKey("price", descending=True), SortKey("created_at"), SortKey("name"))
    cursor = Page([ROW], has_next_page=True, has_previous_page=False, order=order).cursor(ROW)

    page = PageRequest.build(first=2, after=cursor, order=order, fields=ORDER_FIELDS)

    assert page.after == Cursor(values=(ROW.price, ROW.created_at, ROW.name), id=ROW.id)
    assert page.before is None


def test_given_a_cursor_when_used_as_before_then_it_decodes_the_same() -> None:
    cursor = encode_cursor(BY_NAME, ROW)

    page = PageRequest.build(last=2, before=cursor, order=BY_NAME, fields=ORDER_FIELDS)

    assert page.before == Cursor(values=("Widget",), id=7)


def test_given_a_cursor_when_encoded_then_it_is_opaque_url_safe_text() -> None:
    cursor = encode_cursor(BY_PRICE, ROW)

    assert "19.90" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_given_a_cursor_of_the_default_ordering_when_decoded_then_only_the_id_is_kept() -> None:
    page = PageRequest.build(after=encode_cursor((), ROW))

    assert page.after == Cursor(values=(), id=7)


def test_given_a_cursor_from_another_ordering_when_used_then_the_argument_is_refused() -> None:
    cursor = encode_cursor(BY_NAME, ROW)

    assert refused(after=cursor, order=BY_PRICE) == {"after": "was made for another ordering"}


def test_given_a_cursor_from_the_other_direction_when_used_then_it_is_refused() -> None:
    cursor = encode_cursor((SortKey("name"),), ROW)

    fields = refused(before=cursor, order=(SortKey("name", descending=True),))

    assert fields == {"before": "was made for another ordering"}


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "",
        "%%%%",
        "é",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        raw_cursor({"not": "a list"}),
        raw_cursor(["name:a", ["Widget"]]),
        raw_cursor(["name:a", "Widget", 7]),
        raw_cursor(["name:a", ["Widget", "extra"], 7]),
        raw_cursor(["name:a", ["Widget"], "7"]),
        raw_cursor(["name:a", ["Widget"], True]),
        raw_cursor(["name:a", [42], 7]),
        "A" * 2000,
    ],
)
def test_given_a_garbage_cursor_when_used_then_the_argument_is_refused(cursor: str) -> None:
    assert refused(after=cursor, order=BY_NAME) == {"after": "is not a valid cursor"}


@pytest.mark.parametrize(
    ("order", "value"),
    [
        ((SortKey("price"),), "not a number"),
        ((SortKey("price"),), 19.9),
        ((SortKey("price"),), "NaN"),
        ((SortKey("price"),), "Infinity"),
        ((SortKey("price"),), "1e999999"),
        ((SortKey("price"),), "1e-999999"),
        ((SortKey("name"),), "nul\u0000inside"),
        ((SortKey("created_at"),), "yesterday"),
        ((SortKey("created_at"),), 12),
        ((SortKey("created_at"),), "0001-01-01T00:00:00+14:00"),
    ],
)
def test_given_a_cursor_value_of_the_wrong_type_when_used_then_it_is_refused(
    order: tuple[SortKey, ...], value: object
) -> None:
    cursor = raw_cursor([",".join(f"{k.field}:a" for k in order), [value], 7])

    assert refused(before=cursor, order=order) == {"before": "is not a valid cursor"}


@pytest.mark.parametrize("row_id", [-1, 2**31, 2**63, 10**30])
def test_given_a_cursor_with_an_id_no_database_can_hold_when_used_then_it_is_refused(
    row_id: int,
) -> None:
    assert refused(after=raw_cursor(["id", [], row_id])) == {"after": "is not a valid cursor"}


def test_given_the_largest_id_when_used_in_a_cursor_then_it_is_accepted() -> None:
    page = PageRequest.build(after=raw_cursor(["id", [], MAX_ID]))

    assert page.after == Cursor(values=(), id=MAX_ID)


@pytest.mark.parametrize("rank", [0, 5, 10**30, True])
def test_given_an_unknown_priority_rank_in_a_cursor_when_used_then_it_is_refused(
    rank: object,
) -> None:
    cursor = raw_cursor(["priority:a", [rank], 1])

    with pytest.raises(InvalidInput) as caught:
        PageRequest.build(after=cursor, order=(SortKey("priority"),), fields=TASK_ORDER_FIELDS)

    assert caught.value.fields == {"after": "is not a valid cursor"}


def test_given_a_priority_cursor_when_round_tripped_then_the_rank_comes_back_as_priority() -> None:
    @dataclass
    class TaskRow:
        id: int
        priority: TaskPriority

    order = (SortKey("priority", descending=True),)
    cursor = encode_cursor(order, TaskRow(id=4, priority=TaskPriority.HIGH))

    page = PageRequest.build(after=cursor, order=order, fields=TASK_ORDER_FIELDS)

    assert page.after == Cursor(values=(TaskPriority.HIGH,), id=4)
    assert isinstance(page.after.values[0], TaskPriority)


def test_given_a_naive_or_offset_timestamp_in_a_cursor_when_used_then_it_is_read_as_utc() -> None:
    order = (SortKey("created_at"),)
    naive = raw_cursor(["created_at:a", ["2024-05-01T12:00:00"], 1])
    offset = raw_cursor(["created_at:a", ["2024-05-01T14:00:00+02:00"], 1])

    for cursor in (naive, offset):
        page = PageRequest.build(after=cursor, order=order, fields=ORDER_FIELDS)
        assert page.after == Cursor(values=(datetime(2024, 5, 1, 12, tzinfo=UTC),), id=1)
        assert getattr(page.after.values[0], "tzinfo", None) is UTC


def test_given_a_null_sort_value_when_round_tripped_then_it_stays_null() -> None:
    @dataclass
    class TaskRow:
        id: int
        due_date: None

    order = (SortKey("due_date"),)
    cursor = encode_cursor(order, TaskRow(id=3, due_date=None))

    page = PageRequest.build(after=cursor, order=order, fields=TASK_ORDER_FIELDS)

    assert page.after == Cursor(values=(None,), id=3)


def test_given_a_page_request_when_asked_then_its_signature_names_keys_and_directions() -> None:
    page = PageRequest.build(order=(SortKey("price", descending=True), SortKey("name")))

    assert page.signature == "price:d,name:a"
    assert PageRequest.build().signature == "id"
