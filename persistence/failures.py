"""Database failures that are overload or an outage, not a bug, as domain errors.

The session gate (`persistence.gate`) and the other adapters raise these in place of the
driver's exceptions, so the layers above answer them without knowing SQLAlchemy: an
exhausted pool, a server-side timeout, a database that cannot be reached or dropped the
connection. Every other database error (a constraint, a bad statement) passes unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from domain.errors import DomainError, ServiceUnavailable, TimedOut

BUSY = "The service is busy; retry in a moment."
TOO_SLOW = "The database took too long to answer; retry with a smaller query."
UNREACHABLE = "The service is temporarily unavailable; retry later."

# PostgreSQL SQLSTATEs: statement_timeout cancelled the query; lock_timeout gave up waiting.
_TIMED_OUT_STATES = {"57014", "55P03"}
# Shutting down or starting up, too many connections, no such database, login refused.
_UNREACHABLE_STATES = {"57P01", "57P02", "57P03", "53300", "3D000", "28000", "28P01"}
# SQLite primary result codes: BUSY, LOCKED, IOERR, FULL, CANTOPEN.
_SQLITE_UNAVAILABLE = {5, 6, 10, 13, 14}


def unavailable(error: BaseException | None) -> DomainError | None:
    """The domain error `error` stands for when it is overload or an outage, else None.

    Every path (reads, writes, login) answers them alike.
    """
    if isinstance(error, sa_exc.TimeoutError):
        return ServiceUnavailable(BUSY)
    if isinstance(error, sa_exc.DBAPIError):
        state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if state in _TIMED_OUT_STATES:
            return TimedOut(TOO_SLOW)
    if is_connection_failure(error):
        return ServiceUnavailable(UNREACHABLE)
    return None


@contextmanager
def translated() -> Iterator[None]:
    """Raise overload and outages inside the block as the domain errors they stand for."""
    try:
        yield
    except Exception as error:
        failure = unavailable(error)
        if failure is None:
            raise
        raise failure from error


def is_connection_failure(error: BaseException | None) -> bool:
    """Whether `error` says the database is out of reach rather than that a statement is wrong.

    asyncpg raises plain `OSError`s (and its own errors, with a SQLSTATE) when it cannot
    connect; SQLAlchemy marks lost connections as invalidated; SQLite names the file it
    cannot open, or the lock it cannot get, by its primary result code. A missing table or
    a bad statement is none of these: that stays a bug, masked and logged.
    """
    if isinstance(error, OSError | sa_exc.DisconnectionError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig
        if isinstance(error, OSError):
            return True
    state = str(getattr(error, "sqlstate", None) or "")
    sqlite_code = getattr(error, "sqlite_errorcode", None)
    return (
        state.startswith("08")
        or state in _UNREACHABLE_STATES
        or (isinstance(sqlite_code, int) and sqlite_code & 0xFF in _SQLITE_UNAVAILABLE)
    )
