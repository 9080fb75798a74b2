"""The access log's GraphQL and HTTP side: what each request to /graphql is recorded as.

The Strawberry extension notes the operation's type and name at operation level (never
per field); the ASGI middleware measures the request, reads the error codes from the
response body and hands the record to the writer (`persistence.access_log`), which
group-commits whatever is queued. The request finishes once its record is committed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from graphql import OperationDefinitionNode
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from domain.cleaning import MAX_DEPTH, MAX_ITEMS, TRUNCATED, clean_text
from observability.http import CapturedResponse, response_errors

STATE_KEY: Final = "access"
_SECRET_NAME = re.compile(r"pass|token|secret|authorization|api.?key", re.IGNORECASE)
REDACTED: Final = "[REDACTED]"


class RecordWriter(Protocol):
    """Stores one access record; True once it is committed, False if it was lost."""

    async def write(self, record: Mapping[str, Any]) -> bool: ...


def redact(value: Any, depth: int = MAX_DEPTH) -> Any:
    """Variables with anything named like a password, token or secret replaced.

    Only as deep as the record keeps (`MAX_DEPTH`): a client may nest variables a thousand
    levels deep, and the walk must not recurse that far.
    """
    if depth < 0:
        return TRUNCATED
    if isinstance(value, Mapping):
        return {
            clean_text(k, 64): REDACTED if _SECRET_NAME.search(str(k)) else redact(v, depth - 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(item, depth - 1) for item in value[:MAX_ITEMS]]
    if isinstance(value, str):
        return clean_text(value)
    return value


def access_state(scope: Scope) -> dict[str, Any]:
    """What this request has noted for its access record."""
    state: dict[str, Any] = scope.setdefault("state", {}).setdefault(
        STATE_KEY, {"operations": [], "details": {}}
    )
    return state


def note(scope: Scope, **details: Any) -> None:
    """Add security details (a failed login's email, a token reuse) to the access record."""
    access_state(scope)["details"].update(details)


class AccessLogExtension(SchemaExtension):
    """Notes each operation's type, name and (when enabled) redacted variables."""

    def __init__(self, *, log_variables: bool = False) -> None:
        self.log_variables = log_variables

    def on_operation(self) -> Iterator[None]:
        """After the operation, note what it was; nothing runs per field."""
        try:
            yield
        finally:
            # Also when a hook refused the operation by raising (rate limit, document size).
            self._note()

    def _note(self) -> None:
        ctx = self.execution_context
        request = getattr(ctx.context, "request", None)
        if request is None:
            return
        operation: dict[str, Any] = {"type": None, "name": ctx.operation_name}
        document = ctx.graphql_document
        if document is not None:
            ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            chosen = [
                o
                for o in ops
                if ctx.operation_name is None or (o.name and o.name.value == ctx.operation_name)
            ]
            if len(chosen) == 1:
                operation["type"] = chosen[0].operation.value
                operation["name"] = chosen[0].name.value if chosen[0].name else ctx.operation_name
        if self.log_variables and ctx.variables:
            operation["variables"] = redact(ctx.variables)
        access_state(request.scope)["operations"].append(operation)

    def on_execute(self) -> Iterator[None]:
        """Name the operation for the change records its mutations write."""
        ctx = self.execution_context
        uow = getattr(ctx.context, "uow", None)
        if uow is not None:
            document = ctx.graphql_document
            name = ctx.operation_name
            if name is None and document is not None:
                ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
                if len(ops) == 1 and ops[0].name:
                    name = ops[0].name.value
            uow.name_operation(clean_text(name))
        yield


def _error_codes(body: bytes) -> list[str]:
    """The code of each error in a GraphQL response body; UNKNOWN where one has none."""
    codes: list[str] = []
    for error in response_errors(body):
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.append(str(code) if code else "UNKNOWN")
    return codes


class AccessLogMiddleware:
    """Records every request to `path`, after the response is sent, through `writer`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        writer: RecordWriter,
        path: str = "/graphql",
        request_id_of: Callable[[Scope], str],
    ) -> None:
        self.app = app
        self.writer = writer
        self.path = path
        self.request_id_of = request_id_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        response = CapturedResponse()

        async def recording_send(message: Message) -> None:
            response.record(message)
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            duration = (time.perf_counter() - started) * 1000
            record = self._record(scope, response.status, duration, bytes(response.body))
            # The call ends only when the record is committed (or its loss is logged).
            await self.writer.write(record)

    def _record(self, scope: Scope, status: int, duration_ms: float, body: bytes) -> dict[str, Any]:
        state = access_state(scope)
        operations = state["operations"]
        first = operations[0] if operations else {}
        codes = _error_codes(body)
        details = dict(state["details"])
        variables = [op["variables"] for op in operations if "variables" in op]
        if variables:
            details["variables"] = variables if len(variables) > 1 else variables[0]
        if len(operations) > 1:
            details["operations"] = [op.get("name") for op in operations]
        client = scope.get("client")
        # Raw values: the writer cleans every record before queuing it.
        return {
            "occurred_at": datetime.now(UTC),
            "user_id": scope.get("state", {}).get("user_id"),
            "ip": client[0] if client else None,
            "method": scope["method"],
            "path": scope["path"],
            "status_code": status,
            "duration_ms": round(duration_ms, 3),
            "request_id": self.request_id_of(scope),
            "operation_type": first.get("type"),
            "operation_name": first.get("name"),
            "error_codes": codes,
            "has_errors": bool(codes),
            "details": details or None,
        }
