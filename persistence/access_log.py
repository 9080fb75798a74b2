"""The access log's writer: group-committed records, one INSERT per batch.

Records come from `graph.access_log`'s middleware, one per request to /graphql, after the
response. A failed write is logged loudly and never fails the request.

One request's record must never cost another its own (issue 10, defect 1): the writer
cleans every record before queuing it (text escaped and cut to its column, JSON made
plain), and a batch the database refuses for a row's data is retried row by row, the
refused row stored in a reduced form that surely fits.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

import structlog
from sqlalchemy import JSON, String, Table, insert
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.cleaning import MAX_TEXT, clean_json, clean_text
from persistence.models import AccessLogModel
from persistence.writers import write_gate

# The logger operators already watch for lost records (docs/AUDIT_GUIDE.md).
log = structlog.get_logger("audit.access")

MAX_QUEUED: Final = 10_000
MAX_BATCH: Final = 500

access_t = cast(Table, AccessLogModel.__table__)
# Built once, with no values: its compiled form is cached per engine, so a batch costs no
# statement building; the rows go with it as the parameters of one executemany. Inline:
# nothing is read back (no `RETURNING id` for a lone row on PostgreSQL).
_INSERT: Final = insert(access_t).inline()


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
    """Group commit: a background task writes everything queued in one INSERT (executemany).

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
        # On PostgreSQL a lone row is one statement, atomic on its own: sent without BEGIN
        # and COMMIT, it costs one round trip instead of three. SQLite gains nothing (its
        # commit is the write) and keeps the transaction.
        self._lone_row_engine: AsyncEngine | None = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else None
        )
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
            if len(records) == 1 and self._lone_row_engine is not None:
                async with self._lone_row_engine.connect() as conn:
                    await conn.execute(_INSERT, list(records))
            else:
                # Several rows: one transaction, so a refused row leaves none of them.
                async with write_gate(self.engine), self.engine.begin() as conn:
                    await conn.execute(_INSERT, list(records))
        except Exception as error:  # the caller logs it and decides whether to retry
            return error
        return None
