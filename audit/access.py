"""The access log: one record per HTTP request to /graphql, written after the response.

The Strawberry extension notes the operation's type and name at operation level (never
per field); the ASGI middleware measures the request, reads the error codes from the
response body, and writes the record in its own short transaction. A failed write is
logged loudly and never fails the request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final, cast

import orjson
import structlog
from graphql import OperationDefinitionNode
from sqlalchemy import Table, insert
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from persistence.models import AccessLogModel

log = structlog.get_logger("audit.access")

STATE_KEY: Final = "access"
MAX_TEXT: Final = 256
TRUNCATED: Final = "…[truncated]"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SECRET_NAME = re.compile(r"pass|token|secret|authorization|api.?key", re.IGNORECASE)
REDACTED: Final = "[REDACTED]"

access_t = cast(Table, AccessLogModel.__table__)


def clean_text(value: object, limit: int = MAX_TEXT) -> str | None:
    """Client text stored as data: control characters escaped, long values cut with a marker."""
    if value is None:
        return None
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    if len(text) > limit:
        return text[: limit - len(TRUNCATED)] + TRUNCATED
    return text


def redact(value: Any) -> Any:
    """Variables with anything named like a password, token or secret replaced."""
    if isinstance(value, Mapping):
        return {
            clean_text(k, 64): REDACTED if _SECRET_NAME.search(str(k)) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value[:50]]
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
            uow.session.sync_session.info["operation_name"] = clean_text(name)
        yield


def _error_codes(body: bytes) -> list[str]:
    if b'"errors"' not in body:
        return []
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    results = parsed if isinstance(parsed, list) else [parsed]
    codes: list[str] = []
    for result in results:
        for error in (result.get("errors") or []) if isinstance(result, dict) else []:
            code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
            codes.append(str(code) if code else "UNKNOWN")
    return codes


class AccessLogMiddleware:
    """Writes one access record per request to `path`, after the response is sent."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        engine: AsyncEngine,
        path: str = "/graphql",
        request_id_of: Callable[[Scope], str],
    ) -> None:
        self.app = app
        self.engine = engine
        self.path = path
        self.request_id_of = request_id_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        body = bytearray()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            duration = (time.perf_counter() - started) * 1000
            await self._write(scope, status, duration, bytes(body))

    async def _write(self, scope: Scope, status: int, duration_ms: float, body: bytes) -> None:
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
        record = {
            "occurred_at": datetime.now(UTC),
            "user_id": scope.get("state", {}).get("user_id"),
            "ip": clean_text(client[0], 64) if client else None,
            "method": clean_text(scope["method"], 16),
            "path": clean_text(scope["path"]),
            "status_code": status,
            "duration_ms": round(duration_ms, 3),
            "request_id": self.request_id_of(scope),
            "operation_type": first.get("type"),
            "operation_name": clean_text(first.get("name")),
            "error_codes": codes,
            "has_errors": bool(codes),
            "details": details or None,
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(access_t).values(**record))
        except sa_exc.TimeoutError:
            # Overload (the pool is exhausted): loud, but a stack trace per request helps nobody.
            log.error(
                "access record not written: no database connection in time",
                request_id=record["request_id"],
            )
        except Exception:
            # The request already succeeded for the client; losing its record must be loud.
            log.error("access record not written", request_id=record["request_id"], exc_info=True)
