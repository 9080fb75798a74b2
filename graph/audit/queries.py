"""Audit queries: change records, access records and chain verification (AUDIT read)."""

from __future__ import annotations

import strawberry

from audit.verify import verify_database
from auth.rbac import Module
from domain.audit import AccessFilter, ChangeFilter, checked, newest_first
from domain.pagination import PageRequest
from graph.audit.inputs import AccessLogFilter, AuditLogFilter
from graph.audit.types import (
    AUDIT_LOG,
    AccessLogType,
    AuditChainReport,
    AuditLogType,
    access_node,
    change_node,
)
from graph.context import Info, context_of
from graph.permissions import CanRead, guard
from graph.relay import (
    Connection,
    ConnectionArgs,
    build_connection,
    connection_args,
    decode_id_of,
    encode_global_id,
)


def _change_filter(f: AuditLogFilter | None) -> ChangeFilter:
    if f is None:
        return ChangeFilter()
    return checked(
        ChangeFilter(
            entity=f.entity,
            entity_id=f.entity_id,
            action=f.action.value if f.action else None,
            actor_id=decode_id_of(f.actor_id, "User", field="actorId")
            if f.actor_id is not None
            else None,
            request_id=f.request_id,
            occurred_after=f.occurred_after,
            occurred_before=f.occurred_before,
        )
    )


def _access_filter(f: AccessLogFilter | None) -> AccessFilter:
    if f is None:
        return AccessFilter()
    return checked(
        AccessFilter(
            user_id=decode_id_of(f.user_id, "User", field="userId")
            if f.user_id is not None
            else None,
            operation_name=f.operation_name,
            status_code=f.status_code,
            has_errors=f.has_errors,
            request_id=f.request_id,
            occurred_after=f.occurred_after,
            occurred_before=f.occurred_before,
        )
    )


def _newest_first(args: ConnectionArgs) -> PageRequest:
    return newest_first(first=args.first, after=args.after, last=args.last, before=args.before)


@strawberry.type
class AuditQueries:
    """Read access to the audit trail; there is no mutation that edits it."""

    @strawberry.field(extensions=guard(CanRead(Module.AUDIT)))
    @connection_args
    async def audit_logs(
        self, info: Info, args: ConnectionArgs, filter: AuditLogFilter | None = None
    ) -> Connection[AuditLogType]:
        """Captured data changes, newest first."""
        reader = context_of(info).uow.audit
        criteria = _change_filter(filter)
        page = _newest_first(args)
        found = await reader.change_page(criteria, page)
        return build_connection(found, change_node, lambda: reader.change_count(criteria))

    @strawberry.field(extensions=guard(CanRead(Module.AUDIT)))
    @connection_args
    async def access_logs(
        self, info: Info, args: ConnectionArgs, filter: AccessLogFilter | None = None
    ) -> Connection[AccessLogType]:
        """Served requests, newest first."""
        reader = context_of(info).uow.audit
        criteria = _access_filter(filter)
        page = _newest_first(args)
        found = await reader.access_page(criteria, page)
        return build_connection(found, access_node, lambda: reader.access_count(criteria))

    @strawberry.field(extensions=guard(CanRead(Module.AUDIT)))
    async def verify_audit_chain(self, info: Info) -> AuditChainReport:
        """Walk the change chain and report the first record that does not follow."""
        uow = context_of(info).uow
        async with uow.read_connection() as connection:
            report = await verify_database(connection)
        broken = report.first_broken_id
        return AuditChainReport(
            ok=report.ok,
            checked=report.checked,
            first_broken_id=None if broken is None else encode_global_id(AUDIT_LOG, broken),
            chain_head=report.last_hash,
        )
