"""The access log: one record per HTTP request to /graphql, written after the response.

The Strawberry extension notes the operation's type and name at operation level (never
per field); the ASGI middleware measures the request, reads the error codes from the
response body and hands the record to the `AccessLogWriter`, which group-commits whatever
is queued in one multi-row INSERT. The request finishes once its record is committed. A
failed write is logged loudly and never fails the request.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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
from persistence.writers import write_gate

log = structlog.get_logger("audit.access")

STATE_KEY: Final = "access"
MAX_TEXT: Final = 256
TRUNCATED: Final = "…[truncated]"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SECRET_NAME = re.compile(r"pass|token|secret|authorization|api.?key", re.IGNORECASE)
REDACTED: Final = "[REDACTED]"
MAX_QUEUED: Final = 10_000
MAX_BATCH: Final = 500

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


@dataclass(frozen=True, slots=True)
class _Queued:
    record: dict[str, Any]
    written: asyncio.Future[bool]


def _is_row_fault(error: Exception) -> bool:
    """Whether the database refused the data rather than the write, so other rows may pass."""
    if isinstance(error, sa_exc.IntegrityError | sa_exc.DataError):
        return True
    # A value the driver could not bind (JSON cannot encode it) never reached the database.
    return isinstance(error, sa_exc.StatementError) and not isinstance(error, sa_exc.DBAPIError)


def _log_lost(lost: Sequence[_Queued], error: Exception) -> None:
    request_ids = [item.record["request_id"] for item in lost]
    if isinstance(error, sa_exc.TimeoutError):
        # Overload (the pool is exhausted): loud, but a stack trace per batch helps nobody.
        log.error(
            "access record not written: no database connection in time", request_ids=request_ids
        )
    else:
        # The requests already succeeded for their clients; losing their records must be loud.
        log.error("access record not written", request_ids=request_ids, exc_info=error)


class AccessLogWriter:
    """Group commit: a background task writes everything queued in one multi-row INSERT.

    There is no timer: a lone record is written at once, and records that arrive while an
    INSERT runs go together in the next one, so under load there are far fewer write
    transactions than requests. Each caller waits until the batch holding its record has
    committed or been given up, so a record is as durable as when each request wrote its own.
    """

    def __init__(
        self, engine: AsyncEngine, *, max_queued: int = MAX_QUEUED, max_batch: int = MAX_BATCH
    ) -> None:
        self.engine = engine
        self.max_queued = max_queued
        self.max_batch = max_batch
        # asyncio objects belong to one event loop, so they are made inside the running loop.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Queued] | None = None
        self._task: asyncio.Task[None] | None = None

    async def write(self, record: dict[str, Any]) -> bool:
        """Queue `record`; True once its batch committed, False if it was lost (and logged)."""
        queue = self._bound_queue()
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        # A full queue makes the caller wait here (backpressure); nothing is dropped.
        await queue.put(_Queued(record, written))
        self._ensure_running()
        return await written

    async def drain(self) -> None:
        """Return once every queued record is committed (or its loss logged)."""
        if self._queue is not None and self._loop is asyncio.get_running_loop():
            self._ensure_running()
            await self._queue.join()

    def _bound_queue(self) -> asyncio.Queue[_Queued]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            # First use, or a new loop (tests build many apps): the old loop's objects are dead.
            self._loop, self._queue, self._task = loop, asyncio.Queue(self.max_queued), None
        self._ensure_running()
        return self._queue

    def _ensure_running(self) -> None:
        # The task ends whenever the queue is empty, so no idle task outlives its app.
        queue = self._queue
        if queue is not None and not queue.empty() and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(
                self._run(queue), name="access-log-writer"
            )

    async def _run(self, queue: asyncio.Queue[_Queued]) -> None:
        while not queue.empty():
            batch = [queue.get_nowait() for _ in range(min(queue.qsize(), self.max_batch))]
            outcomes = [False] * len(batch)
            try:
                outcomes = await self._commit(batch)
            except Exception:
                # A bug here must not stop the writer: the next batch deserves its chance.
                log.exception("access log writer failed", records=len(batch))
            finally:
                # Also on cancellation: a waiter must never hang.
                for item, is_written in zip(batch, outcomes, strict=True):
                    if not item.written.done():
                        item.written.set_result(is_written)
                    queue.task_done()

    async def _commit(self, batch: list[_Queued]) -> list[bool]:
        error = await self._insert(batch)
        if error is None:
            return [True] * len(batch)
        if len(batch) == 1 or not _is_row_fault(error):
            # The database or the pool failed, not a row: every row would fail the same way.
            _log_lost(batch, error)
            return [False] * len(batch)
        # One bad row must not lose the others: retry the rows one by one.
        log.warning(
            "access record batch refused; retrying row by row",
            records=len(batch),
            error=type(error).__name__,
        )
        outcomes: list[bool] = []
        for index, item in enumerate(batch):
            error = await self._insert([item])
            if error is not None and not _is_row_fault(error):
                # The database itself failed mid-retry: the rest would wait and fail alike.
                rest = batch[index:]
                _log_lost(rest, error)
                return outcomes + [False] * len(rest)
            if error is not None:
                _log_lost([item], error)
            outcomes.append(error is None)
        return outcomes

    async def _insert(self, batch: Sequence[_Queued]) -> Exception | None:
        try:
            async with write_gate(self.engine), self.engine.begin() as conn:
                await conn.execute(insert(access_t).values([item.record for item in batch]))
        except Exception as error:  # the caller logs it and decides whether to retry
            return error
        return None


class AccessLogMiddleware:
    """Records every request to `path`, after the response is sent, through `writer`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        writer: AccessLogWriter,
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
            # The call ends only when the record is committed (or its loss is logged).
            await self.writer.write(self._record(scope, status, duration, bytes(body)))

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
        return {
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
