"""The audit trail as the rest of the code reads it: records, criteria and the reader port.

Change records are written by `audit.capture` inside each write transaction; access records
by the access-log writer after each request. `persistence.audit_log` reads both tables.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol, TypeVar

from domain.pagination import Page, PageRequest, SortKey, parse_datetime
from domain.validation import Violations

NEWEST_FIRST = (SortKey("occurred_at", descending=True),)
ORDER_FIELDS = {"occurred_at": parse_datetime}


@dataclass(slots=True)
class ChangeRecord:
    """One captured data change."""

    id: int
    occurred_at: datetime
    action: str
    entity: str
    entity_id: str
    actor_id: int | None
    actor_label: str | None
    old_values: Any
    new_values: Any
    changed_fields: list[str]
    request_id: str | None
    operation_name: str | None


@dataclass(slots=True)
class AccessRecord:
    """One served request."""

    id: int
    occurred_at: datetime
    user_id: int | None
    ip: str | None
    method: str
    path: str
    status_code: int
    duration_ms: float
    request_id: str
    operation_type: str | None
    operation_name: str | None
    error_codes: list[str]
    details: Any


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """Criteria for change records; every given one must hold."""

    entity: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor_id: int | None = None
    request_id: str | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccessFilter:
    """Criteria for access records; every given one must hold."""

    user_id: int | None = None
    operation_name: str | None = None
    status_code: int | None = None
    has_errors: bool | None = None
    request_id: str | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChangeBounds:
    """The ends of the live change log: records after `horizon` up to `newest` are kept."""

    horizon: int
    newest: int


def newest_first(
    *, first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    """A page request over audit records, newest first."""
    return PageRequest.build(
        first=first, after=after, last=last, before=before, order=NEWEST_FIRST, fields=ORDER_FIELDS
    )


F = TypeVar("F", ChangeFilter, AccessFilter)


def checked(criteria: F) -> F:
    """Refuse text criteria that are too long or carry control characters (PostgreSQL
    rejects NUL bytes), with BAD_USER_INPUT naming each field."""
    v = Violations()
    for criterion in fields(criteria):
        value = getattr(criteria, criterion.name)
        if isinstance(value, str):
            v.criterion(criterion.name, value, max_length=256)
    v.raise_if_any()
    return criteria


class AuditReader(Protocol):
    """Change and access records, newest first, read on a request's unit of work."""

    async def change_page(
        self, criteria: ChangeFilter, page: PageRequest
    ) -> Page[ChangeRecord]: ...
    async def change_count(self, criteria: ChangeFilter) -> int: ...
    async def change_by_id(self, record_id: int) -> ChangeRecord | None: ...
    async def access_page(
        self, criteria: AccessFilter, page: PageRequest
    ) -> Page[AccessRecord]: ...
    async def access_count(self, criteria: AccessFilter) -> int: ...
    async def access_by_id(self, record_id: int) -> AccessRecord | None: ...
