"""Client text and JSON made safe to store as data, whatever the client sent.

The access log keeps what clients send (operation names, variables, a failed login's
email); a text the database refuses would cost that request its record, so every such
value is cleaned first: control characters and lone surrogates escaped, long values cut
with a marker, numbers made finite, the size of a JSON value bounded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

MAX_TEXT: Final = 256
TRUNCATED: Final = "…[truncated]"
# Control characters, and lone surrogates: no UTF-8 column (nor SQLite's driver) takes them.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_ITEMS: Final = 50  # per JSON object or array
MAX_DEPTH: Final = 8
MAX_VALUES: Final = 1_000  # per JSON value in all, so one record stays small


def clean_text(value: object, limit: int = MAX_TEXT) -> str | None:
    """Client text stored as data: control characters and lone surrogates escaped, long
    values cut with a marker."""
    if value is None:
        return None
    # Escaping only lengthens, so what lies past the limit is cut before it is scanned.
    text = _UNSAFE.sub(_escape, str(value)[: limit + 1])
    if len(text) > limit:
        return text[: limit - len(TRUNCATED)] + TRUNCATED
    return text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean_json(value: Any) -> Any:
    """A JSON value every database stores: text cleaned, numbers finite, size bounded."""
    return _JsonCleaner().clean(value, MAX_DEPTH)


class _JsonCleaner:
    """One walk over a JSON value, with a budget of values shared by the whole walk."""

    def __init__(self) -> None:
        self.budget = MAX_VALUES

    def clean(self, value: Any, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0 or depth < 0:
            return TRUNCATED
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value if abs(value) < 2**63 else clean_text(value)
        if isinstance(value, float):
            # NaN and Infinity are not JSON: PostgreSQL refuses them.
            return value if math.isfinite(value) else str(value)
        if isinstance(value, Mapping):
            pairs = list(value.items())
            cleaned = {clean_text(k, 64): self.clean(v, depth - 1) for k, v in pairs[:MAX_ITEMS]}
            if len(pairs) > MAX_ITEMS:
                cleaned[TRUNCATED] = len(pairs) - MAX_ITEMS  # how many were left out
            return cleaned
        if isinstance(value, list | tuple):
            items = [self.clean(item, depth - 1) for item in value[:MAX_ITEMS]]
            return [*items, TRUNCATED] if len(value) > MAX_ITEMS else items
        return clean_text(value)
