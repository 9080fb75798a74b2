"""The hash chain: each change record's hash covers its predecessor's hash and itself."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final

GENESIS: Final = ""
# The fields a record's hash covers, in the canonical JSON (keys sorted).
HASHED_FIELDS: Final = (
    "occurred_at",
    "action",
    "entity",
    "entity_id",
    "actor_id",
    "actor_label",
    "old_values",
    "new_values",
    "changed_fields",
    "request_id",
    "operation_name",
)


def json_value(value: Any) -> Any:
    """A column value as JSON: Decimal as a string, dates in ISO 8601, enums by name."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.name
    return value


def canonical(record: Mapping[str, Any]) -> str:
    """The canonical JSON of a record's hashed fields."""
    payload = {name: json_value(record.get(name)) for name in HASHED_FIELDS}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(previous: str, record: Mapping[str, Any]) -> str:
    """SHA-256 of the previous hash followed by the record's canonical JSON."""
    return hashlib.sha256((previous + canonical(record)).encode()).hexdigest()
