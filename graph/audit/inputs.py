"""Audit inputs: the criteria of the change and access record lists."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph.audit.types import AuditAction


@strawberry.input
class AuditLogFilter:
    """Criteria for change records."""

    entity: str | None = None
    entity_id: str | None = None
    action: AuditAction | None = None
    actor_id: strawberry.ID | None = None
    request_id: str | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None


@strawberry.input
class AccessLogFilter:
    """Criteria for access records."""

    user_id: strawberry.ID | None = None
    operation_name: str | None = None
    status_code: int | None = None
    has_errors: bool | None = None
    request_id: str | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None
