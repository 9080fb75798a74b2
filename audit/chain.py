"""The hash chain: each change record's hash covers its predecessor's hash and itself."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a walk along the chain."""

    ok: bool
    checked: int
    first_broken_id: int | None = None
    last_hash: str = GENESIS


class ChainWalker:
    """Checks records one after another, remembering where the chain broke first."""

    def __init__(self, start: str = GENESIS) -> None:
        self.expected = start
        self.checked = 0
        self.first_broken_id: int | None = None

    def feed(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Check the next records, in id order."""
        for record in records:
            self.checked += 1
            valid = record["prev_hash"] == self.expected and record["hash"] == link_hash(
                record["prev_hash"], record
            )
            if not valid and self.first_broken_id is None:
                self.first_broken_id = int(record["id"])
            self.expected = str(record["hash"])

    def report(self) -> ChainReport:
        """What the walk found."""
        return ChainReport(
            ok=self.first_broken_id is None,
            checked=self.checked,
            first_broken_id=self.first_broken_id,
            last_hash=self.expected,
        )
