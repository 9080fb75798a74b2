"""ORM models: the tables, their constraints and every index a page query uses."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain.tasks.model import TaskPriority, TaskStatus
from persistence.types import PriorityType, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING)


def _same_as_created(context: Any) -> datetime:
    # A new row's two timestamps are one instant, not two calls microseconds apart.
    created = context.get_current_parameters().get("created_at")
    return created if isinstance(created, datetime) else utcnow()


class TimestampMixin:
    """Creation and last-change times, set in Python so no reload is needed."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=_same_as_created, onupdate=utcnow, nullable=False
    )


class UserModel(TimestampMixin, Base):
    """A user; credentials and roles are added by the authentication module."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Null means the user cannot log in (e.g. an assignee created by an import).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Access tokens issued before this instant are refused (password, role or status change).
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProductModel(TimestampMixin, Base):
    """A product row; `version` is the optimistic-concurrency counter."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    stock: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index(None, "name", "id"),
        Index(None, "price", "id"),
        Index(None, "created_at", "id"),
        Index(None, "is_active"),
    )


class CustomerModel(TimestampMixin, Base):
    """A customer row; `version` is the optimistic-concurrency counter."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index(None, "name", "id"),
        Index(None, "created_at", "id"),
        # The company filter matches case-insensitively, so the index is on lower(company).
        Index("ix_customers_lower_company", func.lower(company)),
    )


class TaskModel(TimestampMixin, Base):
    """A task row; `version` is the optimistic-concurrency counter."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[TaskStatus] = mapped_column(
        Enum(TaskStatus, native_enum=False, length=16, validate_strings=True), nullable=False
    )
    priority: Mapped[TaskPriority] = mapped_column(PriorityType(), nullable=False)
    due_date: Mapped[date | None] = mapped_column(Date)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index(None, "customer_id", "id"),
        Index(None, "assignee_id"),
        Index(None, "status"),
        Index(None, "title", "id"),
        Index(None, "priority", "id"),
        Index(None, "due_date", "id"),
        Index(None, "created_at", "id"),
    )


class TaskProductModel(Base):
    """A task's link to a product; the primary key makes each link unique."""

    __tablename__ = "task_products"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class RoleModel(TimestampMixin, Base):
    """A named set of module grants."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(String(500))


class RoleGrantModel(Base):
    """One module granted to a role; READ is implied, the flags are the write actions."""

    __tablename__ = "role_grants"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    module: Mapped[str] = mapped_column(String(16), primary_key=True)
    can_create: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    can_update: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    can_delete: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class UserRoleModel(Base):
    """A role assigned to a user."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RefreshTokenModel(Base):
    """A refresh token, stored only as its hash; rotation links tokens into a family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    family_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RevokedTokenModel(Base):
    """A revoked access token (by jti), kept until the token would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)


class AuditLogModel(Base):
    """One captured data change, hash-chained to the one before it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    action: Mapped[str] = mapped_column(String(8), nullable=False)
    entity: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(128), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str | None] = mapped_column(String(64))
    old_values: Mapped[Any | None] = mapped_column(JSON)
    new_values: Mapped[Any | None] = mapped_column(JSON)
    changed_fields: Mapped[Any] = mapped_column(JSON, nullable=False)
    request_id: Mapped[str | None] = mapped_column(String(128))
    operation_name: Mapped[str | None] = mapped_column(String(256))
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)

    __table_args__ = (
        Index(None, "occurred_at", "id"),
        Index(None, "entity", "entity_id"),
        Index(None, "action"),
        Index(None, "actor_id"),
        Index(None, "request_id"),
    )


class AccessLogModel(Base):
    """One served request to /graphql: who asked what, from where, and how it ended."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    user_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    path: Mapped[str] = mapped_column(String(256), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    duration_ms: Mapped[float] = mapped_column(Float, nullable=False)
    request_id: Mapped[str] = mapped_column(String(128), nullable=False)
    operation_type: Mapped[str | None] = mapped_column(String(16))
    operation_name: Mapped[str | None] = mapped_column(String(256))
    error_codes: Mapped[Any] = mapped_column(JSON, nullable=False)
    has_errors: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # Security events (failed login email, refresh reuse) and, when enabled, variables.
    details: Mapped[Any | None] = mapped_column(JSON)

    __table_args__ = (
        Index(None, "occurred_at", "id"),
        Index(None, "user_id"),
        Index(None, "operation_name"),
        Index(None, "status_code"),
        Index(None, "has_errors"),
        Index(None, "request_id"),
    )


class AuditAnchorModel(Base):
    """Where the live chain starts after archiving: the last archived record's hash."""

    __tablename__ = "audit_anchor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_archived_id: Mapped[int] = mapped_column(Integer, nullable=False)
    last_archived_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class AuditHeadModel(Base):
    """The chain's newest hash on PostgreSQL: one row that every writer locks in turn.

    The append statement upserts it, which waits for the previous writer and sees its
    committed head (see `audit.capture`). `previous_hash` is the head before that append,
    which is where the append's records start. SQLite serialises writers with its write
    lock and reads the head from `audit_log` instead, so there the table stays empty.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    previous_hash: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)


class TrustedDocumentModel(Base):
    """A GraphQL document registered for production (`python -m graph.persisted add`).

    Keyed by the SHA-256 of its exact text, as Apollo's persisted queries are: a row never
    changes, so every instance may cache it for as long as it runs.
    """

    __tablename__ = "trusted_documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text, nullable=False)
    operation_name: Mapped[str | None] = mapped_column(String(256))
    # Where it came from: the manifest or file name given to the command.
    source: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
