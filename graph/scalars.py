"""Scalars whose parse errors read well and reveal nothing about the implementation."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import strawberry
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

SCALAR_MAP: dict[object, ScalarDefinition] = {Decimal: DecimalScalar}
