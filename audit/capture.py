"""Change capture through SQLAlchemy session hooks.

`after_flush` turns every INSERT, UPDATE and DELETE of an audited entity into an entry
(old values, new values, the fields that really changed); `before_commit` writes the
entries of the whole transaction, hash-chained, inside the same transaction. A rollback
discards them with the change.

The chained write itself, one statement per transaction, is `audit.append`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from sqlalchemy import Engine, event, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import get_history

from audit.append import add_sqlite_sha256, append, append_returning_ids
from audit.chain import json_value
from persistence.database import create_session_factory
from persistence.unit_of_work import OPERATION_NAME_KEY

AUDITED_TABLES: Final = frozenset(
    {
        "products",
        "customers",
        "tasks",
        "task_products",
        "users",
        "roles",
        "role_grants",
        "user_roles",
    }
)
SECRET_COLUMNS: Final = frozenset({"password_hash", "token_hash"})
REDACTED: Final = "[REDACTED]"
# Bookkeeping that changes with every write; it stays in the values but is not a "change".
BOOKKEEPING: Final = frozenset({"updated_at", "version"})
PENDING_KEY: Final = "audit.pending"
# The newest record id the transaction appended; gone again with a rollback.
APPENDED_KEY: Final = "audit.appended_last_id"

__all__ = [
    "AuditedSession",
    "append",
    "audited_session_factory",
    "bulk_insert_entries",
    "install",
    "set_actor",
]


class AuditedSession(Session):
    """The session class whose flushes and commits are audited."""


def audited_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The application's sessions: each commit writes the change records of what it changed."""
    return create_session_factory(engine, session_class=AuditedSession)


def _value(column: str, value: Any) -> Any:
    return REDACTED if column in SECRET_COLUMNS and value is not None else json_value(value)


def _entity_id(state: Any) -> str:
    return ":".join(
        str(part) for part in state.identity or state.mapper.primary_key_from_instance(state.obj())
    )


def _entry(action: str, obj: Any) -> dict[str, Any] | None:
    state = inspect(obj)
    table = state.mapper.local_table.name
    if table not in AUDITED_TABLES:
        return None
    columns = [attr.key for attr in state.mapper.column_attrs]
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    changed: list[str] = []
    if action == "INSERT":
        new = {key: _value(key, getattr(obj, key)) for key in columns}
        changed = sorted(key for key in columns if new[key] is not None and key not in BOOKKEEPING)
    elif action == "DELETE":
        old = {key: _value(key, state.dict.get(key)) for key in columns}
        changed = sorted(key for key in columns if old[key] is not None and key not in BOOKKEEPING)
    else:
        old, new = {}, {}
        for key in columns:
            history = get_history(obj, key)
            current = getattr(obj, key)
            before = history.deleted[0] if history.deleted else current
            if key == "version" and isinstance(current, int):
                # The ORM bumps the version counter inside the flush, outside attribute history.
                before = current - 1
            old[key], new[key] = _value(key, before), _value(key, current)
            # Compared before redaction: a new password hash is a change even though both
            # sides are written as "[REDACTED]".
            really = json_value(before) != json_value(current)
            if history.has_changes() and really and key not in BOOKKEEPING:
                changed.append(key)
        if not changed:
            return None
    return {
        "action": action,
        "entity": table,
        "entity_id": _entity_id(state),
        "old_values": old,
        "new_values": new,
        "changed_fields": sorted(changed),
    }


def _collect(session: Session, _flush_context: UOWTransaction) -> None:
    pending: list[dict[str, Any]] = session.info.setdefault(PENDING_KEY, [])
    for action, objects in (
        ("INSERT", session.new),
        ("UPDATE", session.dirty),
        ("DELETE", session.deleted),
    ):
        for obj in objects:
            entry = _entry(action, obj)
            if entry is not None:
                pending.append(entry)


def _write(session: Session) -> None:
    session.flush()  # before_commit runs before the final flush; capture it too
    entries = session.info.pop(PENDING_KEY, None)
    if not entries:
        return
    info = session.info
    ids = append_returning_ids(
        session.connection(),
        entries,
        actor_id=info.get("actor_id"),
        actor_label=info.get("actor_label"),
        request_id=info.get("request_id"),
        operation_name=info.get(OPERATION_NAME_KEY),
    )
    if ids:
        # Read after commit by `realtime.notify`, which wakes subscribers with it.
        info[APPENDED_KEY] = max(max(ids), info.get(APPENDED_KEY, 0))


def _discard(session: Session, *_args: Any) -> None:
    session.info.pop(PENDING_KEY, None)
    session.info.pop(APPENDED_KEY, None)


def bulk_insert_entries(
    entity: str, rows: Iterable[Mapping[str, Any]], key: str = "id"
) -> list[dict[str, Any]]:
    """Entries for rows inserted with Core (seeds), so bulk loads are audited too."""
    entries = []
    for row in rows:
        values = {column: _value(column, value) for column, value in row.items()}
        entries.append(
            {
                "action": "INSERT",
                "entity": entity,
                "entity_id": str(row[key]) if key in row else "",
                "old_values": None,
                "new_values": values,
                "changed_fields": sorted(
                    k for k, v in values.items() if v is not None and k not in BOOKKEEPING
                ),
            }
        )
    return entries


def set_actor(
    session: Session | Any,
    *,
    actor_id: int | None = None,
    actor_label: str | None = None,
    request_id: str | None = None,
    operation_name: str | None = None,
) -> None:
    """Say who is changing data in this session, for the records its commits write."""
    info = session.info
    info["actor_id"] = actor_id
    info["actor_label"] = actor_label
    info["request_id"] = request_id
    if operation_name is not None:
        info[OPERATION_NAME_KEY] = operation_name


def install() -> None:
    """Register the hooks on `AuditedSession`, and SQLite's hash on every engine (idempotent)."""
    # On the Engine class, not one engine: seeds, migrations and tests build their own.
    if not event.contains(Engine, "connect", add_sqlite_sha256):
        event.listen(Engine, "connect", add_sqlite_sha256)
    if not event.contains(AuditedSession, "after_flush", _collect):
        event.listen(AuditedSession, "after_flush", _collect)
        event.listen(AuditedSession, "before_commit", _write)
        event.listen(AuditedSession, "after_rollback", _discard)
        event.listen(AuditedSession, "after_soft_rollback", _discard)


install()
