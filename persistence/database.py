"""Engine and session factory, tuned per database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from config.settings import Settings

sql_log = structlog.get_logger("sql")

# Called when any session, audited or not, begins a commit (`on_commit_start`).
_commit_watchers: list[Callable[[], None]] = []


def is_memory_sqlite(url: str) -> bool:
    """Whether the URL names an in-memory SQLite database."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def create_engine(settings: Settings) -> AsyncEngine:
    """Build the async engine: WAL + foreign keys on SQLite, a bounded pool on files and servers."""
    url = make_url(settings.database_url)
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        if is_memory_sqlite(settings.database_url):
            # One shared connection, or every session would see its own empty database.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            # The configured bound, not SQLAlchemy's 5 + 10 with a 30 s wait, which outlasts
            # the operation time limit. No pre-ping or recycle: a local file does not drop.
            kwargs.update(
                pool_size=settings.database_pool_size,
                max_overflow=settings.database_max_overflow,
                pool_timeout=settings.database_pool_timeout_seconds,
            )
    else:
        kwargs.update(
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_timeout=settings.database_pool_timeout_seconds,
            pool_recycle=settings.database_pool_recycle_seconds,
        )
        if url.get_backend_name() == "postgresql":
            # Server-side guards: no statement, lock wait or idle transaction runs unbounded.
            kwargs["connect_args"] = {
                "server_settings": {
                    "statement_timeout": str(settings.database_statement_timeout_ms),
                    "lock_timeout": str(settings.database_lock_timeout_ms),
                    "idle_in_transaction_session_timeout": str(
                        settings.database_idle_in_transaction_timeout_ms
                    ),
                }
            }
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine.sync_engine.pool, "checkout", _drop_closed)
    if settings.database_echo:
        event.listen(engine.sync_engine, "before_cursor_execute", _log_statement)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _drop_closed(_dbapi_connection: Any, _record: Any, proxy: Any) -> None:
    """Replace a pooled connection the driver already knows is closed, at no round trip.

    This stands in for `pool_pre_ping`, which on asyncpg costs BEGIN, a ping and ROLLBACK on
    every checkout (docs/adr/0009-autocommit-reads.md). A backend the server terminated or a
    restarted server closes the socket; asyncpg sees that while the connection sits idle, and
    the pool, told by `DisconnectionError`, connects afresh. A connection that dies without
    the socket closing fails its statement instead; SQLAlchemy then invalidates the pool's
    older connections, and `pool_recycle` bounds the age of the rest.
    """
    is_closed = getattr(proxy.driver_connection, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("The database closed this pooled connection.")


def _log_statement(
    _conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, executemany: bool
) -> None:
    # Parameters are never logged: they carry password and token hashes and personal data.
    # structlog's context variables add the request id to this line.
    sql_log.info("sql", statement=statement, many=executemany)


def create_session_factory(
    engine: AsyncEngine, *, session_class: type[Session]
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit, so payloads need no reload.

    The caller names the session class: the composition root passes
    `audit.capture.AuditedSession`, whose hooks write the change records. There is no
    default, so no caller loses the audit trail by forgetting it.
    """
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, sync_session_class=session_class
    )


def on_commit_start(watcher: Callable[[], None]) -> None:
    """Call `watcher()` whenever a session begins a commit, before the commit's other hooks
    (so before the audit rows are written: they are part of the commit). Idempotent."""
    if watcher not in _commit_watchers:
        _commit_watchers.append(watcher)
    if not event.contains(Session, "before_commit", _commit_started):
        event.listen(Session, "before_commit", _commit_started, insert=True)


def _commit_started(_session: Session) -> None:
    for watcher in _commit_watchers:
        watcher()
