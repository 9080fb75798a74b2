"""Reading the audit trail: newest first, keyset-paginated, every filter indexed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.pagination import Page, PageRequest, SortKey, parse_datetime
from domain.validation import Violations
from persistence.gate import SessionGate
from persistence.keyset import Sortable, paged, to_page
from persistence.models import AccessLogModel, AuditAnchorModel, AuditLogModel

audit_t = cast(Table, AuditLogModel.__table__)
access_t = cast(Table, AccessLogModel.__table__)

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


def _where(table: Table, criteria: ChangeFilter | AccessFilter) -> list[ColumnElement[bool]]:
    """Equality on every given criterion (each is named after its column), plus the window."""
    where: list[ColumnElement[bool]] = []
    for criterion in fields(criteria):
        value = getattr(criteria, criterion.name)
        if value is None:
            continue
        if criterion.name == "occurred_after":
            where.append(table.c.occurred_at > value)
        elif criterion.name == "occurred_before":
            where.append(table.c.occurred_at < value)
        else:
            where.append(table.c[criterion.name] == value)
    return where


R = TypeVar("R")


class _TableReader(Generic[R]):
    """Pages, counts and single rows of one audit table, mapped to a record class."""

    def __init__(self, table: Table, record: type[R], rows: Callable[[Any], Awaitable[Any]]):
        self.table = table
        self.record = record
        self.columns = [table.c[f.name] for f in fields(record)]  # type: ignore[arg-type]
        self.sortable = Sortable(columns={"occurred_at": table.c.occurred_at}, id_column=table.c.id)
        self._rows = rows

    async def page(self, where: list[ColumnElement[bool]], page: PageRequest) -> Page[R]:
        rows = await self._rows(paged(select(*self.columns).where(*where), self.sortable, page))
        return to_page([self.record(*row) for row in rows], page)

    async def count(self, where: list[ColumnElement[bool]]) -> int:
        stmt = select(func.count()).select_from(self.table).where(*where)
        return int((await self._rows(stmt))[0][0])

    async def by_id(self, record_id: int) -> R | None:
        rows = await self._rows(select(*self.columns).where(self.table.c.id == record_id))
        return self.record(*rows[0]) if rows else None


class AuditReader:
    """Reads change and access records on a request's session."""

    def __init__(self, session: AsyncSession, lock: SessionGate) -> None:
        self._session = session
        self._lock = lock
        self._changes = _TableReader(audit_t, ChangeRecord, self._rows)
        self._accesses = _TableReader(access_t, AccessRecord, self._rows)

    async def _rows(self, stmt: Any) -> Sequence[Any]:
        async def fetch() -> Sequence[Any]:
            return (await self._session.execute(stmt)).all()

        return await self._lock.run(fetch)

    async def change_page(self, criteria: ChangeFilter, page: PageRequest) -> Page[ChangeRecord]:
        """A page of change records."""
        return await self._changes.page(_where(audit_t, criteria), page)

    async def change_count(self, criteria: ChangeFilter) -> int:
        """How many change records match."""
        return await self._changes.count(_where(audit_t, criteria))

    async def change_by_id(self, record_id: int) -> ChangeRecord | None:
        """One change record."""
        return await self._changes.by_id(record_id)

    async def access_page(self, criteria: AccessFilter, page: PageRequest) -> Page[AccessRecord]:
        """A page of access records."""
        return await self._accesses.page(_where(access_t, criteria), page)

    async def access_count(self, criteria: AccessFilter) -> int:
        """How many access records match."""
        return await self._accesses.count(_where(access_t, criteria))

    async def access_by_id(self, record_id: int) -> AccessRecord | None:
        """One access record."""
        return await self._accesses.by_id(record_id)


CHANGE_COLUMNS = [audit_t.c[f.name] for f in fields(ChangeRecord)]


async def changes_after(
    connection: AsyncConnection,
    after_id: int,
    *,
    limit: int,
    entities: Collection[str] | None = None,
    up_to: int | None = None,
) -> list[ChangeRecord]:
    """Change records after `after_id` in id order (which is commit order), oldest first."""
    stmt = select(*CHANGE_COLUMNS).where(audit_t.c.id > after_id)
    if up_to is not None:
        stmt = stmt.where(audit_t.c.id <= up_to)
    if entities is not None:
        stmt = stmt.where(audit_t.c.entity.in_(sorted(entities)))
    rows = (await connection.execute(stmt.order_by(audit_t.c.id).limit(limit))).all()
    return [ChangeRecord(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class ChangeBounds:
    """The ends of the live change log: records after `horizon` up to `newest` are kept."""

    horizon: int
    newest: int


async def change_bounds(connection: AsyncConnection) -> ChangeBounds:
    """The last archived record id (0 when none) and the newest record id (0 when none)."""
    anchor = cast(Table, AuditAnchorModel.__table__)
    archived = (
        await connection.execute(select(anchor.c.last_archived_id).where(anchor.c.id == 1))
    ).scalar()
    newest = (await connection.execute(select(func.max(audit_t.c.id)))).scalar()
    return ChangeBounds(horizon=int(archived or 0), newest=int(newest or 0))
