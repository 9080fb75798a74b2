"""The access log: one record per HTTP request to /graphql, written after the response.

The Strawberry extension notes the operation's type and name at operation level (never
per field); the ASGI middleware measures the request, reads the error codes from the
response body and hands the record to the `AccessLogWriter`, which group-commits whatever
is queued in one multi-row INSERT. The request finishes once its record is committed. A
failed write is logged loudly and never fails the request.

One request's record must never cost another its own (issue 10, defect 1): the writer
cleans every record before queuing it (text escaped and cut to its column, JSON made
plain), and a batch the database refuses for a row's data is retried row by row, the
refused row stored in a reduced form that surely fits.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

import orjson
import structlog
from graphql import OperationDefinitionNode
from sqlalchemy import JSON, String, Table, insert
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
# Control characters, and lone surrogates: no UTF-8 column (nor SQLite's driver) takes them.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_ITEMS: Final = 50  # per JSON object or array
MAX_DEPTH: Final = 8
MAX_VALUES: Final = 1_000  # per JSON value in all, so one record stays small
_SECRET_NAME = re.compile(r"pass|token|secret|authorization|api.?key", re.IGNORECASE)
REDACTED: Final = "[REDACTED]"
MAX_QUEUED: Final = 10_000
MAX_BATCH: Final = 500

access_t = cast(Table, AccessLogModel.__table__)


def clean_text(value: object, limit: int = MAX_TEXT) -> str | None:
    """Client text stored as data: control characters and lone surrogates escaped, long
    values cut with a marker."""
    if value is None:
        return None
    # Escaping only lengthens, so what lies past the limit is cut before it is scanned.
    text = _UNSAFE.sub(_escape, str(value)[: limit + 1])
    if len(text) > limit:
        return text[: limit - len(TRUNCATED)] + TRUNCATED
    return text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean_json(value: Any) -> Any:
    """A JSON value every database stores: text cleaned, numbers finite, size bounded."""
    return _JsonCleaner().clean(value, MAX_DEPTH)


class _JsonCleaner:
    """One walk over a JSON value, with a budget of values shared by the whole walk."""

    def __init__(self) -> None:
        self.budget = MAX_VALUES

    def clean(self, value: Any, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0 or depth < 0:
            return TRUNCATED
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value if abs(value) < 2**63 else clean_text(value)
        if isinstance(value, float):
            # NaN and Infinity are not JSON: PostgreSQL refuses them.
            return value if math.isfinite(value) else str(value)
        if isinstance(value, Mapping):
            pairs = list(value.items())
            cleaned = {clean_text(k, 64): self.clean(v, depth - 1) for k, v in pairs[:MAX_ITEMS]}
            if len(pairs) > MAX_ITEMS:
                cleaned[TRUNCATED] = len(pairs) - MAX_ITEMS  # how many were left out
            return cleaned
        if isinstance(value, list | tuple):
            items = [self.clean(item, depth - 1) for item in value[:MAX_ITEMS]]
            return [*items, TRUNCATED] if len(value) > MAX_ITEMS else items
        return clean_text(value)


def clean_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """`record` with a value for every column, texts cut to their column, JSON made plain."""
    cleaned: dict[str, Any] = {}
    for column in access_t.columns:
        if column.primary_key:
            continue
        value = record.get(column.name)
        if isinstance(column.type, String):
            value = clean_text(value, column.type.length or MAX_TEXT)
        elif isinstance(column.type, JSON):
            value = clean_json(value)
        cleaned[column.name] = value
    return cleaned


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


# SQLSTATE classes of a refused value: data exception, integrity constraint violation.
_ROW_FAULT_CLASSES: Final = ("22", "23")


def _is_row_fault(error: Exception) -> bool:
    """Whether the database refused the data rather than the write, so other rows may pass."""
    if isinstance(error, sa_exc.IntegrityError | sa_exc.DataError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        # asyncpg's errors all reach SQLAlchemy as one class; their SQLSTATE tells them
        # apart (a value asyncpg itself cannot encode is 22000 too).
        sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        return str(sqlstate or "")[:2] in _ROW_FAULT_CLASSES
    # A value the driver could not bind (JSON cannot encode it) never reached the database.
    if isinstance(error, sa_exc.StatementError):
        return True
    # sqlite3 raises an unencodable text (a lone surrogate) or a too large int bare.
    return isinstance(error, ValueError | TypeError | OverflowError)


def _int(value: object) -> int | None:
    """`value` if every INTEGER column (32 bits on PostgreSQL) takes it."""
    return value if isinstance(value, int) and abs(value) < 2**31 else None


def _reduced(record: Mapping[str, Any], fault: Exception) -> dict[str, Any]:
    """What surely fits of a record the database refused: who asked, when, and how it ended."""
    occurred_at = record.get("occurred_at")
    if not isinstance(occurred_at, datetime) or occurred_at.tzinfo is None:
        occurred_at = datetime.now(UTC)
    duration_ms = record.get("duration_ms")
    if not isinstance(duration_ms, int | float) or not math.isfinite(duration_ms):
        duration_ms = 0.0
    return clean_record(
        {
            "occurred_at": occurred_at,
            "user_id": _int(record.get("user_id")),
            "ip": record.get("ip"),
            "method": record.get("method") or "?",
            "path": record.get("path") or "?",
            "status_code": _int(record.get("status_code")) or 0,  # 0: not known
            "duration_ms": float(duration_ms),
            "request_id": record.get("request_id") or "?",
            "error_codes": [],
            "has_errors": record.get("has_errors") is True,
            "details": {"recordFault": type(fault).__name__},
        }
    )


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

    async def write(self, record: Mapping[str, Any]) -> bool:
        """Queue `record`, cleaned; True once it is committed (maybe reduced), False if lost."""
        queue = self._bound_queue()
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        # Cleaned before it is queued: a text the database refuses would fail its whole batch.
        queued = _Queued(clean_record(record), written)
        # A full queue makes the caller wait here (backpressure); nothing is dropped.
        await queue.put(queued)
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
        error = await self._insert([item.record for item in batch])
        if error is None:
            return [True] * len(batch)
        if not _is_row_fault(error):
            # The database or the pool failed, not a row: every row would fail the same way.
            _log_lost(batch, error)
            return [False] * len(batch)
        if len(batch) == 1:
            return [await self._store_reduced(batch[0], error)]
        # One bad row must not lose the others: retry the rows one by one.
        log.warning(
            "access record batch refused; retrying row by row",
            records=len(batch),
            error=type(error).__name__,
        )
        outcomes: list[bool] = []
        for index, item in enumerate(batch):
            error = await self._insert([item.record])
            if error is not None and not _is_row_fault(error):
                # The database itself failed mid-retry: the rest would wait and fail alike.
                rest = batch[index:]
                _log_lost(rest, error)
                return outcomes + [False] * len(rest)
            outcomes.append(error is None or await self._store_reduced(item, error))
        return outcomes

    async def _store_reduced(self, item: _Queued, fault: Exception) -> bool:
        """Store what surely fits of a refused record: the request must still show."""
        error = await self._insert([_reduced(item.record, fault)])
        if error is not None:
            _log_lost([item], error)
            return False
        log.error(
            "access record stored without its details",
            request_ids=[item.record["request_id"]],
            exc_info=fault,
        )
        return True

    async def _insert(self, records: Sequence[Mapping[str, Any]]) -> Exception | None:
        try:
            async with write_gate(self.engine), self.engine.begin() as conn:
                await conn.execute(insert(access_t).values(list(records)))
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
