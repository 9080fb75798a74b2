"""Audit GraphQL types."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from domain.audit import AccessRecord, ChangeRecord
from graph.context import Info, context_of
from graph.relay import Node, encode_global_id
from graph.users.types import UserType, user_node

AUDIT_LOG = "AuditLog"
ACCESS_LOG = "AccessLog"


@strawberry.enum
class AuditAction(Enum):
    """The kind of change."""

    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


async def _user(info: Info, user_id: int | None) -> UserType | None:
    if user_id is None:
        return None
    found = await context_of(info).loaders.user_by_id.load(user_id)
    return None if found is None else user_node(found)


@strawberry.type(
    name="AuditLog",
    description="One captured data change, written in the same transaction as the change.",
)
class AuditLogType(Node):
    id: strawberry.ID
    occurred_at: datetime
    action: AuditAction
    entity: str = strawberry.field(description="Table or entity name, e.g. products.")
    entity_id: str = strawberry.field(description="Primary key of the changed row.")
    old_values: JSON | None
    new_values: JSON | None
    changed_fields: list[str]
    request_id: str | None
    operation_name: str | None
    actor_label: str | None = strawberry.field(
        description="A named system actor (seeds, scripts) when no user made the change."
    )
    actor_pk: strawberry.Private[int | None]

    @strawberry.field
    async def actor(self, info: Info) -> UserType | None:
        """The user who made the change; null for system actors."""
        return await _user(info, self.actor_pk)


def change_node(record: ChangeRecord) -> AuditLogType:
    """Map a change record to its GraphQL type."""
    return AuditLogType(
        id=encode_global_id(AUDIT_LOG, record.id),
        occurred_at=record.occurred_at,
        action=AuditAction(record.action),
        entity=record.entity,
        entity_id=record.entity_id,
        old_values=record.old_values,
        new_values=record.new_values,
        changed_fields=list(record.changed_fields or []),
        request_id=record.request_id,
        operation_name=record.operation_name,
        actor_label=record.actor_label,
        actor_pk=record.actor_id,
    )


@strawberry.type(
    name="AccessLog",
    description="One served request: who asked what, from where, and how it ended.",
)
class AccessLogType(Node):
    id: strawberry.ID
    occurred_at: datetime
    ip: str | None
    method: str
    path: str
    status_code: int
    duration_ms: float
    request_id: str
    operation_type: str | None
    operation_name: str | None
    error_codes: list[str] = strawberry.field(
        description="extensions.code of every error in the response, empty when none."
    )
    details: JSON | None = strawberry.field(
        description="Security events (a failed login's email, a refresh token reuse), and "
        "variables with secrets redacted when AUDIT_LOG_VARIABLES is on."
    )
    user_pk: strawberry.Private[int | None]

    @strawberry.field
    async def user(self, info: Info) -> UserType | None:
        """The authenticated caller; null for anonymous requests."""
        return await _user(info, self.user_pk)


def access_node(record: AccessRecord) -> AccessLogType:
    """Map an access record to its GraphQL type."""
    return AccessLogType(
        id=encode_global_id(ACCESS_LOG, record.id),
        occurred_at=record.occurred_at,
        ip=record.ip,
        method=record.method,
        path=record.path,
        status_code=record.status_code,
        duration_ms=record.duration_ms,
        request_id=record.request_id,
        operation_type=record.operation_type,
        operation_name=record.operation_name,
        error_codes=list(record.error_codes or []),
        details=record.details,
        user_pk=record.user_id,
    )


@strawberry.type
class AuditChainReport:
    """The outcome of walking the change chain."""

    ok: bool
    checked: int
    first_broken_id: strawberry.ID | None = strawberry.field(
        description="First record whose hash does not follow from its predecessor; null when ok."
    )
    chain_head: str = strawberry.field(
        description=(
            "SHA-256 of the newest record. Keep a copy outside the database: a record appended "
            "with a correct hash by someone with write access shows only against it."
        )
    )
