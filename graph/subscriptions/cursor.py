"""Event cursors: the change record's id, encoded opaquely. Ids are in commit order."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from domain.errors import InvalidInput
from graph.audit.types import AUDIT_LOG
from graph.relay import decode_global_id

PREFIX: Final = "change:"
_KEY = re.compile(r"0|[1-9][0-9]{0,18}")


def encode_cursor(record_id: int) -> str:
    """The opaque cursor of change record `record_id`."""
    return base64.b64encode(f"{PREFIX}{record_id}".encode()).decode()


def decode_cursor(value: str, *, field: str = "after", audit_ids: bool = False) -> int:
    """The record id of a cursor; with `audit_ids`, an AuditLog's global ID is one too."""
    invalid = InvalidInput("Invalid cursor.", fields={field: "is not a valid cursor"})
    if len(value) > 100 or not value.isascii():
        raise invalid
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    key = raw.removeprefix(PREFIX)
    if raw.startswith(PREFIX) and _KEY.fullmatch(key):
        return int(key)
    if audit_ids:
        type_name, pk = decode_global_id(value, field=field)
        if type_name == AUDIT_LOG:
            return pk
    raise invalid
