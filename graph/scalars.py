"""Scalars whose parse errors read well and reveal nothing about the implementation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import dateutil.parser
import strawberry
from strawberry.schema.types.base_scalars import DateTimeDefinition, wrap_parser
from strawberry.types.scalar import ScalarDefinition

MAX_DECIMAL_LENGTH = 40


def _parse_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('Decimal must be a string such as "19.90".')
    text = str(value).strip()
    if len(text) > MAX_DECIMAL_LENGTH:
        raise ValueError("Decimal is too long.")
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"Decimal cannot represent {text[:20]!r}.") from None
    if not parsed.is_finite():
        raise ValueError("Decimal must be finite.")
    return parsed


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='Exact decimal, serialized as a string ("19.90").',
    serialize=str,
    parse_value=_parse_decimal,
)


def _parse_utc_datetime(value: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; a naive one is taken as UTC.

    Converting here means an offset that pushes the instant past year 1 or 9999 is a
    refused input, not an OverflowError deep in a query.
    """
    parsed: datetime = dateutil.parser.isoparse(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("it is out of range once converted to UTC") from None


# Strawberry's DateTime, same name and description, parsed to UTC.
DateTimeScalar = strawberry.scalar(
    name=DateTimeDefinition.name,
    description=DateTimeDefinition.description,
    serialize=datetime.isoformat,
    parse_value=wrap_parser(_parse_utc_datetime, "DateTime"),
)

SCALAR_MAP: dict[object, ScalarDefinition] = {Decimal: DecimalScalar, datetime: DateTimeScalar}
