"""Per-request metrics of `/graphql`, measured around the access log.

The middleware sits outside `AccessLogMiddleware`, so one pass sees both ends: the
response as the client gets it (status, latency, error codes, SQL statements), and then
the wait for the request's access record to commit (the access log's write latency; the
records in that wait are its pending queue).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import ErrorCode
from observability import metrics
from observability.database import start_tally

_TOO_MANY = ErrorCode.TOO_MANY_REQUESTS.value
_UNAUTHENTICATED = ErrorCode.UNAUTHENTICATED.value


@dataclass(slots=True)
class CapturedResponse:
    """What a middleware saw of the response it passed on: the status and the whole body."""

    status: int = 500  # what the client gets when the app fails before answering
    body: bytearray = field(default_factory=bytearray)

    def record(self, message: Message) -> None:
        """Note a message on its way to the client."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))


def response_errors(body: bytes) -> list[object]:
    """The `errors` entries of a GraphQL response body (or of each result of a batch)."""
    if b'"errors"' not in body:
        return []
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    found: list[object] = []
    for result in parsed if isinstance(parsed, list) else [parsed]:
        if isinstance(result, dict):
            found.extend(result.get("errors") or [])
    return found


def _errors(body: bytes) -> list[dict[str, object]]:
    """The well-formed `errors` entries of a GraphQL response body."""
    return [error for error in response_errors(body) if isinstance(error, dict)]


def record_errors(errors: list[dict[str, object]]) -> None:
    """Count each error by code; pick out login failures, throttles and rate-limit refusals."""
    for error in errors:
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, dict) else None
        metrics.ERRORS.labels(metrics.error_code_label(code)).inc()
        path = error.get("path")
        is_login = isinstance(path, list) and path[:1] == ["login"]
        if code == _TOO_MANY:
            # The login throttle answers at the `login` field; the rate limits before any field.
            (metrics.LOGIN_THROTTLED if is_login else metrics.RATE_LIMITED).inc()
        elif code == _UNAUTHENTICATED and is_login:
            metrics.LOGIN_FAILURES.inc()


class MetricsMiddleware:
    """Counts and times every request to `path`; samples the pool when each one ends."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        sample_pool: Callable[[], None],
        is_access_logged: bool,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.sample_pool = sample_pool
        self.is_access_logged = is_access_logged
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        tally = start_tally()
        response = CapturedResponse()
        answered_at: float | None = None

        async def measuring_send(message: Message) -> None:
            nonlocal answered_at
            response.record(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await send(message)
                answered_at = self._answered(
                    started, response.status, bytes(response.body), tally.count
                )
                tally.is_open = False
                if self.is_access_logged:
                    metrics.ACCESS_LOG_PENDING.inc()
                return
            await send(message)

        try:
            await self.app(scope, receive, measuring_send)
        finally:
            if answered_at is None:
                # No complete response (the client left, or an error escaped): still count it.
                self._answered(started, response.status, bytes(response.body), tally.count)
            elif self.is_access_logged:
                metrics.ACCESS_LOG_WRITE.observe(time.perf_counter() - answered_at)
                metrics.ACCESS_LOG_PENDING.dec()
            tally.is_open = False
            self.sample_pool()

    def _answered(self, started: float, status: int, body: bytes, statements: int) -> float:
        """Record the response as the client got it; returns when that was."""
        now = time.perf_counter()
        metrics.HTTP_REQUESTS.labels(str(status)).inc()
        metrics.HTTP_LATENCY.observe(now - started)
        metrics.SQL_STATEMENTS.observe(statements)
        record_errors(_errors(body))
        return now
