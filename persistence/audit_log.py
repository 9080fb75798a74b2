"""Reading the audit trail: newest first, keyset-paginated, every filter indexed.

`SqlAlchemyAuditReader` implements `domain.audit.AuditReader` on a request's session; the
connection-level reads below serve the change feed (`realtime.hub`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields
from typing import Generic, TypeVar, cast

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.audit import (
    AccessFilter,
    AccessRecord,
    ChangeBounds,
    ChangeFilter,
    ChangeRecord,
)
from domain.pagination import Page, PageRequest
from persistence.gate import GatedAdapter, SessionGate
from persistence.keyset import Sortable, paged, to_page
from persistence.models import AccessLogModel, AuditAnchorModel, AuditLogModel

audit_t = cast(Table, AuditLogModel.__table__)
access_t = cast(Table, AccessLogModel.__table__)

R = TypeVar("R")


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


class _TableReader(GatedAdapter, Generic[R]):
    """Pages, counts and single rows of one audit table, mapped to a record class."""

    def __init__(
        self, session: AsyncSession, gate: SessionGate, table: Table, record: type[R]
    ) -> None:
        super().__init__(session, gate)
        self.table = table
        self.record = record
        self.columns = [table.c[f.name] for f in fields(record)]  # type: ignore[arg-type]
        self.sortable = Sortable(columns={"occurred_at": table.c.occurred_at}, id_column=table.c.id)

    async def page(self, where: list[ColumnElement[bool]], page: PageRequest) -> Page[R]:
        rows = await self._rows(paged(select(*self.columns).where(*where), self.sortable, page))
        return to_page([self.record(*row) for row in rows], page)

    async def count(self, where: list[ColumnElement[bool]]) -> int:
        stmt = select(func.count()).select_from(self.table).where(*where)
        return int((await self._rows(stmt))[0][0])

    async def by_id(self, record_id: int) -> R | None:
        rows = await self._rows(select(*self.columns).where(self.table.c.id == record_id))
        return self.record(*rows[0]) if rows else None


class SqlAlchemyAuditReader:
    """Reads change and access records on a request's session."""

    def __init__(self, session: AsyncSession, gate: SessionGate) -> None:
        self._changes = _TableReader(session, gate, audit_t, ChangeRecord)
        self._accesses = _TableReader(session, gate, access_t, AccessRecord)

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


async def change_bounds(connection: AsyncConnection) -> ChangeBounds:
    """The last archived record id (0 when none) and the newest record id (0 when none)."""
    anchor = cast(Table, AuditAnchorModel.__table__)
    archived = (
        await connection.execute(select(anchor.c.last_archived_id).where(anchor.c.id == 1))
    ).scalar()
    newest = (await connection.execute(select(func.max(audit_t.c.id)))).scalar()
    return ChangeBounds(horizon=int(archived or 0), newest=int(newest or 0))
