"""Commit notifications: ids only, sent by the transaction that wrote the change.

Two kinds of message, both plain text:

- `c:<id>`: change records up to `<id>` were committed. Subscribers read them from the
  change log, so the message carries no content.
- `r:<jti>`: the access token `<jti>` was revoked (a logout). Other revocations (password
  change, deactivation, role changes) are changes of audited rows and arrive as `c:`.

On PostgreSQL both are sent with `pg_notify` inside the committing transaction, so
PostgreSQL delivers them exactly when (and only if) it commits, to every instance that
listens (`realtime.brokers`): the append statement itself announces the newest id on
`audit.append.APPENDED_CHANNEL` (no extra statement), a logout sends `r:` on `CHANNEL`.
Every process also hands them to its own receivers after commit, without a round trip; on
SQLite that is the only path.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Final

import structlog
from sqlalchemy import Engine, Insert, event, text
from sqlalchemy.orm import ORMExecuteState, Session

from audit.capture import APPENDED_KEY, AuditedSession

CHANNEL: Final = "taskgraph_realtime"
CHANGES: Final = "c:"
REVOKED: Final = "r:"
REVOKED_KEY: Final = "realtime.revoked_jtis"
REVOKED_TOKENS_TABLE: Final = "revoked_tokens"

Receiver = Callable[[str], None]

log = structlog.get_logger("realtime.notify")

# Receivers per engine, so that apps (and tests) sharing a process hear only their database.
_receivers: weakref.WeakKeyDictionary[Engine, list[Receiver]] = weakref.WeakKeyDictionary()


def listen_locally(engine: Engine, receiver: Receiver) -> Callable[[], None]:
    """Call `receiver(message)` after each commit on `engine` in this process; returns the undo."""
    _receivers.setdefault(engine, []).append(receiver)

    def undo() -> None:
        receivers = _receivers.get(engine, [])
        if receiver in receivers:
            receivers.remove(receiver)

    return undo


def _messages(info: dict[str, Any]) -> list[str]:
    messages = [f"{REVOKED}{jti}" for jti in info.get(REVOKED_KEY, ())]
    last_id = info.get(APPENDED_KEY)
    if last_id:
        messages.append(f"{CHANGES}{last_id}")
    return messages


def _notify_in_transaction(session: Session) -> None:
    # Appends announce themselves in their own statement (audit.append); revocations here.
    revoked = session.info.get(REVOKED_KEY)
    if not revoked:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    for jti in revoked:
        connection.execute(
            text("SELECT pg_notify(:channel, :message)"),
            {"channel": CHANNEL, "message": f"{REVOKED}{jti}"},
        )


def _deliver_locally(session: Session) -> None:
    messages = _messages(session.info)
    _forget(session)
    if not messages:
        return
    bind = session.get_bind()
    engine = bind.engine if not isinstance(bind, Engine) else bind
    for receiver in list(_receivers.get(engine, ())):
        for message in messages:
            try:
                receiver(message)
            except Exception:  # a receiver must never fail a commit
                log.exception("realtime receiver failed")


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(REVOKED_KEY, None)
    session.info.pop(APPENDED_KEY, None)


def _note_revocation(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, Insert) and statement.table.name == REVOKED_TOKENS_TABLE:
        jti = statement.compile().params.get("jti")
        if jti:
            state.session.info.setdefault(REVOKED_KEY, []).append(str(jti))


def install() -> None:
    """Register the hooks on `AuditedSession` (idempotent)."""
    if event.contains(AuditedSession, "after_commit", _deliver_locally):
        return
    event.listen(AuditedSession, "do_orm_execute", _note_revocation)
    event.listen(AuditedSession, "before_commit", _notify_in_transaction)
    event.listen(AuditedSession, "after_commit", _deliver_locally)
    event.listen(AuditedSession, "after_rollback", _forget)


install()
