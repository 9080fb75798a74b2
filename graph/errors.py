"""The one place where failures become GraphQL errors with `extensions.code`.

Domain errors keep their message and code. Parse and validation errors keep
graphql-core's codes. Everything unexpected is logged with its stack trace
and reaches the client masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import structlog
from graphql import GraphQLError
from sqlalchemy import exc as sa_exc
from strawberry.extensions import SchemaExtension

from domain.errors import DomainError, ErrorCode

log = structlog.get_logger("graph.errors")

MASKED_MESSAGE = "Internal server error."


def camel(name: str) -> str:
    """`min_price` → `minPrice`, the name the client sent."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def is_expected(error: GraphQLError) -> bool:
    """Whether the error is a normal outcome rather than a bug."""
    original = error.original_error
    if original is None or isinstance(original, DomainError | GraphQLError):
        return True
    if database_unavailable(original) is not None:
        return True
    # Variables that fail to coerce surface as request-level value errors.
    return error.path is None and isinstance(original, ValueError | TypeError)


def _extensions(error: GraphQLError, code: str, request_id: str | None) -> dict[str, Any]:
    extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
    if request_id is not None:
        extensions["requestId"] = request_id
    return extensions


def _rebuild(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def map_error(
    error: GraphQLError,
    *,
    executing: bool,
    request_id: str | None,
    hide_suggestions: bool = False,
) -> GraphQLError:
    """Translate one error for the client."""
    if hide_suggestions and "Did you mean" in error.message:
        # Suggestions reveal field and type names that introspection would have hidden.
        error = GraphQLError(
            _SUGGESTION.sub("", error.message),
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=error.original_error,
            extensions=error.extensions,
        )
    original = error.original_error
    if isinstance(original, DomainError):
        extensions = _extensions(error, original.code.value, request_id)
        if original.fields:
            extensions["fields"] = {camel(k): v for k, v in original.fields.items()}
        extensions.update(original.details)
        return _rebuild(error, original.message, extensions)
    if isinstance(original, GraphQLError) and "code" in (original.extensions or {}):
        code = str((original.extensions or {})["code"])
        return _rebuild(error, original.message, _extensions(original, code, request_id))
    if error.path is None and not executing:
        code = (
            ErrorCode.GRAPHQL_PARSE_FAILED
            if error.message.startswith("Syntax Error")
            else ErrorCode.GRAPHQL_VALIDATION_FAILED
        ).value
        return _rebuild(error, error.message, _extensions(error, code, request_id))
    if error.path is None and (
        original is None or isinstance(original, GraphQLError | ValueError | TypeError)
    ):
        # Request-level failures during execution: variables that do not fit their types.
        code = ErrorCode.BAD_USER_INPUT.value
        return _rebuild(error, error.message, _extensions(error, code, request_id))
    unavailable = database_unavailable(original)
    if unavailable is not None:
        code, message = unavailable
        return _rebuild(error, message, _extensions(error, code, request_id))
    extensions = _extensions(error, ErrorCode.INTERNAL_SERVER_ERROR.value, request_id)
    return _rebuild(error, MASKED_MESSAGE, extensions)


# PostgreSQL SQLSTATEs: statement_timeout cancelled the query; lock_timeout gave up waiting.
_TIMED_OUT_STATES = {"57014", "55P03"}
# Shutting down or starting up, too many connections, no such database, login refused.
_UNREACHABLE_STATES = {"57P01", "57P02", "57P03", "53300", "3D000", "28000", "28P01"}
# SQLite primary result codes: BUSY, LOCKED, IOERR, FULL, CANTOPEN.
_SQLITE_UNAVAILABLE = {5, 6, 10, 13, 14}


def database_unavailable(original: BaseException | None) -> tuple[str, str] | None:
    """Overload and outages, not bugs: an exhausted pool, a server-side timeout, a database
    that cannot be reached or dropped the connection. Every path (reads, writes, login)
    answers them alike."""
    if isinstance(original, sa_exc.TimeoutError):
        return (
            ErrorCode.SERVICE_UNAVAILABLE.value,
            "The service is busy; retry in a moment.",
        )
    if isinstance(original, sa_exc.DBAPIError):
        state = getattr(original.orig, "sqlstate", None) or getattr(original.orig, "pgcode", None)
        if state in _TIMED_OUT_STATES:
            return (
                ErrorCode.TIMEOUT.value,
                "The database took too long to answer; retry with a smaller query.",
            )
    if is_connection_failure(original):
        return (
            ErrorCode.SERVICE_UNAVAILABLE.value,
            "The service is temporarily unavailable; retry later.",
        )
    return None


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


class ErrorMapping(SchemaExtension):
    """Rewrites every error of an operation into its client-facing form."""

    executing = False

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        self.hide_suggestions = hide_suggestions

    def on_execute(self) -> Iterator[None]:
        """Mark that parsing and validation are over."""
        self.executing = True
        yield

    def on_operation(self) -> Iterator[None]:
        """After the operation, map each error of the result."""
        self.executing = False
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        result.errors = map_errors(
            errors,
            executing=self.executing,
            request_id=request_id,
            hide_suggestions=self.hide_suggestions,
        )


def map_errors(
    errors: list[GraphQLError],
    *,
    executing: bool,
    request_id: str | None,
    hide_suggestions: bool = False,
) -> list[GraphQLError]:
    """Map every error that has no code yet; mapped ones only gain the request id."""
    mapped = []
    seen: set[str] = set()
    for error in errors:
        if error.path is None and error.original_error is None and not executing:
            # One mistake repeated (a directive written ten times) is one error, not ten.
            if error.message in seen:
                continue
            seen.add(error.message)
        extensions = error.extensions or {}
        if "code" not in extensions:
            error = map_error(
                error,
                executing=executing,
                request_id=request_id,
                hide_suggestions=hide_suggestions,
            )
        elif request_id is not None and "requestId" not in extensions:
            error = _rebuild(error, error.message, {**extensions, "requestId": request_id})
        mapped.append(error)
    return mapped
