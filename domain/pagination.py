"""Keyset pagination: page requests, opaque cursors and pages.

A cursor holds the values of the sort keys and the id of one row, plus a
signature of the ordering it was made for, so it stays valid when rows are
inserted between pages and is refused when reused with another ordering.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final, Generic, TypeVar

from domain.errors import InvalidInput

DEFAULT_PAGE_SIZE: Final = 20
MAX_PAGE_SIZE: Final = 100
_MAX_CURSOR_LENGTH: Final = 1024
_CURSOR_ALPHABET: Final = re.compile(r"[A-Za-z0-9_-]*")
# Keys are 32-bit integer columns: a larger id in a cursor would make the database fail
# instead of finding nothing, so such a cursor (which we never issue) is refused.
MAX_ID: Final = 2**31 - 1
# Integer sort values are at most 64-bit, and decimals are prices: far inside these bounds.
_MAX_INT: Final = 2**63 - 1
_MAX_DECIMAL_DIGITS: Final = 30

T = TypeVar("T")
Parser = Callable[[Any], object]


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ordering key: a domain field name and a direction."""

    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Cursor:
    """A decoded position: the sort key values and the id of a row."""

    values: tuple[object, ...]
    id: int


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A validated window: size, direction, bounds and ordering (ties broken by id)."""

    limit: int
    backward: bool = False
    after: Cursor | None = None
    before: Cursor | None = None
    order: tuple[SortKey, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        order: Sequence[SortKey] = (),
        fields: Mapping[str, Parser] | None = None,
    ) -> PageRequest:
        """Validate Relay arguments; `fields` parses each sortable field's cursor value."""
        reasons: dict[str, str] = {}
        if first is not None and last is not None:
            reasons["last"] = "cannot be combined with first"
        for name, value in (("first", first), ("last", last)):
            if value is not None and value < 0:
                reasons[name] = "must not be negative"
            elif value is not None and value > MAX_PAGE_SIZE:
                reasons[name] = f"must be at most {MAX_PAGE_SIZE}"
        ordering = tuple(order)
        if len({key.field for key in ordering}) != len(ordering):
            reasons["orderBy"] = "lists a field more than once"
        parsers = fields or {}
        decoded: dict[str, Cursor | None] = {}
        for name, raw in (("after", after), ("before", before)):
            try:
                decoded[name] = None if raw is None else decode_cursor(raw, ordering, parsers)
            except InvalidInput as error:
                reasons[name] = error.fields.get("cursor", "is not a valid cursor")
        if reasons:
            raise InvalidInput("Invalid pagination arguments.", fields=reasons)
        backward = last is not None
        size = last if backward else first
        return cls(
            limit=DEFAULT_PAGE_SIZE if size is None else size,
            backward=backward,
            after=decoded["after"],
            before=decoded["before"],
            order=ordering,
        )

    @property
    def signature(self) -> str:
        """Identifies the ordering, so a cursor cannot be reused with another one."""
        return order_signature(self.order)


@dataclass(slots=True)
class Page(Generic[T]):
    """One window of results in display order, with Relay's page flags."""

    items: list[T]
    has_next_page: bool
    has_previous_page: bool
    order: tuple[SortKey, ...] = field(default=())

    def cursor(self, item: Any) -> str:
        """The opaque cursor that points at `item` under this page's ordering."""
        return encode_cursor(self.order, item)


def order_signature(order: Sequence[SortKey]) -> str:
    """A short text that names the ordering keys and directions."""
    return ",".join(f"{key.field}:{'d' if key.descending else 'a'}" for key in order) or "id"


def _to_json(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def encode_cursor(order: Sequence[SortKey], item: Any) -> str:
    """Encode the sort key values and id of `item` as an opaque string."""
    return encode_cursor_values(order, [getattr(item, key.field) for key in order], item.id)


def encode_cursor_values(order: Sequence[SortKey], values: Sequence[object], row_id: int) -> str:
    """Encode a row's sort key values (in the order of `order`) and id as an opaque string."""
    payload = [order_signature(order), [_to_json(value) for value in values], row_id]
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str, order: Sequence[SortKey], parsers: Mapping[str, Parser]) -> Cursor:
    """Decode and check a cursor made for `order`; raise `InvalidInput` otherwise."""
    invalid = InvalidInput("Invalid cursor.", fields={"cursor": "is not a valid cursor"})
    # Only the unpadded URL-safe alphabet the encoder writes: the decoder would otherwise skip
    # stray characters, and one cursor would have many spellings.
    if len(raw) > _MAX_CURSOR_LENGTH or not _CURSOR_ALPHABET.fullmatch(raw):
        raise invalid
    try:
        padded = raw + "=" * (-len(raw) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, RecursionError):
        raise invalid from None
    if not (isinstance(payload, list) and len(payload) == 3):
        raise invalid
    signature, values, row_id = payload
    if signature != order_signature(order):
        raise InvalidInput(
            "Cursor belongs to another ordering.",
            fields={"cursor": "was made for another ordering"},
        )
    if not isinstance(values, list) or len(values) != len(order):
        raise invalid
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 <= row_id <= MAX_ID:
        raise invalid
    parsed: list[object] = []
    for key, value in zip(order, values, strict=True):
        parser = parsers.get(key.field)
        if parser is None:
            raise invalid
        try:
            parsed.append(None if value is None else parser(value))
        except (TypeError, ValueError, ArithmeticError):
            raise invalid from None
    return Cursor(values=tuple(parsed), id=row_id)


def parse_datetime(value: str) -> datetime:
    """Parse an ISO 8601 timestamp from a cursor, as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    # Converting here (OverflowError near year 1 or 9999) keeps the failure a refused cursor.
    return parsed.astimezone(UTC)


def parse_date(value: str) -> date:
    """Parse an ISO 8601 date from a cursor."""
    return date.fromisoformat(value)


def parse_decimal(value: str) -> Decimal:
    """Parse an exact, finite decimal of sane size from a cursor."""
    if not isinstance(value, str):
        raise TypeError("decimal cursor values are strings")
    parsed = Decimal(value)
    exponent = parsed.as_tuple().exponent
    if (
        not parsed.is_finite()
        or not isinstance(exponent, int)
        or parsed.adjusted() > _MAX_DECIMAL_DIGITS
        or exponent < -_MAX_DECIMAL_DIGITS
    ):
        raise ValueError("decimal out of range")
    return parsed


def parse_str(value: str) -> str:
    """Check a text cursor value: NUL (PostgreSQL text cannot hold it) and lone surrogates
    (not UTF-8, so no database can compare with them) are refused."""
    if not isinstance(value, str):
        raise TypeError("expected text")
    if "\x00" in value:
        raise ValueError("NUL in text")
    value.encode("utf-8")  # UnicodeEncodeError, a ValueError, for a lone surrogate
    return value


def parse_int(value: int) -> int:
    """Check an integer cursor value."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected an integer")
    if not -_MAX_INT - 1 <= value <= _MAX_INT:
        raise ValueError("integer out of range")
    return value
