"""Typed domain errors, each with a stable code that the API adapter exposes."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    """Every `extensions.code` the API can emit; clients branch on these, never on messages.

    The README's error table is checked against this enum by a test. The first group are
    the domain's own outcomes; the rest are raised by the GraphQL and HTTP adapters (the
    document, the limits, the request itself) and live here so there is one list.
    """

    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    TIMEOUT = "TIMEOUT"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    # Subscriptions: a resume cursor past the archive horizon; a consumer left behind.
    CURSOR_EXPIRED = "CURSOR_EXPIRED"
    SLOW_CONSUMER = "SLOW_CONSUMER"
    # The document and the limits on it.
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    # The HTTP request, refused before GraphQL runs.
    BAD_REQUEST = "BAD_REQUEST"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    # Persisted operations (graph/persisted): Apollo's codes, so Apollo clients react to them.
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"


class DomainError(Exception):
    """Base of every expected failure; carries a code and optional details."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(
        self,
        message: str,
        *,
        fields: Mapping[str, str] | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})
        self.details: dict[str, object] = dict(details or {})


class InvalidInput(DomainError):
    """The input breaks a rule; `fields` names each offending field and why."""

    code = ErrorCode.BAD_USER_INPUT


class NotFound(DomainError):
    """The object a command addresses does not exist."""

    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    """The command clashes with stored state: a duplicate, a stale version, references."""

    code = ErrorCode.CONFLICT


class Unauthenticated(DomainError):
    """The caller is not authenticated."""

    code = ErrorCode.UNAUTHENTICATED


class Forbidden(DomainError):
    """The caller lacks a permission."""

    code = ErrorCode.FORBIDDEN


class ServiceUnavailable(DomainError):
    """A dependency (the database) cannot serve the request right now."""

    code = ErrorCode.SERVICE_UNAVAILABLE


class TimedOut(DomainError):
    """A dependency (the database) gave up on the request's work in time; a smaller one may pass."""

    code = ErrorCode.TIMEOUT


class TooManyRequests(DomainError):
    """The caller is over a limit (login attempts, subscriptions, cost); `details` says
    which, and `details["retryAfter"]` how many seconds to wait where waiting helps."""

    code = ErrorCode.TOO_MANY_REQUESTS


class CursorExpired(DomainError):
    """A resume cursor points into history that was archived out of the database."""

    code = ErrorCode.CURSOR_EXPIRED


class SlowConsumer(DomainError):
    """A subscriber fell so far behind that its bounded queue overflowed."""

    code = ErrorCode.SLOW_CONSUMER
