"""Shared input rules; each check records a per-field reason instead of failing fast."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Unset:
    """Marks a patch field the caller left out, as distinct from an explicit null."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset()

EMAIL_MAX_LENGTH: Final = 254
NAME_MAX_LENGTH: Final = 200
TEXT_MAX_LENGTH: Final = 5000
SEARCH_MAX_LENGTH: Final = 200
# A pragmatic address check: one @, no spaces, a dotted domain with a 2+ letter TLD.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$"
)
# C0 and C1 control characters, but not the tab and line breaks a multi-line text may hold.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
# Every character that starts a new line when shown, not only \n and \r.
_LINE_BREAK = re.compile(r"[\n\r\x85\u2028\u2029]")
# Bidirectional embeddings, overrides and isolates reorder what a reader sees ("Trojan
# Source"); no text field accepts them, not even a multi-line one.
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# Joiners are format characters too, but emoji sequences and several scripts need them.
_JOINERS = frozenset("\u200c\u200d")


def _has_invisible(text: str) -> bool:
    """Whether `text` holds a format (Cf), surrogate or private-use character."""
    return any(
        unicodedata.category(char) in ("Cf", "Cs", "Co") and char not in _JOINERS for char in text
    )


def _is_visible(char: str) -> bool:
    return not char.isspace() and unicodedata.category(char) not in ("Cf", "Cc", "Mn", "Me")


class Violations:
    """Collects per-field reasons, then raises one `InvalidInput` naming them all."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, field: str, reason: str) -> None:
        """Record a reason for `field`; the first reason per field wins."""
        self.fields.setdefault(field, reason)

    def raise_if_any(self) -> None:
        """Raise `InvalidInput` when any field was refused."""
        if self.fields:
            names = ", ".join(sorted(self.fields))
            raise InvalidInput(f"Invalid input: {names}.", fields=self.fields)

    def text(
        self,
        field: str,
        value: str,
        *,
        max_length: int = NAME_MAX_LENGTH,
        min_length: int = 1,
        multiline: bool = False,
    ) -> str:
        """Strip and check a required text; returns the cleaned value."""
        cleaned = value.strip()
        if len(cleaned) < min_length:
            self.add(
                field, "must not be blank" if min_length == 1 else f"needs {min_length}+ chars"
            )
        elif len(cleaned) > max_length:
            self.add(field, f"must be at most {max_length} characters")
        elif not multiline and _LINE_BREAK.search(cleaned):
            self.add(field, "must be a single line")
        elif _CONTROL.search(cleaned) or (not multiline and "\t" in cleaned):
            self.add(field, "must not contain control characters")
        elif not cleaned.isascii():
            self._check_unicode(field, cleaned, multiline=multiline)
        return cleaned

    def _check_unicode(self, field: str, cleaned: str, *, multiline: bool) -> None:
        """What only non-ASCII text can get wrong: invisible or reordering characters."""
        if _BIDI_CONTROL.search(cleaned):
            self.add(field, "must not contain bidirectional control characters")
        elif not multiline and _has_invisible(cleaned):
            self.add(field, "must not contain invisible formatting characters")
        elif not any(_is_visible(char) for char in cleaned):
            self.add(field, "must not be blank")

    def optional_text(
        self,
        field: str,
        value: str | None,
        *,
        max_length: int = TEXT_MAX_LENGTH,
        multiline: bool = True,
    ) -> str | None:
        """Like `text`, but blank becomes None (an empty description is no description)."""
        if value is None or not value.strip():
            return None
        return self.text(field, value, max_length=max_length, multiline=multiline)

    def email(self, field: str, value: str) -> str:
        """Check an address and normalise it to lower case."""
        cleaned = value.strip().lower()
        if len(cleaned) > EMAIL_MAX_LENGTH or not _EMAIL.match(cleaned):
            self.add(field, "must be a valid email address")
        return cleaned

    def pattern(self, field: str, value: str, regex: re.Pattern[str], reason: str) -> str:
        """Check a value against a format; the whole value must match."""
        if not regex.fullmatch(value):
            self.add(field, reason)
        return value

    def int_range(self, field: str, value: int, *, minimum: int, maximum: int) -> int:
        """Check an integer bound."""
        if value < minimum:
            self.add(field, f"must be at least {minimum}")
        elif value > maximum:
            self.add(field, f"must be at most {maximum}")
        return value

    def money(self, field: str, value: Decimal, *, maximum: Decimal) -> Decimal:
        """Check a non-negative amount with at most two decimals."""
        try:
            exponent = value.as_tuple().exponent
            if not value.is_finite() or not isinstance(exponent, int):
                self.add(field, "must be a finite number")
            elif value < 0:
                self.add(field, "must be at least 0")
            elif value > maximum:
                self.add(field, f"must be at most {maximum}")
            elif exponent < -2 and value != value.quantize(Decimal("0.01")):
                self.add(field, "must have at most 2 decimal places")
            else:
                # Adding zero turns -0 into 0, so "-0" is never stored or shown as "-0.00".
                return value.quantize(Decimal("0.01")) + 0
        except InvalidOperation:
            self.add(field, "must be a number")
        return value

    def criterion(self, field: str, value: str, *, max_length: int = NAME_MAX_LENGTH) -> str:
        """Check a filter value: bounded and free of control characters (PostgreSQL refuses NUL)."""
        if len(value) > max_length:
            self.add(field, f"must be at most {max_length} characters")
        elif _CONTROL.search(value):
            self.add(field, "must not contain control characters")
        return value

    def required(self, field: str, value: object) -> None:
        """Refuse an explicit null for a field that cannot be cleared."""
        if value is None:
            self.add(field, "must not be null")


def clean_search(value: str | None) -> str | None:
    """Normalise a free-text search term; blank means no search."""
    if value is None:
        return None
    v = Violations()
    cleaned = v.criterion("search", value.strip(), max_length=SEARCH_MAX_LENGTH)
    v.raise_if_any()
    return cleaned or None
