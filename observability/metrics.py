"""The Prometheus metrics of the server, with bounded labels, and the `/metrics` endpoint.

Every metric lives in prometheus-client's default registry, made once at import. Under
several uvicorn workers, prometheus-client's multiprocess mode (the library itself reads
`PROMETHEUS_MULTIPROC_DIR`, before the first metric is made) keeps each worker's values
in files there, and `/metrics` sums them: any worker answers for all of them.

Labels never come from the client unbounded: operation names pass `OperationNames` (a
budget of distinct names per process), error codes the `ErrorCode` enum.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import ErrorCode

ANONYMOUS: Final = "(anonymous)"  # parentheses: no GraphQL name can collide with these
OTHER: Final = "(other)"
UNKNOWN_TYPE: Final = "unknown"
OPERATION_TYPES: Final = frozenset({"query", "mutation", "subscription"})
_KNOWN_CODES: Final = frozenset(code.value for code in ErrorCode)
_NAME: Final = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")

_LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_COST_BUCKETS: Final = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_STATEMENT_BUCKETS: Final = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100)

HTTP_REQUESTS = Counter(
    "graphql_http_requests", "Requests to /graphql, by HTTP status.", ["status"]
)
HTTP_LATENCY = Histogram(
    "graphql_http_request_duration_seconds",
    "Time from a /graphql request's arrival to the end of its response.",
    buckets=_LATENCY_BUCKETS,
)
OPERATIONS = Counter(
    "graphql_operations", "GraphQL operations, by type and (bounded) name.", ["type", "name"]
)
OPERATION_LATENCY = Histogram(
    "graphql_operation_duration_seconds",
    "Time to parse, validate and execute one operation, by type and (bounded) name.",
    ["type", "name"],
    buckets=_LATENCY_BUCKETS,
)
OPERATION_COST = Histogram(
    "graphql_operation_cost",
    "The computed cost of each operation that reached execution.",
    ["type"],
    buckets=_COST_BUCKETS,
)
ERRORS = Counter("graphql_errors", "Errors answered to clients, by extensions.code.", ["code"])
SQL_STATEMENTS = Histogram(
    "graphql_sql_statements_per_request",
    "SQL statements one /graphql request ran (its access record not included).",
    buckets=_STATEMENT_BUCKETS,
)
POOL_IN_USE = Gauge(
    "db_pool_connections_in_use",
    "Pooled database connections checked out.",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "db_pool_waiting", "Requests waiting for a pooled connection.", multiprocess_mode="livesum"
)
ACCESS_LOG_PENDING = Gauge(
    "access_log_pending_records",
    "Answered requests whose access record is queued or being written.",
    multiprocess_mode="livesum",
)
ACCESS_LOG_WRITE = Histogram(
    "access_log_write_seconds",
    "Time from the end of a response until its access record is committed.",
    buckets=_LATENCY_BUCKETS,
)
WEBSOCKETS = Gauge(
    "graphql_websocket_connections", "Open WebSocket connections.", multiprocess_mode="livesum"
)
SUBSCRIPTIONS = Gauge(
    "graphql_subscriptions_active", "Running subscriptions.", multiprocess_mode="livesum"
)
LOGIN_FAILURES = Counter("auth_login_failures", "Logins refused for wrong credentials.")
LOGIN_THROTTLED = Counter("auth_login_throttled", "Logins refused by the login throttle.")
RATE_LIMITED = Counter(
    "ratelimit_refusals", "Operations refused by the per-caller rate limits (HTTP 429)."
)


class OperationNames:
    """Operation names as labels: at most `limit` distinct ones per process, then `(other)`.

    Clients choose operation names, so each new one would be a new time series. The first
    `limit` well-formed names of operations that validated are kept (a real client's names
    come early and recur); an anonymous operation is `(anonymous)`; anything else `(other)`.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._admitted: set[str] = set()

    def label(self, name: str | None, *, is_valid: bool) -> str:
        """The label for `name`; admits it if there is room and the operation validated."""
        if not name:
            return ANONYMOUS
        if name in self._admitted:
            return name
        if is_valid and len(self._admitted) < self.limit and _NAME.match(name):
            self._admitted.add(name)
            return name
        return OTHER


def error_code_label(code: object) -> str:
    """An `ErrorCode` value, or `(other)` for anything not in the enum."""
    return code if isinstance(code, str) and code in _KNOWN_CODES else OTHER


def operation_type_label(operation_type: str | None) -> str:
    """`query`, `mutation`, `subscription`, or `unknown` (the document did not parse)."""
    return operation_type if operation_type in OPERATION_TYPES else UNKNOWN_TYPE


def websocket_opened() -> None:
    """Count an accepted WebSocket connection (call `websocket_closed` when it ends)."""
    WEBSOCKETS.inc()


def websocket_closed() -> None:
    """Count a WebSocket connection that ended."""
    WEBSOCKETS.dec()


def subscription_started() -> None:
    """Count a subscription that began streaming (call `subscription_ended` when it ends)."""
    SUBSCRIPTIONS.inc()


def subscription_ended() -> None:
    """Count a subscription that ended, however it ended."""
    SUBSCRIPTIONS.dec()


def exposition(multiprocess_dir: str | None) -> bytes:
    """Every metric in the Prometheus text format: this process's, or all workers' summed."""
    if multiprocess_dir is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def metrics_endpoint(
    *,
    token: str | None,
    multiprocess_dir: str | None,
    before_scrape: Callable[[], None] | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """The `/metrics` route: open, or behind `Authorization: Bearer <token>` when one is set."""
    expected = f"Bearer {token}".encode() if token else None

    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            # Constant time: the comparison must not reveal how much of a guess was right.
            if not hmac.compare_digest(given, expected):
                return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if before_scrape is not None:
            before_scrape()
        return Response(exposition(multiprocess_dir), media_type=CONTENT_TYPE_LATEST)

    return metrics
